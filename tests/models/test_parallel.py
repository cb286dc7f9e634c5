"""Member fits side by side on several processes: the same stack as one after another, every member kind."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.parallel import PARALLEL_ROWS, _guards_main, processes_for, run_tasks, usable_cores
from deepcredit.models.stack import StackModel

MEMBERS = {"scorecard": {"features": ["n_bad_365d", "bad_rate", "days_since_last_bad"]},
           "gbdt": {"n_estimators": 40, "early_stopping_rounds": None, "min_child_samples": 10},
           "sequence": {"max_epochs": 1, "hidden": 8, "head_hidden": 8},
           "wide_deep": {"max_epochs": 1, "hidden": (8,)},
           "graph": {"max_epochs": 2, "hidden": 8},
           "hybrid": {"max_epochs": 1, "seq_hidden": 8, "aggregate_hidden": 8, "hidden": (8,)}}
TINY = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4, "batch_people": 64}


def _square_plus(shared: int, x: int) -> int:
    return shared + x * x


def test_usable_cores_follow_the_openmp_limit_a_worker_is_given(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert usable_cores() >= 1


def test_processes_small_fits_stay_in_process_and_never_exceed_the_tasks(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert processes_for(None, PARALLEL_ROWS - 1, 30) == 1
    assert processes_for(None, PARALLEL_ROWS, 30) == 4
    assert processes_for(-1, 10, 30) == 4 and processes_for(3, 10, 2) == 2 and processes_for(1, 10**6, 30) == 1


@pytest.mark.parametrize("processes", [1, 2])
def test_run_tasks_gives_every_result_once(processes):
    out = sorted(run_tasks(_square_plus, 10, [(i,) for i in range(7)], processes))
    assert out == [10 + i * i for i in range(7)]


def test_a_stack_fitted_on_two_processes_equals_one_fitted_in_one(tmp_path):
    ds = simulate_world(tmp_path / "w", people=600, seed=3, chunk_size=600)
    inp = build_model_input(ds, views=("tabular", "temporal", "structural"), threads=1)
    train, test = np.arange(0, len(inp), 3), np.setdiff1d(np.arange(len(inp)), np.arange(0, len(inp), 3))
    fitted = {n: StackModel(member_params=MEMBERS, n_folds=2, temporal=True, pretrain=TINY, n_jobs=n).fit(
        inp.take(test)) for n in (1, 2)}
    one, two = fitted[1], fitted[2]
    assert one.processes_ == 1 and two.processes_ == 2
    assert one.run_facts()["processes"] == 1 and two.run_facts()["processes"] == 2
    assert [k for k, _ in two.members_] == ["scorecard", "gbdt", "sequence", "wide_deep", "graph", "hybrid"]
    kinds = [k for k, _ in one.members_]
    assert np.array_equal(one.oof_[kinds].to_numpy(), two.oof_[kinds].to_numpy(), equal_nan=True)
    held = inp.take(train)
    assert np.array_equal(one.predict_proba(held), two.predict_proba(held))
    embedded = one._embedded(held)
    for (kind, a), (_, b) in zip(one.members_, two.members_, strict=True):  # each member, back from a worker
        rows = embedded if a.reads_embeddings else held
        assert np.array_equal(a.decision_function(rows), b.decision_function(rows)), kind
    assert set(two.fit_seconds_) == set(one.fit_seconds_) >= {"pretrain", "hybrid_folds", "hybrid_final", "total"}


SCRIPT = """
import operator, warnings
from deepcredit.models.parallel import processes_for, run_tasks
{guard}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        print(sorted(run_tasks(operator.add, 10, [(1,), (2,), (3,)], 2)), processes_for(2, 10, 3))
    print(*[str(w.message) for w in caught], sep="\\n")
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_a_main_guard_fits_in_its_own_process_with_a_warning(tmp_path, guarded):
    """spawn's workers re-run an unguarded script's top level, which used to end in BrokenProcessPool."""
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT.format(guard='if __name__ == "__main__":' if guarded else "if True:"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[0] == f"[11, 12, 13] {2 if guarded else 1}"  # the count a stack records
    warned = "has no 'if __name__ == \"__main__\":' guard" in run.stdout
    assert warned is not guarded and ("fitting in this one process instead of 2" in run.stdout) is not guarded


def test_the_main_guard_is_found_either_way_round():
    assert _guards_main(ast.parse(textwrap.dedent("""
        x = 1
        if '__main__' == __name__:
            pass""")))
    assert not _guards_main(ast.parse("if __name__ == 'x':\n    pass\n"))
