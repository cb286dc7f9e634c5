"""Evaluate a stored model artifact on a stored data set: score, measure, audit, compare, write the report.

The one place that touches models and data sets; metrics, fairness, stability and the report only ever
see arrays and frames. Any CreditModel artifact (models.base.load_model) is scored through the one
Scorer (scoring/scorer.py) on the views it declares, so every model is read on the same 350-950 axis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepcredit.config import SplitConfig
from deepcredit.data.dataset import Dataset, is_recorded_data
from deepcredit.data.io import atomic_write_parquet
from deepcredit.data.schema import PROTECTED_ATTRIBUTES
from deepcredit.data.spec import Outcomes
from deepcredit.evaluation.coverage import reason_coverage
from deepcredit.evaluation.cutoffs import informative_cutoff
from deepcredit.evaluation.fairness import fairness_audit, sensitive_frame
from deepcredit.evaluation.limits import bayes_limit
from deepcredit.evaluation.metrics import DEFAULT_CUTOFF, evaluate
from deepcredit.evaluation.model_card import SIMULATED, default_model_card, development_facts
from deepcredit.evaluation.periods import (
    FITTED,
    HELD_OUT,
    NOT_FITTED,
    UNUSED,
    period_metrics,
    period_use_words,
)
from deepcredit.evaluation.report import check_report_out, write_report
from deepcredit.evaluation.sample import describe_rows, describe_samples
from deepcredit.evaluation.stability import monitor
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.spec import FeatureDef
from deepcredit.models.artifacts import Artifact, FittedRowsKeyMissing, key_hashes, load_artifact
from deepcredit.models.base import CreditModel, load_model, proba_columns
from deepcredit.models.scale import ScoreScale
from deepcredit.models.splits import Fold, configured_split, describe_split
from deepcredit.scoring.input_check import SAMPLE_ROWS, check_input
from deepcredit.scoring.scorer import Scorer

SCORES = "scores.parquet"
SCORE_COLUMNS = ("person_id", "as_of", "pd", "score", "band", "label")
"""scores.parquet's columns, in order (LoadedModel.score gives them; the writer selects them by this)."""
REASONS_SAMPLE = 2000
"""Rows explained for the report's reason-code coverage: a random sample where more are scored, since an
explanation costs several times the score (a share on 2,000 rows is within about 2 points of the whole's)."""


@dataclass
class LoadedModel:
    """A verified model artifact (hashes checked on load) and the one Scorer over it."""

    model: CreditModel
    manifest: dict
    definitions: list[FeatureDef] | None
    scorer: Scorer
    artifact: Artifact | None = None
    """The verified artifact (None: a model given in memory): its training reference for the input check."""

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "model")

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.model.views)

    @property
    def scale(self) -> ScoreScale:
        return self.scorer.scale

    def score(self, inp: ModelInput) -> pd.DataFrame:
        """person_id, as_of, pd, score, band, label for every row of `inp` (Scorer.report, no explanation)."""
        out = self.scorer.report(inp, explain=False)
        out["label"] = inp.y
        return out


def load_any_model(path: Path) -> LoadedModel:
    """Any model artifact, with every feature definition it was built with (derived features read others)."""
    model = load_model(path)
    artifact = load_artifact(Path(path))
    manifest = artifact.manifest
    defs = [FeatureDef.from_dict(d) for d in manifest.get("features", []) if isinstance(d, dict)] or None
    return LoadedModel(model, manifest, defs, Scorer(model), artifact)


def model_input(loaded: LoadedModel, dataset: Dataset, threads: int | None = None) -> ModelInput:
    """The ModelInput of `dataset` with the views and features the model needs."""
    return build_model_input(dataset, views=loaded.views, definitions=loaded.definitions, threads=threads)


def score_dataset(loaded: LoadedModel, dataset: Dataset, threads: int | None = None,
                  rows: np.ndarray | None = None) -> tuple[pd.DataFrame, ModelInput]:
    """(scores frame, ModelInput) of `dataset`, or of its `rows` only (positions in its spine): a row
    left out is never scored, while its features stay in the bundle for the graph's neighbours."""
    inp = model_input(loaded, dataset, threads)
    inp = inp if rows is None else inp.take(rows)
    return loaded.score(inp), inp


def _dataset_line(ds: Dataset, rows: int) -> str:
    return f"{ds.name} (snapshot {ds.manifest.snapshot_date}, {rows:,} rows, data fingerprint {ds.fingerprint()[:12]})"


