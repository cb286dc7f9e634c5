"""The feature plan on Apache Spark: the same named SELECTs, run as cached Spark SQL temp views.

Why Spark and not a home-made layer: one machine does not hold a population of hundreds of millions;
Spark does, and lenders already run it. Nothing here defines a feature: the plan (engine.plan over
sources.stages, generated from the data set's spec by templates.py) is the one DuckDB runs, in the SPARK
dialect; `SparkFeatureSession` below is a FeatureSession, so build_features, build_sequences and build_graph run
unchanged on it.

Two differences between the engines are bridged mechanically, with sqlglot, not by a second plan:
- Spark SQL reads `12.0` as a DECIMAL and divides decimals with a bounded scale (5 / 12.0 is
  decimal(8,6)), where DuckDB computes in DOUBLE: every non-integer literal becomes a DOUBLE literal;
- Spark's ANSI mode raises on a division by zero where DuckDB gives NULL: the session turns it off.
Timestamps are read as UTC instants (the session's time zone), so days since the epoch agree to the bit.

pyspark is an optional extra ([spark]): it is imported only when a Spark session is started.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.data.spec import DatasetSpec
from deepcredit.features.engine import StepFn
from deepcredit.features.sequences import Coding, sequence_sql
from deepcredit.features.sources import SPARK, Dialect

DEFAULT_MASTER = "local[*]"
ENGINES = ("duckdb", "spark")
CONF = {
    "spark.sql.session.timeZone": "UTC",  # timestamps are instants: days since the epoch as DuckDB's
    "spark.sql.ansi.enabled": "false",  # x / 0 is NULL, as in DuckDB (the plan guards with NULLIF anyway)
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings the plan's results depend on (the first three) or that only keep a session light."""
DEFAULTS = {"spark.sql.shuffle.partitions": "8"}
"""Applied only where the launcher (spark-submit --conf, spark-defaults.conf) set nothing: Spark's 200 is
for clusters, 8 suits a small local job; open_spark_session raises it with the data set's size."""
EVENTS_PER_SHUFFLE_PARTITION = 2_000_000
"""At most this many event rows per shuffle partition: the plan's window steps sort each partition's events
in one task, and with a few partitions a large population's sort outgrows a task's memory (2,000,000
people in 8 partitions stopped with SparkOutOfMemoryError on 2 cores)."""
LOCAL_DRIVER_MEMORY_SHARE = 0.25
"""A local master runs every task inside the driver's JVM: its heap is this share of the machine's memory
(1-16 GB), unless spark.driver.memory is given; Spark's own default, 1 GB, is too small past ~1,000,000
people."""


def missing_requirement() -> str | None:
    """Why Spark cannot run here (no pyspark, no Java), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: install the [spark] extra (pip install 'deepcredit[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "Spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
    return None


def spark_session(master: str = DEFAULT_MASTER, app: str = "deepcredit", conf: dict[str, str] | None = None) -> Any:
    """A SparkSession (the running one when there is one, with these settings applied where they can be).

    Workers run this interpreter (PYSPARK_PYTHON, unless set already: a cluster shipping its own
    environment names it there), so pandas, pyarrow and the models are the pinned ones."""
    problem = missing_requirement()
    if problem:
        raise RuntimeError(problem)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession as PySparkSession

    builder = PySparkSession.builder.master(master).appName(app)
    settings = {**CONF, **(conf or {})}
    if master.startswith("local") and "spark.driver.memory" not in settings and not _driver_memory_given():
        settings["spark.driver.memory"] = local_driver_memory()  # used only when this starts the JVM
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in settings.items():  # a running session keeps its static settings; these are runtime
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    launched = spark.sparkContext.getConf()
    for key, value in DEFAULTS.items():
        if key not in settings and not launched.contains(key):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def local_driver_memory() -> str:
    """LOCAL_DRIVER_MEMORY_SHARE of this machine's memory, 1-16 GB, as Spark writes sizes."""
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return f"{int(min(max(total_mb * LOCAL_DRIVER_MEMORY_SHARE, 1024), 16384))}m"


def _driver_memory_given() -> bool:
    """Whether the launcher names the driver's memory already (PYSPARK_SUBMIT_ARGS, SPARK_DRIVER_MEMORY)."""
    args = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    return "--driver-memory" in args or "spark.driver.memory" in args or bool(os.environ.get("SPARK_DRIVER_MEMORY"))


