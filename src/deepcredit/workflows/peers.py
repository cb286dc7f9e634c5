"""A modeller's own data set against the peers: DeepCredit's scorecard, stack members and stack beside
optbinning's default `Scorecard` and LightGBM defaults, on the same folds.

The protocol is the one the benchmark runs on German credit (workflows/benchmarks/declared.py): a
stratified 70/30 split (random_state=42) over the rows in file order and, asked for, 5-times-repeated
stratified 5-fold CV. The peers read the declared attributes raw (protected ones and dates left out, each
row's profile as of its date), as their tutorials would; DeepCredit reads everything the spec declares,
events and relations included. Rows are split at random, so each person may have one labelled row only.
Dated data is compared over time instead (`test_from`): every model fitted on the rows dated before it
whose outcome is known by then, tested on the rows dated on or after it; a person may have rows on both
sides, as in deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from deepcredit.config import RunConfig, SplitConfig, write_run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_json
from deepcredit.data.validate import DataValidationError
from deepcredit.models.stack import default_members
from deepcredit.workflows.benchmarks import declared
from deepcredit.workflows.benchmarks.models import ModelsRun
from deepcredit.workflows.outputs import PEERS_RESULTS as RESULTS


def compare_with_peers(dataset: Dataset, out: Path, cv: bool = False, cfg: RunConfig | None = None,
                       on_step: Callable[[str], None] = lambda s: None, test_from: date | None = None,
                       rolling: int = 0, period: str = "quarter") -> dict:
    """Fit and score every model on the protocol's folds; write out/peers.json (and the run record). From
    `cfg`: the stack's members (members, exclude_members), their parameters, its folds and temporal path.
    Over time instead of at random (no cv then): `test_from`, one time split; `rolling`, rolling origin over
    the last that many periods (`period`: as_of, month, quarter or year)."""
    cfg = cfg or RunConfig(data=str(dataset.root))
    fingerprint = dataset.checked_fingerprint()  # the run record names the data: refuse files changed since
    if test_from is not None and rolling:
        raise ValueError("--test-from and --rolling are two protocols: choose one")
    over_time = test_from is not None or rolling > 0
    if over_time and cv:
        raise ValueError("--cv folds rows at random, which mixes times: over time, the time split or rolling "
                         "origin is the protocol")
    people = dataset.read("outcomes")["person_id"]
    if not over_time and (repeated := int(people.duplicated().sum())) > 0:
        raise DataValidationError(str(dataset.root), f"{repeated:,} labelled rows belong to a person seen in an "
                                                     "earlier row: the comparison splits rows at random, which "
                                                     "needs one labelled row per person (for dated data, compare "
                                                     "over time with --test-from DATE or --rolling N)")
    members = [k for k in cfg.members or default_members(cfg.stack.temporal) if k not in cfg.exclude_members]
    args = ModelsRun(workdir=out, members=members, member_params=cfg.member_params, folds=cfg.stack.folds,
                     temporal_path=cfg.stack.temporal)
    result = declared.run(dataset, args, cv, on_step, log=lambda line: None, test_from=test_from, rolling=rolling,
                          period=period)
    result["data"] = dataset.name
    atomic_write_json(out / RESULTS, result)
    write_run_record(out, cfg if test_from is None else cfg.model_copy(update={"split": SplitConfig(
        kind="time", test_from=test_from)}), fingerprint)
    return result