def _member_pds(loaded: LoadedModel, inp: ModelInput) -> dict[str, np.ndarray]:
    """Each member's own PD for the ablation table (none for a single model): its logits as the model reads
    them (CreditModel.member_logits: a stack's members each on the input it was fitted on, the event
    encoder's embeddings where they read them), the logistic function taken. Why not each member's
    predict_proba on `inp`: a member that reads embeddings finds none there, and a temporal stack's report
    lost its members' rows to a caveat."""
    logits = loaded.model.member_logits(inp)
    return {f"member: {kind}": proba_columns(logits[kind].to_numpy())[:, 1] for kind in logits.columns}


def _member_views(loaded: LoadedModel) -> dict[str, list[str]]:
    """The data views each stack member reads (label as in _member_pds): those it declares among the stack's,
    the only ones its input holds (a wide & deep member declares temporal on data without events)."""
    return {f"member: {m.kind}": sorted(set(getattr(m.model, "views", None) or loaded.views) & set(loaded.views))
            for m in loaded.model.fitted_members()}


def is_training_data(manifest: Mapping, dataset: Dataset) -> bool:
    """Whether `dataset` holds exactly the data the model was trained on (the artifact's data fingerprint is
    one it is known by: an artifact written before content fingerprints names its byte one)."""
    return is_recorded_data(manifest.get("data_fingerprint"), dataset.fingerprints())


def training_fold(manifest: Mapping, inp: ModelInput) -> tuple[Fold | None, SplitConfig]:
    """The split the model was trained with, found again on its own data's input (same keys, labels and
    seed): (Fold(train, held out), its config), or (None, its config) where training held nothing out."""
    run = (manifest.get("config") or {}).get("run") or {}
    split = SplitConfig.model_validate(run.get("split") or {})
    fold = configured_split(split, int(run.get("seed", 0)), inp.label_keys, inp.y) if split.kind != "none" else None
    return fold, split


def fitted_rows_mask(model_path: Path, manifest: Mapping, inp: ModelInput) -> np.ndarray | None:
    """Which rows of `inp` the model was fitted on, by the (person_id, as_of) hashes its artifact records
    (models.artifacts.row_hashes), whatever the data set is called or fingerprinted; None for an artifact
    written before the record (2026-12-06); FittedRowsKeyMissing where the record's key is not held here."""
    record = Artifact(Path(model_path), dict(manifest), {}).fitted_rows()  # its hash was checked on load
    if record is None:
        return None
    salt, hashes = record
    return np.isin(key_hashes(inp.keys, salt), hashes)


def fitted_in(model_path: Path, manifest: Mapping, dataset: Dataset, inp: ModelInput) -> np.ndarray | None:
    """Which rows of `inp` (all of `dataset`'s) the model was fitted on: by the artifact's record of them
    (fitted_rows_mask); for an artifact without one, or whose record's key is not held here, on its own
    training data, the rows its split trained on (all where it held none out); None where unknown. The
    reference's band bad rates leave them out."""
    try:
        fitted = fitted_rows_mask(model_path, manifest, inp)
    except FittedRowsKeyMissing:
        fitted = None
    if fitted is not None or not is_training_data(manifest, dataset):
        return fitted
    fold, _ = training_fold(manifest, inp)
    if fold is None:
        return np.ones(len(inp), dtype=bool)
    mask = np.zeros(len(inp), dtype=bool)
    mask[fold.train] = True
    return mask


def unrecognised_words(exc: FittedRowsKeyMissing) -> str:
    """The caveat of an evaluation on other data than the model's own that could not tell its fitted rows."""
    return (f"The rows the model was fitted on could not be recognised: its record of them is keyed with "
            f"fitted-rows key {exc.key_id}, which this machine does not hold (docs/security.md). Any of them in this "
            "data set are evaluated as if held out, so these numbers may be optimistic.")


