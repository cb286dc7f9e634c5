"""`deepcredit features` as a package function: a data set's point-in-time feature table."""

from __future__ import annotations

from collections.abc import Callable

from deepcredit.data.dataset import Dataset
from deepcredit.features.bundle import feature_session
from deepcredit.features.definitions import by_name
from deepcredit.features.engine import FeatureFrame, build_features
from deepcredit.features.spark_engine import DEFAULT_MASTER, SparkFeatureSession
from deepcredit.features.spark_progress import SPARK_SQL, spark_tasks
from deepcredit.features.templates import features_for
from deepcredit.workflows.spine import as_of_spine

StepFn = Callable[[str, int, int], None]


def feature_table(dataset: Dataset, names: list[str] | None = None, as_of: object | None = None,
                  threads: int | None = None, engine: str = "duckdb", master: str = DEFAULT_MASTER,
                  on_step: StepFn | None = None) -> FeatureFrame:
    """The features `names` (default: all the spec declares) for every outcome row, or, with `as_of`, for
    every person once as of that date (workflows.spine: the rows `score --as-of` scores). On Spark,
    on_step also gets ('features (Spark SQL)', tasks done, tasks so far) while Spark computes them."""
    dataset.checked_fingerprint()  # the sidecar records the fingerprint: refuse files changed since it was written
    spine = None if as_of is None else as_of_spine(dataset, as_of)
    defs = by_name(names or None, features_for(dataset.spec))
    session = feature_session(dataset, spine, threads, engine, master)
    if not isinstance(session, SparkFeatureSession):
        return build_features(dataset, defs, session=session, on_step=on_step)
    # Spark's steps are lazy (on_step ticks them at once): the work is the read that follows, its tasks
    with spark_tasks(session.spark, f"features{SPARK_SQL}", on_step):
        return build_features(dataset, defs, session=session, on_step=on_step)
