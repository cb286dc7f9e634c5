"""Study: does a category of many values reach the models through hash buckets (Measure.buckets)?

    .venv/bin/python scripts/study_buckets.py --json docs/results/buckets-study-2026-12-05.json --temporal

A transaction log made here, not by the simulator: each person pays shops of 300 trades, with popularities
falling off like a Zipf law. Every trade has a hidden lean, and a person with a hidden risk leans towards
the trades whose lean matches it, so the trades a person pays in tell their risk, but the 8 most frequent
trades tell little of it. Default follows the hidden risk alone; amounts and timing are noise. The same rows
are ingested three times, with the trade column declared three ways:

- `buckets`: a categorical measure with `buckets` (what `spec draft` now proposes for it);
- `declared_top8`: a categorical measure with its 8 most frequent values declared (shares and 0/1 channels);
- `buckets_and_top8`: both;
- `ignored`: not declared at all.

Each variant fits the sequence member, GBDT and the stack (`--temporal`: also the stack with its temporal
path, pretrained embeddings for GBDT and Wide & Deep and the hybrid member) on a stratified 70/30 split and
reports held-out AUC, on worlds of three seeds (each split with its own seed), and each variant's AUC minus
`declared_top8`'s per world, with their median and range. The worlds are made here, so nothing tunes on a
benchmark's test set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from deepcredit.data.draft.measures import suggested_buckets
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.bundle import build_model_input
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.sequence import SequenceModel
from deepcredit.models.stack import StackModel

TRADES = 300
AS_OF = pd.Timestamp("2024-07-01")

SPEC = """spec_version = 1
name = "shops"

[profile]
id_column = "account"

[[profile.attributes]]
name = "branch"
type = "categorical"
dimension = "identity"

{trade}
[events.columns]
person_id = "account"
ts = "booked"
kind = "type"
amount = "amount"
status = ""

[events.kinds]
debit = {{ amount = "spent" }}

[outcomes]
person_id = "account"
label = "defaulted"
as_of_column = "as_of"
window_days = 90
"""
TRADE = """[[events.measures]]
name = "trade"
type = "categorical"
dimension = "behaviour_preferences"
description = "the trade of the shops you pay"
{how}
"""


def transactions(people: int, per_person: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(people, transactions, outcomes) of the world described in the module docstring; outcomes also hold
    each person's true default probability (`true_pd`, not ingested)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, TRADES + 1)
    lean = rng.normal(size=TRADES)
    risk = rng.normal(size=people)
    accounts = np.array([f"c{i:06d}" for i in range(people)])
    rows = []
    for i in range(people):
        weights = popularity * np.exp(0.9 * risk[i] * lean)
        trade = rng.choice(TRADES, size=per_person, p=weights / weights.sum())
        seconds = np.sort(rng.integers(86_400, 180 * 86_400, size=per_person))
        rows.append(pd.DataFrame({"account": accounts[i], "booked": AS_OF - pd.to_timedelta(seconds, unit="s"),
                                  "type": "debit", "amount": np.round(rng.lognormal(3.5, 1.0, per_person), 2),
                                  "trade": [f"trade {t:03d}" for t in trade]}))
    true_pd = 1 / (1 + np.exp(-(-1.4 + 1.3 * risk)))
    bad = rng.random(people) < true_pd
    return (pd.DataFrame({"account": accounts, "branch": rng.choice(["north", "south"], people)}),
            pd.concat(rows, ignore_index=True),
            pd.DataFrame({"account": accounts, "as_of": AS_OF.date().isoformat(), "defaulted": bad.astype(int),
                          "true_pd": true_pd}))


def declarations(events: pd.DataFrame) -> dict[str, str]:
    """The trade column declared three ways (module docstring)."""
    top = events["trade"].value_counts().index[:8]
    values = ", ".join(f'"{v}" = {{ label = "trade_{v[-3:]}", description = "how often you paid a {v}", '
                       "risk_direction = 0 }" for v in top)
    buckets = f"buckets = {suggested_buckets(events['trade'].nunique())}"
    return {"buckets": TRADE.format(how=buckets), "declared_top8": TRADE.format(how=f"values = {{ {values} }}"),
            "buckets_and_top8": TRADE.format(how=f"{buckets}\nvalues = {{ {values} }}"),
            "ignored": '[events]\nignore = ["trade"]\n'}


def one_world(seed: int, args: argparse.Namespace) -> dict:
    """Every variant's held-out AUCs on the world of this seed (split with the same seed)."""
    people, events, outcomes = transactions(args.people, args.per_person, seed)
    workdir = args.workdir / f"seed-{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    files = {"people": workdir / "people.csv", "events": workdir / "transactions.csv",
             "outcomes": workdir / "outcomes.csv"}
    true_pd = outcomes.pop("true_pd").set_axis(outcomes["account"])
    for path, frame in zip(files.values(), (people, events, outcomes), strict=True):
        frame.to_csv(path, index=False)
    out: dict = {"seed": seed, "variants": {}}
    for name, trade in declarations(events).items():
        shutil.rmtree(workdir / name, ignore_errors=True)
        inp = build_model_input(ingest_with_spec(spec_from_toml(SPEC.format(trade=trade)), files, workdir / name))
        y = inp.y
        train, test = (np.sort(a) for a in train_test_split(np.arange(len(inp)), test_size=0.3, stratify=y,
                                                             random_state=seed))
        ceiling = true_pd.reindex(inp.tabular.frame["person_id"].to_numpy()).to_numpy()[test]
        out.update(test_rows=len(test), test_bads=int(y[test].sum()),
                   true_pd_auc=round(float(roc_auc_score(y[test], ceiling)), 4))  # what no model can beat
        models = {"sequence": SequenceModel(seed=0), "gbdt": GBDTModel(seed=0)}
        if args.stack:  # its graph member is left out: there are no relations
            models["stack"] = StackModel(seed=0)
        if args.temporal:
            models["stack_temporal"] = StackModel(seed=0, temporal=True)
        result = {}
        for model_name, model in models.items():
            t0 = time.perf_counter()
            model.fit(inp.take(train))
            pd_test = model.predict_proba(inp.take(test))[:, 1]
            result[model_name] = {"auc": round(float(roc_auc_score(y[test], pd_test)), 4),
                                  "fit_seconds": round(time.perf_counter() - t0, 1)}
            print(seed, name, model_name, result[model_name], flush=True)
        out["variants"][name] = result
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=6_000)
    ap.add_argument("--per-person", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    ap.add_argument("--workdir", type=Path, default=Path("runs/buckets-study"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--stack", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--temporal", action=argparse.BooleanOptionalAction, default=False,
                    help="also the stack with its temporal path")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*lacks the structural")
    worlds = [one_world(seed, args) for seed in args.seeds]
    lift: dict[str, dict[str, list[float]]] = {}  # AUC of each variant minus declared_top8's, per world
    for w in worlds:
        for name, result in w["variants"].items():
            for model_name, r in result.items():
                base = w["variants"]["declared_top8"][model_name]["auc"]
                lift.setdefault(name, {}).setdefault(model_name, []).append(round(r["auc"] - base, 4))
    out = {"world": f"{args.people} people, {args.per_person} payments each, {TRADES} trades",
           "split": "stratified 70/30, random_state = the world's seed", "worlds": worlds,
           "minus_declared_top8": {name: {m: {"each": v, "median": round(float(np.median(v)), 4),
                                              "range": [min(v), max(v)]} for m, v in by.items()}
                                   for name, by in lift.items()}}
    print(json.dumps(out["minus_declared_top8"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
