"""Study: why the graph adds no lift on Bitcoin OTC, and why the stack sits below its best member there.

    .venv/bin/python scripts/study_otc.py --json docs/results/otc-study.json

Two measured questions (neither changes the product; docs/benchmarks.md reports the answers):

- graph-features: do richer point-in-time graph features help? Candidate families, each computed from
  the ratings strictly before each as-of date: the person's outgoing ratings (a rating given is an edge,
  never an event of the giver), recent activity, the reputation of the raters, the reputation of the
  people rated, and fairness/goodness (Kumar et al. 2016, the algorithm written for this very network).
  A fixed LightGBM (3 seeds) is fitted without the social dimension, with it, and with it plus each
  family; AUC on an inner validation (the last 2 training quarters, trained on the earlier ones) and on
  the benchmark's test quarters (the last 4). Nothing is selected on the test quarters.
- stack-folds: the stack's time-aware out-of-fold folds against folds grouped by person only, on the
  inner validation. Person-only folds let a member learn from later dates of other people, which the
  product forbids (stacking folds must be time-aware); the study only measures what that rule costs.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from deepcredit.data.datasets.otc import NEGATIVE_THRESHOLD, PREFIX, _ratings
from deepcredit.features.bundle import build_model_input
from deepcredit.workflows.benchmarks.models import SOCIAL, bundled

FAMILIES = {
    "outgoing": ["out_n", "out_mean", "out_negative", "out_90d"],
    "recent": ["in_90d", "negative_in_90d", "out_90d"],
    "raters": ["from_flagged", "positive_from_flagged", "positive_from_new", "rater_mean_received",
               "negative_from_trusted"],
    "rated": ["to_flagged", "positive_to_flagged"],
    "fairness_goodness": ["goodness", "fairness"],
}


def fairness_goodness(src: np.ndarray, dst: np.ndarray, w: np.ndarray, iterations: int = 30) -> tuple:
    """Kumar et al. 2016: goodness = fairness-weighted mean rating received; fairness = 1 - mean error."""
    n = int(max(src.max(), dst.max())) + 1
    indeg, outdeg = np.bincount(dst, minlength=n), np.bincount(src, minlength=n)
    fair, good = np.ones(n), np.zeros(n)
    for _ in range(iterations):
        good = np.bincount(dst, fair[src] * w, minlength=n) / np.maximum(indeg, 1)
        fair = 1 - np.bincount(src, np.abs(w - good[dst]) / 2, minlength=n) / np.maximum(outdeg, 1)
    return np.where(indeg > 0, good, np.nan), np.where(outdeg > 0, fair, np.nan)


def candidates_at(r: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every candidate feature per person from the ratings strictly before as_of."""
    e = r[r["ts"] < as_of]
    recent = e[(as_of - e["ts"]).dt.days <= 90]
    received = e.groupby("dst")["rating"].agg(in_n="size", in_mean="mean",
                                              in_flagged=lambda s: int((s <= NEGATIVE_THRESHOLD).sum()))
    given = e.groupby("src")["rating"].agg(out_n="size", out_mean="mean", out_negative=lambda s: int((s < 0).sum()))
    inc = e.join(received.add_prefix("rater_"), on="src")
    inc["flagged"] = inc["rater_in_flagged"].fillna(0) > 0
    inc["new"] = inc["rater_in_n"].fillna(0) < 3
    pos = inc[inc["rating"] > 0].groupby("dst")
    out = e.join(received.add_prefix("rated_"), on="dst")
    out["flagged"] = out["rated_in_flagged"].fillna(0) > 0
    codes, nodes = pd.factorize(pd.concat([e["src"], e["dst"]]))
    good, fair = fairness_goodness(codes[:len(e)], codes[len(e):], e["rating"].to_numpy() / 10.0)
    parts = [
        given,
        recent.groupby("dst").size().rename("in_90d"), recent.groupby("src").size().rename("out_90d"),
        recent[recent["rating"] < 0].groupby("dst").size().rename("negative_in_90d"),
        inc.groupby("dst")["flagged"].mean().rename("from_flagged"),
        pos["flagged"].mean().rename("positive_from_flagged"), pos["new"].mean().rename("positive_from_new"),
        inc.groupby("dst")["rater_in_mean"].mean().rename("rater_mean_received"),
        inc[(inc["rating"] < 0) & (inc["rater_in_mean"].fillna(0) > 1)].groupby("dst").size()
        .rename("negative_from_trusted"),
        out.groupby("src")["flagged"].mean().rename("to_flagged"),
        out[out["rating"] > 0].groupby("src")["flagged"].mean().rename("positive_to_flagged"),
        pd.DataFrame({"goodness": good, "fairness": fair}, index=nodes),
    ]
    return pd.concat(parts, axis=1).rename_axis("person_id").reset_index().assign(as_of=as_of)