def size_shuffle(spark: Any, dataset: Dataset) -> int:
    """Raise spark.sql.shuffle.partitions so that no partition holds more than EVENTS_PER_SHUFFLE_PARTITION
    events (never lower it: a cluster's own setting stays); the partitions in use."""
    events = int((dataset.manifest.tables.get("events") or {}).get("rows", 0))
    current = int(spark.conf.get("spark.sql.shuffle.partitions"))
    wanted = max(current, -(-events // EVENTS_PER_SHUFFLE_PARTITION))
    if wanted != current:
        spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
    return wanted


# --- the plan in Spark SQL ------------------------------------------------------------------------------

def to_spark_sql(sql: str) -> str:
    """The common-subset SQL as Spark SQL: decimal literals become doubles (DuckDB's arithmetic), types
    spelled Spark's way (VARCHAR -> STRING), DuckDB's ROW(a, b) as Spark's STRUCT(a, b)."""
    import sqlglot
    from sqlglot import exp

    def doubles(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and not node.is_string and not node.this.lstrip("-").isdigit():
            return exp.cast(node, exp.DataType.build("double"))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "row":
            return exp.Anonymous(this="STRUCT", expressions=node.expressions)
        return node

    return sqlglot.parse_one(sql, read="spark").transform(doubles).sql(dialect="spark")


def sequence_arrays_sql(code: Coding, max_len: int) -> str:
    """One row per (person_id, as_of) with events: `seq`, its coded events (sequence_sql) as an array of
    structs sorted by rn (most recent first), so `seq.k` is the array of kinds. Built by Spark in one
    grouped pass, for executors that score chunks (workflows/spark_score.py)."""
    fields = ", ".join(f"q.{c}" for c in code.fields)
    return f"""SELECT q.person_id, q.as_of, sort_array(collect_list(struct({fields}))) AS seq
               FROM ({sequence_sql(code, max_len)}) q GROUP BY q.person_id, q.as_of"""


def table_location(dataset: Dataset, name: str, location: str | None = None) -> str:
    """Where Spark reads a table: the data set's file(s), or the same relative path under `location`
    (e.g. s3a://bucket/data/world when the data set's directory was copied to object storage)."""
    path = dataset.table_path(name)
    if location is None:
        return str(path)
    return f"{location.rstrip('/')}/{path.relative_to(dataset.root).as_posix()}"


@dataclass
class SparkFeatureSession:
    """A FeatureSession on Spark: the data set's tables and the spine as temp views; each plan step a
    cached temp view, built once per session. Spark is lazy: the steps run when a result is read, so the
    seconds per step are planning time and the work shows up where `frame` or a job reads them."""

    spark: Any
    people_columns: set[str]
    event_columns: set[str]
    spec: DatasetSpec | None = None
    dialect: Dialect = SPARK
    engine: str = "spark"
    created: dict[str, str] = field(default_factory=dict)
    cached: dict[str, Any] = field(default_factory=dict)

    def sql(self, sql: str) -> Any:
        return self.spark.sql(to_spark_sql(sql))

    def view(self, name: str, df: Any) -> Any:
        """`df` cached under `name` for later statements (unpersisted by `close`)."""
        if name in self.cached:
            self.cached.pop(name).unpersist()
        df = df.cache()
        df.createOrReplaceTempView(name)
        self.cached[name] = df
        return df

    def materialise(self, steps: Sequence[tuple[str, str]], on_step: StepFn | None = None) -> dict[str, float]:
        timings: dict[str, float] = {}
        for i, (name, sql) in enumerate(steps):
            t0 = time.perf_counter()
            if self.created.get(name) != sql:
                self.view(name, self.sql(sql))  # built by the first query that reads it, then shared
                self.created[name] = sql
            timings[name] = round(time.perf_counter() - t0, 3)
            if on_step:
                on_step(name, i + 1, len(steps))
        return timings

    def compute(self, name: str) -> int:
        """Compute the cached view `name` now (and the cached views it reads), so that its work is a phase
        of its own (one a progress bar can watch: features/spark_progress.py), not the first part of
        whichever later action reads it first; its rows. The cache would be filled anyway: no extra work."""
        return int(self.cached[name].count())

    def frame(self, sql: str) -> pd.DataFrame:
        return self.sql(sql).toPandas()

    def numpy(self, sql: str) -> dict[str, np.ndarray]:
        frame = self.frame(sql)
        return {c: frame[c].to_numpy() for c in frame.columns}

    def close(self) -> None:
        """Drop this session's cached views (the SparkSession itself is shared and stays)."""
        for df in self.cached.values():
            df.unpersist()
        self.cached.clear()
        self.created.clear()


def register_tables(spark: Any, dataset: Dataset, location: str | None = None) -> None:
    """One temp view per table of the data set (people, events, relations, outcomes, extras), read as
    Parquet from wherever Spark can read (local, HDFS, S3A when configured)."""
    for name in [*dataset.manifest.tables, *dataset.manifest.extras]:
        spark.read.parquet(table_location(dataset, name, location)).createOrReplaceTempView(name)


def spine_frame(spark: Any, spine: pd.DataFrame) -> Any:
    """A Spark DataFrame (person_id string, as_of timestamp, label int) of a pandas spine."""
    spine = spine.copy()
    label = spine["label"] if "label" in spine else pd.Series(pd.NA, index=spine.index)
    frame = pd.DataFrame({"person_id": spine["person_id"].astype(str),
                          "as_of": pd.to_datetime(spine["as_of"]).astype("datetime64[us]"),
                          "label": pd.array(label, dtype="Int32")})
    return spark.createDataFrame(frame, schema="person_id string, as_of timestamp, label int")


def open_spark_session(spark: Any, dataset: Dataset, spine: pd.DataFrame | None = None,
                       location: str | None = None, spine_sql: str | None = None) -> SparkFeatureSession:
    """The data set's tables as views and the `spine`: the outcomes' rows, a pandas spine, or a query
    (spine_sql, e.g. everybody as of a date: a population too large to pass through the driver)."""
    register_tables(spark, dataset, location)
    size_shuffle(spark, dataset)
    if spine is not None:
        spine_df = spine_frame(spark, spine)
    else:
        spine_df = spark.sql(spine_sql or "SELECT person_id, as_of, CAST(label AS INT) AS label FROM outcomes")
    columns = {t: set(spark.table(t).columns) for t in ("people", "events")}
    session = SparkFeatureSession(spark, columns["people"], columns["events"], spec=dataset.spec)
    session.view("spine", spine_df)
    return session
