"""Corrected profile attributes: values checked against the declared type, and read in place of the held ones
(the latest profile version only, where profiles have a history)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from deepcredit.data.spec_profile import Attribute
from deepcredit.service.attribute_fixes import checked_value, corrected_people, shown

ATTRS = {"income": Attribute(name="income", type="numeric", dimension="identity"),
         "job": Attribute(name="job", type="categorical", dimension="identity"),
         "owns_home": Attribute(name="owns_home", type="boolean", dimension="identity"),
         "grade": Attribute(name="grade", type="ordinal", order=["low", "mid", "high"], dimension="identity"),
         "joined": Attribute(name="joined", type="date", dimension="identity")}


@pytest.mark.parametrize(("name", "value", "stored"), [
    ("income", 1200, "1200.0"), ("income", 0.5, "0.5"), ("job", "nurse", '"nurse"'), ("owns_home", False, "false"),
    ("grade", "mid", '"mid"'), ("joined", "2024-02-29", '"2024-02-29"'), ("job", None, "null")])
def test_a_value_of_the_declared_type_is_stored_as_json(name, value, stored):
    assert checked_value(ATTRS[name], value) == stored


@pytest.mark.parametrize(("name", "value", "says"), [
    ("income", True, "numeric"), ("income", "1200", "numeric"), ("income", float("inf"), "finite"),
    ("owns_home", "yes", "true or false"), ("grade", "top", "one of"), ("joined", "29/02/2024", "ISO date"),
    ("job", "  ", "non-empty")])
def test_a_value_of_another_type_says_why_it_is_refused(name, value, says):
    with pytest.raises(ValueError, match=says):
        checked_value(ATTRS[name], value)


def test_a_fraction_is_refused_where_the_data_set_holds_whole_numbers():
    assert checked_value(ATTRS["income"], 1200, "BIGINT") == "1200.0"
    assert checked_value(ATTRS["income"], 1200.5, "DOUBLE") == "1200.5"
    with pytest.raises(ValueError, match="whole numbers"):
        checked_value(ATTRS["income"], 1200.5, "BIGINT")


def test_only_the_latest_profile_version_is_corrected_and_column_types_are_kept():
    con = duckdb.connect()
    con.execute("CREATE TABLE people AS SELECT * FROM (VALUES "
                "('a', 1000::BIGINT, 'clerk', true, TIMESTAMP '2020-01-01'), "
                "('a', 2000::BIGINT, 'manager', true, TIMESTAMP '2021-01-01'), "
                "('b', 5::BIGINT, 'cook', false, NULL)) t(person_id, income, job, owns_home, valid_from)")
    fixes = pd.DataFrame([("a", "income", "1500.0"), ("a", "job", "null"), ("b", "owns_home", "true"),
                          ("b", "unknown_column", json.dumps(1))], columns=["person_id", "attribute", "value"])
    sql = corrected_people(con, "SELECT * FROM people", fixes, ATTRS, history=True)
    rows = con.execute(f"SELECT * FROM ({sql}) ORDER BY person_id, valid_from").fetchall()
    assert [r[:4] for r in rows] == [("a", 1000, "clerk", True), ("a", 1500, None, True), ("b", 5, "cook", True)]
    types = dict(con.execute(f"DESCRIBE {sql}").fetchall()[i][:2] for i in range(5))
    assert types == {"person_id": "VARCHAR", "income": "BIGINT", "job": "VARCHAR", "owns_home": "BOOLEAN",
                     "valid_from": "TIMESTAMP"}
    none = pd.DataFrame(columns=["person_id", "attribute", "value"])
    assert corrected_people(con, "SELECT * FROM people", none, ATTRS, history=True) == "SELECT * FROM people"


def test_values_are_shown_as_a_person_reads_them():
    values = (12000.0, 0.25, None, float("nan"), pd.Timestamp("2024-01-02"), True, np.bool_(False), np.float64(3.0),
              "x")
    assert [shown(v) for v in values] == ["12000", "0.25", None, None, "2024-01-02", "yes", "no", "3", "x"]


def test_a_version_dated_after_the_services_now_is_not_yet_the_one_corrected_or_shown():
    """Historical data served as of an earlier date: the version valid then is the person's profile."""
    from datetime import datetime

    from deepcredit.service.scoring import Held

    con = duckdb.connect()
    con.execute("CREATE TABLE people AS SELECT * FROM (VALUES "
                "('a', 1000::BIGINT, TIMESTAMP '2020-01-01'), ('a', 2000::BIGINT, TIMESTAMP '2021-01-01'), "
                "('b', 5::BIGINT, NULL)) t(person_id, income, valid_from)")
    fixes = pd.DataFrame([("a", "income", "1500.0"), ("b", "income", "7.0")], columns=["person_id", "attribute", "value"])
    sql = corrected_people(con, "SELECT * FROM people", fixes, ATTRS, history=True, at=datetime(2020, 6, 1))
    rows = con.execute(f"SELECT person_id, income FROM ({sql}) ORDER BY person_id, valid_from").fetchall()
    assert rows == [("a", 1500), ("a", 2000), ("b", 7)]  # the 2020 version: the 2021 one is not yet theirs
    newest_first = con.execute("SELECT * FROM people WHERE person_id = 'a' ORDER BY valid_from DESC").df()
    held = Held(pd.DataFrame(), newest_first, pd.DataFrame())
    assert held.latest_profile(datetime(2020, 6, 1))["income"] == 1000 and held.latest_profile()["income"] == 2000


def test_a_correction_written_as_an_alias_is_stored_as_its_category():
    """A spec's `aliases` (F for female, LOW for low) read a corrected value as ingest reads the files."""
    gender = Attribute(name="gender", type="categorical", dimension="identity", aliases={"female": ["F", "f"]})
    grade = Attribute(name="grade", type="ordinal", order=["low", "high"], dimension="identity",
                      aliases={"low": ["LOW"]})
    assert checked_value(gender, "F") == '"female"' and checked_value(gender, "x") == '"x"'
    assert checked_value(grade, "LOW") == '"low"'
    with pytest.raises(ValueError, match="must be one of"):
        checked_value(grade, "Low")