def rows_to_evaluate(manifest: Mapping, dataset: Dataset, inp: ModelInput, all_rows: bool = False,
                     fitted: np.ndarray | None = None) -> tuple[np.ndarray | None, str | None]:
    """(positions of the rows to evaluate or None for all, a caveat saying which rows) for a model's own data.

    Why: evaluating a model on the rows it was fitted on gives optimistic numbers. On the data set it was
    trained on (same data fingerprint), the same split (keys, labels and seed) finds its held-out rows again
    and only they are evaluated. On any other data set (a re-ingest whose spec text changed, a later snapshot
    of the same portfolio), `fitted` (fitted_rows_mask: the artifact's record of the rows it was fitted on)
    leaves those rows out. `all_rows` keeps every row, flagged as optimistic where fitted rows are among them."""
    if not is_training_data(manifest, dataset):
        if fitted is None or not fitted.any():
            return None, None
        n_fit = int(fitted.sum())
        if all_rows or n_fit == len(fitted):  # nothing else to evaluate: in-sample, as on its own unsplit data
            return None, (f"{n_fit:,} of these {len(fitted):,} rows are rows the model was fitted on (recognised by "
                          "person and as-of date, although the data set differs from its training data): expect "
                          "these numbers to be optimistic.")
        kept = np.flatnonzero(~fitted)
        return kept, (f"{n_fit:,} rows of this data set are rows the model was fitted on (recognised by person and "
                      f"as-of date, although the data set differs from its training data) and are left out: "
                      f"{len(kept):,} rows are evaluated.")
    fold, split = training_fold(manifest, inp)
    if fold is None or all_rows:
        return None, ("These numbers are measured on the data set the model was fitted on"
                      + (f", including the {len(fold.train):,} rows it was fitted on" if fold is not None else "")
                      + ", not on held-out data only: expect them to be optimistic.")
    return fold.predict, (f"This is the data set the model was trained on: only the {len(fold.predict):,} rows it "
                          f"held out ({describe_split(split)}) are evaluated; the {len(fold.train):,} rows it was "
                          "fitted on are left out.")


