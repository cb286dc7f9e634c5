"""Point in time: nothing dated at or after as_of, and no outcome of anybody, can change a feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import worlds

from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.engine import FeatureFrame, build_features, open_session
from deepcredit.features.graph import build_graph
from deepcredit.features.sequences import build_sequences
from deepcredit.features.spec import Kind


def _features(tmp_path, tables, name="w"):
    return build_features(worlds.store(tmp_path / name, {k: v.copy() for k, v in tables.items()}))


def assert_same(a: FeatureFrame, b: FeatureFrame) -> None:
    cols = ["person_id", "as_of", *a.names]
    pd.testing.assert_frame_equal(a.frame[cols].reset_index(drop=True), b.frame[cols].reset_index(drop=True))


@pytest.fixture(scope="module")
def tables():
    return worlds.frames(n_people=60, seed=3)


@pytest.fixture(scope="module")
def baseline(tables, tmp_path_factory):
    return _features(tmp_path_factory.mktemp("base"), tables)


def test_every_feature_is_computed_and_tagged(baseline):
    present = set(worlds.frames(1)["people"].columns)
    assert baseline.names == [f.name for f in ALL_FEATURES if set(f.requires) <= present]
    assert {"occupation", "log_income", "city_tier"}.isdisjoint(baseline.names)  # columns this world lacks
    assert len(baseline.frame) == 60
    for f in baseline.definitions:
        assert f.description and f.improve
        if f.kind is Kind.NUMERIC:
            assert pd.api.types.is_float_dtype(baseline.frame[f.name]), f.name


def test_future_events_and_relations_change_no_feature(tables, baseline, tmp_path):
    rng = np.random.default_rng(1)
    ids = tables["people"]["person_id"].tolist()
    future_events = pd.DataFrame({
        "person_id": rng.choice(ids, 500), "ts": [worlds.ts(float(d)) for d in rng.uniform(0, 300, 500)],
        "kind": "repayment", "amount": 1e6, "status": rng.choice(["missed", "late", "on_time"], 500),
        "days_late": 90.0, "counterparty": "m-future",
    })
    future_events.loc[:50, "ts"] = worlds.AS_OF  # exactly at as_of is not "before"
    future_edges = pd.DataFrame({
        "source": rng.choice(ids, 300), "target": rng.choice(ids, 300), "kind": "contact",
        "weight": -5.0, "ts": [worlds.ts(float(d)) for d in rng.uniform(0, 300, 300)],
    })
    future_edges = future_edges[future_edges.source != future_edges.target]
    changed = dict(tables)
    changed["events"] = pd.concat([tables["events"], future_events], ignore_index=True)
    changed["relations"] = pd.concat([tables["relations"], future_edges], ignore_index=True)
    assert_same(baseline, _features(tmp_path, changed))


def test_neighbours_future_default_never_reaches_a_feature(tables, baseline, tmp_path):
    changed = dict(tables)
    out = tables["outcomes"].copy()
    out["label"] = 1 - out["label"]  # every neighbour's outcome flips
    changed["outcomes"] = out
    severe_after = pd.DataFrame({
        "person_id": tables["people"]["person_id"], "ts": worlds.ts(10), "kind": "rental", "amount": 100.0,
        "status": "not_returned", "days_late": 60.0, "counterparty": "m1",
    })
    changed["events"] = pd.concat([tables["events"], severe_after], ignore_index=True)
    assert_same(baseline, _features(tmp_path, changed))


def test_past_events_do_change_features(tables, baseline, tmp_path):
    """The guard above is not vacuous: the same additions dated before as_of change features."""
    changed = dict(tables)
    past = pd.DataFrame({
        "person_id": tables["people"]["person_id"], "ts": worlds.ts(-0.5), "kind": "repayment",
        "amount": 10.0, "status": "missed", "days_late": 60.0, "counterparty": "m1",
    })
    changed["events"] = pd.concat([tables["events"], past], ignore_index=True)
    after = _features(tmp_path, changed)
    assert (after.frame["n_bad_90d"] == baseline.frame["n_bad_90d"] + 1).all()
    assert (after.frame["current_bad_streak"] >= 1).all()
    assert (after.frame["share_neighbours_severe"].fillna(0) >= baseline.frame["share_neighbours_severe"].fillna(0)).all()


def test_multiple_as_of_dates_each_see_only_their_past(tables, tmp_path):
    """A later as_of sees events an earlier as_of does not; the earlier row equals a single-date run."""
    ds = worlds.store(tmp_path / "w", {k: v.copy() for k, v in tables.items()})
    early = worlds.ts(-200)
    spine = pd.concat([tables["outcomes"][["person_id"]].assign(as_of=early),
                       tables["outcomes"][["person_id"]].assign(as_of=worlds.AS_OF)])
    both = build_features(ds, spine=spine)
    only_early = build_features(ds, spine=spine[spine.as_of == early])
    early_rows = both.frame[both.frame.as_of == early].reset_index(drop=True)
    pd.testing.assert_frame_equal(early_rows, only_early.frame.reset_index(drop=True))
    late_rows = both.frame[both.frame.as_of == worlds.AS_OF].reset_index(drop=True)
    assert (late_rows["n_outcomes"] >= early_rows["n_outcomes"]).all()
    assert (late_rows["n_outcomes"] > early_rows["n_outcomes"]).any()


def test_values_match_a_hand_count(tmp_path):
    tables = worlds.frames(n_people=3, seed=0)
    ev = pd.DataFrame([
        ("p000", worlds.ts(-400), "repayment", 100.0, "on_time", 0.0, "m1"),
        ("p000", worlds.ts(-80), "repayment", 100.0, "late", 30.0, "m1"),
        ("p000", worlds.ts(-50), "repayment", 100.0, "missed", 60.0, "m2"),
        ("p000", worlds.ts(-20), "bill", 500.0, "open", 0.0, "m2"),
        ("p000", worlds.ts(-10), "repayment", 100.0, "late", 30.0, "m1"),
        ("p000", worlds.ts(5), "repayment", 100.0, "on_time", 0.0, "m1"),
    ], columns=["person_id", "ts", "kind", "amount", "status", "days_late", "counterparty"])
    tables["events"] = pd.concat([tables["events"][tables["events"].person_id != "p000"], ev])
    ff = _features(tmp_path, tables)
    row = ff.frame.set_index("person_id").loc["p000"]
    assert row.n_outcomes == 4  # the open bill is not an outcome; the event after as_of is not seen
    assert row.n_bad_90d == 3 and row.n_bad_365d == 3 and row.n_severe_365d == 1
    assert row.current_bad_streak == 3 and row.longest_bad_streak == 3
    assert row.last_days_late == 30.0 and row.max_days_late_90d == 60.0
    assert row.days_since_last_bad == pytest.approx(10) and row.days_since_last_severe == pytest.approx(50)
    assert row.bad_rate == pytest.approx(0.75) and row.last_bill_amount == 500.0
    assert row.amount_paid_180d == 200.0  # two late repayments count; the missed one (broken) is no money repaid
    assert row.utilisation == pytest.approx(500.0 / row.credit_limit)


def test_feature_frame_round_trips(baseline, tmp_path):
    baseline.save(tmp_path / "f.parquet")
    back = FeatureFrame.load(tmp_path / "f.parquet")
    assert back.definitions == baseline.definitions
    pd.testing.assert_frame_equal(back.frame, baseline.frame.assign(label=baseline.frame["label"].astype("Int32")))
    assert back.meta["data_fingerprint"] == baseline.meta["data_fingerprint"]


def test_one_session_serves_different_definition_sets(tables, baseline, tmp_path):
    """Staged sources are shared within a session, but a step whose SQL changed is rebuilt, not reused."""
    from deepcredit.features.engine import open_session

    ds = worlds.store(tmp_path / "w", {k: v.copy() for k, v in tables.items()})
    session = open_session(ds)
    social = [f for f in ALL_FEATURES if f.dimension.value == "social_connections"]
    first = build_features(ds, social, session=session)
    assert first.names == [f.name for f in social]
    again = build_features(ds, session=session)
    assert again.names == baseline.names
    assert_same(again, baseline)


def test_inline_sequences_and_graph_equal_the_staged_ones(tmp_path):
    """One statement per view in an inline session (engine.over_steps) gives the staged arrays exactly."""
    ds = worlds.store(tmp_path / "tiny", worlds.frames())
    staged_session, inline_session = open_session(ds), open_session(ds)
    inline_session.inline = True
    staged, inline = build_sequences(staged_session), build_sequences(inline_session)
    assert staged is not None and inline is not None and staged.lengths.sum() > 0
    for name in ("kind", "status", "numeric", "lengths"):
        np.testing.assert_array_equal(getattr(staged, name), getattr(inline, name))
    g_staged, g_inline = build_graph(staged_session), build_graph(inline_session)
    assert g_staged.edge_index.shape[1] > 0
    for name in ("edge_index", "edge_weight", "edge_age_days"):
        np.testing.assert_array_equal(getattr(g_staged, name), getattr(g_inline, name))
    assert "events_before" not in inline_session.created  # nothing was materialised inline
    staged_session.close()
    inline_session.close()


def test_feature_columns_are_refused_when_absent_or_numbers_held_as_text():
    from deepcredit.data.schema import Dimension
    from deepcredit.features.spec import FeatureDef, Source

    defs = [FeatureDef(n, Dimension.CREDIT_HISTORY, Source.DERIVED, n, f"text of {n}", f"improve {n}")
            for n in ("a", "b")]
    frame = pd.DataFrame({"person_id": ["x", "y"], "as_of": pd.Timestamp("2025-01-01"), "label": [0, 1],
                          "a": [1.0, np.nan], "b": pd.Series([2, None], dtype=object)})
    assert FeatureFrame(frame, defs).X.shape == (2, 2)  # numbers (and missing values) in an object column pass
    with pytest.raises(ValueError, match="the feature frame lacks column.* its definitions declare: b"):
        FeatureFrame(frame.drop(columns=["b"]), defs).X  # noqa: B018
    text = frame.assign(a=["1.5", "0,0170"])
    with pytest.raises(ValueError, match=r"column 'a' must be numeric .*got object: e\.g\. '0,0170' for person y"):
        FeatureFrame(text, defs).X  # noqa: B018
    categorical = [FeatureDef("a", Dimension.CREDIT_HISTORY, Source.DERIVED, "a", "t", "i", kind=Kind.CATEGORICAL)]
    assert FeatureFrame(text, categorical).X["a"].tolist() == ["1.5", "0,0170"]


@pytest.mark.parametrize("label", [
    pd.Series([0, 1, 0], dtype="int64"),  # DuckDB, outcomes' rows
    pd.Series([0, 1, 0], dtype="int32"),  # Spark
    pd.Series([np.nan] * 3, dtype="float64"),  # Spark --as-of: no outcome known
    pd.Series([pd.NA] * 3, dtype="Int32"),  # DuckDB --as-of
])
def test_a_feature_file_has_one_label_type_whatever_the_engine_gave(tmp_path, label):
    """audit G4: DuckDB wrote label int64 (Int32 with --as-of), Spark int32 (float64)."""
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"person_id": ["a", "b", "c"], "as_of": pd.Timestamp("2024-01-01"), "label": label})
    FeatureFrame(frame, [], {}).save(tmp_path / "f.parquet")
    assert pq.read_schema(tmp_path / "f.parquet").field("label").type == "int32"
    assert str(pd.read_parquet(tmp_path / "f.parquet")["label"].dtype) == "Int32"
