"""Performance numbers for a PD model on held-out data: discrimination, calibration, lift, bands.

Everything is a function of arrays (labels, PDs, scores), never of a model, so any model -- or a file of
scores produced elsewhere -- is evaluated the same way. Results are plain dicts of JSON types: the report,
figures.json and the monitor read them without knowing where they came from.

Conventions: label 1 = bad (defaulted); `pd` is the predicted probability of default; a higher score is
safer. AUC, KS and Gini are computed on the PD (so they agree with scikit-learn and SciPy exactly; they are
models/discrimination.py's, re-exported here, so the stack and the benchmarks read the same ones); the
curves drawn on the score axis use the whole-point score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_curve

from deepcredit.evaluation.cutoffs import cutoff_context
from deepcredit.evaluation.thresholds import DEFAULT_CUTOFF
from deepcredit.models.calibration import calibration_bins, calibration_table, expected_calibration_error
from deepcredit.models.discrimination import auc, gini_of, ks
from deepcredit.models.discrimination import gini as gini  # re-exported: the public name of the Gini
from deepcredit.models.discrimination import labelled as _check
from deepcredit.models.discrimination import two_classes as _two_classes
from deepcredit.models.scale import ScoreScale


def to_jsonable(obj: object) -> Any:
    """Plain JSON types: numpy scalars and arrays to Python, NaN/inf to None (JSON has no NaN)."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return [to_jsonable(v) for v in (obj.tolist() if hasattr(obj, "tolist") else obj)]
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="records"))
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def pct(v: float | None) -> str:
    """A share in words for the report, the model card and the figures: 12.3%, or n/a where unknown."""
    return "n/a" if v is None else f"{v:.1%}"


def fold_sd(values: Sequence[float]) -> float:
    """The spread of a metric over folds: the sample standard deviation (n - 1), as a spread reported beside a
    mean of a few folds is read; 0.0 for one value. The population formula understates it by sqrt((n-1)/n):
    11 % for 5 folds (benchmarks recorded before 2026-12-07 used it)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def brier(y: np.ndarray, pd_: np.ndarray) -> float:
    y, p = _check(y, pd_)
    return float(brier_score_loss(y, p))


def _weighted_auc(w: np.ndarray, level: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUC of each row of weights `w` (resamples x rows): the AUC of the rows repeated as often as weighted.

    level: the rank of each row's PD among the distinct PDs (ties share a level and count one half), so
    a weight matrix of integer counts gives exactly roc_auc_score of the resampled rows.
    """
    order = np.argsort(level, kind="stable")
    lv, yy = level[order], y[order]
    starts = np.flatnonzero(np.r_[True, lv[1:] != lv[:-1]])
    wo = w[:, order]
    pos = np.add.reduceat(wo * yy, starts, axis=1)
    neg = np.add.reduceat(wo * (1 - yy), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives strictly below each level
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)


