"""Study: which kinds of data carry the simulated world's signal, by the source each feature is built from.

    .venv/bin/python scripts/study_sim_ablation.py --people 100000 --json docs/results/sim-data-ablation.json

The benchmark's ablation adds *towers* (the sequence and graph models) on top of a tabular view that
already holds the engineered history aggregates, so it cannot say how much the history itself is worth.
This study removes *data* instead: LightGBM with its defaults on the same 70/30 split (random_state=42)
over the features of the profile only, profile + fulfilment history (events, runs, cycles and the
features derived from them), profile + graph neighbours, and everything. The world is the benchmark's
(seed 42), reused from --workdir when it is already there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.metrics import roc_auc_score

from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import Source
from deepcredit.workflows.benchmarks.models import lgbm_defaults, sim_split, simulated

ARMS = {
    "profile": {Source.PROFILE},
    "profile_history": set(Source) - {Source.NEIGHBOURS},
    "profile_graph": {Source.PROFILE, Source.NEIGHBOURS},
    "everything": set(Source),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, default=Path("runs/benchmark/work"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ds = simulated(args.workdir, args.people)
    inp = build_model_input(ds, views=("tabular",))
    y = inp.y
    train, test = sim_split(y)
    truth = ds.read("truth").set_index("person_id")["true_pd"].reindex(inp.keys["person_id"]).to_numpy()
    res = {"people": args.people, "bayes_auc_test": round(float(roc_auc_score(y[test], truth[test])), 4)}
    for name, sources in ARMS.items():
        defs = [d for d in inp.definitions if d.source in sources]
        arm = ModelInput(FeatureFrame(inp.tabular.frame, defs, inp.tabular.meta))
        res[name] = {"features": len(defs), "auc": round(float(roc_auc_score(y[test], lgbm_defaults(arm, train, test))), 4)}
        print(name, res[name], flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
