"""Categories written in more than one way ("F", "f", "female"): a spec's `aliases` reads each listed value as its
category at ingest (profile attributes, ordinal ones too, and a history's categorical measures), a value listed
twice or under two categories is a spec error at its file, line and field, and `spec draft` proposes the
values that differ only in case or punctuation as aliases to check."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from deepcredit.data.dataset import Dataset
from deepcredit.data.draft import draft_spec
from deepcredit.data.draft.aliases import spelling_groups
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError

from .test_categorical_measures import TRANSACTIONS, WITH_CHANNEL
from .test_categorical_measures import _ingest as _ingest_history

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

SPEC = """spec_version = 1
name = "shop"

[profile]
id_column = "id"

[[profile.attributes]]
name = "gender"
type = "categorical"
dimension = "identity"
protected = true
aliases = { female = ["F", "f", "Female"], male = ["M", "m"] }

[[profile.attributes]]
name = "region"
type = "categorical"
dimension = "identity"

[[profile.attributes]]
name = "grade"
type = "ordinal"
order = ["low", "mid", "high"]
dimension = "identity"
aliases = { low = ["LOW", "Low"], high = ["HIGH"] }

[outcomes]
source = "people"
label = "bad"
as_of = 2024-01-01
window_days = 90
"""
PEOPLE = pd.DataFrame({"id": ["p1", "p2", "p3", "p4", "p5", "p6"],
                       "gender": ["F", " f ", "female", "Female", "M", "x"],
                       "region": ["NORTH", "Nord", "north", "Nord", "Süd", ""],
                       "grade": ["LOW", "mid", "Low", "HIGH", "high", "low"],
                       "bad": [0, 1, 0, 0, 1, 0]})


def _ingest(tmp_path, spec: str = SPEC, people: pd.DataFrame = PEOPLE) -> Dataset:
    people.to_csv(tmp_path / "people.csv", index=False)
    ingest_with_spec(spec_from_toml(spec, "shop.toml"), {"people": tmp_path / "people.csv"}, tmp_path / "ds",
                     spec_file="shop.toml")
    return Dataset(tmp_path / "ds")


def test_values_listed_under_a_category_are_stored_as_that_category(tmp_path):
    stored = _ingest(tmp_path).read("people").set_index("person_id")
    assert stored["gender"].tolist() == ["female", "female", "female", "female", "male", "x"]  # unlisted: kept
    assert stored["region"].tolist()[:4] == ["NORTH", "Nord", "north", "Nord"]  # no aliases: as written
    assert stored["grade"].tolist() == ["low", "mid", "low", "high", "high", "low"]  # read as the order's levels
    assert stored["gender"].value_counts().to_dict() == {"female": 4, "male": 1, "x": 1}  # one group to audit


def test_an_ordinal_value_neither_a_level_nor_listed_is_still_refused(tmp_path):
    with pytest.raises(DataValidationError, match="'Mid' is not one of: high, low, mid"):
        _ingest(tmp_path, people=PEOPLE.assign(grade=["LOW", "Mid", "low", "low", "low", "low"]))


def _line(text: str, starts: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(starts))


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ('male = ["M", "m"]', 'male = ["M", "m", "M"]', "profile.attributes[0].aliases.male[2]",
     "'M' is listed twice under this category"),
    ('male = ["M", "m"]', 'male = ["M", "f"]', "profile.attributes[0].aliases.male[1]",
     "'f' is listed under 'female' too: a value belongs to one category"),
    ('male = ["M", "m"]', 'male = ["M"], F = ["w"]', "profile.attributes[0].aliases.F",
     "'F' is a category and also listed as a way of writing 'female'"),
    ('male = ["M", "m"]', 'male = [" m"]', "profile.attributes[0].aliases.male[0]", "ingest trims the spaces"),
    ('male = ["M", "m"]', 'male = []', "profile.attributes[0].aliases.male", "list the other ways"),
    ('high = ["HIGH"]', 'top = ["HIGH"]', "profile.attributes[2].aliases.top", "not one of the attribute's `order`"),
])
def test_an_alias_listed_twice_or_under_two_categories_is_a_spec_error_at_its_line(old, new, field, words):
    text = SPEC.replace(old, new, 1)
    with pytest.raises(SpecError) as err:
        spec_from_toml(text, "shop.toml")
    line = _line(text, "aliases = { low") if "attributes[2]" in field else _line(text, "aliases = { female")
    assert (err.value.file, err.value.row, err.value.field) == ("shop.toml", line, field)
    assert words in str(err.value)


def test_aliases_apply_to_categories_only():
    text = SPEC.replace('name = "region"\ntype = "categorical"', 'name = "region"\ntype = "numeric"\n'
                        'aliases = { "1" = ["one"] }', 1)
    with pytest.raises(SpecError, match="`aliases` applies to categorical and ordinal attributes only") as err:
        spec_from_toml(text, "shop.toml")
    assert err.value.field == "profile.attributes[1].aliases"


def test_a_history_category_is_read_through_its_aliases_too(tmp_path):
    spec = WITH_CHANNEL.replace('values = { atm', 'aliases = { atm = ["ATM", "Atm"] }\nvalues = { atm', 1)
    channels = ["branch", "ATM", "online", "Atm", "branch", "atm", None]
    ds = _ingest_history(tmp_path, TRANSACTIONS.assign(channel=channels), spec)
    assert ds.read("events")["channel"].tolist().count("atm") == 3
    shares_an_alias = spec.replace('values = { atm', 'values = { ATM', 1)
    with pytest.raises(SpecError, match="'ATM' is read as 'atm'"):
        spec_from_toml(shares_an_alias)


def test_spelling_groups_are_values_alike_but_for_case_and_punctuation():
    values = pd.Series(["F", "f", "F", "female", "M", "m", "m", "Post-Paid", "postpaid", "postpaid", "-", "?",
                        None, " nord ", "Nord", "Süd"])
    assert spelling_groups(values) == {"F": ["f"], "m": ["M"], "postpaid": ["Post-Paid"], "Nord": ["nord"]}


def test_the_draft_proposes_aliases_to_check_and_they_read_as_one_category(tmp_path):
    PEOPLE.drop(columns=["bad"]).to_csv(tmp_path / "people.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "shop")
    lines = [line for line in text.splitlines() if line.startswith("aliases = ")]
    assert len(lines) == 3 and all("  # check: written alike but for case or punctuation" in x for x in lines)
    assert lines[0].startswith('aliases = { "F" = ["f"], "Female" = ["female"] }')  # " f " is trimmed
    assert lines[1].startswith('aliases = { "NORTH" = ["north"] }')  # Nord is no case of NORTH: left to the user
    assert lines[2].startswith('aliases = { "HIGH" = ["high"], "LOW" = ["Low", "low"] }')
    spec = spec_from_toml(text, "draft.toml")
    assert spec.attribute("gender").alias_map == {"f": "F", "female": "Female"}


def test_the_stored_spec_keeps_declared_aliases_and_no_empty_ones(tmp_path):
    """A data set whose columns declare no aliases keeps the spec text, and fingerprint, it had before."""
    from deepcredit.data.spec import builtin_spec, parse_spec

    for kind in ("simulator", "german"):
        assert '"aliases"' not in builtin_spec(kind).to_json()
    stored = _ingest(tmp_path).spec
    assert stored.attribute("gender").aliases == {"female": ["F", "f", "Female"], "male": ["M", "m"]}
    assert stored.to_json().count('"aliases"') == 2
    assert parse_spec(json.loads(stored.to_json())) == stored
