"""ModelInput: the one bundle every model receives — tabular, temporal and structural views, aligned.

All three are built from the same spine and the same point-in-time sources, row i of each is the same
(person, as_of). `rows` selects the rows a model fits on or predicts for, while the graph stays whole
(a node's neighbours may sit in another fold: their *features* are point in time, their labels are
never part of the bundle's inputs).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.features.engine import FeatureFrame, FeatureSession, build_features, open_session
from deepcredit.features.graph import Graph, build_graph
from deepcredit.features.sequences import Histories, Sequences, build_sequences
from deepcredit.features.spark_engine import DEFAULT_MASTER, ENGINES, open_spark_session, spark_session
from deepcredit.features.spec import FeatureDef

VIEWS = ("tabular", "temporal", "structural")


@dataclass
class ModelInput:
    tabular: FeatureFrame
    sequences: Sequences | None = None
    graph: Graph | None = None
    rows: np.ndarray | None = None
    known_at: np.ndarray | None = None
    """When each row's label became known (as_of + its performance window), for every row of the tabular
    frame; None: at as_of. Splits over time train only on labels known by the date they cut at."""
    node_states: dict[str, np.ndarray] | None = None
    """Layer-wise graph inference (workflows/score.py): for a graph member's kind, what enters its last layer
    for every row of the tabular frame, computed a layer at a time over the whole population; the member
    then needs each row's neighbours one hop out only."""

    @property
    def index(self) -> np.ndarray:
        return np.arange(len(self.tabular.frame)) if self.rows is None else self.rows

    def __len__(self) -> int:
        return len(self.index)

    @cached_property
    def X(self) -> pd.DataFrame:
        """The feature columns of this bundle's rows (built once per bundle: every member of a stack and the
        Scorer read it; treat it as read-only)."""
        return self.tabular.X.iloc[self.index].reset_index(drop=True)

    @property
    def y(self) -> np.ndarray:
        """The labels of these rows (int64); refused when a row has none (a custom spine's rows whose outcome
        is not known yet), naming how many and the first, since a missing label cast to int64 is -2**63."""
        labels = self.tabular.frame["label"].iloc[self.index]
        missing = labels.isna().to_numpy()
        if missing.any():
            first = self.keys.iloc[int(np.flatnonzero(missing)[0])]
            raise ValueError(f"{int(missing.sum())} of {len(missing)} rows have no label (the first: person "
                             f"{first['person_id']} as of {pd.Timestamp(first['as_of']).date()}); fitting and "
                             "evaluating need a label on every row: leave the unlabelled rows out of the spine")
        return labels.to_numpy().astype(np.int64)

    @property
    def keys(self) -> pd.DataFrame:
        return self.tabular.frame[["person_id", "as_of"]].iloc[self.index].reset_index(drop=True)

    @property
    def label_keys(self) -> pd.DataFrame:
        """keys plus `known_at`, the day each row's outcome is known: what a split over time needs."""
        keys = self.keys
        known = keys["as_of"].to_numpy() if self.known_at is None else self.known_at[self.index]
        return keys.assign(known_at=pd.to_datetime(known).astype("datetime64[us]"))

    @property
    def definitions(self) -> list[FeatureDef]:
        return self.tabular.definitions

    def take(self, rows: Sequence[int] | np.ndarray) -> ModelInput:
        """The same bundle restricted to `rows` (positions within this bundle's own rows)."""
        return replace(self, rows=self.index[np.asarray(rows, dtype=np.int64)])

    def own(self) -> ModelInput:
        """These rows' features, keys and labels alone: no context rows, histories or graph. What a report
        card reads once its explanation is made, kept while the next chunk's bundle is explained."""
        frame = self.tabular.frame.iloc[self.index].reset_index(drop=True)
        known_at = None if self.known_at is None else self.known_at[self.index]
        return ModelInput(replace(self.tabular, frame=frame), known_at=known_at)


def feature_session(dataset: Dataset, spine: pd.DataFrame | None = None, threads: int | None = None,
                    engine: str = "duckdb", master: str = DEFAULT_MASTER) -> FeatureSession:
    """A session running the feature plan on `engine`: DuckDB in process, or Spark at `master`."""
    if engine == "spark":
        return open_spark_session(spark_session(master), dataset, spine)
    if engine != "duckdb":
        raise ValueError(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")
    return open_session(dataset, spine, threads)


def build_model_input(dataset: Dataset, spine: pd.DataFrame | None = None,
                      views: Sequence[str] = VIEWS, definitions: Sequence[FeatureDef] | None = None,
                      max_len: int = 64, threads: int | None = None, engine: str = "duckdb",
                      master: str = DEFAULT_MASTER) -> ModelInput:
    """Build the requested views of `dataset` for `spine` (default: the outcomes' as-of dates), on
    DuckDB or on Spark (`engine`, at `master`): the same plan and the same arrays either way."""
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown view(s) {sorted(unknown)}: choose from {VIEWS}")
    session = feature_session(dataset, spine, threads, engine, master)  # the views share staged sources
    tabular = build_features(dataset, definitions, session=session)
    sequences = build_sequences(session, max_len) if "temporal" in views else None
    graph = build_graph(session) if "structural" in views else None
    session.close()
    return ModelInput(tabular, sequences, graph, known_at=labels_known_at(dataset, tabular) if spine is None else None)


def labels_known_at(dataset: Dataset, tabular: FeatureFrame) -> np.ndarray:
    """The day each outcome row's label is known: its as-of date plus its performance window."""
    keys = tabular.frame[["person_id", "as_of"]]
    con = dataset.connect()
    try:
        con.register("feature_keys", keys.assign(_row=np.arange(len(keys))))
        known = con.execute("SELECT k._row, o.as_of + o.window_days * INTERVAL 1 DAY AS known_at "
                            "FROM feature_keys k JOIN outcomes o ON o.person_id = k.person_id "
                            "AND o.as_of = k.as_of").df()
    finally:
        con.close()
    out = pd.to_datetime(keys["as_of"]).to_numpy().astype("datetime64[us]")
    out[known["_row"].to_numpy()] = pd.to_datetime(known["known_at"]).to_numpy().astype("datetime64[us]")
    return out


def build_histories(dataset: Dataset, as_of, max_len: int = 64, threads: int | None = None,
                    leave_out: Collection[str] = ()) -> Histories | None:
    """Every person's events strictly before `as_of` (one date for all), labelled or not, but the people in
    `leave_out`: the input of self-supervised pretraining. None when the data set declares no events.

    leave_out: people held out from training whose outcomes may lie before `as_of` (train_model): their
    events up to `as_of` would show the encoder what happened in their own performance windows."""
    con = dataset.connect()
    people = con.execute("SELECT DISTINCT person_id FROM people ORDER BY person_id").df()
    con.close()
    if len(leave_out):
        people = people[~people["person_id"].isin(list(leave_out))].reset_index(drop=True)
    spine = people.assign(as_of=pd.Timestamp(as_of))
    session = open_session(dataset, spine, threads)
    seq = build_sequences(session, max_len)
    if seq is None:
        return None
    keys = session.con.execute("SELECT person_id, as_of FROM spine ORDER BY as_of, person_id").df()
    return Histories(seq, keys["person_id"].to_numpy(), keys["as_of"].to_numpy())
