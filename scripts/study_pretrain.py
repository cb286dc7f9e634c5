"""Study: pretraining settings, chosen on a development world the benchmark never uses.

    .venv/bin/python scripts/study_pretrain.py --json docs/results/pretrain-study.json \
        --variant base '{}' --variant all_people '{"max_people": null}'

Each variant pretrains the event encoder (models.pretrain) on the training rows' histories of a simulated
world with temporal structure (seed 7, not the benchmark's 42; its own stratified 70/30 split, random_state=7),
then fits GBDT with its defaults on the tabular features plus the embeddings and reports the held-out AUC,
beside GBDT without embeddings. This is the member where the embeddings' lift shows (docs/benchmarks.md), and
the study needs no labels from the benchmark's world, so choosing a default here never tunes on a test set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from deepcredit.data.dataset import Dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.pretrain import histories_of, pretrain, with_embeddings

SEED = 7


def development_world(workdir: Path, people: int) -> tuple[Dataset, ModelInput, np.ndarray, np.ndarray]:
    """The development world (simulated once under `workdir`, then reused), its tabular and temporal views,
    and its own stratified 70/30 split (training and test row positions, sorted)."""
    root = workdir / f"sim-{people}-seed{SEED}-temporal1"
    ds = Dataset(root) if (root / "manifest.json").exists() else simulate_world(root, people=people, seed=SEED,
                                                                                temporal=1.0)
    inp = build_model_input(ds, views=("tabular", "temporal"))
    train, test = (np.sort(a) for a in train_test_split(np.arange(len(inp)), test_size=0.3, stratify=inp.y,
                                                         random_state=SEED))
    return ds, inp, train, test


def describe(people: int, y: np.ndarray, test: np.ndarray) -> dict:
    """The head of a study's result: which world, which split, how many test rows and bads."""
    return {"world": f"simulate --people {people} --seed {SEED} --temporal 1.0",
            "split": f"stratified 70/30, random_state={SEED}", "test_rows": len(test), "test_bads": int(y[test].sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, default=Path("runs/pretrain-study"))
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True,
                    help="a name and the pretraining settings (JSON), e.g. base '{}'")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ds, inp, train, test = development_world(args.workdir, args.people)
    y = inp.y
    out = describe(args.people, y, test)
    gbdt = GBDTModel(seed=0).fit(inp.take(train))
    out["gbdt_without_embeddings"] = round(float(roc_auc_score(y[test], gbdt.predict_proba(inp.take(test))[:, 1])), 4)
    print("without embeddings", out["gbdt_without_embeddings"], flush=True)
    histories = histories_of(inp.take(train))
    out["variants"] = {}
    for name, settings in args.variant:
        params = json.loads(settings)
        t0 = time.perf_counter()
        encoder = pretrain(histories, params, seed=0)
        seconds = time.perf_counter() - t0
        embedded = with_embeddings(inp, encoder)
        gbdt = GBDTModel(seed=0).fit(embedded.take(train))
        auc = float(roc_auc_score(y[test], gbdt.predict_proba(embedded.take(test))[:, 1]))
        out["variants"][name] = {"settings": params, "gbdt_auc": round(auc, 4), "pretrain_seconds": round(seconds, 1)}
        print(name, out["variants"][name], flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
