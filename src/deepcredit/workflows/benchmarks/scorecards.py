"""Benchmark: DeepCredit's scorecard against the default scorecard pipelines of optbinning, toad, scorecardpy.

    python scripts/bench_scorecard.py --json bench-scorecard.json [--peers-python /path/to/python]

Data: the bundled UCI credit-card data (30,000 people, 22.1% default). Our card trains on the feature
engine's UCI features (protected attributes are not among them); the peers train on the raw columns minus
SEX, AGE and MARRIAGE, as their tutorials do. Evaluation: the fixed stratified 70/30 split
(random_state=42) and stratified 5-fold CV (shuffle, random_state=42) over all rows; AUC and KS
(max |TPR - FPR|). Speed: scoring 1,000,000 rows (the test rows repeated) with each fitted card, and
scoring one record at a time. Everything is seeded: two runs give the same accuracy numbers.

toad and scorecardpy are optional benchmark-only dependencies (`pip install -e .[bench]`). When this
interpreter cannot import them, --peers-python names one that can; the peers then run in that interpreter
(this same file in --worker mode, which needs only numpy, pandas, scikit-learn and the peers).

The comparison is run(ScorecardsRun); the command above parses its options in cli/bench_scripts.py. This
file's only argument entry is the worker's (`python scorecards.py --worker SPEC OUT`, at its end): the peers'
interpreter runs the file by its path and cannot import deepcredit, so it cannot go through the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGET = "default.payment.next.month"
RAW_DROP = ("ID", "SEX", "AGE", "MARRIAGE")  # the identifier and the protected attributes
SEED = 42


# -- metrics and timing ------------------------------------------------------------------------------

def auc_ks(y: np.ndarray, p: np.ndarray) -> dict:
    """AUC and KS: a copy of models/discrimination.py's, not an import, because this file also runs as the
    peers' --worker in an interpreter without deepcredit."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return {"auc": float(roc_auc_score(y, p)), "ks": float(np.max(tpr - fpr))}


