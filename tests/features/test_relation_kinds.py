"""Connections counted by kind: each declared (or derived) relation kind gets its own count, of links first
seen before the as-of date only; one kind alone is the degree and gets none."""

from __future__ import annotations

import pandas as pd
import worlds

from deepcredit.data.dataset import write_dataset
from deepcredit.data.ingest import empty_table
from deepcredit.data.schema import EVENTS
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.engine import build_features
from deepcredit.features.templates import features_for

SPEC = """spec_version = 1
name = "links"

[relations]
kinds = [{kinds}]
directed = false
weighted = false

[outcomes]
window_days_column = "window_days"
"""


def _spec(kinds: str):
    return spec_from_toml(SPEC.format(kinds=kinds))


def _features(tmp_path, edges: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    people = pd.DataFrame({"person_id": ["a", "b", "c", "d"]})
    relations = pd.DataFrame([(s, t, k, 1.0, worlds.ts(day)) for s, t, k, day in edges],
                             columns=["source", "target", "kind", "weight", "ts"])
    relations["ts"] = relations["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ["a", "b"], "as_of": pd.Series([worlds.AS_OF] * 2, dtype="datetime64[us]"),
                             "label": [0, 1], "window_days": [90, 90]})
    ds = write_dataset(tmp_path / "w", {"people": people, "events": empty_table(EVENTS), "relations": relations,
                                        "outcomes": outcomes}, "links", "2026-01-01",
                       spec=_spec('"contact", "shared device"'))
    return build_features(ds).frame.set_index("person_id")


def test_each_kind_counts_its_own_links_and_a_later_link_counts_nowhere(tmp_path):
    f = _features(tmp_path, [("a", "b", "contact", -10), ("a", "c", "shared device", -5),
                             ("c", "a", "contact", -3),  # a and c: linked by both kinds, each counts once
                             ("a", "d", "shared device", 5)])  # first seen after as-of
    assert f.loc["a", "degree"] == 2
    assert f.loc["a", "connections_contact"] == 2 and f.loc["a", "connections_shared_device"] == 1
    assert f.loc["b", "connections_contact"] == 1 and f.loc["b", "connections_shared_device"] == 0


def test_one_kind_is_the_degree_and_labels_that_clash_count_once():
    assert not any(f.name.startswith("connections_") for f in features_for(_spec('"contact"')))
    names = [f.name for f in features_for(_spec('"shared device", "shared-device", "contact"'))]
    assert [n for n in names if n.startswith("connections_")] == ["connections_shared_device", "connections_contact"]


def test_kinds_derived_from_the_people_file_are_counted_too():
    spec = spec_from_toml(SPEC.format(kinds='"contact"').replace("weighted = false",
                                                                 'weighted = false\ngroups = ["phone"]'))
    feature = next(f for f in features_for(spec) if f.name == "connections_same_phone")
    assert feature.description == "how many of your connections are same phone links"


def test_kinds_read_from_the_people_file_are_counted_where_any_kind_is_allowed(tmp_path):
    """With no `kinds` listed (any kind), two kinds read from the people file were dropped from the stored
    spec, and with them their counts; the stored spec now remembers them."""
    spec = spec_from_toml(SPEC.format(kinds="").replace("weighted = false",
                                                        'weighted = false\ngroups = ["phone", "household"]'))
    stored = spec.relations.stored()
    assert stored.kinds == [] and stored.from_people == [] and stored.groups == []  # any kind, nothing to read
    assert stored.read_from_people == ["same_phone", "same_household"]
    assert stored.stored() == stored  # storing again changes nothing
    names = [f.name for f in features_for(spec.model_copy(update={"relations": stored}))]
    assert [n for n in names if n.startswith("connections_")] == ["connections_same_phone",
                                                                   "connections_same_household"]
    # a data set written with that stored spec counts each kind's links
    people = pd.DataFrame({"person_id": ["a", "b", "c"]})
    relations = pd.DataFrame([("a", "b", "same_phone", 1.0, worlds.ts(-10)), ("a", "c", "same_household", 1.0,
                                                                             worlds.ts(-9))],
                             columns=["source", "target", "kind", "weight", "ts"])
    relations["ts"] = relations["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ["a"], "as_of": pd.Series([worlds.AS_OF], dtype="datetime64[us]"),
                             "label": [0], "window_days": [90]})
    ds = write_dataset(tmp_path / "w", {"people": people, "events": empty_table(EVENTS), "relations": relations,
                                        "outcomes": outcomes}, "links", "2026-01-01",
                       spec=spec.model_copy(update={"relations": stored}))
    f = build_features(ds).frame.set_index("person_id")
    assert f.loc["a", "connections_same_phone"] == 1 and f.loc["a", "connections_same_household"] == 1