def auc_interval(y: np.ndarray, pd_: np.ndarray, n_boot: int = 200, seed: int = 0, level: float = 0.95,
                 groups: Sequence[object] | np.ndarray | None = None) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the AUC (fixed seed: the same data gives the same interval).

    groups: who each row belongs to (person_id). Given, whole people are resampled (a cluster bootstrap):
    one person's rows on a panel are correlated, and resampling rows as if independent gives too narrow an
    interval. Without it, rows are resampled. Vectorised: each resample is a vector of counts, and the AUC
    of the resample is the count-weighted AUC.
    """
    y, p = _check(y, pd_)
    if n_boot <= 0 or not _two_classes(y):
        return None
    if groups is None:
        cluster, n_clusters = np.arange(y.size), y.size
    else:
        g = np.asarray(groups).ravel()
        if g.size != y.size:
            raise ValueError(f"labels ({y.size}) and groups ({g.size}) differ in length")
        _, cluster = np.unique(g.astype(str), return_inverse=True)
        n_clusters = int(cluster.max()) + 1
    levels = np.unique(p, return_inverse=True)[1].ravel()
    yf = y.astype(float)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, 4_000_000 // max(y.size, n_clusters)))  # bounded memory on large samples
    stats = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, n_clusters, (b, n_clusters))
        counts = np.bincount((draws + (np.arange(b) * n_clusters)[:, None]).ravel(),
                             minlength=b * n_clusters).reshape(b, n_clusters)
        stats.append(_weighted_auc(counts[:, cluster].astype(float), levels, yf))
    s = np.concatenate(stats)
    s = s[np.isfinite(s)]  # a resample with one class only has no AUC
    if not s.size:
        return None
    a = (1 - level) / 2
    return float(np.quantile(s, a)), float(np.quantile(s, 1 - a))


def ablation_words(evaluation: Mapping[str, Any]) -> tuple[str, str]:
    """(heading, lead) of the table of model variants, by what it compares: a modality ablation only where
    the variants read different data (views); stack members reading the same data are a member comparison."""
    rows = evaluation.get("ablation") or []
    views = [tuple(r["views"]) for r in rows if r.get("views") is not None]
    if len(views) == len(rows) and len(set(views)) > 1:
        return "Modality ablation", "What each kind of data adds, on the same rows."
    if rows and all(str(r["model"]).startswith("member: ") or str(r["model"]).endswith("(this model)") for r in rows):
        return ("Stack members compared", "Each member of the stack alone and the stack itself, on the same rows"
                + (" and the same data." if views and len(set(views)) == 1 else "."))
    return "Model comparison", "Model variants on the same rows" + \
        (", all reading the same data." if views and len(views) == len(rows) and len(set(views)) == 1 else ".")


def ci_words(metrics: Mapping[str, Any]) -> str:
    """'95% CI 0.877-0.921, resampling 5,712 people': the AUC interval and what its bootstrap resampled."""
    ci = metrics.get("auc_ci")
    if not ci:
        return ""
    by = metrics.get("auc_ci_bootstrap") or {}
    how = ""
    if by.get("resampled") == "people":
        how = f", resampling {by['n_resampled']:,} people"
    elif by.get("resampled") == "rows":
        how = f", resampling {by['n_resampled']:,} rows (no person ids)"
    return f"95% CI {ci[0]:.3f}-{ci[1]:.3f}{how}"


# -- curves and tables ------------------------------------------------------------------------------

def _thin(n: int, most: int) -> np.ndarray:
    """At most `most` evenly spread positions of 0..n-1, always keeping both ends (for plotted curves)."""
    return np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).round().astype(int))


def roc_points(y: np.ndarray, pd_: np.ndarray, most: int = 400) -> dict:
    y, p = _check(y, pd_)
    fpr, tpr, _ = roc_curve(y, p)
    keep = _thin(fpr.size, most)
    return {"fpr": fpr[keep], "tpr": tpr[keep]}


def ks_curve(y: np.ndarray, score: np.ndarray) -> dict:
    """Cumulative share of bads and of goods at or below each score (bads should pile up at low scores)."""
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(score, dtype=float)
    levels = np.unique(s)
    nb, ng = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    pos = np.searchsorted(levels, s)
    cum_bad = np.cumsum(np.bincount(pos, weights=y, minlength=levels.size)) / nb
    cum_good = np.cumsum(np.bincount(pos, weights=1 - y, minlength=levels.size)) / ng
    gap = cum_bad - cum_good
    i = int(np.argmax(gap))
    keep = _thin(levels.size, 400)
    return {"score": levels[keep], "cum_bad": cum_bad[keep], "cum_good": cum_good[keep],
            "ks": float(gap[i]), "ks_score": float(levels[i])}


def gains_table(y: np.ndarray, pd_: np.ndarray, n_groups: int = 10) -> list[dict]:
    """Lift and gains by risk decile, riskiest first: how many bads the riskiest x% of people hold.

    Rows are sorted by PD, highest first (ties in a stable order), and cut into groups of equal size.
    """
    y, p = _check(y, pd_)
    order = np.argsort(-p, kind="stable")
    groups = np.array_split(order, n_groups)
    total_bad = max(int(y.sum()), 1)
    base = y.mean() if y.size else float("nan")
    rows, cum_n, cum_bad = [], 0, 0
    for i, g in enumerate(groups, start=1):
        if g.size == 0:
            continue
        bads = int(y[g].sum())
        cum_n += g.size
        cum_bad += bads
        rate = bads / g.size
        rows.append({"group": i, "n": int(g.size), "bads": bads, "bad_rate": rate,
                     "mean_pd": float(p[g].mean()), "min_pd": float(p[g].min()), "max_pd": float(p[g].max()),
                     "cum_population": cum_n / y.size, "cum_bads_captured": cum_bad / total_bad,
                     "lift": rate / base if base else float("nan"),
                     "cum_lift": (cum_bad / cum_n) / base if base else float("nan")})
    return rows


def band_table(y: np.ndarray, pd_: np.ndarray, score: np.ndarray, scale: ScoreScale) -> list[dict]:
    """Population and bad rate per score band, worst band first, with the PD range the band stands for.

    pd_range [low, high]: the PDs whose score falls in the band. The end bands are open: scores are clipped to
    [lo, hi], so every PD above the lowest score's (up to 1) is in the worst band and every PD below the highest
    score's (down to 0) in the best; their ranges run to 1 and 0, not to the PD at the clip."""
    y, p = _check(y, pd_)
    s = np.asarray(score, dtype=float)
    bands = scale.band(s)
    lows = [lo for _, lo in scale.bands]
    highs = [*lows[1:], scale.hi + 1]
    rows = []
    last = len(scale.bands) - 1
    for i, ((name, lo), hi) in enumerate(zip(scale.bands, highs, strict=True)):
        m = bands == name
        n = int(m.sum())
        rows.append({"band": name, "score_from": lo, "score_to": hi - 1, "n": n,
                     "share": n / y.size if y.size else float("nan"), "bads": int(y[m].sum()),
                     "bad_rate": float(y[m].mean()) if n else float("nan"),
                     "mean_pd": float(p[m].mean()) if n else float("nan"),
                     "pd_range": [0.0 if i == last else float(scale.pd(hi - 1)),
                                  1.0 if i == 0 else float(scale.pd(lo))]})
    return rows