def evaluate_artifact(model_path: Path, dataset: Dataset, out: Path, *, reference: Dataset | None = None,
                      cutoff: float = DEFAULT_CUTOFF, compare: Mapping[str, Path] | None = None,
                      n_boot: int = 200, threads: int | None = None,
                      on_step: Callable[[str], None] | None = None, period: str = "as_of",
                      all_rows: bool = False, protected: Sequence[str] = (),
                      reasons_sample: int = REASONS_SAMPLE) -> Path:
    """Score `dataset` with the model, evaluate, audit and write the report to `out`; returns report.html.

    compare: label -> artifact of other models (e.g. "tabular only") scored on the same rows, for the
    modality ablation table; reference: the development data set, for PSI of the score and CSI per feature.
    Also writes out/scores.parquet (person_id, as_of, pd, score, band, label): the reference or batch
    for `deepcredit monitor`. period: as_of, month, quarter or year, for metrics per period when the rows
    span several. On the data set the model was trained on, only the rows its training held out are
    evaluated (all_rows: every row, flagged as optimistic). protected: attributes of the people table the
    user audits beside those the spec declares. reasons_sample: rows explained for the reason-code coverage
    (0: not measured).
    """
    step = on_step or (lambda _: None)
    out = Path(out)
    check_report_out(out)  # before any scoring
    _check_protected(dataset, protected)
    step("scoring")
    loaded = load_any_model(model_path)
    inp = model_input(loaded, dataset, threads)
    same_data = is_training_data(loaded.manifest, dataset)
    try:
        fitted, unrecognised = fitted_rows_mask(model_path, loaded.manifest, inp), None
    except FittedRowsKeyMissing as exc:  # on its own data the split finds them; elsewhere say they may be here
        fitted, unrecognised = None, None if same_data else unrecognised_words(exc)
    rows, scope = rows_to_evaluate(loaded.manifest, dataset, inp, all_rows, fitted)
    trained = _training_rows(loaded.manifest, inp) if same_data else None
    if rows is not None:  # only the rows evaluated are scored
        inp = inp.take(rows)
    scores = loaded.score(inp)
    y = scores["label"].to_numpy()
    caveats = [scope] if scope else []
    if unrecognised:
        caveats.append(unrecognised)
    truth = dataset.read("truth") if dataset.has("truth") else None  # a simulated world: its truth beside it
    if truth is not None:
        caveats.append(SIMULATED)
    ablation: dict[str, np.ndarray] = {}
    views: dict[str, list[str]] = {}  # what data each variant reads: one set for all is no modality ablation
    for label, path in (compare or {}).items():
        step(f"scoring {label}")
        other_model = load_any_model(path)
        views[label] = sorted(other_model.views)
        other, _ = score_dataset(other_model, dataset, threads, rows)
        if not other[["person_id", "as_of"]].equals(scores[["person_id", "as_of"]]):
            raise ValueError(f"{path}: scored rows differ from the evaluated model's rows")
        ablation[label] = other["pd"].to_numpy()
    # no failure is expected here: the members have just scored these rows inside the stack, so an error is a
    # bug and stops the report (it was a caveat quoting the exception, which hid one: _member_pds)
    ablation.update(_member_pds(loaded, inp))
    views.update(_member_views(loaded))
    if ablation:
        ablation[f"{loaded.kind} (this model)"] = scores["pd"].to_numpy()
        views[f"{loaded.kind} (this model)"] = sorted(loaded.views)
    step("evaluating")
    ev = evaluate(y, scores["pd"].to_numpy(), scores["score"].to_numpy(), scale=loaded.scale, cutoff=cutoff,
                  ablation=ablation, n_boot=n_boot, groups=scores["person_id"].to_numpy())
    use = training_use(loaded.manifest, inp, fitted, same_data) if rows is None and scope is not None else None
    ev["periods"] = period_metrics(scores["as_of"], y, scores["pd"].to_numpy(), period, use)  # None: one period
    if words := period_use_words(ev["periods"]):  # said with the optimistic caveat: console, report and card
        caveats[caveats.index(scope)] = scope = f"{scope} {words}"
    ev["rows_scope"] = scope
    ev["limits"] = None if truth is None else bayes_limit(truth, scores["person_id"], y, scores["pd"].to_numpy())
    for row in ev["ablation"]:
        row["views"] = views.get(row["model"])
    ev["optimistic"] = rows is None and scope is not None  # the rows it was fitted on are among those measured
    ev["fitted_rows_left_out"] = int(fitted.sum()) if fitted is not None and rows is not None and not same_data \
        else None
    ev["fitted_rows_unrecognised"] = unrecognised  # their record's key is not held here (a caveat in the card too)
    ev["sample"] = describe_samples({**describe_rows(scores[["person_id", "as_of"]], y), "data_set": dataset.name,
                                     "data_fingerprint": dataset.fingerprint()}, loaded.manifest, trained, same_data)
    if loaded.artifact is not None:  # the same check as `score`'s, on (a sample of) the rows evaluated
        step("input check")
        sample = np.linspace(0, len(inp) - 1, min(len(inp), SAMPLE_ROWS)).astype(np.int64)
        ev["input_check"] = check_input(loaded.artifact, loaded.model, inp.X.iloc[sample],
                                        loaded.definitions or inp.definitions, dataset.name)
    if reasons_sample > 0:
        step("reason codes")
        ev["reason_coverage"] = _reason_coverage(loaded, inp, reasons_sample)
    step("fairness audit")
    people, keys = people_as_scored(dataset, scores[["person_id", "as_of"]])
    declared, bands = _declared(dataset, protected)
    audited = [*declared, *PROTECTED_ATTRIBUTES]  # the legacy fixed names where the people table has them
    sensitive = sensitive_frame(people, keys, audited, as_of=scores["as_of"], declared=declared, bands=bands)
    grouped = [a for a in dict.fromkeys(audited) if a in people.columns]  # what the audit can group by
    s = scores["score"].to_numpy()
    info = informative_cutoff(ev["cutoff"])
    fair = fairness_audit(y, s >= cutoff, sensitive, pd_=scores["pd"].to_numpy(), cutoff=cutoff,
                          informative=None if info is None else (info, s >= info),
                          informative_basis="declining about the observed bad rate's share")
    stability = None
    data = {"evaluation data": _dataset_line(dataset, len(scores))}
    if reference is not None:
        step("stability against the reference")
        ref_scores, ref_inp = score_dataset(loaded, reference, threads)
        stability = monitor(ref_scores, scores, features_reference=ref_inp.X, features_batch=inp.X,
                            scale=loaded.scale,
                            reference_fitted=fitted_in(model_path, loaded.manifest, reference, ref_inp))
        data["development data (reference)"] = _dataset_line(reference, len(ref_scores))
    outcomes = dataset.read("outcomes")
    windows = sorted(outcomes["window_days"].dropna().unique().tolist()) if "window_days" in outcomes else []
    data["label"] = label_words(dataset.spec.outcomes, windows)
    m = loaded.manifest
    details = {"kind": loaded.kind, "artifact sha256": m.get("sha256", "n/a"), "created": m.get("created_at", "n/a"),
               "DeepCredit version": m.get("deepcredit_version", "n/a"),
               "code fingerprint": (m.get("code") or {}).get("fingerprint", "not recorded")[:12],
               "Python": (m.get("code") or {}).get("python", "not recorded"),
               "inputs": f"{len(m.get('features', []))} features; views: {', '.join(loaded.views)}",
               "score scale": f"{loaded.scale.base_score:g} points at {loaded.scale.base_odds:g}:1 good:bad odds, "
                              f"{loaded.scale.pdo:g} points to double the odds, {loaded.scale.lo}-{loaded.scale.hi}",
               "approval rule audited": f"score >= {cutoff:g}"}
    card = default_model_card(name=f"{loaded.kind} model {m.get('sha256', '')[:12]}".strip(), details=details,
                              data=data, extra_caveats=caveats, protected=grouped,
                              development=development_facts(m))
    step("writing the report")
    atomic_write_parquet(out / SCORES, scores[list(SCORE_COLUMNS)])  # the columns readers of the file rely on
    subtitle = f"{loaded.kind} model {m.get('sha256', '')[:12]} on {dataset.name} ({len(scores):,} rows)" + \
        (f", against {reference.name}" if reference is not None else "")
    return write_report(out, ev, fair, stability, card, title="DeepCredit model report", subtitle=subtitle)


