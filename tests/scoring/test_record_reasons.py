"""The records behind a score: each of a person's records before T left out in turn, through the whole model.
A broken record costs more than a kept one, nothing dated at or after T is considered, a variant is exactly a
rebuild without its record, a group of records left out together is exactly a rebuild without all of them,
and a person without records gets an empty table and no groups."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.dataset import write_dataset
from deepcredit.data.schema import BAD_STATUSES, GOOD_STATUSES
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.base import save_model
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.graph import GraphModel
from deepcredit.models.stack import model_views
from deepcredit.scoring.record_reasons import RECORD_CAP, WHOLE, LeftOut, aligned, record_weights
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.explain import explain_person

T = pd.Timestamp("2026-01-01")  # the simulated outcomes' as-of date


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    ds = simulate_world(root / "w", people=300, seed=1, chunk_size=300)
    inp = build_model_input(ds, views=["tabular"])
    model = GBDTModel(n_estimators=50).fit(inp)
    save_model(model, root / "m", inp)
    events = ds.read("events")
    before = events[events["ts"] < T]
    return root, ds, events, before


def _explained(root, ds, person: str, as_of: str = ""):
    ex = explain_person(root / "m", ds, person, as_of)
    return ex, record_weights(ex.model, ex.definitions, ds, person, ex.card["as_of"], context=(ex.input, ex.row))


def test_a_broken_record_costs_more_than_a_kept_one(world):
    """Over people with many records and some broken (a GBDT is a step function: one person's single record
    often moves no split, so the claim is made over their records together)."""
    root, ds, _, before = world
    counts = before.groupby("person_id")["status"].agg(["size", lambda s: s.isin(BAD_STATUSES).sum()])
    people = counts[counts.iloc[:, 1] >= 1].sort_values("size", ascending=False).index[::4][:6]
    ex, w = _explained(root, ds, people[0])
    assert w.records == int((before["person_id"] == people[0]).sum()) > RECORD_CAP == w.considered  # the cap
    assert w.baseline == pytest.approx(Scorer(ex.model).scale.raw_score(ex.card["pd"]), abs=1e-9)
    weights = pd.concat([w.weights] + [record_weights(ex.model, ex.definitions, ds, p, T).weights for p in people[1:]])
    bad = weights.loc[weights["status"].isin(BAD_STATUSES), "points"]
    kept = weights.loc[weights["status"].isin(GOOD_STATUSES), "points"]
    assert bad.mean() > kept.mean() + 1 and kept.mean() < 0.5 and bad.max() >= 1
    top = w.top(3)
    assert len(top) <= 3 and (np.diff(top["points"].to_numpy()) <= 0).all() and (np.rint(top["points"]) >= 1).all()
    assert "counterparty" not in w.weights.columns and "person_id" not in w.weights.columns  # only their own record


def test_records_at_or_after_the_date_are_never_considered(world):
    root, ds, events, _ = world
    mine = events[events["person_id"] == events["person_id"].value_counts().idxmax()]
    person, as_of = mine["person_id"].iloc[0], pd.Timestamp("2025-06-01")
    assert (mine["ts"] >= as_of).sum() > 10  # records after the date exist
    ex, w = _explained(root, ds, person, "2025-06-01")
    assert w.records == int((mine["ts"] < as_of).sum()) and (w.weights["ts"] < as_of).all()
    con = LeftOut(ds, person, as_of).connect()  # nor are they in any variant's build
    assert con.execute(f"SELECT COUNT(*) FROM events WHERE person_id LIKE '{person}%' AND ts >= ?",
                       [as_of]).fetchone() == (0,)
    # a cap keeps the latest records, and says how many there were
    capped = record_weights(ex.model, ex.definitions, ds, person, as_of, cap=5)
    assert capped.considered == 5 and capped.records == w.records
    # a group holds only records before the date, all of them (not only the capped latest)
    before = mine[mine["ts"] < as_of]

    def members(frame: pd.DataFrame, by: str, name: str) -> int:
        if by == "kind":
            return int((frame["kind"] == name).sum())
        return int(frame["status"].isin(ds.spec.events.statuses_meaning(*name.split(" or "))).sum())

    for weights in (w, capped):
        assert len(weights.groups) >= 3
        counts = [(g.count, members(before, g.by, g.name), members(mine, g.by, g.name))
                  for g in weights.groups.itertuples()]
        assert all(count == known for count, known, _ in counts)
        assert any(count < ever for count, _, ever in counts) and max(c for c, *_ in counts) > capped.considered
    assert capped.weights["ts"].tolist() == sorted(mine.loc[mine["ts"] < as_of, "ts"], reverse=True)[:5]


def test_leaving_a_record_out_equals_a_rebuild_without_it(world, tmp_path):
    root, ds, events, _ = world
    person = "s1-p0000293"  # many records, some late
    ex, w = _explained(root, ds, person)
    record = w.weights.sort_values("points").iloc[-1]  # the one that costs most
    same = np.ones(len(events), dtype=bool)
    for column in ("ts", "kind", "status", "amount"):
        same &= (events[column] == record[column]).to_numpy()
    drop = np.flatnonzero(same & (events["person_id"] == person).to_numpy())
    assert len(drop) == 1
    frames = {t: ds.read(t) for t in ("people", "relations", "outcomes")}
    frames["events"] = events.drop(index=events.index[drop])
    without = write_dataset(tmp_path / "without", frames, "without", str(ds.snapshot_date.date()), spec=ds.spec)
    spine = pd.DataFrame({"person_id": [person], "as_of": [T]}).astype({"as_of": "datetime64[us]"})
    rebuilt = build_model_input(without, spine=spine, views=model_views(ex.model), definitions=ex.definitions)
    scorer = Scorer(ex.model)
    direct = scorer.scale.raw_score(scorer.probability(rebuilt))[0] - w.baseline
    assert record["points"] == pytest.approx(direct, abs=1e-9) and direct >= 1
    # and the variant's features are the rebuild's, feature by feature
    data = LeftOut(ds, person, T)
    variants, records, _ = data.variants()
    k = int(records.loc[records["ts"] == record["ts"], "_record"].iloc[0])
    variant = variants.loc[variants["left_out"] == k, "person_id"].iloc[0]
    built = build_model_input(data, spine=spine.assign(person_id=variant), views=["tabular"],
                              definitions=ex.definitions)
    pd.testing.assert_frame_equal(built.X, rebuilt.X)
    whole = variants.loc[variants["left_out"] == WHOLE, "person_id"].iloc[0]
    assert built.X.compare(build_model_input(data, spine=spine.assign(person_id=whole), views=["tabular"],
                                             definitions=ex.definitions).X).shape[0] == 1  # it did change


def test_leaving_a_group_out_equals_a_rebuild_without_all_of_it(world, tmp_path):
    """A person's late records taken together: the group's cost is a real rebuild's without all of them, and
    at least what its costliest member alone costs (the model penalises lateness)."""
    root, ds, events, _ = world
    person = "s1-p0000293"  # many records, a few late: each alone weighs less than all of them
    ex, w = _explained(root, ds, person)
    late = ds.spec.events.statuses_meaning("late")
    group = w.groups[(w.groups["by"] == "meaning") & (w.groups["name"] == "late")].iloc[0]
    drop = (events["person_id"] == person) & events["status"].isin(late) & (events["ts"] < T)
    assert group["count"] == int(drop.sum()) > 1 and group["label"] == "late"
    frames = {t: ds.read(t) for t in ("people", "relations", "outcomes")}
    frames["events"] = events[~drop]
    without = write_dataset(tmp_path / "without", frames, "without", str(ds.snapshot_date.date()), spec=ds.spec)
    spine = pd.DataFrame({"person_id": [person], "as_of": [T]}).astype({"as_of": "datetime64[us]"})
    rebuilt = build_model_input(without, spine=spine, views=model_views(ex.model), definitions=ex.definitions)
    scorer = Scorer(ex.model)
    direct = scorer.scale.raw_score(scorer.probability(rebuilt))[0] - w.baseline
    assert group["points"] == pytest.approx(direct, abs=1e-6)
    singles = w.weights.loc[w.weights["status"].isin(late), "points"]
    assert group["points"] >= singles.max() and group["points"] > singles.sum() >= 1
    # shown costliest first, each a whole point; the same records under two names are one group
    shown = w.top_groups(10)
    assert (np.diff(shown["points"].to_numpy()) <= 0).all() and (np.rint(shown["points"]) >= 1).all()
    assert shown.iloc[0]["name"] == "late" and not (w.groups["name"] == "late or broken").any()  # none broken


def test_a_person_without_records_gets_an_empty_table(world):
    root, ds, _, before = world
    people = ds.read("people")["person_id"]
    person = sorted(set(people) - set(before["person_id"]))[0]
    _, w = _explained(root, ds, person)
    assert w.records == w.considered == 0 and w.weights.empty and w.top(3).empty
    assert w.groups.empty and w.top_groups().empty


def test_a_model_that_reads_the_graph_gets_each_variant_the_persons_messages(world, tmp_path):
    _, ds, _, before = world
    inp = build_model_input(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GraphModel(max_epochs=1).fit(inp)
    save_model(model, tmp_path / "g", inp)
    person = before["person_id"].value_counts().index[10]
    ex = explain_person(tmp_path / "g", ds, person)
    assert len(ex.input) > 1 and ex.input.graph is not None and ex.input.graph.edge_index.shape[1]
    w = record_weights(ex.model, ex.definitions, ds, person, ex.card["as_of"], context=(ex.input, ex.row))
    # the person whole, as a variant receiving the person's messages, scores what the person scored
    # to float32 noise of a graph pass over another batch: 1e-4 of a score point
    assert w.baseline == pytest.approx(Scorer(model).scale.raw_score(ex.card["pd"]), abs=1e-4)
    assert w.considered == w.records > 0 and np.isfinite(w.weights["points"]).all()
    with pytest.raises(ValueError, match="reads the graph"):
        record_weights(ex.model, ex.definitions, ds, person, ex.card["as_of"])


def test_aligned_frames_keep_the_dtype_of_the_side_with_values():
    """The variants appended to a graph's bundle: a feature missing for all of them stays numeric (pandas
    would read an all-missing object column as text, and warns it will), a label missing for them is float."""
    base = pd.DataFrame({"f": [1.5, 2.0], "label": np.array([0, 1]), "c": ["a", "b"]})
    variants = pd.DataFrame({"f": [None, None], "label": [None, None], "c": [None, None]}, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = pd.concat(aligned(base, variants), ignore_index=True)
    assert frame["f"].dtype == np.float64 and frame["label"].dtype == np.float64 and frame["c"].dtype == object
    assert frame["f"].isna().tolist() == [False, False, True, True]


def test_groups_by_kind_are_the_person_s_most_frequent_kinds_at_most(world, monkeypatch):
    """Each group is one more row of the build: a spec with many kinds gets KIND_GROUPS of them, the
    person's most frequent."""
    from deepcredit.scoring import record_reasons

    root, ds, events, _ = world
    person = "s1-p0000293"
    mine = events[(events["person_id"] == person) & (events["ts"] < T)]["kind"].value_counts()
    assert len(mine) > 1
    monkeypatch.setattr(record_reasons, "KIND_GROUPS", 1)
    _, w = _explained(root, ds, person)
    by_kind = w.groups[w.groups["by"] == "kind"]
    assert by_kind["name"].tolist() == [mine.index[0]] and by_kind["count"].tolist() == [int(mine.iloc[0])]
