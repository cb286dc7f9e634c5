"""Files without a header line (loan-level exports such as Freddie Mac's, whose layout is documented apart):
the spec names their columns in order (`header = [...]`), their first line is data row 1, and every error
names that row and line."""

from __future__ import annotations

import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.format_guess import headerless_names
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError

SPEC = """spec_version = 1
name = "loans"

[format]
delimiter = "|"
date_format = "%Y%m"

[profile]
header = ["score", "loan_id", "state"]
id_column = "loan_id"

[[profile.attributes]]
name = "score"
type = "numeric"
dimension = "credit_history"

[[profile.attributes]]
name = "state"
type = "categorical"
dimension = "identity"

[events]
header = ["loan_id", "period", "balance", "dq"]

[events.columns]
person_id = "loan_id"
ts = "period"
kind = ""
amount = "balance"
status = "dq"

[events.kinds]
month = { amount = "owed" }

[events.statuses]
"0" = { meaning = "kept" }
"1" = { meaning = "late" }
"RA" = { meaning = "broken" }

[outcomes]
source = "events"
as_of_dates = [2018-01-01]
window_days = 365
"""
LOANS = "720|F1|CA\n655|F2|TX\n801|F3|NY\n"
MONTHS = "F1|201703|1000|0\nF1|201704|990|0\nF2|201703|500|1\nF2|201802|490|RA\nF3|201705|300|0\n"


def _ingest(tmp_path, loans: str = LOANS, months: str = MONTHS, spec: str = SPEC):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "orig.txt").write_text(loans)
    (tmp_path / "svcg.txt").write_text(months)
    sources = {"people": tmp_path / "orig.txt", "events": tmp_path / "svcg.txt"}
    return ingest_with_spec(spec_from_toml(spec), sources, tmp_path / "ds")


def test_a_file_without_a_header_is_read_from_its_first_line_by_the_names_the_spec_gives(tmp_path):
    ds = _ingest(tmp_path)
    people = ds.read("people").set_index("person_id")
    assert people["score"].to_dict() == {"F1": 720, "F2": 655, "F3": 801}  # the first line is a loan too
    events = ds.read("events")
    assert len(events) == 5 and events["ts"].min().strftime("%Y-%m") == "2017-04"  # known when March ended
    outcomes = ds.read("outcomes").set_index("person_id")["label"]
    assert outcomes.to_dict() == {"F1": 0, "F2": 1, "F3": 0}


@pytest.mark.parametrize(("months", "where", "words"), [
    (MONTHS.replace("990", "9x0"), "row 2 (line 2), column 'balance'", "not a number"),
    (MONTHS.replace("F3|201705|300|0", "F3|201705|300|0|extra"), "row 5 (line 5)", "the spec's header names 4"),
    (MONTHS.replace("|RA", "|R9"), "row 4 (line 4), column 'dq'", "R9"),
])
def test_an_error_in_a_file_without_a_header_names_its_own_row_and_line(tmp_path, months, where, words):
    with pytest.raises(DataValidationError) as err:
        _ingest(tmp_path, months=months)
    assert where in str(err.value) and words in str(err.value) and "svcg.txt" in str(err.value)
    assert not (tmp_path / "ds").exists()


def test_a_file_that_has_a_header_after_all_is_refused_at_line_1(tmp_path):
    with pytest.raises(DataValidationError, match="line 1 is a header .* leave header out"):
        _ingest(tmp_path, loans="score|loan_id|state\n" + LOANS)


@pytest.mark.parametrize(("change", "field"), [
    ('header = ["score", "loan_id", "state"]', "profile.header"),
    ('header = ["score", "loan_id", "state"]\nheader_line = 2', "profile.header_line"),
])
def test_a_header_that_cannot_be_read_is_refused_at_its_field(change, field):
    bad = change.replace('"state"]', '"score"]') if "header_line" not in change else change
    with pytest.raises(SpecError, match=f"field '{field}"):
        spec_from_toml(SPEC.replace('header = ["score", "loan_id", "state"]', bad))


def test_the_draft_names_the_columns_of_a_file_without_a_header(tmp_path):
    (tmp_path / "orig.txt").write_text(LOANS + "690|F4|CA\n")
    (tmp_path / "with_header.txt").write_text("score|loan_id|state\n" + LOANS)
    (tmp_path / "years.csv").write_text("customer,2019,2020\nc1,5,6\nc2,7,8\nc3,1,0\n")  # a header of years
    assert headerless_names(tmp_path / "orig.txt", "|", "utf-8") == ("column_1", "column_2", "column_3")
    assert headerless_names(tmp_path / "with_header.txt", "|", "utf-8") == ()
    assert headerless_names(tmp_path / "years.csv", ",", "utf-8") == ()
    text = draft_spec(tmp_path / "orig.txt")
    assert "has no header line" in text and 'header = ["column_1", "column_2", "column_3"]' in text
    assert 'name = "column_1"' in text and "written across" not in text
    spec = spec_from_toml(text)
    assert spec.profile.header == ["column_1", "column_2", "column_3"]
