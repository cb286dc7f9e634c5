"""Population stability: PSI of the score, CSI per feature, and the monitor that gates a scoring pipeline.

    PSI = sum over bins of (a - e) * ln(a / e)

where e and a are the shares of the reference (development) and the new sample in each bin. A number's bins
come from the reference: quantile cuts of its non-missing values (deciles by default; tied values collapse
into fewer bins), right-closed intervals (-inf, c1], (c1, c2], ..., (ck, inf), plus a "missing" bin; a
reference holding a single value gets a bin for that value and one for any other. A category gets a bin
where the smaller of the two samples is expected to hold it at least MIN_EXPECTED times (by both samples'
counts together, so categories high in the reference by chance do not get bins that fall in every batch):
one per reference category, "(other)" for those the reference never had, and "(rare)" for all those too
rare to measure (a postcode's thousand categories, a few rows each, would otherwise each count as drift:
a batch of the reference's own population read 'act'). True/False and 1/0 are the same values. CSI is the
same index applied to one input feature.

Empty bins: a bin one sample leaves empty would make ln(a / e) infinite, so each share is floored at
EPS = 0.0001 (one in ten thousand) before the sum, without renormalising. A bin that empties still counts
as strong drift, and a sample compared with itself gives exactly 0.

Alert levels follow the usual credit-risk convention, PSI < 0.1 ok, 0.1 to 0.25 watch, >= 0.25 act, but
only where the PSI is also beyond chance at these counts. Two samples of one population differ by chance,
and a small batch differs a lot (a 50-row batch of a stable population read 'watch' or worse 88% of the
time). The PSI is the symmetric (Jeffreys) divergence, so with no drift PSI * n_ref * n_batch / (n_ref +
n_batch) is about chi-square with (bins - 1) degrees of freedom (the chance level reported beside the PSI),
and Pearson's chi-square test of the bin counts gives its p-value: a PSI past its threshold whose p-value is
ALPHA or more reads 'ok' with the note 'too few rows to tell'. The CSI of many features tests each at ALPHA
divided by their number (Bonferroni, as the outcomes check), so a stable population raises a chance alarm
in about ALPHA of batches however many features are watched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact, ttest_ind

from deepcredit.evaluation.metrics import to_jsonable
from deepcredit.evaluation.thresholds import ACT, EXIT_CODES, LEVELS, WATCH
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.stability_index import EPS, psi_terms, shares, two_sample_chance

ALPHA = 0.01
"""A PSI past its threshold reads as drift only when chance alone would give it in less than ALPHA of batches."""
MIN_EXPECTED = 5
"""A category the smaller sample is expected to hold fewer times than this is pooled into '(other)'."""
TOO_FEW = "too few rows to tell"
TOO_FEW_JUDGE = "too few to judge"
PD_RATIO_WATCH = 1.25
"""The batch's mean PD (its expected bad rate) this many times the reference's, or this many times below it,
reads 'watch' where chance cannot explain the move (Welch's t-test, p below ALPHA)."""
MIN_OUTCOMES = 30
"""A band's bad rate is tested only where the batch and the reference each hold this many of its outcomes."""
NEW_SHOWN = 3
"""Category values a batch brings that the reference never had: the most common this many are named."""
NON_FEATURES = frozenset({"person_id", "as_of", "label", "score", "band", "pd"})


def check_thresholds(watch: float, act: float) -> None:
    """Refuse thresholds that cannot order the levels: a PSI below `watch` must never read as 'act'."""
    if not (np.isfinite(watch) and np.isfinite(act)) or watch < 0 or act < 0:
        raise ValueError(f"--watch {watch:g} / --act {act:g}: thresholds are PSI values, 0 or more")
    if watch >= act:
        raise ValueError(f"--watch {watch:g} must be below --act {act:g} (defaults {WATCH:g} / {ACT:g})")


def level(value: float | None, watch: float = WATCH, act: float = ACT) -> str:
    if value is None or not np.isfinite(value):
        return "ok"
    return "act" if value >= act else "watch" if value >= watch else "ok"


def _worst(levels: Sequence[str]) -> str:
    return max(levels, key=LEVELS.index, default="ok")


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _both_numeric(expected: pd.Series, actual: pd.Series) -> bool:
    """Numeric bins only when both samples are numbers (a batch entirely missing counts as numbers)."""
    return _is_numeric(expected) and (_is_numeric(actual) or actual.isna().all())


def _key(v: object) -> str:
    """One key per value whatever its type: True, 1 and 1.0 are the same category (a bool against 0/1)."""
    if isinstance(v, bool | np.bool_):
        return str(int(v))
    if isinstance(v, int | float | np.number) and float(v).is_integer():  # type: ignore[arg-type]
        return str(int(v))  # type: ignore[call-overload]
    return str(v)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _assign(expected: pd.Series, actual: pd.Series, bins: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and each sample's bin index, with the bins taken from `expected` alone."""
    if _both_numeric(expected, actual):
        e = expected.to_numpy(dtype=float)
        a = actual.to_numpy(dtype=float)
        known = e[~np.isnan(e)]
        if known.size and known.min() == known.max():  # a constant: its value, or anything else
            only = known[0]
            return [f"= {_fmt(only)}", "other values", "missing"], \
                np.where(np.isnan(e), 2, np.where(e == only, 0, 1)), np.where(np.isnan(a), 2, np.where(a == only, 0, 1))
        cuts = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])) if known.size else np.array([])
        if cuts.size and cuts[-1] >= known.max():
            cuts = cuts[:-1]  # no bin above the reference's maximum that only new values could fill
        labels = ([f"<= {_fmt(cuts[0])}"] if cuts.size else ["all"]) + \
            [f"({_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)] + \
            ([f"> {_fmt(cuts[-1])}"] if cuts.size else [])
        missing = len(labels)

        def ids(x: np.ndarray) -> np.ndarray:
            return np.where(np.isnan(x), missing, np.searchsorted(cuts, x, side="left"))

        return [*labels, "missing"], ids(e), ids(a)
    e, a = _keys(expected), _keys(actual)
    # measurable or not on both samples' counts: chosen on the reference's alone, the categories that came
    # out high in it by chance would get bins and read as falling in every batch
    both = pd.concat([e, a]).value_counts()
    measurable = both.index[both / (len(e) + len(a)) * min(len(e), len(a)) >= MIN_EXPECTED]
    cats = sorted(set(measurable) & set(e.dropna()))
    # a bool keeps its True/False label
    names = dict(zip(e.dropna(), expected.dropna().astype(object).astype(str), strict=True))
    index = {c: i for i, c in enumerate(cats)}
    other, rare, missing = len(cats), len(cats) + 1, len(cats) + 2
    index |= {c: other for c in measurable if c not in index}

    def cat_ids(x: pd.Series) -> np.ndarray:
        return x.map(index).fillna(rare).where(x.notna(), missing).to_numpy(dtype=np.int64)

    return [*(names.get(c, c) for c in cats), "(other)", "(rare)", "missing"], cat_ids(e), cat_ids(a)


def _keys(x: pd.Series) -> pd.Series:
    """Each value's category key (missing stays missing), computed once per distinct value."""
    codes, uniques = pd.factorize(x.astype(object), use_na_sentinel=True)
    table = np.array([_key(u) for u in uniques] + [None], dtype=object)
    return pd.Series(table[codes], dtype=object)


def grade(value: float, p_value: float, watch: float = WATCH, act: float = ACT, alpha: float = ALPHA) -> dict:
    """The level: the size rule (thresholds) where chance cannot explain the PSI, else 'ok' with a note."""
    size = level(value, watch, act)
    told = size == "ok" or p_value < alpha
    return {"level": size if told else "ok", "size_level": size, "note": None if told else TOO_FEW}


def psi_table(expected: Sequence | np.ndarray | pd.Series, actual: Sequence | np.ndarray | pd.Series,
              bins: int = 10, eps: float = EPS, *, watch: float = WATCH, act: float = ACT,
              alpha: float = ALPHA) -> dict:
    """PSI of `actual` against `expected`, with each bin's shares and contribution (bins empty in both dropped).

    `level` is the thresholds' level where the PSI is beyond chance (p-value below `alpha`), else 'ok' with
    `note` 'too few rows to tell'; `size_level` is the thresholds' level alone, `p_value` and `chance_psi`
    (the PSI chance alone reaches in `alpha` of samples of these sizes) say how much is noise.
    """
    e, a = pd.Series(expected).reset_index(drop=True), pd.Series(actual).reset_index(drop=True)
    if e.empty or a.empty:
        raise ValueError("PSI needs a non-empty reference and a non-empty new sample")
    labels, ei, ai = _assign(e, a, bins)
    ec = np.bincount(ei, minlength=len(labels))
    ac = np.bincount(ai, minlength=len(labels))
    keep = (ec + ac) > 0
    contrib = psi_terms(shares(ec), shares(ac), eps)
    value = float(contrib[keep].sum())
    p_value, by_chance = two_sample_chance(ec[keep], ac[keep], alpha)
    rows = [{"bin": lab, "expected_n": int(x), "actual_n": int(y), "expected_share": float(x / ec.sum()),
             "actual_share": float(y / ac.sum()), "contribution": float(c)}
            for lab, x, y, c, k in zip(labels, ec, ac, contrib, keep, strict=True) if k]
    return {"psi": value, **grade(value, p_value, watch, act, alpha), "p_value": p_value, "chance_psi": by_chance,
            "alpha": alpha, "bins": rows}


def psi(expected: Sequence | np.ndarray | pd.Series, actual: Sequence | np.ndarray | pd.Series,
        bins: int = 10, eps: float = EPS) -> float:
    """Population stability index of `actual` against the reference `expected` (0 = same distribution)."""
    return psi_table(expected, actual, bins, eps)["psi"]


def csi(reference: pd.DataFrame, new: pd.DataFrame, columns: Sequence[str] | None = None, bins: int = 10,
        eps: float = EPS, *, watch: float = WATCH, act: float = ACT, alpha: float = ALPHA) -> list[dict]:
    """Characteristic stability index per feature, largest first: which inputs moved.

    Columns default to the reference's features (keys, labels and scores excluded). A feature the new sample
    lacks, or has entirely missing, shows up as a 'missing' bin holding everyone: strong drift.

    Levels as psi_table's, each feature tested at `alpha` divided by the number of features (Bonferroni:
    a stable population raises a chance alarm in about `alpha` of batches however many features).
    Each row also says how the feature moved: the reference and batch medians (numeric features) and the
    bin whose share moved most, with its share in each sample.
    """
    cols = list(columns) if columns is not None else [c for c in reference.columns if c not in NON_FEATURES]
    rows = []
    each = alpha / max(len(cols), 1)
    for c in cols:
        ref = reference[c]
        bat = new[c] if c in new.columns else pd.Series([np.nan] * len(new))
        table = psi_table(ref, bat, bins, eps, watch=watch, act=act, alpha=each)
        row: dict = {"feature": c, "csi": table["psi"], "level": table["level"], "size_level": table["size_level"],
                     "note": table["note"], "p_value": table["p_value"], "chance_csi": table["chance_psi"],
                     "alpha": each}
        if _both_numeric(ref, bat):
            known_r, known_b = ref.dropna().astype(float), bat.dropna().astype(float)
            row["reference_median"] = float(known_r.median()) if len(known_r) else None
            row["batch_median"] = float(known_b.median()) if len(known_b) else None
        else:
            row["new_values"] = new_values(ref, bat)
        moved = max(table["bins"], key=lambda b: abs(b["actual_share"] - b["expected_share"]), default=None)
        if moved is not None:
            row["moved_bin"] = {"bin": moved["bin"], "reference_share": moved["expected_share"],
                                "batch_share": moved["actual_share"]}
        rows.append(row)
    return sorted(rows, key=lambda r: -r["csi"])


def new_values(reference: pd.Series, batch: pd.Series, shown: int = NEW_SHOWN) -> dict | None:
    """The category values of `batch` the reference never had: how many, their share of the batch, and up to
    `shown` of the most common with their shares (None: no new value). Why: an alert that a bin '(other)' grew
    does not say what arrived, the one thing needed to mend a feed that renamed its categories. Only values held
    by at least MIN_EXPECTED rows are named: a value that few rows hold may identify someone (an id or a free
    text), and is only counted."""
    seen = set(_keys(reference).dropna())
    keys = _keys(batch)
    names = pd.Series(batch.astype(object).astype(str).to_numpy(), dtype=object)
    new = keys.notna() & ~keys.isin(seen)
    if not new.any():
        return None
    counts = names[new.to_numpy()].value_counts()
    common = counts[counts >= MIN_EXPECTED].head(shown)
    return {"n_values": int(counts.size), "share": float(new.mean()),
            "shown": [{"value": _clip(str(v)), "share": float(c / len(batch))} for v, c in common.items()]}


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def new_values_words(new: dict) -> str:
    """'2 new values (32.3% of the batch): 'gig-worker' 18.0%, 'Civil Servant' 14.3%' (and how many more)."""
    n, shown = new["n_values"], new["shown"]
    said = f"{n:,} new value{'s' if n != 1 else ''} ({new['share']:.1%} of the batch)"
    if not shown:
        return f"{said}, each in fewer than {MIN_EXPECTED} rows (not named)"
    more = n - len(shown)
    return f"{said}: " + ", ".join(f"{v['value']!r} {v['share']:.1%}" for v in shown) + \
        (f" and {more:,} more" if more else "")


def shift_words(row: dict) -> str:
    """How a feature moved, in words: 'median 10.1 -> 11.2; bin > 10.8 holds 10.0% -> 85.3%'."""
    said = []
    if "reference_median" in row:
        med = ["n/a" if v is None else _fmt(v) for v in (row["reference_median"], row["batch_median"])]
        said.append(f"median {med[0]} -> {med[1]}")
    mb = row.get("moved_bin")
    if mb:
        said.append(f"bin {mb['bin']} holds {mb['reference_share']:.1%} -> {mb['batch_share']:.1%}")
    if row.get("new_values"):
        said.append(new_values_words(row["new_values"]))
    return "; ".join(said)


def _band_order(frame: pd.DataFrame, scale: ScoreScale) -> list[str]:
    names = [n for n, _ in scale.bands]
    seen = [str(b) for b in pd.unique(frame["band"].dropna())]
    return names + sorted(b for b in seen if b not in names)


def _with_band(frame: pd.DataFrame, scale: ScoreScale) -> pd.DataFrame:
    if "band" not in frame.columns:
        frame = frame.assign(band=scale.band(frame["score"].to_numpy(dtype=float)))
    return frame


def expected_bad_rate(reference: pd.DataFrame, batch: pd.DataFrame, ratio: float = PD_RATIO_WATCH,
                      alpha: float = ALPHA) -> dict | None:
    """The mean PD of the reference and of the batch (the bad rate each expects), without waiting for labels.

    Why: a population 3.5 times riskier (bad rate 10.6% -> 37.1%) moved the score PSI only to 0.095, under
    'watch', while its mean PD went 10.1% -> 14.2%. 'watch' where the batch's mean PD is `ratio` times the
    reference's or more (or as many times less) and Welch's t-test of the two samples' log-odds gives p < `alpha`;
    else 'ok' (with the note 'too few rows to tell' where only chance stood in the way). None without a `pd`
    column in both."""
    if "pd" not in reference.columns or "pd" not in batch.columns:
        return None
    r = pd.to_numeric(reference["pd"], errors="coerce").dropna().to_numpy(dtype=float)
    b = pd.to_numeric(batch["pd"], errors="coerce").dropna().to_numpy(dtype=float)
    if r.size < 2 or b.size < 2:
        return None
    ref_mean, new_mean = float(r.mean()), float(b.mean())
    factor = new_mean / ref_mean if ref_mean > 0 else float("inf") if new_mean > 0 else 1.0
    moved = factor >= ratio or factor <= 1 / ratio
    p_value = float(ttest_ind(_logit(b), _logit(r), equal_var=False).pvalue) if moved else None
    beyond = p_value is not None and np.isfinite(p_value) and p_value < alpha
    return {"reference": ref_mean, "batch": new_mean, "ratio": factor, "threshold": ratio, "p_value": p_value,
            "level": "watch" if moved and beyond else "ok", "note": TOO_FEW if moved and not beyond else None}


def _logit(p: np.ndarray) -> np.ndarray:
    """Log-odds, where PDs are near normal: a t-test of PDs themselves, skewed, raised 3.5% chance alarms on
    stable 20-row batches where it promises 1%."""
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def expected_words(row: dict) -> str:
    """'mean PD 10.1% -> 14.2% (x1.41; watch at x1.25 or x0.8, Welch p = 3e-20)'."""
    p_value = "" if row["p_value"] is None else f", Welch p = {row['p_value']:.2g}"
    return (f"mean PD {row['reference']:.1%} -> {row['batch']:.1%} (x{row['ratio']:.2f}; {row['level']} at "
            f"x{row['threshold']:g} or x{1 / row['threshold']:.2g}{p_value}): the bad rate the model expects moved")


def band_shift(reference: pd.DataFrame, batch: pd.DataFrame, scale: ScoreScale) -> list[dict]:
    """Share of each band in the reference and in the batch."""
    order = _band_order(pd.concat([reference[["band"]], batch[["band"]]]), scale)
    r = reference["band"].astype(str).value_counts(normalize=True)
    b = batch["band"].astype(str).value_counts(normalize=True)
    return [{"band": n, "reference_share": float(r.get(n, 0.0)), "batch_share": float(b.get(n, 0.0))}
            for n in order if n in r.index or n in b.index]


def outcomes_by_band(reference: pd.DataFrame, batch: pd.DataFrame, scale: ScoreScale, alpha: float = 0.01,
                     min_outcomes: int = MIN_OUTCOMES) -> list[dict]:
    """Bad rate per band as outcomes arrive (rows with a label), against the reference's bad rate.

    A band is flagged when its batch bad rate is significantly above the reference's: one-sided Fisher exact
    test on the two samples' bad/good counts (both rates are estimates), at `alpha` divided by the number of
    bands tested (Bonferroni: a stable population raises a false alarm in at most `alpha` of batches), with
    at least `min_outcomes` outcomes in the batch's band and in the reference's; a band with fewer is not
    tested and says so (`note`: 'too few to judge'). The score still ranks, but means more risk.
    """
    if "label" not in batch.columns:
        return []
    order = _band_order(pd.concat([reference[["band"]], batch[["band"]]]), scale)
    ref_labels = pd.to_numeric(reference["label"], errors="coerce") if "label" in reference.columns \
        else pd.Series(np.nan, index=reference.index)
    new_labels = pd.to_numeric(batch["label"], errors="coerce")
    rows = []
    for name in order:
        m = (batch["band"].astype(str) == name).to_numpy()
        if not m.any():
            continue
        lab = new_labels[m].dropna()
        ref = ref_labels[(reference["band"].astype(str) == name).to_numpy()].dropna()
        n_out, bads = int(lab.size), int(lab.sum())
        row = {"band": name, "n": int(m.sum()), "n_outcomes": n_out, "bad_rate": bads / n_out if n_out else None,
               "reference_outcomes": int(ref.size), "reference_bad_rate": float(ref.mean()) if ref.size else None,
               "p_value": None, "flag": False, "note": None}
        if n_out < min_outcomes or ref.size < min_outcomes:
            row["note"] = f"{TOO_FEW_JUDGE}: fewer than {min_outcomes} outcomes in the " + \
                ("batch" if n_out < min_outcomes else "reference")
        else:
            table = [[bads, n_out - bads], [int(ref.sum()), int(ref.size - ref.sum())]]
            row["p_value"] = float(fisher_exact(table, alternative="greater").pvalue)
        rows.append(row)
    tested = sum(r["p_value"] is not None for r in rows)
    for r in rows:
        p_value = r["p_value"]
        r["flag"] = isinstance(p_value, float) and p_value < alpha / tested
    return rows


def monitor(reference: pd.DataFrame, batch: pd.DataFrame, *, features_reference: pd.DataFrame | None = None,
            features_batch: pd.DataFrame | None = None, scale: ScoreScale | None = None, bins: int = 10,
            watch: float = WATCH, act: float = ACT, reference_fitted: np.ndarray | None = None) -> dict:
    """Compare a new scoring batch with the reference one; alerts and an overall level (ok / watch / act).

    Frames are batch scoring outputs: `score` (required), `band` (else derived from the scale), `label`
    (optional: outcomes as they arrive; missing values are outcomes still to come), `person_id`.

    reference_fitted: which reference rows the model was fitted on. Their outcomes are left out of the bad
    rates per band (`reference_fitted_rows` counts them): in-sample, a band's bad rate is the model's overfit
    (0.1% where new people of the same population had 3.8%), so every honest batch would read 'watch'. The
    scores and features of those rows stay in the PSI, the band shares and the CSI: the model does not change
    the inputs, and it moves the distribution of its scores far less than their bad rates (docs/scoring.md).
    """
    check_thresholds(watch, act)
    scale = scale or ScoreScale()
    for name, frame in (("reference", reference), ("batch", batch)):
        if "score" not in frame.columns:
            raise ValueError(f"the {name} scores have no 'score' column")
        if frame.empty:
            raise ValueError(f"the {name} scores are empty")
    reference, batch = _with_band(reference, scale), _with_band(batch, scale)
    left_out = 0
    if reference_fitted is not None and "label" in reference.columns:
        fitted = np.asarray(reference_fitted, dtype=bool)
        if fitted.shape != (len(reference),):
            raise ValueError(f"reference_fitted holds {fitted.size} flags for {len(reference)} reference rows")
        left_out = int(fitted.sum())
        reference = reference.assign(label=pd.to_numeric(reference["label"], errors="coerce").mask(fitted))
    score = psi_table(reference["score"], batch["score"], bins, watch=watch, act=act)
    alerts = []
    if score["level"] != "ok":
        alerts.append({"what": "score", "metric": "PSI", "value": score["psi"], "level": score["level"],
                       "message": f"score PSI {score['psi']:.3f} ({score['level']}: thresholds {watch:g} / {act:g}; "
                                  f"chance alone {score['chance_psi']:.3f}, p = {score['p_value']:.2g})"})
    drift: list[dict] = []
    if features_reference is not None and features_batch is not None:
        drift = csi(features_reference, features_batch, bins=bins, watch=watch, act=act)
        for row in drift:
            if row["level"] != "ok":
                alerts.append({"what": row["feature"], "metric": "CSI", "value": row["csi"], "level": row["level"],
                               "message": f"feature {row['feature']}: CSI {row['csi']:.3f} ({row['level']})"
                                          + (f"; {how}" if (how := shift_words(row)) else "")})
    expected = expected_bad_rate(reference, batch)
    if expected is not None and expected["level"] != "ok":
        alerts.append({"what": "mean PD", "metric": "mean PD", "value": expected["batch"], "level": expected["level"],
                       "message": expected_words(expected)})
    outcomes = outcomes_by_band(reference, batch, scale)
    for row in outcomes:
        if row["flag"]:
            alerts.append({"what": f"band {row['band']}", "metric": "bad rate", "value": row["bad_rate"],
                           "level": "watch",
                           "message": f"band {row['band']}: bad rate {row['bad_rate']:.1%} on {row['n_outcomes']:,} "
                                      f"outcomes vs {row['reference_bad_rate']:.1%} in the reference "
                                      f"(one-sided Fisher p = {row['p_value']:.2g})"})
    overall = _worst([a["level"] for a in alerts])
    note = reference_note(left_out, len(reference), outcomes)
    return to_jsonable({
        "level": overall, "exit_code": EXIT_CODES[overall], "thresholds": {"watch": watch, "act": act, "eps": EPS, "alpha": ALPHA,
                                                                        "pd_ratio": PD_RATIO_WATCH},
        "n_reference": len(reference), "n_batch": len(batch), "reference_fitted_rows": left_out,
        "reference_note": note, "score_psi": score, "expected_bad_rate": expected,
        "bands": band_shift(reference, batch, scale), "csi": drift, "outcomes_by_band": outcomes, "alerts": alerts,
    })


def reference_note(left_out: int, n_reference: int, outcomes: list[dict]) -> str | None:
    """What the reference's fitted rows did to the bad rates per band, in words (None: none was left out)."""
    if not left_out:
        return None
    kept = sum(r["reference_outcomes"] for r in outcomes)
    said = (f"{left_out:,} of the reference's {n_reference:,} rows are rows the model was fitted on: their outcomes "
            f"are left out of the bad rates per band (in-sample, a model's bad rates are optimistic), "
            f"{kept:,} reference outcome{'s' if kept != 1 else ''} remain")
    if outcomes and all(r["reference_outcomes"] < MIN_OUTCOMES for r in outcomes):
        said += (f"; {TOO_FEW_JUDGE} a band's bad rate against the reference (give a reference the model was not "
                 "fitted on, e.g. its held-out rows or a later batch)")
    return said + "."
