"""What ingest tells a modeller about their own files, in their terms: a line break inside an id, a category,
a kind or a status (a quote left open); a relation from a person to themself, or recorded twice; a relations
file without rows; a label with one value; a column left empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml

SPEC = """spec_version = 1
name = "probe"

[profile]
id_column = "customer_id"

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"

[[profile.attributes]]
name = "region"
type = "categorical"
dimension = "identity"

[events.columns]
person_id = "customer_id"
ts = "date"
kind = "kind"
amount = "amount"
status = "status"

[events.kinds]
"instalment" = { amount = "owed" }

[events.statuses]
"paid" = { meaning = "kept" }
"missed" = { meaning = "broken" }

[relations]
directed = true
weighted = false

[relations.columns]
source = "from_id"
target = "to_id"
ts = "since"
kind = ""
weight = ""

[outcomes]
source = "people"
label = "default_flag"
bad = ["bad"]
good = ["good"]
as_of = 2024-11-01
window_days = 90
"""
PEOPLE = ["customer_id,income,region,default_flag", "C1,3000.5,north,good", "C2,2500,west,bad",
          "C3,4100,east,good", "C4,2200,south,bad"]
EVENTS = ["customer_id,date,kind,amount,status", "C1,2024-01-05,instalment,100,paid",
          "C2,2024-01-06,instalment,100,missed", "C3,2024-02-05,instalment,100,paid"]
RELATIONS = ["from_id,to_id,since", "C1,C2,2024-01-01", "C2,C3,2024-01-01", "C3,C4,2024-02-01"]


def run(tmp_path: Path, people: list[str] = PEOPLE, events: list[str] = EVENTS,
        relations: list[str] | None = RELATIONS, spec: str = SPEC):
    files = {"people": people, "events": events} | ({"relations": relations} if relations is not None else {})
    for name, lines in files.items():
        (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ingest_with_spec(spec_from_toml(spec), {n: tmp_path / f"{n}.csv" for n in files}, tmp_path / "ds")


def error(tmp_path: Path, **files) -> str:
    with pytest.raises(DataValidationError) as err:
        run(tmp_path, **files)
    return str(err.value)


def test_the_probe_files_ingest(tmp_path):
    ds = run(tmp_path)
    assert len(ds.read("people")) == 4 and len(ds.read("relations")) == 3


# --- a line break inside a value --------------------------------------------------------------------------

def test_a_line_break_in_a_category_is_refused_at_its_row(tmp_path):
    said = error(tmp_path, people=[PEOPLE[0], 'C1,3000.5,"nor\nth",good', *PEOPLE[2:]])  # was a new category
    assert said.endswith("people.csv, row 1 (line 2), column 'region': 'nor\\nth' holds a line break, where an "
                         "id, a category, a kind, a status or a label is written on one line (a quote left open? "
                         "a quoted value written over two lines?)")


def test_a_line_break_in_an_id_is_refused_in_the_people_file(tmp_path):
    said = error(tmp_path, people=[*PEOPLE[:2], '"C\n2",2500,west,bad', *PEOPLE[3:]])
    # was: events.csv, row 2, ... is not a person_id in the people table
    assert "people.csv, row 2 (line 3), column 'customer_id': the value (not shown: an identifier) holds a line " \
           "break" in said and "events.csv" not in said


def test_a_line_break_in_a_status_is_refused_at_its_row(tmp_path):
    said = error(tmp_path, events=[*EVENTS[:3], 'C3,2024-02-05,instalment,100,"pa\nid"'])
    assert "events.csv, row 3 (line 4), column 'status': 'pa\\nid' holds a line break" in said


# --- relations: a self-loop, a row recorded twice, a file without rows -----------------------------------

def test_a_person_tied_to_themself_is_refused_at_the_row(tmp_path):
    said = error(tmp_path, relations=[*RELATIONS, "C1,C1,2024-03-01"])  # was stored without a word
    assert said.endswith("relations.csv, row 4 (line 5), column 'to_id': the value (not shown: an identifier) "
                         "names the same person as column 'from_id': a person is not their own connection")


def test_a_relation_recorded_twice_is_refused_as_an_event_is(tmp_path):
    said = error(tmp_path, relations=[*RELATIONS, RELATIONS[2]])
    assert said.endswith("relations.csv, row 4 (line 5): an exact duplicate of row 2: one relation recorded twice")
    ds = run(tmp_path, relations=[*RELATIONS, "C2,C3,2024-05-01"])  # the same tie observed again, later: kept
    assert len(ds.read("relations")) == 4


def test_a_relations_file_without_rows_is_refused_as_an_events_file_is(tmp_path):
    said = error(tmp_path, relations=RELATIONS[:1])  # was accepted as "relations: 0"
    assert said.endswith("relations.csv: the table has a header but no data rows (for a data set without "
                         "relations, leave [relations] out of the spec and give no relations file)")
    without = SPEC[:SPEC.index("[relations]")] + SPEC[SPEC.index("[outcomes]"):]
    assert len(run(tmp_path, relations=None, spec=without).read("relations")) == 0  # as the message says


# --- a label with one value, a column left empty: stored, with a warning ---------------------------------

ALL_GOOD = [PEOPLE[0], *(line.replace(",bad", ",good") for line in PEOPLE[1:])]


def test_a_label_with_one_value_is_stored_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"^all 4 labels are 0 \(good\), from the label column 'default_flag' of "
                                         r"the people file \(good: 'good'; bad: 'bad'\): a model learns from both"):
        ds = run(tmp_path, people=ALL_GOOD)  # was stored without a word
    assert ds.read("outcomes")["label"].tolist() == [0, 0, 0, 0]


def test_an_attribute_column_empty_in_every_row_is_named_in_a_warning(tmp_path):
    empty = [PEOPLE[0], *(",".join(c if k != 2 else "" for k, c in enumerate(line.split(","))) for line in PEOPLE[1:])]
    with pytest.warns(UserWarning, match=r"^column 'region' of people\.csv is empty in every row: it tells a model "
                                         r"nothing"):
        ds = run(tmp_path, people=empty)
    assert ds.read("people")["region"].isna().all()


# --- wording ----------------------------------------------------------------------------------------------

SEMICOLONS = SPEC.replace('name = "probe"\n', 'name = "probe"\n\n[format]\ndelimiter = ";"\n')


def test_a_decimal_comma_says_how_to_declare_it(tmp_path):
    people = [line.replace(",", ";") for line in PEOPLE]
    people[1] = people[1].replace("3000.5", "3000,5")
    said = error(tmp_path, people=people, events=[line.replace(",", ";") for line in EVENTS],
                 relations=[line.replace(",", ";") for line in RELATIONS], spec=SEMICOLONS)
    assert said.endswith("people.csv, row 1 (line 2), column 'income': '3000,5' is not a number (numbers expected; a "
                         'decimal comma? declare it in the data-set spec as decimal = "," under [format])')


def test_grouped_thousands_say_how_to_declare_them(tmp_path):
    said = error(tmp_path, people=[PEOPLE[0], 'C1,"3,000.5",north,good', *PEOPLE[2:]])
    assert "'3,000.5' is not a number (numbers expected; ',' between thousands? declare it in the data-set spec " \
           'as thousands = "," under [format])' in said


def test_a_kind_is_said_with_its_article(tmp_path):
    said = error(tmp_path, events=[*EVENTS, "C1,2024-03-05,instalment,-100,paid"])
    assert "'-100.0' is negative, which means nothing for an instalment event (no kind's amount may be negative " \
           "here)" in said  # was "for a instalment event (only no kind amounts may be negative)"
    said = error(tmp_path, events=[*EVENTS, "C1,2024-03-05,instalment,,paid"])
    assert "an instalment event needs its amount" in said


def test_a_yes_no_label_in_parquet_is_read_as_the_spec_declares_it(tmp_path):
    import pandas as pd

    people = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"], "income": [3000.5, 2500, 4100, 2200],
                           "region": ["north", "west", "east", "south"], "default_flag": [False, True, False, True]})
    people.to_parquet(tmp_path / "people.parquet")
    run(tmp_path)  # the CSV files beside it
    files = {"people": tmp_path / "people.parquet", "events": tmp_path / "events.csv",
             "relations": tmp_path / "relations.csv"}
    yes_no = SPEC.replace('bad = ["bad"]\ngood = ["good"]', "bad = [true]\ngood = [false]")
    ds = ingest_with_spec(spec_from_toml(yes_no), files, tmp_path / "yes_no")  # was: stored as bool; expected text
    assert ds.read("outcomes")["label"].tolist() == [0, 1, 0, 1]
    drafted = SPEC.replace('bad = ["bad"]\ngood = ["good"]', 'bad = ["True"]\ngood = ["False"]')  # as spec draft
    assert ingest_with_spec(spec_from_toml(drafted), files, tmp_path / "drafted").read("outcomes")["label"].sum() == 2
    with pytest.raises(DataValidationError) as err:
        ingest_with_spec(spec_from_toml(SPEC), files, tmp_path / "words")
    assert str(err.value).endswith("people.parquet, row 1, column 'default_flag': 'false' is neither a bad (bad) "
                                   "nor a good (good) label value of the spec (a yes/no label: say which is bad "
                                   "under [outcomes], as bad = [true] and good = [false])")


def test_validate_of_a_data_set_stored_with_a_spec_finds_a_self_loop_not_a_month_s_two_ties(tmp_path):
    """`deepcredit validate` re-checks the stored relations for self-loops as ingest checks the file; two ties
    of one month are one stored row once dated at the month's end, so duplicates are left to ingest there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepcredit.data.ingest import validate_stored

    ds = run(tmp_path)
    path = ds.root / "relations.parquet"
    relations = pq.read_table(path)
    pq.write_table(pa.concat_tables([relations, relations.slice(0, 1)]), path)
    validate_stored(ds)  # a stored row twice: as two ties of a month written as a month are stored
    pq.write_table(relations.set_column(1, "target", relations.column("source")), path)
    with pytest.raises(DataValidationError, match=r"relations.parquet, row 1, column 'target': .* names the same "
                                                  "person as column 'source': a person is not their own connection"):
        validate_stored(ds)


def test_events_dated_before_their_person_joined_are_counted_in_a_warning_not_refused(tmp_path):
    import warnings

    import pandas as pd

    from .shop import EVENTS, SPEC, write_files

    spec = spec_from_toml(SPEC.format(format="").replace('name = "signup"\ntype = "date"',
                                                         'name = "signup"\ntype = "date"\nrole = "joined_at"'))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every event after its person's signup: no warning
        ingest_with_spec(spec, write_files(tmp_path / "ok", False), tmp_path / "a")
    files = write_files(tmp_path / "early", False)
    pd.DataFrame({**EVENTS, "booked_at": ["2022-12-01", "2024-02-13", "2023-11-01"]}).to_csv(files["events"],
                                                                                            index=False)
    with pytest.warns(UserWarning, match=r"2 of 3 events of events.csv are dated before their person joined "
                                         r"\(signup\)"):
        ds = ingest_with_spec(spec, files, tmp_path / "b")
    assert len(ds.read("events")) == 3  # kept: a history may predate an account
