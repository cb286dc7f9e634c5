"""Relations written as columns of the people file: a referrer, a household shared."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError

SPEC = """spec_version = 1
name = "refs"
[profile]
id_column = "customer"
{history}
[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"

[relations]
from_people = ["referred_by"]
groups = ["household"]
weighted = false
{relations}
[outcomes]
person_id = "customer"
label = "default"
as_of = 2024-01-01
window_days = 365
"""
PEOPLE = {"customer": ["c1", "c2", "c3", "c4", "c5"], "income": [1, 2, 3, 4, 5],
          "referred_by": ["", "c1", "c1", "c2", ""], "household": ["h1", "h1", "h2", "h2", "h2"]}
OUTCOMES = {"customer": ["c1", "c2", "c3", "c4", "c5"], "default": [0, 1, 0, 0, 1]}


def _ingest(tmp_path, people=PEOPLE, history="", relations="", name="ds", snapshot: str | None = None):
    pd.DataFrame(people).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame(OUTCOMES).to_csv(tmp_path / "outcomes.csv", index=False)
    spec = spec_from_toml(SPEC.format(history=history, relations=relations))
    return ingest_with_spec(spec, {"people": tmp_path / "people.csv", "outcomes": tmp_path / "outcomes.csv"},
                            tmp_path / name, snapshot_date=snapshot)


def test_a_referrer_column_and_a_shared_household_become_relations_every_date_sees(tmp_path):
    from deepcredit.features.engine import build_features

    ds = _ingest(tmp_path)
    rel = ds.read("relations")
    pairs = {(r.source, r.target, r.kind) for r in rel.itertuples()}
    assert pairs == {("c2", "c1", "referred_by"), ("c3", "c1", "referred_by"), ("c4", "c2", "referred_by"),
                     ("c1", "c2", "same_household"), ("c3", "c4", "same_household"), ("c3", "c5", "same_household"),
                     ("c4", "c5", "same_household")}
    assert (rel["ts"] < pd.Timestamp("2024-01-01")).all() and (rel["weight"] == 1.0).all()
    degree = build_features(ds).frame.set_index("person_id")["degree"]
    assert degree.to_dict() == {"c1": 2, "c2": 2, "c3": 3, "c4": 3, "c5": 2}  # distinct neighbours
    stored = ds.spec.relations
    assert stored is not None and stored.from_people == [] and stored.groups == []


def test_a_referrer_who_is_no_person_is_refused_at_the_row_or_dropped(tmp_path):
    people = {**PEOPLE, "referred_by": ["", "c1", "c9", "c2", ""]}
    with pytest.raises(DataValidationError, match=r"people.csv, row 3 \(line 4\), column 'referred_by': the value \(not shown: an "
                                                  r"identifier\) is not a person_id"):
        _ingest(tmp_path, people)
    with pytest.warns(UserWarning, match="1 of 7 relations name someone not in the people table"):
        ds = _ingest(tmp_path, people, relations='unknown_people = "drop"', name="dropped")
    assert len(ds.read("relations")) == 6


def test_a_value_shared_by_too_many_people_connects_nobody(tmp_path):
    with pytest.warns(UserWarning, match=r"1 value\(s\) of 'household' are shared by more than 2 people"):
        ds = _ingest(tmp_path, relations="max_group = 2")
    assert set(ds.read("relations")["kind"]) == {"referred_by", "same_household"}
    assert len(ds.read("relations").query("kind == 'same_household'")) == 1  # h1's pair only


def test_a_link_on_a_later_version_of_the_profile_is_known_from_that_version(tmp_path):
    people = {"customer": ["c1", "c2", "c2", "c3", "c4", "c5"], "since": ["", "", "2024-06-01", "", "", ""],
              "income": [1, 2, 2, 3, 4, 5], "referred_by": ["", "", "c1", "", "", ""],
              "household": ["", "", "", "", "", ""]}
    ds = _ingest(tmp_path, people, history='valid_from = "since"')
    rel = ds.read("relations")
    assert rel[["source", "target"]].values.tolist() == [["c2", "c1"]]
    assert rel["ts"].iloc[0] == pd.Timestamp("2024-06-01")  # not before that version: no leak into 2024-01-01


def test_a_link_column_cannot_also_be_an_attribute():
    text = SPEC.format(history="", relations="").replace('name = "income"', 'name = "household"\ntype = "categorical"'
                                                         ).replace('type = "numeric"\n', "", 1)
    with pytest.raises(SpecError, match="'household' is already a column the profile uses"):
        spec_from_toml(text)


def test_a_draft_finds_the_columns_that_link_people_and_its_spec_ingests(tmp_path):
    from deepcredit.data.draft import draft_spec

    people = {"customer_id": [f"c{i}" for i in range(8)], "referred_by": ["", "c0", "c0", "c1", "", "c4", "", "c2"],
              "household_id": ["h1", "h1", "h2", "h3", "h3", "h4", "h5", "h6"], "telephone": ["yes", "no"] * 4,
              "income": [10, 20, 30, 40, 50, 60, 70, 80], "defaulted": [0, 1, 0, 0, 1, 0, 0, 1]}
    pd.DataFrame(people).to_csv(tmp_path / "people.csv", index=False)
    text = draft_spec(tmp_path / "people.csv")
    assert 'from_people = ["referred_by"]  # check' in text and 'groups = ["household_id"]  # check' in text
    assert 'name = "referred_by"' not in text and 'name = "telephone"' in text  # a yes/no is an attribute
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "people.csv"}, tmp_path / "ds")
    assert ds.read("relations")["kind"].value_counts().to_dict() == {"referred_by": 5, "same_household_id": 2}


def test_a_link_is_known_from_when_its_person_joined_where_the_spec_says_so(tmp_path):
    """Without profile history, a declared joined_at date dates the person's links: no earlier date sees them."""
    joined = '\n[[profile.attributes]]\nname = "signup"\ntype = "date"\ndimension = "identity"\nrole = "joined_at"\n'
    people = {**PEOPLE, "signup": ["2020-01-01", "2020-01-01", "2020-01-01", "2024-06-01", "2020-01-01"]}
    ds = _ingest(tmp_path, people, history=joined)
    rel = ds.read("relations").set_index(["source", "target", "kind"])["ts"]
    assert rel[("c4", "c2", "referred_by")] == pd.Timestamp("2024-06-01")  # c4 joined then
    assert rel[("c3", "c4", "same_household")] == pd.Timestamp("2024-06-01")  # the later of the two
    assert rel[("c2", "c1", "referred_by")] == pd.Timestamp("2020-01-01")


def test_a_person_named_in_a_link_column_is_no_neighbour_before_they_joined(tmp_path):
    """c2 names c1, who joined only on 2024-06-01: as of 2024-01-01 c2 has no neighbour, as if c1 and the link
    were not in the file yet (the A/B rule: adding only what is dated later changes nothing earlier)."""
    from deepcredit.features.engine import build_features

    joined = '\n[[profile.attributes]]\nname = "signup"\ntype = "date"\ndimension = "identity"\nrole = "joined_at"\n'
    people = {**PEOPLE, "referred_by": ["", "c1", "", "", ""], "household": ["", "", "", "", ""],
              "signup": ["2024-06-01", "2020-01-01", "2020-01-01", "2020-01-01", "2020-01-01"]}
    ds = _ingest(tmp_path, people, history=joined)
    rel = ds.read("relations").set_index(["source", "target", "kind"])["ts"]
    assert rel[("c2", "c1", "referred_by")] == pd.Timestamp("2024-06-01")  # the later of the two
    degree = build_features(ds).frame.set_index("person_id")["degree"]
    assert degree.to_dict() == {"c1": 0, "c2": 0, "c3": 0, "c4": 0, "c5": 0}  # as of 2024-01-01


def test_with_dates_written_as_months_a_link_is_known_when_its_persons_month_of_joining_ended(tmp_path):
    """c4 joined in June 2024, perhaps on the 30th: a feature on 2024-06-15 must not see its links."""
    joined = '\n[[profile.attributes]]\nname = "signup"\ntype = "date"\ndimension = "identity"\nrole = "joined_at"\n'
    people = {**PEOPLE, "signup": ["Jan-2020", "Jan-2020", "Jan-2020", "Jun-2024", "Jan-2020"]}
    ds = _ingest(tmp_path, people, history='\n[format]\ndate_format = "%b-%Y"\n' + joined, snapshot="2024-12-31")
    rel = ds.read("relations").set_index(["source", "target", "kind"])["ts"]
    assert rel[("c4", "c2", "referred_by")] == pd.Timestamp("2024-07-01")
    assert rel[("c2", "c1", "referred_by")] == pd.Timestamp("2020-02-01")
    assert ds.read("people").set_index("person_id").loc["c4", "signup"] == pd.Timestamp("2024-06-01")  # as written


def test_a_shared_phone_or_e_mail_links_people_and_its_values_are_stored_nowhere(tmp_path):
    """`spec draft` proposes a people-file phone or e-mail column whose values repeat as a group (people sharing
    one are connected): ingest stores who shares one with whom (same_phone), never the value, in any file of
    the data set (the tables, their keys, the stored spec, the manifest)."""
    import pyarrow.parquet as pq

    from deepcredit.data.draft import draft_spec

    phones = ["+44 7700 900101", "+44 7700 900101", "+44 7700 900202", "+44 7700 900303", "+44 7700 900303",
              "+44 7700 900404", "+44 7700 900505", "+44 7700 900606"]
    mails = ["ann@example.org", "bo@example.org", "bo@example.org", "cy@example.org", "di@example.org",
             "di@example.org", "ed@example.org", "fay@example.org"]
    people = {"customer_id": [f"c{i}" for i in range(8)], "phone": phones, "email": mails,
              "income": [10, 20, 30, 40, 50, 60, 70, 80], "defaulted": [0, 1, 0, 0, 1, 0, 0, 1]}
    pd.DataFrame(people).to_csv(tmp_path / "people.csv", index=False)
    text = draft_spec(tmp_path / "people.csv")
    assert 'groups = ["phone", "email"]  # check' in text and "never the value" in text
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "people.csv"}, tmp_path / "ds")
    rel = ds.read("relations")
    assert {(r.source, r.target, r.kind) for r in rel.itertuples()} == {
        ("c0", "c1", "same_phone"), ("c3", "c4", "same_phone"), ("c1", "c2", "same_email"), ("c4", "c5", "same_email")}
    raw = {*phones, *mails, *(p.replace(" ", "") for p in phones)}
    files = [f for f in ds.root.rglob("*") if f.is_file()]
    assert any(f.suffix == ".parquet" for f in files)
    for f in files:
        cells = " ".join(map(str, pq.read_table(f).to_pandas().to_numpy().ravel())) if f.suffix == ".parquet" \
            else f.read_text(errors="replace")
        assert not [v for v in raw if v in cells], f"a contact value is stored in {f.name}"
        assert not [v for v in raw if v.encode() in f.read_bytes()], f"a contact value's bytes are in {f.name}"