def pd_range_words(pd_range: Sequence[float] | None) -> str:
    """'above 28.9%', '8.8-16.7%', 'below 4.8%' (the end bands are open), or '' where not recorded."""
    if not pd_range:
        return ""
    low, high = pd_range
    if high >= 1.0 and low <= 0.0:
        return "any"
    if high >= 1.0:
        return f"above {low:.1%}"
    if low <= 0.0:
        return f"below {high:.1%}"
    return f"{low:.1%}-{high:.1%}"


def score_histogram(y: np.ndarray, score: np.ndarray, scale: ScoreScale, width: int = 10) -> dict:
    """Counts of goods and bads per `width`-point score bin over the whole scale (for the band histogram)."""
    y = np.asarray(y).astype(np.int64)
    edges = np.arange(scale.lo, scale.hi + width, width, dtype=float)
    edges[-1] = scale.hi + 1  # the top score falls in the last bin
    good, _ = np.histogram(np.asarray(score, dtype=float)[y == 0], bins=edges)
    bad, _ = np.histogram(np.asarray(score, dtype=float)[y == 1], bins=edges)
    return {"edges": edges, "good": good, "bad": bad, "bands": [[n, lo] for n, lo in scale.bands]}


def cutoff_summary(y: np.ndarray, score: np.ndarray, cutoff: float) -> dict:
    """What an approval rule `score >= cutoff` does: approval rate, bad rate among approved and declined, and
    the confusion table (approved/declined x good/bad counts). With 'bad' the positive class and 'declined'
    the positive prediction, TPR = share of bads declined, FPR = share of goods declined."""
    y = np.asarray(y).astype(np.int64)
    ok = np.asarray(score, dtype=float) >= cutoff
    n_bad, n_good = int(y.sum()), int((1 - y).sum())
    declined_bad, declined_good = int(y[~ok].sum()), int((1 - y[~ok]).sum())
    return {"cutoff": float(cutoff), "approval_rate": float(ok.mean()) if ok.size else float("nan"),
            "bad_rate_approved": float(y[ok].mean()) if ok.any() else float("nan"),
            "bad_rate_declined": float(y[~ok].mean()) if (~ok).any() else float("nan"),
            "bads_declined_share": float(declined_bad / max(n_bad, 1)),
            "confusion": {"approved_good": n_good - declined_good, "approved_bad": n_bad - declined_bad,
                          "declined_good": declined_good, "declined_bad": declined_bad},
            "tpr": declined_bad / n_bad if n_bad else float("nan"),
            "fpr": declined_good / n_good if n_good else float("nan")}


