"""Fixtures shared across the suite: one Spark session for every Spark test (Spark takes ~15 s to start),
and another process holding an output's lock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from deepcredit.features.spark_engine import missing_requirement, spark_session

SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def spark():
    """The shared SparkSession (local[2]); the test skips, saying why, without Java or the [spark] extra."""
    problem = missing_requirement()
    if problem:
        pytest.skip(f"Spark tests need Java and pyspark: {problem}")
    session = spark_session(SPARK_MASTER)
    yield session
    session.stop()


SRC = Path(__file__).resolve().parents[1] / "src"
HOLD = ("import sys, time; from pathlib import Path; from deepcredit.data.io import output_lock\n"
        "with output_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(600)")


@contextmanager
def _held_elsewhere(out: Path) -> Iterator[int]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(SRC)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def held_elsewhere() -> Callable[[Path], AbstractContextManager[int]]:
    """`with held_elsewhere(out) as pid:` another process (pid) holds `out`'s lock (data.io.output_lock, the
    one the scoring job takes too) until the block ends; it is then killed, as a crashed run would be."""
    return _held_elsewhere
