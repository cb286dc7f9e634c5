"""`improve_towards`: the categories an attribute's advice moves a person towards. A spec naming a level its
ordinal does not have, a way of writing a category instead of the category, or declaring it where it cannot
apply is refused at its file, line and field before anything is written; a category a file does not hold
is warned of at its line (a small file to score may hold none); a spec without it keeps its stored text."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, builtin_spec, parse_spec, spec_from_toml

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

SPEC = """spec_version = 1
name = "loans"

[profile]
id_column = "id"

[[profile.attributes]]
name = "backing"
type = "categorical"
dimension = "social_connections"
improve = "Ask a guarantor or a co-applicant to back the loan."
improve_towards = ["guarantor", "co-applicant"]
aliases = { co-applicant = ["coapp"] }

[[profile.attributes]]
name = "grade"
type = "ordinal"
order = ["low", "mid", "high"]
dimension = "identity"
improve = "Raise your grade."
improve_towards = ["high"]

[[profile.attributes]]
name = "amount"
type = "numeric"
dimension = "fulfilment_capacity"
improve = "Borrow less."

[outcomes]
source = "people"
label = "bad"
as_of = 2024-01-01
window_days = 90
"""
PEOPLE = pd.DataFrame({"id": ["p1", "p2", "p3", "p4"], "backing": ["none", "guarantor", "coapp", "none"],
                       "grade": ["low", "mid", "high", "low"], "amount": [1.0, 2.0, 3.0, 4.0], "bad": [0, 1, 0, 1]})


def _line(text: str, starts: str, after: str = "") -> int:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(after)) if after else 0
    return next(i for i, line in enumerate(lines[first:], first + 1) if line.startswith(starts))


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ('improve_towards = ["high"]', 'improve_towards = ["high", "top"]', "profile.attributes[1].improve_towards[1]",
     "'top' is not one of the attribute's `order` (low, mid, high)"),
    ('improve_towards = ["guarantor", "co-applicant"]', 'improve_towards = ["guarantor", "coapp"]',
     "profile.attributes[0].improve_towards[1]", "'coapp' is a way of writing 'co-applicant'"),
    ('improve_towards = ["high"]', 'improve_towards = ["high", "high"]', "profile.attributes[1].improve_towards[1]",
     "'high' is listed twice"),
    ('improve_towards = ["high"]', 'improve_towards = ["high", "mid", "low"]', "profile.attributes[1].improve_towards",
     "every level is listed"),
    ('improve = "Raise your grade."\n', '', "profile.attributes[1].improve_towards", "give that text too"),
    ('improve = "Borrow less."', 'improve = "Borrow less."\nimprove_towards = ["1"]',
     "profile.attributes[2].improve_towards", "applies to categorical and ordinal attributes only"),
])
def test_a_bad_improve_towards_is_a_spec_error_at_its_line_and_field(old, new, field, words):
    text = SPEC.replace(old, new, 1)
    assert text != SPEC
    with pytest.raises(SpecError) as err:
        spec_from_toml(text, "loans.toml")
    assert (err.value.file, err.value.field) == ("loans.toml", field)
    attribute = ("backing", "grade", "amount")[int(field.split("[")[1][0])]
    assert err.value.row == _line(text, "improve_towards", after=f'name = "{attribute}"')
    assert words in str(err.value)


def test_a_bad_spec_writes_nothing(tmp_path):
    (tmp_path / "loans.toml").write_text(SPEC.replace('["high"]', '["top"]', 1))
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    result = CliRunner().invoke(app, ["ingest", "--spec", str(tmp_path / "loans.toml"), "--people",
                                      str(tmp_path / "people.csv"), "--out", str(tmp_path / "ds")])
    assert result.exit_code != 0
    assert "field 'profile.attributes[1].improve_towards[0]'" in " ".join(result.output.split())
    assert not (tmp_path / "ds").exists()


def _ingest(tmp_path, spec: str, people: pd.DataFrame = PEOPLE) -> Dataset:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "loans.toml").write_text(spec)
    people.to_csv(tmp_path / "people.csv", index=False)
    ingest_with_spec(spec_from_toml(spec, str(tmp_path / "loans.toml")), {"people": tmp_path / "people.csv"},
                     tmp_path / "ds", spec_file=str(tmp_path / "loans.toml"))
    return Dataset(tmp_path / "ds")


def test_a_category_the_file_does_not_hold_is_warned_of_at_its_line(tmp_path):
    """Aliases apply first ('coapp' is read as 'co-applicant'); a misspelt category is named with the one value
    alike it, and the data set is still written (a file to score may hold none of them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        stored = _ingest(tmp_path / "a", SPEC)  # every category held: no warning
    assert stored.spec.attribute("backing").improve_towards == ["guarantor", "co-applicant"]
    text = SPEC.replace('"guarantor", "co-applicant"', '"guarantor", "co-aplicant"', 1)
    with pytest.warns(UserWarning, match="'co-aplicant' is not a value of column 'backing' in people.csv "
                                         r"\(did you mean 'co-applicant'\?\)") as caught:
        _ingest(tmp_path / "b", text)
    said = next(str(w.message) for w in caught if "co-aplicant" in str(w.message))
    assert f"line {_line(text, 'improve_towards')}, field 'profile.attributes[0].improve_towards[1]'" in said
    assert "p1" not in said and "none" not in said  # the spec's words, never the file's values
    assert (tmp_path / "b" / "ds").exists()


def test_a_spec_without_it_keeps_its_stored_text_and_one_with_it_round_trips(tmp_path):
    assert '"improve_towards"' not in builtin_spec("simulator").to_json()  # its fingerprint as before
    stored = _ingest(tmp_path, SPEC).spec
    assert stored.to_json().count('"improve_towards"') == 2
    assert parse_spec(json.loads(stored.to_json())) == stored


def test_the_draft_mentions_it_beside_a_categorical_attributes_advice_and_still_parses(tmp_path):
    from deepcredit.data.draft import draft_spec

    PEOPLE.drop(columns=["bad"]).to_csv(tmp_path / "people.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "loans")
    lines = text.splitlines()
    backing = lines.index('name = "backing"')
    assert any(line.startswith("# improve_towards = []") for line in lines[backing:backing + 12])
    amount = lines.index('name = "amount"')
    assert not any("improve_towards" in line for line in lines[amount:])  # a number has no categories
    assert spec_from_toml(text.replace('"TODO"', '"identity"'), "draft.toml")
