"""Events on the same day (dates without a time tie often in real files) give the same features on every
engine and every run: streaks and "the latest" have a rule for ties instead of a row order."""

from __future__ import annotations

import pandas as pd
import worlds

from deepcredit.features.bundle import build_model_input
from deepcredit.workflows.benchmarks.spark import feature_differences

EVENTS = [  # days before as_of, status, days late; the kept one on a day with a broken one counts as later
    (50, "late", 30.0), (40, "late", 30.0), (40, "on_time", 0.0), (30, "late", 20.0), (30, "late", 30.0),
    (10, "missed", 60.0), (10, "on_time", 0.0),
]


def _world(tmp_path):
    tables = worlds.frames(n_people=3)
    events = pd.DataFrame([("p000", worlds.ts(-d), "repayment", 100.0 + i, s, late, "m1")
                           for i, (d, s, late) in enumerate(EVENTS)], columns=tables["events"].columns)
    tables["events"] = pd.concat([events, tables["events"][tables["events"]["person_id"] != "p000"]])
    return worlds.store(tmp_path / "w", tables)


def test_same_day_events_have_one_reading_on_every_engine_and_in_any_row_order(tmp_path, spark):
    ds = _world(tmp_path)
    inp = build_model_input(ds)
    row = inp.tabular.frame.set_index("person_id").loc["p000"]
    # runs, newest first: [missed@10, late@30, late@30] after the kept one of day 10; [late@40, late@50]
    assert (row["longest_bad_streak"], row["n_bad_runs_365d"], row["current_bad_streak"]) == (3, 2, 0)
    assert row["last_days_late"] == 60.0  # of the two on day 10, the larger
    shuffled = _world(tmp_path / "again")  # the same events written in the reverse order
    events = shuffled.read("events").iloc[::-1]
    tables = {t: shuffled.read(t) for t in ("people", "relations", "outcomes")} | {"events": events}
    reversed_ = build_model_input(worlds.store(tmp_path / "reversed", tables), threads=1)
    assert feature_differences(inp, reversed_) == []
    assert feature_differences(inp, build_model_input(ds, engine="spark", master=spark.sparkContext.master)) == []
