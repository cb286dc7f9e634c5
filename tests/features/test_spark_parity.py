"""Spark computes what DuckDB computes: the same plan, the same features, sequences and graph edges.

Parity rule (workflows/benchmarks/spark.feature_differences): integers, categories and dates exactly,
other numbers to one step of the engines' rounding (1e-8 relative). Worlds: the hand-made tiny world, a
simulated world, bundled UCI and OTC (scripts/bench_spark.py and docs/scale.md say how the 10,000-person
world was checked).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import worlds
from tests.data.test_activity_log import TRANSACTIONS
from tests.data.test_activity_log import _ingest as ingest_transactions
from tests.data.test_categorical_measures import BUCKETED, CHANNELS
from tests.data.test_payments import _ingest as ingest_payments

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.features.spark_engine import (
    EVENTS_PER_SHUFFLE_PARTITION,
    local_driver_memory,
    size_shuffle,
    to_spark_sql,
)
from deepcredit.workflows.benchmarks.spark import feature_differences
from deepcredit.workflows.common import open_dataset

SIMULATED_PEOPLE = 2_000


def test_decimal_literals_become_doubles_and_nothing_else_changes():
    sql = to_spark_sql("SELECT CAST(NULL AS VARCHAR) AS c, n / 12.0 AS a, n / 12 AS b, 'x.5' AS s FROM t")
    assert "CAST(12.0 AS DOUBLE)" in sql and "n / 12 AS b" in sql and "'x.5'" in sql and "STRING" in sql


@pytest.fixture(scope="module", params=["tiny", "simulated", "uci", "otc"])
def world(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"parity-{request.param}")
    if request.param == "tiny":
        return worlds.store(root, worlds.frames())
    if request.param == "simulated":
        return simulate_world(root / "w", people=SIMULATED_PEOPLE, seed=7, chunk_size=SIMULATED_PEOPLE)
    return open_dataset(request.param, cache=root)


def test_spark_builds_the_model_input_duckdb_builds(spark, world):
    duck = build_model_input(world)
    on_spark = build_model_input(world, engine="spark", master=spark.sparkContext.master)
    assert on_spark.tabular.meta["engine"] == "spark" and duck.tabular.meta["engine"] == "duckdb"
    assert feature_differences(duck, on_spark) == []
    assert len(duck.tabular.names) > 5 and len(duck.tabular.frame) > 50


def _with_events(rows: int) -> SimpleNamespace:
    """Just what size_shuffle reads of a data set: its manifest's event rows."""
    return SimpleNamespace(manifest=SimpleNamespace(tables={"events": {"rows": rows}}))


def test_shuffle_partitions_grow_with_the_events_and_never_shrink(spark):
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "8")
        assert size_shuffle(spark, _with_events(1_000)) == 8
        many = 50 * EVENTS_PER_SHUFFLE_PARTITION + 1
        assert size_shuffle(spark, _with_events(many)) == 51
        assert spark.conf.get("spark.sql.shuffle.partitions") == "51"
        assert size_shuffle(spark, _with_events(1_000)) == 51  # a larger setting (a cluster's own) stays
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


def test_a_local_driver_heap_is_a_bounded_share_of_the_machine():
    mb = int(local_driver_memory().removesuffix("m"))
    assert 1024 <= mb <= 16384


def test_spark_reads_payments_beside_commitments_as_duckdb_does(spark, tmp_path):
    """A kind that only moves money (paid_kind's payments) is left out of the commitment counts on both
    engines alike."""
    ds = ingest_payments(tmp_path)
    duck = build_model_input(ds)
    on_spark = build_model_input(ds, engine="spark", master=spark.sparkContext.master)
    assert "paid_to_billed_180d" in duck.tabular.names
    assert feature_differences(duck, on_spark) == []


def test_spark_reads_a_transaction_log_as_duckdb_does(spark, tmp_path):
    """Money in and out of an activity log (the flow features) on both engines alike."""
    ds = ingest_transactions(tmp_path)
    duck = build_model_input(ds)
    on_spark = build_model_input(ds, engine="spark", master=spark.sparkContext.master)
    assert {"net_flow_90d", "months_with_money_in_180d"} <= set(duck.tabular.names)
    assert feature_differences(duck, on_spark) == []


def test_spark_reads_declared_windows_and_a_category_each_row_records_as_duckdb_does(spark, tmp_path):
    """Weekly windows ([windows]) and a categorical measure (its latest value, a declared value's share, its
    hash bucket in the sequences) on both engines alike."""
    weekly = BUCKETED + "\n[windows]\nperiod = 7\nrecent = 28\nmedium = 84\nlong = 182\n"
    ds = ingest_transactions(tmp_path, TRANSACTIONS.assign(channel=CHANNELS), weekly)
    duck = build_model_input(ds)
    on_spark = build_model_input(ds, engine="spark", master=spark.sparkContext.master)
    assert {"channel_last", "share_atm_182d", "net_flow_28d", "weeks_with_money_in_84d"} <= set(duck.tabular.names)
    assert feature_differences(duck, on_spark) == []
