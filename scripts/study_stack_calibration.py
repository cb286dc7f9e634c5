"""Study: is the stack's calibration systematically worse than its members', and why?

    nice .venv/bin/python scripts/study_stack_calibration.py --json docs/results/stack-calibration-study-2026-12-07.json

Development data only (UCI credit cards and small simulated worlds; never the held-out German benchmark).

Protocol. Each run: a training set and a disjoint held-out test set; the stack (default settings, n_jobs=1) is
fitted on the training rows; on the test rows every member's own PD (its refitted logit) and the stack's PD
are scored by ECE (evaluation.metrics: 10 quantile bins), Brier, log loss, AUC and the logistic calibration
intercept and slope (y ~ a + b * logit(PD); a calibrated model has a = 0, b = 1). Because an ECE on a finite
test set is positive even for perfect PDs, each model's ECE noise floor is given too: the mean ECE of its own
PDs against labels drawn from those PDs (200 draws). The stack's combiner is then re-chosen on the same
out-of-fold logits with calibration "platt" and "none" (StackModel._combine, as a stack fitted with that
setting would: the members do not depend on it), so the calibrators are compared on the same members.

Diagnostics of the out-of-fold / refit shift: per member, the calibration slope of its out-of-fold logits on
the training rows (what the combiner and calibrator were fitted on) beside the slope of its refitted logits
on the test rows (what they are applied to).

Runs: UCI, stratified 30% test split per seed, the training rows a random subsample of `--uci-sizes` of the
other 70% (small sizes mimic small data sets); simulated worlds of `--sim-people` people (one world per seed,
70/30 split), where the true PD is known and its ECE is the test set's own noise floor.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from deepcredit.evaluation.metrics import brier, expected_calibration_error
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.models.stack import StackModel
from deepcredit.workflows.benchmarks.models import bundled

CALIBRATIONS = ("isotonic", "platt", "none")
FLOOR_DRAWS = 200


def slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Logistic calibration (intercept, slope) of PDs p against labels y."""
    z = logit(np.clip(p, 1e-6, 1 - 1e-6))[:, None]
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(z, y)
    return float(lr.intercept_[0]), float(lr.coef_[0, 0])


def ece_floor(p: np.ndarray, seed: int) -> float:
    """Mean ECE of PDs p against labels drawn from p: what a perfectly calibrated p scores on this many rows."""
    rng = np.random.default_rng(seed)
    return float(np.mean([expected_calibration_error((rng.random(len(p)) < p).astype(int), p)
                          for _ in range(FLOOR_DRAWS)]))


def synthetic_floor(rows: int, bad_rate: float, seed: int = 0, draws: int = 1000) -> dict[str, float]:
    """The ECE of perfectly calibrated PDs (logits normal, sd 1) on `rows` test rows: its mean and spread over
    draws of the rows and labels. No data set is read: it sizes the noise any measured ECE sits on."""
    rng = np.random.default_rng(seed)
    mu = float(logit(bad_rate))
    values = []
    for _ in range(draws):
        p = expit(mu + rng.standard_normal(rows))
        values.append(expected_calibration_error((rng.random(rows) < p).astype(int), p))
    return {"rows": rows, "bad_rate": bad_rate, "mean": round(float(np.mean(values)), 4),
            "sd": round(float(np.std(values)), 4)}


def scores(y: np.ndarray, p: np.ndarray, seed: int) -> dict[str, float]:
    a, b = slope(y, p)
    return {"ece": expected_calibration_error(y, p), "ece_floor": ece_floor(p, seed), "brier": brier(y, p),
            "log_loss": float(log_loss(y, p, labels=[0, 1])), "auc": float(roc_auc_score(y, p)),
            "cal_intercept": a, "cal_slope": b, "mean_pd": float(np.mean(p)), "bad_rate": float(np.mean(y))}


def recombined(stack: StackModel, calibration: str) -> StackModel:
    """The fitted stack with its combiner chosen and calibrated again with `calibration` (same members)."""
    other = copy.copy(stack)
    other.calibration = calibration
    other._combine(list(stack.oof_.columns.intersection([k for k, _ in stack.members_])),
                   int(stack.metrics_["folds"]))
    return other


