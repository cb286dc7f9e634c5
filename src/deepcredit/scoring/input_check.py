"""Does the data to score look like the data the model was fitted on? One warning per feature that does not.

Why: a model reads a category it never saw in training as missing (GBDT, Wide & Deep) and an amount in
thousands as a tiny amount, so a batch whose code table was renamed or whose unit changed is scored
wrongly without any error: in the audit (findings F4) the applicants of the riskiest checking-account
category, relabelled, gained 31 points each and lost that reason. `score` therefore compares a sample of
its input with what the artifact's reference.json says of the training rows, per feature:

- categories never seen in training: the share of rows holding one (UNSEEN_SHARE or more warns);
- missing values: the share against training's missing share (a rise of MISSING_RISE or more warns);
- numbers: a change of unit, the spread moving by SCALE_FACTOR or more (an order of magnitude) and the
  median with it, or a population stability index of PSI_ACT or more over training's bins that chance
  cannot explain at the sample's size (PSI_ALPHA). The spread is
  robust (models.base.robust_spread: an interquartile range off the median, which a heavy tail does not
  make and a mass of zeros does not collapse); artifacts
  saved before it was stored fall back to the standard deviation.

It warns (warnings.warn: the CLI shows one line each) and returns the findings for the job's manifest;
`strict` refuses instead. The sample (SAMPLE_ROWS) is spread over the whole batch, not its first chunk:
a small --chunk-size made it a few hundred rows, whose standard deviation read as another unit. Only
features, shares and summary figures are named, never a person's value (nor an unseen category's text,
which may be anything). A check whose training figure the artifact lacks
(reference.json written before it stored categories, missing shares or bins) is skipped, except unseen
categories, which fall back to the category lists a model keeps itself (GBDT's `categories_`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.data.validate import DataValidationError
from deepcredit.features.engine import build_features
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.features.templates import features_for
from deepcredit.models.artifacts import Artifact
from deepcredit.models.base import REFERENCE, CreditModel, robust_spread
from deepcredit.scoring.stability_index import fit_p_value, psi_terms, shares

UNSEEN_SHARE = 0.05
"""Rows in a category the model never saw that make a feature's input suspect: a few new codes happen."""
MISSING_RISE = 0.10
"""A rise in the share of missing values (against training's) that makes a feature's input suspect."""
SCALE_FACTOR = 10.0
"""A median or spread this many times larger or smaller than training's: another unit, not drift."""
PSI_ACT = 0.25
"""The population stability index at which monitoring practice acts (evaluation.stability uses it too)."""
PSI_ALPHA = 0.01
"""A PSI of PSI_ACT or more warns only where chance alone would give counts that far from training's shares in
less than this share of batches, divided among the features checked (as evaluation.stability's drift rule;
beyond_chance): a small batch's PSI, often past 0.25 for 50 rows over 10 bins, is not a change of the data."""
MIN_VALUES = 20
"""Fewer non-missing values than this say nothing about a feature's scale: no numeric check."""
SAMPLE_ROWS = 20_000
"""Rows of the batch the check reads (evenly spaced over all of it, whatever the chunk size): enough for
shares to 1%."""
SPREAD_BASES = {"iqr": "IQR off the median", "std": "std"}
"""How a finding's spread was measured (iqr: models.base.robust_spread; std: an artifact without it)."""


class InputMismatchWarning(UserWarning):
    """The data to score differ from the training data in a way that changes the scores."""


def model_categories(model: CreditModel) -> dict[str, list[str]]:
    """Training categories a model (or a member of a combination) keeps itself: for artifacts whose
    reference.json has no `categories`."""
    found: dict[str, set[str]] = {}
    for m in [model, *(m.model for m in model.fitted_members())]:
        for name, values in (m.categories_ or {}).items():
            found.setdefault(name, set()).update(str(v) for v in values)
    return {name: sorted(values) for name, values in found.items()}


def bin_counts(values: np.ndarray, edges: Sequence[float], bins: int) -> np.ndarray:
    """How many of `values` fall in each of training's `bins` (edges: upper bounds, right-closed)."""
    return np.bincount(np.searchsorted(np.asarray(edges, dtype=float), values, side="left"),
                       minlength=bins).astype(float)


def psi(values: np.ndarray, edges: Sequence[float], training_shares: Sequence[float]) -> float:
    """Population stability index of `values` over training's bins (edges: upper bounds, right-closed;
    training_shares: training's share of each of the len(edges) + 1 bins)."""
    return psi_of_counts(bin_counts(values, edges, len(training_shares)), training_shares)


def psi_of_counts(counts: np.ndarray, training_shares: Sequence[float]) -> float:
    """PSI of a batch's bin counts against training's shares (scoring.stability_index, as monitoring's)."""
    return float(psi_terms(training_shares, shares(counts)).sum())