def lgbm_auc(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    import lightgbm as lgb

    aucs = []
    for seed in (0, 1, 2):
        clf = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=40,
                                 subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                                 verbose=-1).fit(X.iloc[train], y[train])
        aucs.append(roc_auc_score(y[test], clf.predict_proba(X.iloc[test])[:, 1]))
    return round(float(np.mean(aucs)), 4)


def splits(keys: pd.DataFrame, test_quarters: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """inner: train on the training quarters but their last 2, validate on those 2; test: the benchmark's."""
    as_of = keys["as_of"].to_numpy()
    dates = np.sort(np.unique(as_of))
    train = np.flatnonzero(as_of < dates[-test_quarters])
    cut = dates[-test_quarters - 2]
    return {"inner": (train[as_of[train] < cut], train[as_of[train] >= cut]),
            "test": (train, np.flatnonzero(as_of >= dates[-test_quarters]))}


def graph_features(inp) -> dict:
    r = _ratings().assign(src=lambda d: PREFIX + d["source"].astype(str), dst=lambda d: PREFIX + d["target"].astype(str))
    keys = inp.keys
    cand = pd.concat([candidates_at(r, pd.Timestamp(t)) for t in np.sort(keys["as_of"].unique())])
    new = keys.merge(cand, on=["person_id", "as_of"], how="left").drop(columns=["person_id", "as_of"])
    X = inp.X
    base = X.drop(columns=[d.name for d in inp.definitions if d.dimension is SOCIAL])
    arms = {"without_social": base, "with_social": X, "with_social_plus_all": pd.concat([X, new], axis=1)}
    arms |= {f"with_social_plus_{k}": pd.concat([X, new[cols]], axis=1) for k, cols in FAMILIES.items()}
    out = {}
    for split, (tr, te) in splits(keys).items():
        out[split] = {"positives": int(inp.y[te].sum())}
        for name, frame in arms.items():
            out[split][name] = lgbm_auc(frame, inp.y, tr, te)
            print(split, name, out[split][name], flush=True)
    return out


def stack_folds(inp) -> dict:
    import deepcredit.models.stack as stack_module
    from deepcredit.models.splits import person_folds

    tr, va = splits(inp.keys)["inner"]
    valid = inp.take(va)
    out = {"positives": int(valid.y.sum())}
    time_aware = stack_module.stacking_folds
    person_only = lambda keys, y, n, seed, _groups: person_folds(keys["person_id"].to_numpy(), y, n, seed)  # noqa: E731
    arms = {"time_aware": (time_aware, {}), "time_aware_3_blocks_5_person_groups": (time_aware, {"n_folds": 3, "time_groups": 5}),
            "person_only": (person_only, {})}
    for name, (folds, params) in arms.items():
        stack_module.stacking_folds = folds  # study only: person_only is the counterfactual the product forbids
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stack = stack_module.StackModel(seed=0, **params).fit(inp.take(tr))
        finally:
            stack_module.stacking_folds = time_aware
        logits = stack.member_logits(valid)
        out[name] = {"stack": round(float(roc_auc_score(valid.y, stack.decision_function(valid))), 4),
                     "members": {k: round(float(roc_auc_score(valid.y, logits[k])), 4) for k in logits},
                     "meta_weights": {k: round(v, 3) for k, v in stack.metrics_["meta_weights"].items()},
                     "oof_auc": {k: round(v, 4) for k, v in stack.metrics_["oof_auc"].items()}}
        if name == "time_aware":  # the same members, averaged with equal weights on out-of-fold-standardised logits
            sd = stack.oof_[list(logits.columns)].std()
            out["time_aware_equal_weights"] = round(float(roc_auc_score(valid.y, (logits / sd).sum(axis=1))), 4)
        print(name, out[name], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("runs/study-otc"))
    ap.add_argument("--parts", default="graph-features,stack-folds")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    inp = build_model_input(bundled("otc", args.workdir))
    parts = {"graph-features": graph_features, "stack-folds": stack_folds}
    res = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    res |= {name: parts[name](inp) for name in args.parts.split(",")}  # parts not run keep their last result
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