def one_run(inp: ModelInput, train: np.ndarray, test: np.ndarray, seed: int,
            true_pd: np.ndarray | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = StackModel(seed=seed, n_jobs=1).fit(inp.take(train))
    held = inp.take(test)
    y = held.y
    logits = stack.member_logits(held)
    out: dict[str, Any] = {"train_rows": len(train), "train_bads": int(inp.y[train].sum()), "test_rows": len(test),
                           "members": {}, "stack": {}, "oof_slope": {}}
    for k in logits:
        out["members"][k] = scores(y, expit(logits[k].to_numpy()), seed)
        oof = stack.oof_[k].to_numpy()
        have = ~np.isnan(oof)
        out["oof_slope"][k] = slope(stack.oof_["label"].to_numpy()[have], expit(oof[have]))
    for method in CALIBRATIONS:
        s = stack if method == "isotonic" else recombined(stack, method)
        out["stack"][method] = {**scores(y, s.predict_proba(held)[:, 1], seed),
                                "chosen": s.metrics_["combiner"]["chosen"],
                                "own_pd": s.metrics_["combiner"]["member_own_pd"][:3],
                                "oof_ece_after_calibration": s.metrics_["oof_ece_after_calibration"]}
    out["meta_weights"] = stack.metrics_["meta_weights"]
    if true_pd is not None:
        out["true_pd"] = scores(y, true_pd[test], seed)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def uci_runs(workdir: Path, sizes: list[int], seeds: list[int]) -> list[dict]:
    inp = build_model_input(bundled("uci", workdir), views=("tabular", "temporal"))
    y = inp.y
    runs = []
    for seed in seeds:
        rest, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
        for n in sizes:
            train = rest if n >= len(rest) else train_test_split(rest, train_size=n, stratify=y[rest],
                                                                  random_state=seed)[0]
            run = {"data": "uci", "seed": seed, **one_run(inp, np.sort(train), np.sort(test), seed)}
            runs.append(run)
            brief(run)
    return runs


def sim_runs(workdir: Path, people: int, seeds: list[int]) -> list[dict]:
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.simulate import simulate_world

    runs = []
    for seed in seeds:
        root = workdir / f"sim-{people}-seed{seed}"
        ds = Dataset(root) if (root / "manifest.json").exists() else simulate_world(root, people=people, seed=seed)
        inp = build_model_input(ds, views=("tabular", "temporal", "structural"))
        y = inp.y
        true_pd = ds.read("truth").set_index("person_id")["true_pd"].reindex(inp.keys["person_id"]).to_numpy()
        train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
        run = {"data": f"sim{people}", "seed": seed, **one_run(inp, np.sort(train), np.sort(test), seed, true_pd)}
        runs.append(run)
        brief(run)
    return runs


def brief(run: dict) -> None:
    def f(d: dict) -> str:
        return f"ece {d['ece']:.4f} (floor {d['ece_floor']:.4f}) ll {d['log_loss']:.4f} auc {d['auc']:.4f} " \
               f"slope {d['cal_slope']:.2f}"
    print(f"== {run['data']} n={run['train_rows']} seed={run['seed']} ({run['seconds']} s) "
          f"chosen {run['stack']['isotonic']['chosen']} weights {run['meta_weights']}", flush=True)
    for k, d in run["members"].items():
        print(f"  {k:10s} {f(d)}  oof slope {run['oof_slope'][k][1]:.2f}", flush=True)
    for k, d in run["stack"].items():
        print(f"  stack/{k:9s} {f(d)}  ({d['chosen']}, own {d['own_pd']})", flush=True)
    if "true_pd" in run:
        print(f"  true_pd    {f(run['true_pd'])}", flush=True)


def _mean_se(values: list[float]) -> dict[str, float | None]:
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 4),
            "se": round(float(v.std(ddof=1) / np.sqrt(len(v))), 4) if len(v) > 1 else None}


def summary(runs: list[dict]) -> dict:
    """Per (data, size): each model's mean over runs, and paired differences (mean and standard error over
    runs): the stack with each calibration less the isotonic one, less its best member (the member of least
    test log loss in that run) and less the member of least test ECE (a minimum over noisy ECEs: biased low),
    and each member's calibration slope on the test rows less its out-of-fold slope (the refit shift)."""
    metrics = ("ece", "ece_floor", "brier", "log_loss", "auc", "cal_intercept", "cal_slope")
    out: dict = {}
    for key in sorted({(r["data"], r["train_rows"]) for r in runs}):
        group = [r for r in runs if (r["data"], r["train_rows"]) == key]
        names = {**{k: [r["members"][k] for r in group] for k in group[0]["members"]},
                 **{f"stack_{m}": [r["stack"][m] for r in group] for m in CALIBRATIONS}}
        if "true_pd" in group[0]:
            names["true_pd"] = [r["true_pd"] for r in group]
        row: dict = {"runs": len(group), "chosen": [r["stack"]["isotonic"]["chosen"] for r in group]}
        row["mean"] = {name: {m: round(float(np.mean([d[m] for d in ds])), 4) for m in metrics}
                       for name, ds in names.items()}
        best = [min(r["members"].values(), key=lambda d: d["log_loss"]) for r in group]
        diffs: dict = {}
        for m in CALIBRATIONS:
            stack = [r["stack"][m] for r in group]
            diffs[f"stack_{m}_minus_best_member"] = {
                k: _mean_se([s[k] - b[k] for s, b in zip(stack, best, strict=True)])
                for k in ("ece", "brier", "log_loss", "auc", "cal_slope")}
            diffs[f"stack_{m}_minus_least_ece_member"] = _mean_se(
                [s["ece"] - min(d["ece"] for d in r["members"].values()) for s, r in zip(stack, group, strict=True)])
            if m != "isotonic":
                diffs[f"stack_{m}_minus_stack_isotonic"] = {
                    k: _mean_se([r["stack"][m][k] - r["stack"]["isotonic"][k] for r in group])
                    for k in ("ece", "brier", "log_loss", "auc", "cal_slope")}
        diffs["member_slope_test_minus_oof"] = _mean_se(
            [r["members"][k]["cal_slope"] - r["oof_slope"][k][1] for r in group for k in r["members"]])
        row["paired"] = diffs
        out[f"{key[0]} n={key[1]}"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uci-sizes", default="1000,5000")
    ap.add_argument("--uci-seeds", default="0,1,2,3,4")
    ap.add_argument("--sim-people", type=int, default=10_000)
    ap.add_argument("--sim-seeds", default="1,2,3")
    ap.add_argument("--workdir", type=Path, default=Path("runs/study-stack-calibration"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--also", type=Path, nargs="*", default=[],
                    help="JSON files of earlier runs of this script whose runs join the summary")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    runs = uci_runs(args.workdir, ints(args.uci_sizes), ints(args.uci_seeds))
    if args.sim_people and args.sim_seeds:
        runs += sim_runs(args.workdir, args.sim_people, ints(args.sim_seeds))
    for path in args.also:
        runs += json.loads(path.read_text())["runs"]
    floors = [synthetic_floor(rows, rate) for rows, rate in ((200, 0.3), (1000, 0.3), (3000, 0.1), (9000, 0.22))]
    res = {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary(runs),
           "ece_of_calibrated_pds": floors, "runs": runs,
           "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(res["summary"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
