"""Study M: the small-data scorecard's other levers, on development data only (never German credit).

Same data and protocol as study G (scripts/study_small_data_binning.py, whose loaders this reuses): 1,000-row
stratified subsamples of UCI credit card and of the simulator's profile table, stratified 5-fold CV per
subsample, every variant on the same folds, `ScorecardModel()` in its small-data mode (asserted).

Variants (patched only here, never in the package):
  a      current small-data card (SMALL_DATA: optbinning's defaults, iv_min 0, corr_max 0.95, WoE fit, C 1)
  p05    adjacent value bins merged unless their bad rates differ at p < 0.05 (optbinning max_pvalue=0.05,
         its Z-test, policy "consecutive")
  ccv    C of the logistic regression chosen by inner 5-fold CV on the training rows only (grid 0.01..10,
         lowest inner log loss; each inner fold re-bins on its own inner-training rows, so no WoE leak)
  c01    C fixed at 0.1 (ten times stronger L2)
  c003   C fixed at 0.03
  iv02   IV floor 0.02 ("not predictive" dropped; the large-data default) in place of none
  corr07 WoE-correlation filter at 0.7 in place of 0.95
  asc    unknown trend "auto_asc_desc" (monotone either way; the large-data default) in place of "auto"
  asc01  asc and c01 together (do the two overlap?)

    python scripts/study_small_data_card_levers.py --work DIR [--subsamples 30] [--first 0] [--data uci,sim]
    # appends to DIR/folds.csv (resumes); DIR/sim_world is simulated when missing (study G's recipe).
    python scripts/study_small_data_card_levers.py --work DIR --report DIR/folds.csv [more.csv ...]  # tables
    # Results of 2026-12-07: docs/results/scorecard-levers-study-2026-12-07.md.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from pathlib import Path

import numpy as np
import optbinning
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from deepcredit.models import binning as B
from deepcredit.models import scorecard as S
from deepcredit.models.scorecard import ScorecardModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_small_data_binning as G  # noqa: E402  (study G's loaders and ModelInput helper)

N_SUB, FOLDS = G.N_SUB, G.FOLDS
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
VARIANTS = ("a", "p05", "ccv", "c01", "c003", "iv02", "corr07", "asc", "asc01")
ORIG_OB = optbinning.OptimalBinning
ORIG_FIT = B.WoEBinning.fit

# -- binning cache: variants that only change what follows the binning reuse the same fitted bins ---------
CACHE: dict[tuple, B.WoEBinning] = {}
TAG: list[object] = [None]  # which training rows (outer fold / inner fold) the next fit sees
BINNING_VARIANT: list[str] = ["a"]


def _cached_fit(self, X, y, definitions, on_progress=None):
    key = (TAG[0], BINNING_VARIANT[0], repr(sorted(self.get_params().items())))
    if key not in CACHE:
        CACHE[key] = copy.deepcopy(ORIG_FIT(self, X, y, definitions, on_progress))
    self.__dict__.update(copy.deepcopy(CACHE[key]).__dict__)  # fresh tables: the fit writes points into them
    return self


def _pvalue_ob(**kw):
    return ORIG_OB(**kw, max_pvalue=0.05, max_pvalue_policy="consecutive")


@contextlib.contextmanager
def variant(name: str):
    saved_small = dict(S.SMALL_DATA)
    try:
        if name == "p05":
            optbinning.OptimalBinning = _pvalue_ob
            BINNING_VARIANT[0] = "p05"
        elif name == "iv02":
            S.SMALL_DATA["iv_min"] = 0.02
        elif name in ("asc", "asc01"):
            S.SMALL_DATA["unknown_trend"] = "auto_asc_desc"
        yield
    finally:
        optbinning.OptimalBinning = ORIG_OB
        BINNING_VARIANT[0] = "a"
        S.SMALL_DATA.clear()
        S.SMALL_DATA.update(saved_small)


def model_for(name: str, C: float = 1.0) -> ScorecardModel:
    if name in ("c01", "c003", "asc01"):
        return ScorecardModel(C={"c01": 0.1, "c003": 0.03, "asc01": 0.1}[name])
    if name == "corr07":
        return ScorecardModel(corr_max=0.7)
    return ScorecardModel(C=C)  # C=1.0 equals the default: SMALL_DATA's C (also 1.0) then applies


def choose_C(X: pd.DataFrame, y: np.ndarray, defs, tag: tuple) -> float:
    """C with the lowest inner 5-fold log loss, on the outer training rows only (bins re-fitted per inner fold)."""
    loss = np.zeros(len(C_GRID))
    for k, (itr, ite) in enumerate(StratifiedKFold(5, shuffle=True, random_state=99).split(X, y)):
        TAG[0] = (*tag, "inner", k)
        inp_tr, inp_te = G.as_input(X.iloc[itr], y[itr], defs), G.as_input(X.iloc[ite], y[ite], defs)
        for j, c in enumerate(C_GRID):
            p = model_for("ccv", c).fit(inp_tr).predict_proba(inp_te)[:, 1]
            loss[j] += log_loss(y[ite], np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])
    TAG[0] = tag
    return float(C_GRID[int(np.argmin(loss))])


def run_fold(X: pd.DataFrame, y: np.ndarray, defs, tr: np.ndarray, te: np.ndarray, tag: tuple,
             variants: tuple[str, ...]) -> dict[str, float]:
    CACHE.clear()
    TAG[0] = tag
    res: dict[str, float] = {}
    inp_tr, inp_te = G.as_input(X.iloc[tr], y[tr], defs), G.as_input(X.iloc[te], y[te], defs)
    for v in variants:
        C = 1.0
        if v == "ccv":
            C = choose_C(X.iloc[tr].reset_index(drop=True), y[tr], defs, tag)
            res["ccv_C"] = C
        with variant(v):
            m = model_for(v, C).fit(inp_tr)
        assert m.small_data_, "expected the small-data mode"
        p = m.predict_proba(inp_te)[:, 1]
        res[v] = roc_auc_score(y[te], p)
        res[f"{v}_logloss"] = log_loss(y[te], np.clip(p, 1e-6, 1 - 1e-6))
        res[f"{v}_bins"] = sum(t.n_value_bins for t in m.card_.features)
        res[f"{v}_used"] = len(m.card_.features)
    return res


LABELS = {"a": "(a) current small-data card", "p05": "(1) max_pvalue 0.05 (Z-test, consecutive bins)",
          "ccv": "(2a) C by inner 5-fold CV (training rows only)", "c01": "(2b) C = 0.1 (fixed)",
          "c003": "(2c) C = 0.03 (fixed)", "iv02": "(3a) IV floor 0.02", "corr07": "(3b) WoE correlation filter 0.7",
          "asc": "(4) unknown trend auto_asc_desc",
          "asc01": "(4+2b) auto_asc_desc and C = 0.1"}


def report(folds: pd.DataFrame) -> str:
    """Markdown tables: mean AUC and log loss, paired differences vs (a), SE clustered by subsample."""
    lines = []
    for data, d in folds.groupby("data", sort=False):
        nsub = d["sub"].nunique()
        lines += [f"### {data}: {nsub} subsamples x {FOLDS} folds ({len(d)} folds), "
                  f"{d['n_train'].mean():.0f} training rows, {d['bads_train'].mean():.0f} training bads on average",
                  "", "| variant | mean AUC | diff vs (a) | SE (clustered) | diff / SE | folds better / worse / same "
                  "| mean log loss | diff vs (a) | SE (clustered) | value bins | characteristics used |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for v in [c for c in LABELS if c in d.columns]:
            cells = [LABELS[v], f"{d[v].mean():.4f}"]
            for metric in ("", "_logloss"):
                diff = d[v + metric] - d["a" + metric]
                per_sub = diff.groupby(d["sub"]).mean()
                se = per_sub.std(ddof=1) / np.sqrt(len(per_sub))
                if v == "a":
                    cells += ["—", "—", "—", "—"] if not metric else ["—", "—"]
                elif not metric:
                    ratio = f"{diff.mean() / se:+.1f}" if se > 0 else "n/a"
                    cells += [f"{diff.mean():+.4f}", f"{se:.4f}", ratio,
                              f"{(diff > 0).sum()} / {(diff < 0).sum()} / {(diff == 0).sum()}"]
                else:
                    cells += [f"{diff.mean():+.4f}", f"{se:.4f}"]
                if not metric:
                    cells.append(f"{d[v + '_logloss'].mean():.4f}")
            cells += [f"{d[v + '_bins'].mean():.1f}", f"{d[v + '_used'].mean():.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
        if {"asc", "asc01"} <= set(d.columns):  # does the penalty still help once the trend rule is in?
            cells = []
            for metric in ("", "_logloss"):
                diff = d["asc01" + metric] - d["asc" + metric]
                per_sub = diff.groupby(d["sub"]).mean()
                se = per_sub.std(ddof=1) / np.sqrt(len(per_sub))
                cells.append(f"{'AUC' if not metric else 'log loss'} {diff.mean():+.4f} (SE {se:.4f}, "
                             f"{diff.mean() / se:+.1f} SE)")
            lines += ["", "(4+2b) vs (4), paired: " + ", ".join(cells)]
        if "ccv_C" in d.columns:
            lines += ["", "C chosen by the inner CV (share of folds): " + ", ".join(
                f"{c:g}: {n / len(d):.0%}" for c, n in d["ccv_C"].value_counts().sort_index().items())]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--subsamples", type=int, default=30)
    ap.add_argument("--first", type=int, default=0, help="first subsample (to split a run over processes)")
    ap.add_argument("--data", default="uci,sim")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--report", nargs="*", type=Path, help="print the tables from these folds.csv files, run nothing")
    args = ap.parse_args()
    if args.report:
        print(report(pd.concat([pd.read_csv(p) for p in args.report], ignore_index=True)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    G.HERE = args.work  # study G's sim loader reads (or simulates) HERE/sim_world
    out = args.work / "folds.csv"
    variants = tuple(args.variants.split(","))
    B.WoEBinning.fit = _cached_fit
    done = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=["data", "sub", "fold"])
    seen = set(zip(done["data"], done["sub"], done["fold"], strict=True))
    for data in args.data.split(","):
        X, _, y, defs = {"uci": G.load_uci, "sim": G.load_sim}[data]()
        for s in range(args.first, args.subsamples):
            idx, _ = train_test_split(np.arange(len(y)), train_size=N_SUB, stratify=y, random_state=1000 + s)
            Xs, ys = X.iloc[idx].reset_index(drop=True), y[idx]
            for f, (tr, te) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=s).split(idx, ys)):
                if (data, s, f) in seen:
                    continue
                t0 = time.perf_counter()
                res = run_fold(Xs, ys, defs, tr, te, (data, s, f), variants)
                row = {"data": data, "sub": s, "fold": f, "n_train": len(tr), "bads_train": int(ys[tr].sum()),
                       **res, "secs": round(time.perf_counter() - t0, 1)}
                pd.DataFrame([row]).to_csv(out, mode="a", header=not out.exists(), index=False)
                print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