def people_as_scored(dataset: Dataset, keys: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The people rows the fairness audit reads, and each scored row's key into them (person_id). With
    attribute history a person has a row per profile version, and the first row of a person is not the one
    valid then: each scored row reads the version valid strictly before its as-of date, as the features do
    (none before the first: unknown), keyed by the row's position."""
    if not dataset.spec.profile.valid_from:  # one row per person: read as it is
        return dataset.read("people"), keys["person_id"]
    rows = dataset.profile_as_of(keys).drop(columns="person_id")
    rows.insert(0, "person_id", np.arange(len(keys)).astype(str))
    return rows, rows["person_id"]


def label_words(outcomes: Outcomes, windows: list[float]) -> str:
    """What the label means, in the data set's own declaration (spec [outcomes])."""
    within = (f"within {'/'.join(str(int(w)) for w in windows)} days (the performance window its spec declares)"
              if windows else "within the performance window")
    if outcomes.source == "events":
        told = [f"a commitment {' or '.join(outcomes.bad_when)}" if outcomes.bad_when else "",
                f"one at least {outcomes.bad_days_late} days late" if outcomes.bad_days_late else ""]
        what = f"{' or '.join(t for t in told if t)} {within} after the scoring date (as_of)"
    else:
        what = (f"bad: the data set's label {outcomes.label!r} is {' or '.join(map(repr, outcomes.bad))}, an outcome "
                f"{within} after the scoring date (as_of)")
    return f"1 = {what}; features use only what was known before it"


def _declared(dataset: Dataset, given: Sequence[str] = ()) -> tuple[list[str], dict[str, list[float]]]:
    """(the attributes declared protected: the spec's, in the profile and further profile files, and those the
    user gives; the declared bands' lower bounds by attribute: spec `bands`; without them numbers get quantile
    bands)."""
    spec = dataset.spec
    attributes = [*spec.profile.attributes, *(a for m in spec.more_profile.values() for a in m.attributes)]
    names = [*(a.name for a in attributes if a.protected), *given]
    bands = {a.name: [float(x) for x in lows] for a in attributes if a.protected
             and (lows := a.bands)}
    return list(dict.fromkeys(names)), bands


def _check_protected(dataset: Dataset, given: Sequence[str]) -> None:
    """One clear error, before any scoring, for an attribute to audit that the people table does not have."""
    if not given:
        return
    con = dataset.connect()
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {dataset.scan('people')}").fetchall()]
    finally:
        con.close()
    if unknown := [g for g in given if g not in columns]:
        raise ValueError(f"protected: the people table of {dataset.name} has no column "
                         f"{', '.join(map(repr, unknown))} (its columns: {', '.join(columns)})")


def training_use(manifest: Mapping, inp: ModelInput, fitted: np.ndarray | None, same_data: bool
                 ) -> np.ndarray | None:
    """What each row of `inp` was to the model's training (periods.FITTED, HELD_OUT, UNUSED; NOT_FITTED where
    only the record of fitted rows is known), for the per-period table under --all-rows; None where unknown."""
    fold = training_fold(manifest, inp)[0] if same_data else None
    if fold is not None:
        use = np.full(len(inp), UNUSED, dtype=object)
        use[fold.train], use[fold.predict] = FITTED, HELD_OUT
        return use
    if fitted is not None:
        return np.where(fitted, FITTED, NOT_FITTED).astype(object)
    return None


def _training_rows(manifest: Mapping, inp: ModelInput) -> dict:
    """describe_rows of the rows the model was fitted on, found again in its own data's input `inp`."""
    fold, _ = training_fold(manifest, inp)
    keys, y = inp.keys, inp.y
    return describe_rows(keys, y) if fold is None else describe_rows(keys.iloc[fold.train], y[fold.train])


def _reason_coverage(loaded: LoadedModel, inp: ModelInput, sample: int, seed: int = 0) -> dict:
    """Reason-code coverage (evaluation/coverage.py) of up to `sample` rows of `inp`, chosen at random."""
    n = len(inp)
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(n, sample), replace=False))
    _, reasons = loaded.scorer.explain(inp if pick.size == n else inp.take(pick))
    return reason_coverage(reasons, int(pick.size), scored=n, top=loaded.scorer.top)