def timed(fn, repeats: int) -> float:
    """Median wall seconds of `repeats` calls."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out))


def per_call_ms(fn, calls: int) -> float:
    fn()  # warm up caches
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1000


def splits(y: np.ndarray, folds: int) -> dict:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.3, stratify=y, random_state=SEED)
    cv = [(a.tolist(), b.tolist()) for a, b in
          StratifiedKFold(folds, shuffle=True, random_state=SEED).split(idx, y)] if folds else []
    return {"split": (tr.tolist(), te.tolist()), "cv": cv}


# -- the peers' default pipelines (their tutorials' steps, their default parameters) -----------------

def fit_optbinning(X: pd.DataFrame, y: np.ndarray):
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    card = Scorecard(binning_process=BinningProcess(list(X.columns)), estimator=LogisticRegression(),
                     scaling_method="min_max", scaling_method_params={"min": 300, "max": 850})
    card.fit(X, y)
    return card, (lambda Z: card.predict_proba(Z)[:, 1]), (lambda Z: card.score(Z))


def fit_toad(X: pd.DataFrame, y: np.ndarray):
    import toad

    frame = X.assign(target=y)
    combiner = toad.transform.Combiner()
    combiner.fit(frame, y="target", method="chi", min_samples=0.05)
    transer = toad.transform.WOETransformer()
    woe = transer.fit_transform(combiner.transform(frame), frame["target"], exclude=["target"])
    selected = toad.selection.select(woe, target="target", empty=0.9, iv=0.02, corr=0.7)
    final = toad.selection.stepwise(selected, target="target", estimator="ols", direction="both", criterion="aic")
    cols = [c for c in final.columns if c != "target"]
    card = toad.ScoreCard(combiner=combiner, transer=transer)
    card.fit(final[cols], final["target"])
    return card, (lambda Z: card.predict_proba(Z)[:, 1]), (lambda Z: card.predict(Z))


def fit_scorecardpy(X: pd.DataFrame, y: np.ndarray, var_filter: bool = True):
    """var_filter takes ~45 s on 21,000 rows and removes no UCI column (see the split's log line), so the
    CV folds skip it (`var_filter=False`) to keep the whole benchmark within a few minutes."""
    import scorecardpy as sc
    from sklearn.linear_model import LogisticRegression

    frame = X.assign(target=y)
    if var_filter:
        frame = sc.var_filter(frame, y="target")
    bins = sc.woebin(frame, y="target", print_info=False) if "print_info" in sc.woebin.__code__.co_varnames \
        else sc.woebin(frame, y="target")
    woe = sc.woebin_ply(frame, bins, print_info=False) if "print_info" in sc.woebin_ply.__code__.co_varnames \
        else sc.woebin_ply(frame, bins)
    cols = [c for c in woe.columns if c != "target"]
    lr = LogisticRegression(penalty="l1", C=0.9, solver="saga", max_iter=5000)
    lr.fit(woe[cols], woe["target"])
    card = sc.scorecard(bins, lr, cols)

    def proba(Z: pd.DataFrame) -> np.ndarray:
        return lr.predict_proba(sc.woebin_ply(Z, bins)[cols])[:, 1]

    return card, proba, (lambda Z: sc.scorecard_ply(Z, card, only_total_score=True))


PEERS = {"optbinning": fit_optbinning, "toad": fit_toad, "scorecardpy": fit_scorecardpy}


def run_peer(name: str, raw: pd.DataFrame, y: np.ndarray, plan: dict, rows: int, time_scoring: bool) -> dict:
    """Fit the peer on the split and each fold; optionally time scoring `rows` rows and one row."""
    fit = PEERS[name]
    out: dict = {}
    tr, te = (np.asarray(i) for i in plan["split"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        card, proba, score = fit(raw.iloc[tr].reset_index(drop=True), y[tr])
        out["fit_s"] = time.perf_counter() - t0
        out["split"] = auc_ks(y[te], proba(raw.iloc[te].reset_index(drop=True)))
        if time_scoring:
            big = raw.iloc[np.resize(te, rows)].reset_index(drop=True)
            out["score_rows"] = rows
            out["score_s"] = timed(lambda: score(big), 1 if name == "scorecardpy" else 5)
            one = raw.iloc[te[:1]].reset_index(drop=True)
            out["one_row_ms"] = per_call_ms(lambda: score(one), 50)
        folds = []
        for a, b in plan["cv"]:
            kw = {"var_filter": False} if name == "scorecardpy" else {}
            _, p, _ = fit(raw.iloc[a].reset_index(drop=True), y[a], **kw)
            folds.append(auc_ks(y[b], p(raw.iloc[b].reset_index(drop=True))))
        out["cv"] = folds
    return out


def worker(spec_path: str, out_path: str) -> None:
    """--worker mode: run the named peers from a spec file written by the main process."""
    spec = json.loads(Path(spec_path).read_text())
    raw = pd.read_parquet(spec["raw"])
    y = raw.pop("target").to_numpy()
    res = {}
    for name in spec["peers"]:
        print(f"[peers] {name} ...", file=sys.stderr, flush=True)
        res[name] = run_peer(name, raw, y, spec["plan"], spec["rows"], name in spec["timed"])
    res["_versions"] = _versions(spec["peers"])
    Path(out_path).write_text(json.dumps(res))


def _versions(names) -> dict:
    """The peers' libraries' versions: data.io.library_versions's job, repeated because the --worker runs in
    an interpreter without deepcredit."""
    from importlib import metadata

    out = {}
    for n in ["numpy", "pandas", "scikit-learn", *names]:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[n] = metadata.version(n)
    return out


# -- ours ----------------------------------------------------------------------------------------------

def load_data(data_dir: Path) -> tuple[pd.DataFrame, list, pd.DataFrame, np.ndarray]:
    """The engine's UCI features and the raw columns, aligned row by row (person_id = uci-<ID>)."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.datasets import load_bundled, uci
    from deepcredit.features.engine import build_features

    ds = Dataset(data_dir) if (data_dir / "manifest.json").exists() else load_bundled("uci", data_dir)
    ff = build_features(ds)
    raw = uci.read_bundled(uci.FILE, uci.SHA256)
    ids = raw["ID"].map(lambda i: f"uci-{int(i):05d}")
    present = ids.isin(ff.frame["person_id"]).to_numpy()  # a sampled data set (benchmark --quick) has fewer
    raw, ids = raw[present].reset_index(drop=True), ids[present].reset_index(drop=True)
    frame = ff.frame.set_index("person_id").loc[ids].reset_index()
    y = raw[TARGET].to_numpy().astype(int)
    if not (frame["label"].to_numpy() == y).all():
        raise RuntimeError("labels of the feature frame and the raw file disagree")  # a bug, not bad input
    peers_raw = raw.drop(columns=[*RAW_DROP, TARGET])
    return frame, ff.definitions, peers_raw, y


def run_ours(frame: pd.DataFrame, defs: list, y: np.ndarray, plan: dict, rows: int, params: dict) -> dict:
    # imported here: --worker mode runs this file in a peers' interpreter that has no deepcredit
    from deepcredit.features.bundle import ModelInput
    from deepcredit.features.engine import FeatureFrame
    from deepcredit.models.scorecard import ScorecardModel

    inp = ModelInput(FeatureFrame(frame.reset_index(drop=True), list(defs)))
    out: dict = {}
    tr, te = (np.asarray(i) for i in plan["split"])
    t0 = time.perf_counter()
    card = ScorecardModel(**params).fit(inp.take(tr))
    out["fit_s"] = time.perf_counter() - t0
    out["split"] = auc_ks(y[te], card.predict_proba(inp.take(te))[:, 1])  # the whole-point card itself
    out["n_features"] = len(card.used_features_)
    if rows:
        X = frame[card.used_features_]
        big = X.iloc[np.resize(te, rows)].reset_index(drop=True)
        # categorical features as pandas category dtype (their codes are the lookup keys); the same frame
        # with Python strings in object columns is timed too, as score_object_s
        cats = [d.name for d in defs if d.kind == "categorical" and d.name in big.columns]
        big_cat = big.astype({c: "category" for c in cats})
        out["score_rows"] = rows
        out["score_s"] = timed(lambda: card.card_.total_points(big_cat), 5)
        out["score_object_s"] = timed(lambda: card.card_.total_points(big), 5) if cats else out["score_s"]
        one = X.iloc[te[:1]].reset_index(drop=True)
        out["one_row_ms"] = per_call_ms(lambda: card.card_.total_points(one), 2000)
    folds = []
    for a, b in plan["cv"]:
        m = ScorecardModel(**params).fit(inp.take(a))
        folds.append(auc_ks(y[b], m.predict_proba(inp.take(b))[:, 1]))
    out["cv"] = folds
    return out


def run_lightgbm(raw: pd.DataFrame, y: np.ndarray, plan: dict) -> dict:
    """Reference: gradient boosting on the same raw columns (not a scorecard)."""
    import lightgbm as lgb

    params: dict[str, Any] = dict(n_estimators=400, learning_rate=0.02, num_leaves=15, min_child_samples=100, subsample=0.8,
                  subsample_freq=1, colsample_bytree=0.7, random_state=SEED, verbose=-1, n_jobs=2)
    tr, te = (np.asarray(i) for i in plan["split"])
    t0 = time.perf_counter()
    m = lgb.LGBMClassifier(**params).fit(raw.iloc[tr], y[tr])
    out: dict[str, Any] = {"fit_s": time.perf_counter() - t0,
                           "split": auc_ks(y[te], np.asarray(m.predict_proba(raw.iloc[te]))[:, 1])}
    out["cv"] = [auc_ks(y[b], np.asarray(lgb.LGBMClassifier(**params).fit(raw.iloc[a], y[a])
                                         .predict_proba(raw.iloc[b]))[:, 1])
                 for a, b in plan["cv"]]
    return out


# -- report --------------------------------------------------------------------------------------------

def _cv(res: dict, key: str) -> str:
    vals = [f[key] for f in res.get("cv", [])]
    # the sample sd (n - 1), as evaluation.metrics.fold_sd: not imported, this file also runs where deepcredit is not
    return f"{np.mean(vals):.4f} ± {np.std(vals, ddof=1) if len(vals) > 1 else 0.0:.4f}" if vals else "n/a"


def table(results: dict) -> str:
    lines = ["| model | inputs | split AUC | split KS | 5-fold AUC | 5-fold KS | fit (s) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if name.startswith("_") or "split" not in r:
            continue
        lines.append(f"| {name} | {r['inputs']} | {r['split']['auc']:.4f} | {r['split']['ks']:.4f} | "
                     f"{_cv(r, 'auc')} | {_cv(r, 'ks')} | {r.get('fit_s', float('nan')):.1f} |")
    lines += ["", "| model | rows scored | seconds | rows/s | one row (ms) |", "|---|---|---|---|---|"]
    for name, r in results.items():
        if name.startswith("_") or "score_s" not in r:
            continue
        one = f"{r['one_row_ms']:.3f}" + (f" (dict record: {r['one_record_ms']:.4f})" if "one_record_ms" in r else "")
        secs = f"{r['score_s']:.3f}" + (f" (object strings: {r['score_object_s']:.3f})"
                                        if r.get("score_object_s", r["score_s"]) != r["score_s"] else "")
        lines.append(f"| {name} | {r['score_rows']:,} | {secs} | {r['score_rows'] / r['score_s']:,.0f} | {one} |")
    return "\n".join(lines)


def remote_peers(python: str, tmp: Path, peers: list[str]) -> dict:
    """Run the peers in another interpreter (spec.json in `tmp`). If that interpreter fails (a package it
    lacks), each peer gets {"error": why} instead of the whole comparison failing with it."""
    proc = subprocess.run([python, os.path.abspath(__file__), "--worker", str(tmp / "spec.json"), str(tmp / "out.json")],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return json.loads((tmp / "out.json").read_text())
    print(proc.stderr, file=sys.stderr, flush=True)
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    return {p: {"error": f"the peers' interpreter {python} failed (exit {proc.returncode}): {last}"} for p in peers}


@dataclass(frozen=True)
class ScorecardsRun:
    """What one comparison runs: the UCI data set's directory (written from the bundled copy if absent), the
    rows of the scoring-speed test (0: skip it), the CV folds (0: the split only), the peers, the interpreter
    that runs the peers this one cannot import (None: every peer must import here), and our card's
    ScorecardModel parameters."""

    data: Path = Path(tempfile.gettempdir()) / "deepcredit-bench-uci"
    rows: int = 1_000_000
    folds: int = 5
    peers: tuple[str, ...] = tuple(PEERS)
    peers_python: str | None = None
    params: dict = field(default_factory=dict)


def run(opts: ScorecardsRun, out: Path | None = None,
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> dict:
    """Every number of the comparison, with the report (the tables) under "_table"; written to `out` (JSON)
    when given. `log` gets a line as each model starts."""
    t_start = time.perf_counter()
    unreachable = [p for p in opts.peers if p and not opts.peers_python and not _importable(p)]
    if unreachable:  # said before any fitting, not after our card's
        raise ValueError(f"cannot import {', '.join(unreachable)}: pip install -e .[bench], or pass --peers-python")
    frame, defs, raw, y = load_data(opts.data)
    plan = splits(y, opts.folds)
    results: dict = {}
    params = dict(opts.params)
    log("[ours] fitting ...")
    results["deepcredit scorecard"] = {"inputs": "engine features", **run_ours(frame, defs, y, plan, opts.rows, params)}
    results["deepcredit scorecard (fit_points=woe)"] = {
        "inputs": "engine features", **run_ours(frame, defs, y, plan, 0, {**params, "fit_points": "woe"})}
    peers = [p for p in opts.peers if p]
    timed_peers = {"toad", "optbinning"} if opts.rows else set()
    local = [p for p in peers if _importable(p)]
    remote = [p for p in peers if p not in local]
    for name in local:
        log(f"[peers] {name} ...")
        results[name] = {"inputs": "raw columns", **run_peer(name, raw, y, plan, opts.rows, name in timed_peers)}
    if remote and opts.peers_python:  # run() refused the run without it
        with tempfile.TemporaryDirectory() as tmp:
            raw.assign(target=y).to_parquet(Path(tmp) / "raw.parquet")
            spec = {"raw": str(Path(tmp) / "raw.parquet"), "plan": plan, "rows": opts.rows, "peers": remote,
                    "timed": sorted(timed_peers & set(remote))}
            (Path(tmp) / "spec.json").write_text(json.dumps(spec))
            got = remote_peers(opts.peers_python, Path(tmp), remote)
        results["_peer_versions"] = got.pop("_versions", {})
        for name, r in got.items():
            results[name] = {"inputs": "raw columns", **r}
    log("[reference] lightgbm ...")
    results["LightGBM (reference, not a scorecard)"] = {"inputs": "raw columns", **run_lightgbm(raw, y, plan)}
    ours, toad_r = results["deepcredit scorecard"], results.get("toad", {})
    if "score_s" in ours and "score_s" in toad_r:
        results["_speedup_vs_toad"] = toad_r["score_s"] / ours["score_s"]
    results["_meta"] = {"rows": len(y), "bad_rate": float(y.mean()), "seconds": time.perf_counter() - t_start,
                        "python": platform.python_version(), "machine": platform.platform(),
                        "cpus": os.cpu_count(), "versions": _versions(["optbinning", "lightgbm", *local]),
                        "command": " ".join([os.path.basename(sys.executable), *sys.argv])}
    report = table(results)
    if "_speedup_vs_toad" in results:
        report += f"\n\nScoring speed-up vs toad: {results['_speedup_vs_toad']:.1f}x"
    results["_table"] = report
    if out:
        from deepcredit.data.io import atomic_write_text  # here: a peers' --worker runs without deepcredit

        atomic_write_text(out, json.dumps(results, indent=2, default=float))
    return results


def _importable(name: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            __import__(name)
        return True
    except Exception:  # a peer that fails to import (e.g. missing pkg_resources) counts as absent
        return False


if __name__ == "__main__":
    # The peers' worker only (remote_peers runs this file by its path in an interpreter that may lack
    # deepcredit, so it cannot go through the CLI): `python scorecards.py --worker SPEC OUT`.
    if len(sys.argv) != 4 or sys.argv[1] != "--worker":
        sys.exit(f"usage: {os.path.basename(__file__)} --worker SPEC OUT (the benchmark's peers' worker; "
                 "the benchmark itself: scripts/bench_scorecard.py)")
    worker(sys.argv[2], sys.argv[3])
