"""Fixtures shared across the suite: one Spark session for every Spark test (Spark takes ~15 s to start)."""

from __future__ import annotations

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