def confusion_rows(c: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str] | None:
    """The confusion table at the cut-off as (header, rows, caption), for the report and the model card;
    None for results written before it was recorded."""
    k = c.get("confusion")
    if not k:
        return None
    cut = f"{c['cutoff']:.0f}"
    rows = [[f"approved (score >= {cut})", f"{k['approved_good']:,}", f"{k['approved_bad']:,}",
             f"{k['approved_good'] + k['approved_bad']:,}"],
            [f"declined (score < {cut})", f"{k['declined_good']:,}", f"{k['declined_bad']:,}",
             f"{k['declined_good'] + k['declined_bad']:,}"],
            ["all", f"{k['approved_good'] + k['declined_good']:,}", f"{k['approved_bad'] + k['declined_bad']:,}",
             f"{sum(k.values()):,}"]]

    caption = (f"Decisions at the cut-off {cut}: bads declined (TPR) {pct(c.get('tpr'))}, "
               f"goods declined (FPR) {pct(c.get('fpr'))}")
    if c.get("one_sided"):
        caption += f"; the cut-off {c['one_sided']}"
    if (ref := c.get("at_bad_rate")) and ref.get("bads_declined_share") is not None:
        caption += (f" (for information: a cut-off of {ref['cutoff']:.0f} declines {pct(ref['declined_share'])}, "
                    f"about the observed bad rate, and {pct(ref['bads_declined_share'])} of bads)")
    return ["decision", "good", "bad", "all"], rows, caption


def headline(y: np.ndarray, pd_: np.ndarray, n_bins: int = 10) -> dict:
    """AUC, Gini, KS, Brier and ECE: the numbers a table of competing models shows."""
    a = auc(y, pd_)
    return {"auc": a, "gini": gini_of(a), "ks": ks(y, pd_), "brier": brier(y, pd_),
            "ece": expected_calibration_error(y, pd_, n_bins), "n": int(np.size(y))}


ECE_NOTE = ("The ECE is never 0 on a finite sample: beside it is what a perfectly calibrated PD shows on the "
            "same rows (labels drawn from the PDs themselves); an ECE within that 95th percentile is no evidence "
            "of miscalibration.")


