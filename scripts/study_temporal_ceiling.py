"""Study: how much of the simulator's temporal signal a GBDT can use at best, beside the learned embeddings.

    .venv/bin/python scripts/study_temporal_ceiling.py --json docs/results/temporal-ceiling.json

Why: the benchmark's temporal target asks the temporal path to recover half of the gap between the stack
without it and the observable limit (data/observable.py) on a world with the simulator's temporal option.
The learned embeddings reach the GBDT as features, so their ceiling is what the GBDT can do with the best
summary of the order of events there is. This study measures it on the development world of
scripts/study_pretrain.py (seed 7, its own stratified 70/30 split, never the benchmark's world;
`development_world` there):

- GBDT (its defaults) on the tabular features alone;
- GBDT plus the embeddings of the default pretraining (models.pretrain), as the stack feeds them;
- GBDT plus the mechanism's own statistic, written by hand from the simulator's code (not a product
  feature; the benchmark's option exists to ask whether learning finds what the catalogue lacks): over all
  of a person's events before as-of, the share of consecutive events of the same kind, the share expected
  from their own mix of kinds without stickiness (the sum of squared shares), and the number of pairs;
- GBDT plus the true latent `temporal_risk` t (never observable: an upper bound of the temporal term);
- the observable limit on the same test rows.

Each is reported with the share of the gap between GBDT alone and the observable limit it recovers.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from study_pretrain import describe, development_world  # the same development world and split

from deepcredit.data.dataset import Dataset
from deepcredit.data.observable import observable_pd
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import Kind
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.pretrain import histories_of, pretrain, with_embeddings


def repeat_statistics(ds: Dataset, keys: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per spine row, over every event before its as-of: same-kind share of consecutive pairs, the share
    expected from the row's own kind mix, and the number of pairs."""
    con = duckdb.connect()
    con.register("spine_keys", keys.assign(row=np.arange(len(keys))))
    events = ds.scan("events")
    before = f"SELECT k.row, e.kind, e.ts FROM spine_keys k JOIN {events} e ON e.person_id = k.person_id AND e.ts < k.as_of"
    pairs = con.execute(f"""
        WITH o AS (SELECT row, kind, LAG(kind) OVER (PARTITION BY row ORDER BY ts) AS prev FROM ({before}))
        SELECT row, COUNT(prev) AS pairs, SUM(CASE WHEN kind = prev THEN 1 ELSE 0 END) AS same
        FROM o GROUP BY row""").df().set_index("row").reindex(np.arange(len(keys)))
    mix = con.execute(f"""
        WITH c AS (SELECT row, kind, COUNT(*) AS n FROM ({before}) GROUP BY row, kind),
             s AS (SELECT row, n / SUM(n) OVER (PARTITION BY row) AS share FROM c)
        SELECT row, SUM(share * share) AS expected FROM s GROUP BY row
        """).df().set_index("row").reindex(np.arange(len(keys)))
    n_pairs = pairs["pairs"].fillna(0).to_numpy(float)
    share = np.where(n_pairs > 0, pairs["same"].to_numpy(float) / np.maximum(n_pairs, 1), np.nan)
    return {"repeat_share": share, "repeat_expected": mix["expected"].to_numpy(float), "repeat_pairs": n_pairs}


def with_columns(inp: ModelInput, columns: dict[str, np.ndarray]) -> ModelInput:
    """The bundle with extra numeric tabular columns (values per spine row)."""
    tab = inp.tabular
    template = next(d for d in tab.definitions if d.kind is Kind.NUMERIC)
    frame = tab.frame.copy()
    defs = list(tab.definitions)
    for name, values in columns.items():
        frame[name] = values
        defs.append(replace(template, name=name, description=name))
    return replace(inp, tabular=FeatureFrame(frame, defs, tab.meta))


def add_shares(out: dict) -> None:
    """Each GBDT's share of the gap between GBDT alone and the observable limit (from the rounded AUCs)."""
    alone, limit = out["gbdt"]["alone"]["auc"], out["observable_auc"]
    for entry in out["gbdt"].values():
        entry["share_of_gap_to_observable"] = round((entry["auc"] - alone) / (limit - alone), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, default=Path("runs/pretrain-study"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ds, inp, train, test = development_world(args.workdir, args.people)
    y = inp.y
    keys = inp.keys
    truth = ds.read("truth").set_index("person_id")
    gauge = observable_pd(ds, temporal=1.0).set_index("person_id")["observable_pd"]
    observable = float(roc_auc_score(y[test], gauge.reindex(keys["person_id"]).to_numpy()[test]))
    out = {**describe(args.people, y, test), "observable_auc": round(observable, 4), "gbdt": {}}

    def gbdt_auc(name: str, bundle: ModelInput) -> None:
        t0 = time.perf_counter()
        model = GBDTModel(seed=0).fit(bundle.take(train))
        auc = float(roc_auc_score(y[test], model.predict_proba(bundle.take(test))[:, 1]))
        out["gbdt"][name] = {"auc": round(auc, 4), "seconds": round(time.perf_counter() - t0, 1)}
        print(name, out["gbdt"][name], flush=True)

    gbdt_auc("alone", inp)
    t0 = time.perf_counter()
    encoder = pretrain(histories_of(inp.take(train)), {}, seed=0)
    out["pretrain_seconds"] = round(time.perf_counter() - t0, 1)
    gbdt_auc("learned_embeddings", with_embeddings(inp, encoder))
    gbdt_auc("mechanism_statistic", with_columns(inp, repeat_statistics(ds, keys)))
    gbdt_auc("true_temporal_risk", with_columns(inp, {"temporal_risk": truth["temporal_risk"].reindex(
        keys["person_id"]).to_numpy(float)}))
    add_shares(out)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
