"""Row i of every view is the same (person, as_of) at any size: DuckDB does not keep a table's insertion
order past one row group (122,880 rows) once preserve_insertion_order is off, so the tabular frame is read
back in the spine's order explicitly, not in storage order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import worlds

from deepcredit.features.bundle import build_model_input

PEOPLE = 130_000  # past one DuckDB row group


def test_features_sequences_and_labels_stay_aligned_past_one_row_group(tmp_path):
    ids = np.array([f"p{i:06d}" for i in range(PEOPLE)])
    rng = np.random.default_rng(0)
    n_events = rng.integers(0, 4, PEOPLE)  # each person's number of events is their fingerprint
    who = np.repeat(ids, n_events)
    tables = worlds.frames(n_people=3)
    tables["people"] = pd.DataFrame({"person_id": ids})
    tables["events"] = pd.DataFrame({
        "person_id": who, "ts": worlds.ts(-10.0), "kind": "repayment", "amount": 10.0 + np.arange(len(who)),
        "status": "on_time", "days_late": 0.0, "counterparty": "m1"})
    tables["relations"] = tables["relations"].iloc[:0]
    tables["outcomes"] = pd.DataFrame({"person_id": ids, "as_of": worlds.AS_OF, "label": n_events % 2,
                                       "window_days": 180})
    inp = build_model_input(worlds.store(tmp_path / "w", tables), views=("tabular", "temporal"), threads=2)
    keys = inp.tabular.frame["person_id"].to_numpy()
    assert (keys[:-1] < keys[1:]).all()  # the spine's order: (as_of, person_id)
    expected = pd.Series(n_events, index=ids).loc[keys].to_numpy()
    assert np.array_equal(inp.sequences.lengths, expected)  # row i's sequence is row i's person's
    assert np.array_equal(inp.y, expected % 2)  # and so is its label
