"""A modeller's own data set against the peers: DeepCredit's scorecard, stack members and stack beside
optbinning's default `Scorecard` and LightGBM defaults, on the same folds.

The protocol is the one the benchmark runs on German credit (workflows/benchmarks/declared.py): a
stratified 70/30 split (random_state=42) over the rows in file order and, asked for, 5-times-repeated
stratified 5-fold CV. The peers read the declared attributes raw (protected ones and dates left out), as
their tutorials would; DeepCredit reads everything the spec declares, events and relations included. Rows
are split at random, so each person may have one labelled row only: dated data is compared over time
with `train --test-from` and `evaluate`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deepcredit.config import RunConfig, write_run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_json
from deepcredit.data.validate import DataValidationError
from deepcredit.models.stack import default_members
from deepcredit.workflows.benchmarks import declared
from deepcredit.workflows.benchmarks.models import ModelsRun

RESULTS = "peers.json"


def compare_with_peers(dataset: Dataset, out: Path, cv: bool = False, cfg: RunConfig | None = None,
                       on_step: Callable[[str], None] = lambda s: None) -> dict:
    """Fit and score every model on the protocol's folds; write out/peers.json (and the run record). From
    `cfg`: the stack's members (members, exclude_members), their parameters, its folds and temporal path."""
    cfg = cfg or RunConfig(data=str(dataset.root))
    people = dataset.read("outcomes")["person_id"]
    if (repeated := int(people.duplicated().sum())) > 0:
        raise DataValidationError(str(dataset.root), f"{repeated:,} labelled rows belong to a person seen in an "
                                                     "earlier row: the comparison splits rows at random, which "
                                                     "needs one labelled row per person (for dated data, train "
                                                     "with --test-from DATE and evaluate)")
    members = [k for k in cfg.members or default_members(cfg.stack.temporal) if k not in cfg.exclude_members]
    args = ModelsRun(workdir=out, members=members, member_params=cfg.member_params, folds=cfg.stack.folds,
                     temporal_path=cfg.stack.temporal)
    result = declared.run(dataset, args, cv, on_step, log=lambda line: None)
    result["data"] = dataset.name
    atomic_write_json(out / RESULTS, result)
    write_run_record(out, cfg, dataset.fingerprint())
    return result