def beyond_chance(counts: np.ndarray, training_shares: Sequence[float], alpha: float) -> bool:
    """Whether bin counts differ from training's shares beyond what chance gives in `alpha` of samples of
    their size: Pearson's goodness of fit (scoring.stability_index.fit_p_value). Not the PSI scaled by the
    rows: its floor for an empty bin makes a few rows' PSI large (one empty bin of ten adds about 0.69)."""
    return fit_p_value(counts, training_shares) < alpha


def _ratio(new: float, old: float) -> float | None:
    """new / old where both are non-zero and of one sign (a ratio of a shift in unit), else None."""
    if not (np.isfinite(new) and np.isfinite(old)) or new == 0 or old == 0 or np.sign(new) != np.sign(old):
        return None
    return float(new / old)


def _scaled(ratio: float | None) -> bool:
    return ratio is not None and abs(np.log10(ratio)) >= np.log10(SCALE_FACTOR)


def _with(at_median: float, at_spread: float) -> bool:
    """The median moved the spread's way by at least the square root of SCALE_FACTOR."""
    return bool(np.log10(at_median) * np.sign(np.log10(at_spread)) >= np.log10(SCALE_FACTOR) / 2)


def check_features(X: pd.DataFrame, defs: Iterable[FeatureDef], reference: dict,
                   categories: dict[str, list[str]] | None = None) -> list[dict]:
    """One finding per feature whose input differs from training (module docstring), in `defs` order:
    {"feature", "rows", and the figures that differ}. `reference`: reference.json's content."""
    n = len(X)
    if n == 0:
        return []
    missing = reference.get("missing") or {}
    categories = {**(categories or {}), **(reference.get("categories") or {})}
    out = []
    alpha = PSI_ALPHA / max(sum(d.kind is not Kind.CATEGORICAL for d in defs), 1)
    for d in defs:
        if d.name not in X or d.is_protected():
            continue
        col, found = X[d.name], dict[str, object]()
        gone = col.isna().to_numpy(dtype=bool)
        if d.name in missing and gone.mean() - float(missing[d.name]) >= MISSING_RISE:
            found.update(missing_share=round(float(gone.mean()), 4), training_missing_share=missing[d.name])
        if d.kind is Kind.CATEGORICAL:
            if d.name in categories:
                seen = set(categories[d.name])
                text = col[~gone].astype(str)
                unseen = ~text.isin(seen).to_numpy(dtype=bool)
                if unseen.sum() / n >= UNSEEN_SHARE:
                    found.update(unseen_share=round(float(unseen.sum() / n), 4),
                                 unseen_categories=int(text[unseen].nunique()))
        else:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values) >= MIN_VALUES:
                found.update(_numeric(d.name, values, reference, alpha))
        if found:
            out.append({"feature": d.name, "rows": n, **found})
    return out


def _numeric(name: str, values: np.ndarray, reference: dict, alpha: float = PSI_ALPHA) -> dict:
    """A numeric feature's figures that moved by an order of magnitude, or its PSI where it acts and chance
    alone would reach it in less than `alpha` of batches of this size (PSI_ALPHA)."""
    found: dict = {}
    median, bins = reference.get("median") or {}, reference.get("bins") or {}
    m = float(np.median(values))
    s, trained, basis = _spreads(name, values, reference)
    at_median = _ratio(m, float(median[name])) if name in median else None
    at_spread = _ratio(s, trained) if s is not None and trained is not None else None
    # a unit scales the spread and the median alike; a median near 0 (a trend, days late) moves tenfold by
    # itself, so the spread must move tenfold and the median with it (where both medians are non-zero)
    if at_spread is not None and _scaled(at_spread) and (at_median is None or _with(at_median, at_spread)):
        found.update(median=round(m, 6), training_median=median.get(name), spread=round(float(s or 0), 6),
                     training_spread=trained, spread_basis=basis)
    if name in bins:
        bin_shares = bins[name]["shares"]
        counts = bin_counts(values, bins[name]["edges"], len(bin_shares))  # read once for the index and its test
        index = psi_of_counts(counts, bin_shares)
        if index >= PSI_ACT and beyond_chance(counts, bin_shares, alpha):
            found.update(psi=round(index, 4))
    return found


def _spreads(name: str, values: np.ndarray, reference: dict) -> tuple[float | None, float | None, str]:
    """The batch's spread, training's, and what they are: the robust spread (models.base.robust_spread) where
    the artifact stores training's, else the standard deviation (artifacts saved before 2026-12-07: one
    outlier moves it, the reason the robust one replaced it)."""
    robust = (reference.get("robust_spread") or {}).get(name)
    if robust is not None:
        return robust_spread(values), float(robust), "iqr"
    spread = reference.get("spread") or {}
    return float(np.std(values, ddof=1)), (float(spread[name]) if name in spread else None), "std"