def ece_if_calibrated(pd_: np.ndarray, n_bins: int = 10, draws: int = 200, seed: int = 0) -> dict:
    """The ECE's noise floor: the ECE of these PDs against labels drawn from the PDs themselves (so perfectly
    calibrated), `draws` times with a fixed seed; median and 95th percentile. Why: on 600 rows a perfect PD
    shows an ECE of about 0.03, as large as a real model's, and an ECE read alone looks like a flaw."""
    p = np.asarray(pd_, dtype=float).ravel()
    ids = calibration_bins(p, n_bins)  # the bins of the ECE itself; they depend on the PDs only
    predicted = np.bincount(ids, weights=p, minlength=n_bins)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(draws, 4_000_000 // max(p.size, 1)))  # bounded memory on large samples
    eces = []
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        bads = rng.random((b, p.size)) < p
        offset = (np.arange(b) * n_bins)[:, None]
        per_bin = np.bincount((ids[None, :] + offset)[bads], minlength=b * n_bins).reshape(b, n_bins)
        eces.append(np.abs(per_bin - predicted).sum(axis=1) / p.size)
    e = np.concatenate(eces)
    return {"median": float(np.median(e)), "p95": float(np.quantile(e, 0.95)), "draws": int(draws), "seed": seed}


def ece_words(metrics: Mapping[str, Any]) -> str:
    """'a calibrated PD: 0.026, 95% up to 0.040' beside an ECE; '' for results written before it was recorded."""
    floor = metrics.get("ece_if_calibrated")
    if not floor:
        return ""
    return f"a perfectly calibrated PD on these rows: median {floor['median']:.4f}, 95th percentile {floor['p95']:.4f}"


def evaluate(y: Sequence[int] | np.ndarray, pd_: Sequence[float] | np.ndarray,
             score: Sequence[float] | np.ndarray | None = None, *, scale: ScoreScale | None = None,
             cutoff: float = DEFAULT_CUTOFF, ablation: Mapping[str, np.ndarray] | None = None,
             n_bins: int = 10, n_boot: int = 200, seed: int = 0,
             groups: Sequence[object] | np.ndarray | None = None) -> dict:
    """Every number and every figure's data for one model on one labelled sample (JSON types only).

    score: the whole-point score (default: the PD mapped through `scale`); ablation: label -> PD of the
    same rows from other models (e.g. "tabular only", "+ temporal"), evaluated side by side; groups: the
    person each row belongs to, so the AUC interval resamples people, not rows (see auc_interval).
    """
    scale = scale or ScoreScale()
    y, p = _check(y, pd_)
    s = scale.score(p) if score is None else np.asarray(score, dtype=float)
    if s.shape != y.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if not _two_classes(y):
        raise ValueError("evaluation needs both good and bad outcomes in the sample" if y.size else
                         "no labelled rows to evaluate (are their outcomes not known yet?)")
    head = headline(y, p, n_bins)
    ci = auc_interval(y, p, n_boot=n_boot, seed=seed, groups=groups)
    n_people = int(pd.unique(np.asarray(groups).ravel()).size) if groups is not None else None
    ci_by = None if not ci else {"resampled": "people" if groups is not None else "rows",
                                 "n_resampled": n_people if groups is not None else int(y.size), "n_boot": n_boot}
    ks_c = ks_curve(y, s)
    result = {
        "n": int(y.size), "n_bad": int(y.sum()), "bad_rate": float(y.mean()), "mean_pd": float(p.mean()),
        "metrics": {**head, "auc_ci": list(ci) if ci else None, "auc_ci_bootstrap": ci_by, "ks_score": ks_c["ks"],
                    "ece_if_calibrated": ece_if_calibrated(p, n_bins, seed=seed), "ece_note": ECE_NOTE},
        "cutoff": {**(c := cutoff_summary(y, s, cutoff)), **cutoff_context(y, s, c["approval_rate"])},
        "roc": roc_points(y, p),
        "ks_curve": ks_c,
        "calibration": calibration_table(y, p, n_bins),
        "gains": gains_table(y, p),
        "bands": band_table(y, p, s, scale),
        "score_histogram": score_histogram(y, s, scale),
        "ablation": [{"model": name, **headline(y, _check(y, q)[1], n_bins)}
                     for name, q in (ablation or {}).items()],
        "scale": scale.to_dict(),
    }
    return to_jsonable(result)
