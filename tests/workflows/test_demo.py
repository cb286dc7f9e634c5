"""run_demo's --out: every folder it writes (data sets, model, report) is checked before anything is
simulated, so a folder that is not the demo's own fails the run at once, not after minutes of work."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.evaluation.report import REPORT, RESULTS
from deepcredit.workflows import demo as demo_module
from deepcredit.workflows.demo import run_demo


class Simulated(Exception):
    """The demo reached the simulation."""


@pytest.fixture
def no_simulation(monkeypatch) -> None:
    def simulate(*_, **__):
        raise Simulated

    monkeypatch.setattr(demo_module, "simulate_world", simulate)
    monkeypatch.setattr(demo_module, "load_bundled", simulate)


@pytest.mark.parametrize("folder", ["report", "model", "data/simulated", "data/held-out", "data/uci", "data/otc"])
def test_a_folder_that_is_not_the_demos_own_is_refused_before_any_simulation(tmp_path, no_simulation, folder):
    out = tmp_path / "demo"
    mine = out / folder / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("my own notes")
    with pytest.raises(DataValidationError, match="refusing to replace it") as err:
        run_demo(out, people=1000)
    assert str(out / folder) in str(err.value)
    assert mine.read_text() == "my own notes"


def test_an_earlier_demos_report_is_not_refused(tmp_path, no_simulation):
    out = tmp_path / "demo"
    (out / "report").mkdir(parents=True)
    for name in (RESULTS, REPORT):
        (out / "report" / name).write_text("{}")
    (out / "model").mkdir()  # empty: allowed
    with pytest.raises(Simulated):
        run_demo(Path(out), people=1000)