def finding_text(f: dict) -> str:
    """One console line of a finding: the feature and its figures."""
    said = []
    if "unseen_share" in f:
        said.append(f"{f['unseen_share']:.1%} of rows hold {f['unseen_categories']} categor"
                    f"{'y' if f['unseen_categories'] == 1 else 'ies'} never seen in training (read as missing or rare)")
    if "missing_share" in f:
        said.append(f"{f['missing_share']:.1%} missing against {f['training_missing_share']:.1%} in training")
    if "median" in f:
        basis = SPREAD_BASES.get(str(f.get("spread_basis", "std")), "std")
        median = "n/a" if f["training_median"] is None else f"{f['training_median']:,.4g}"
        said.append(f"median {f['median']:,.4g} (training {median}), spread ({basis}) {f['spread']:,.4g} "
                    f"(training {f['training_spread']:,.4g}): another unit?")
    if "psi" in f:
        said.append(f"PSI {f['psi']:.2f} against training (>= {PSI_ACT})")
    return f"{f['feature']}: " + "; ".join(said)


def artifact_reference(art: Artifact) -> dict:
    """reference.json's content ({} for an artifact saved without one)."""
    return json.loads(art.path(REFERENCE).read_bytes()) if REFERENCE in art.manifest["files"] else {}


def check_input(art: Artifact, model: CreditModel, X: pd.DataFrame, defs: Sequence[FeatureDef], where: str,
                strict: bool = False) -> dict:
    """Check feature rows `X` against the artifact's training reference: a warning per feature that differs,
    or, `strict`, a refusal naming them (DataValidationError at `where`, the data set). Returns what a job
    records: {"rows_checked", "findings"}. `evaluate` can call it on the rows it scores."""
    findings = check_features(X, defs, artifact_reference(art), model_categories(model))
    if strict and findings:
        raise DataValidationError(where, "the data do not match the model's training data (--strict-input): "
                                  f"{' | '.join(finding_text(f) for f in findings)}")
    for f in findings:
        warnings.warn(InputMismatchWarning(f"input check: {finding_text(f)}"), stacklevel=3)
    return {"rows_checked": len(X), "findings": findings}


def check_scoring_input(art: Artifact, model: CreditModel, defs: Sequence[FeatureDef], dataset: Dataset,
                        rows: pd.DataFrame, strict: bool = False, before_joining: int = 0) -> dict:
    """check_input on a sample of the rows to score (`rows`: person_id, as_of, label, spread over the whole
    spine: workflows.score.Spine.sample; at most SAMPLE_ROWS of them, evenly spaced), their features built
    here, for those rows only, and a warning (strict: a refusal) where `before_joining` of all the rows to
    score are dated before their person joined (workflows.score.Spine.before_joining): such a score reads a
    history not yet begun, as if the person had none. `score` calls it before its job starts."""
    if before_joining:  # first: the likely cause of the features' findings below (missing histories)
        joined = dataset.spec.role("joined_at")
        said = (f"{before_joining:,} rows are scored as of a date before their person joined "
                f"({joined.name if joined else 'joined_at'}): they read no history, as if the person had none "
                "(--as-of too early?)")
        if strict:
            raise DataValidationError(str(dataset.root), f"the rows to score do not suit the model "
                                                         f"(--strict-input): {said}")
        warnings.warn(InputMismatchWarning(f"input check: {said}"), stacklevel=2)
    if len(rows) > SAMPLE_ROWS:
        rows = rows.iloc[np.linspace(0, len(rows) - 1, SAMPLE_ROWS).astype(np.int64)]
    X = build_features(dataset, list(defs), spine=rows.reset_index(drop=True)).frame
    return {**check_input(art, model, X, defs, str(dataset.root), strict), "before_joining": before_joining}


def check_model_features(art: Artifact, dataset: Dataset, advice: str = "score a data set of the same spec") -> None:
    """Refuse a data set that lacks features the model uses (one of another spec: a model trained on
    another data set), naming the data set it was trained on (from its manifest) and this one, so nobody
    looks for one missing column in their data. `score` calls it before Job.open writes anything (a corrected
    rerun into the same --out is not taken for another job); the service before it scores anyone with a
    model (serve-init, model-challenger), with its own `advice`."""
    have = {d.name for d in features_for(dataset.spec)}
    missing = [f["name"] for f in art.manifest["features"] if f["name"] not in have]
    if not missing:
        return
    name = art.manifest.get("config", {}).get("data")
    trained_on = f"data set {name!r}" if name else "another data set"
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    raise DataValidationError(str(dataset.root), f"the model ({art.root}) was trained on {trained_on}; "
                                                 f"{dataset.name!r} lacks {len(missing)} of its "
                                                 f"{len(art.manifest['features'])} features ({shown}): {advice}")
