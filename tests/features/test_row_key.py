"""DuckDB keys the plan's steps by the spine row's number (Dialect.key), Spark by (person_id, as_of): the
key decides only how fast the steps group and join, never what they give."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace

import numpy as np
import pandas as pd
import worlds

from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import build_features, open_session
from deepcredit.features.graph import build_graph
from deepcredit.features.sequences import NUMERIC, build_sequences
from deepcredit.features.sources import DUCKDB
from deepcredit.workflows.benchmarks.spark import feature_differences

SAME_DAY = [("repayment", 1.0, "on_time"), ("bill", 2.0, "open"), ("rental", 3.0, "late"), ("bill", 4.0, "late")]
"""Events of one person on one day: a step's place among them follows the kind's, then the status's text."""


def _world(tmp_path):
    tables = worlds.frames(n_people=40)
    earlier = tables["outcomes"].iloc[::2].assign(as_of=worlds.ts(-200.0))  # two as-of dates for half of them
    tables["outcomes"] = pd.concat([tables["outcomes"], earlier], ignore_index=True)
    same_day = pd.DataFrame([("p001", worlds.ts(-5.0), kind, amount, status, 0.0, "m1")
                             for kind, amount, status in SAME_DAY], columns=tables["events"].columns)
    tables["events"] = pd.concat([tables["events"], same_day], ignore_index=True)
    return worlds.store(tmp_path / "w", tables)


def test_the_row_number_key_gives_what_the_person_and_date_key_gives(tmp_path):
    ds = _world(tmp_path)
    numbered = build_model_input(ds)
    with closing(open_session(ds)) as session:
        session.dialect = replace(DUCKDB, key=("person_id", "as_of"))  # Spark's key, on DuckDB
        paired = ModelInput(build_features(ds, session=session), build_sequences(session), build_graph(session))
    assert feature_differences(numbered, paired) == []
    for name in ("kind", "status", "numeric", "lengths"):
        assert np.array_equal(getattr(numbered.sequences, name), getattr(paired.sequences, name)), name
    assert np.array_equal(numbered.graph.edge_index, paired.graph.edge_index)


def test_same_day_events_are_ordered_by_kind_then_status_text(tmp_path):
    ds = _world(tmp_path)
    inp = build_model_input(ds, views=("tabular", "temporal"))
    frame = inp.tabular.frame
    row = int(np.flatnonzero((frame["person_id"] == "p001") & (frame["as_of"] == worlds.AS_OF))[0])
    seq = inp.sequences
    n = int(seq.lengths[row])
    that_day = np.isclose(np.expm1(seq.numeric[row, :n, NUMERIC.index("log_age_days")]), 5.0, atol=1e-3)
    assert that_day.sum() == len(SAME_DAY)
    amounts = np.expm1(seq.numeric[row, :n, NUMERIC.index("signed_log_amount")])[that_day]
    # oldest first, the most recent last: rn 1 goes to the first in (kind, status) text order
    # (bill/late, bill/open, rental/late, repayment/on_time), so it sits last
    assert np.allclose(amounts, [1.0, 3.0, 2.0, 4.0], rtol=1e-5)
