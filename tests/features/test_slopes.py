"""Least-squares slopes from centred sums (features/slopes.py): regr_slope's values and NULLs, any order."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import worlds

from deepcredit.data.schema import Dimension
from deepcredit.data.simulate import simulate_world
from deepcredit.features.engine import applicable, build_features, open_session, plan
from deepcredit.features.slopes import centred
from deepcredit.features.sources import DUCKDB, SPARK, legacy_spec
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.features.templates import _slope, features_for
from deepcredit.workflows.benchmarks.spark import RTOL, relative_difference

SLOPE = "30 * regr_slope(CASE WHEN ok = 1 THEN y END, -age)"


def slopes(rows: list[tuple], expressions: list[str]) -> pd.DataFrame:
    """The rewritten and the original expressions over (person_id, as_of, ok, y, age) rows, per person."""
    con = duckdb.connect()
    con.register("raw", pd.DataFrame(rows, columns=["person_id", "as_of", "ok", "y", "age"]))
    con.execute("CREATE TABLE stage AS SELECT * FROM raw")
    sqls, rows_sql = centred(expressions, "stage", "duckdb")
    new = ", ".join(f"{s} AS new_{i}" for i, s in enumerate(sqls))
    old = ", ".join(f"{s} AS old_{i}" for i, s in enumerate(expressions))
    return con.execute(f"SELECT person_id, {new} FROM {rows_sql} GROUP BY person_id, as_of ORDER BY person_id").df() \
        .merge(con.execute(f"SELECT person_id, {old} FROM stage GROUP BY person_id, as_of").df(), on="person_id")


def test_the_rewrite_gives_regr_slope_values_and_nulls():
    rows = [("a", 0, 1, 3.0, 10.0), ("a", 0, 1, 5.5, 40.0), ("a", 0, 1, 4.0, 70.5), ("a", 0, 0, 99.0, 1.0),
            ("b", 0, 1, 2.0, 5.0), ("b", 0, 0, 7.0, 9.0),  # one pair: NULL
            ("c", 0, 1, 2.0, 5.0), ("c", 0, 1, 7.0, 5.0),  # no spread in x: NULL
            ("d", 0, 1, None, 5.0), ("d", 0, 1, 1.0, None), ("d", 0, 1, 4.0, 8.0)]  # incomplete pairs ignored
    got = slopes(rows, [SLOPE, "COUNT(*)"]).set_index("person_id")
    expected = 30 * np.polyfit([-10, -40, -70.5], [3.0, 5.5, 4.0], 1)[0]
    assert got.loc["a", "new_0"] == pytest.approx(expected, rel=1e-12)
    assert got.loc["a", "old_0"] == pytest.approx(expected, rel=1e-12)
    assert got.loc[["b", "c", "d"], ["new_0", "old_0"]].isna().all().all()
    assert list(got["new_1"]) == list(got["old_1"])  # other expressions pass through unchanged


def test_a_growth_per_period_needs_records_a_period_apart():
    """Two records 5 days apart once read as ±900 days late a month; a trend needs half a period between
    records (monthly records of a calendar lie 28 to 31 days apart)."""
    template = _slope("y", "ok = 1 AND ", 365, 30).replace("age_days", "age")
    rows = [("close", 0, 1, 0.0, 10.0), ("close", 0, 1, 30.0, 5.0),  # 5 days apart: no trend yet
            ("close", 0, 0, 9.0, 200.0),  # outside the condition: does not stretch the span
            ("apart", 0, 1, 0.0, 40.0), ("apart", 0, 1, 30.0, 10.0),  # 30 days apart: a trend
            ("february", 0, 1, 0.0, 33.0), ("february", 0, 1, 28.0, 5.0),  # a calendar month apart: a trend
            ("old", 0, 1, 0.0, 400.0), ("old", 0, 1, 30.0, 5.0)]  # one record outside the window
    got = slopes(rows, [template]).set_index("person_id")["new_0"]
    assert np.isnan(got["close"]) and np.isnan(got["old"])
    assert got["apart"] == pytest.approx(30.0, rel=1e-12)  # 30 days more late over 30 days: +30 a month
    assert got["february"] == pytest.approx(30.0, rel=1e-12)


def test_integer_data_give_the_same_bits_in_any_row_order_and_a_flat_trend_is_zero():
    rng = np.random.default_rng(3)
    rows = [(f"p{p}", 0, 1, float(rng.integers(0, 60)), float(rng.integers(0, 365))) for p in range(50)
            for _ in range(rng.integers(2, 40))]
    rows += [("flat", 0, 1, y, a) for y, a in [(0.0, 10.0), (30.0, 20.0), (30.0, 30.0), (0.0, 40.0)]]
    one = slopes(rows, [SLOPE])
    other = slopes([rows[i] for i in rng.permutation(len(rows))], [SLOPE])
    assert one["new_0"].to_numpy().tobytes() == other["new_0"].to_numpy().tobytes()
    assert one.set_index("person_id").loc["flat", "new_0"] == 0.0


def test_the_plan_never_runs_regr_slope_and_custom_features_get_the_rewrite():
    tables = worlds.frames()
    people, events = set(tables["people"].columns), set(tables["events"].columns)
    spec = legacy_spec(people, events)
    mine = FeatureDef("my_amount_trend", Dimension.FULFILMENT_CAPACITY, Source.EVENTS, "regr_slope(amount, -age_days)",
                      "your amounts growing", "Spend less.")
    defs = [*applicable(features_for(spec), people), mine]
    assert sum("regr_slope" in d.sql for d in defs) >= 2
    for dialect in (DUCKDB, SPARK):
        steps = plan(defs, people, events, dialect, spec=spec)
        assert not any("regr_slope" in sql.lower() for _, sql in steps)
        assert "AS my_amount_trend" in dict(steps)["agg_events"]


def test_on_a_simulated_world_the_slopes_equal_duckdbs_regr_slope(tmp_path):
    """Backwards compatible: the features keep the values DuckDB's own regr_slope gave (to 1e-9, plus the
    engine's rounding to 9 significant digits: RTOL, one step of it)."""
    ds = simulate_world(tmp_path / "world", people=1500, seed=11, chunk_size=1500)
    session = open_session(ds)
    features = build_features(ds, session=session)
    defs = [d for d in features.definitions if "regr_slope" in d.sql.lower()]
    assert len(defs) >= 2
    for d in defs:
        old = session.frame(f"SELECT person_id, as_of, {d.sql} AS old FROM events_before GROUP BY person_id, as_of")
        old["as_of"] = pd.to_datetime(old["as_of"]).astype("datetime64[us]")
        both = features.frame[["person_id", "as_of", d.name]].merge(old, on=["person_id", "as_of"], how="left")
        assert both[d.name].notna().sum() > 500
        assert relative_difference(both[d.name].to_numpy(float), both["old"].to_numpy(float)) <= RTOL
    session.close()


def test_the_rewrite_runs_as_one_query_too(tmp_path):
    """The service re-scores a person with the plan as one statement (Session.inline): same slopes."""
    ds = worlds.store(tmp_path / "tiny", worlds.frames())
    staged = build_features(ds)
    session = open_session(ds)
    session.inline = True
    inline = build_features(ds, session=session)
    session.close()
    slope_names = [d.name for d in staged.definitions if "regr_slope" in d.sql.lower()]
    assert slope_names and staged.frame[slope_names].notna().any().all()
    pd.testing.assert_frame_equal(staged.frame, inline.frame)
