"""The feature plan is written once, in SQL that Spark SQL accepts as well as DuckDB."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlglot

from deepcredit.data.schema import EVENTS, PEOPLE
from deepcredit.data.spec import builtin_spec
from deepcredit.data.spec_profile import Attribute
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.engine import plan
from deepcredit.features.sources import DUCKDB, SPARK
from deepcredit.features.templates import features_for


@pytest.mark.parametrize("dialect", [DUCKDB, SPARK], ids=lambda d: d.name)
def test_every_statement_of_the_plan_parses_in_both_engines(dialect):
    steps = plan(ALL_FEATURES, set(PEOPLE.names), set(EVENTS.names), dialect)
    assert [name for name, _ in steps][-1] == "features"
    for name, sql in steps:
        tree = sqlglot.parse_one(sql, read=dialect.name)  # raises ParseError on anything foreign
        assert tree is not None, name


def test_only_the_day_conversion_and_the_row_key_differ_between_dialects():
    """DuckDB keys the steps by the spine's row number, Spark by (person_id, as_of): given the same key, the
    plans differ in the day conversion alone."""
    duck = plan(ALL_FEATURES, set(PEOPLE.names), set(EVENTS.names), DUCKDB)
    spark_keyed = plan(ALL_FEATURES, set(PEOPLE.names), set(EVENTS.names), replace(SPARK, key=DUCKDB.key))
    for (n1, a), (n2, b) in zip(duck, spark_keyed, strict=True):
        assert n1 == n2
        assert _days_free(a, DUCKDB) == _days_free(b, SPARK), n1
    spark = plan(ALL_FEATURES, set(PEOPLE.names), set(EVENTS.names), SPARK)
    assert not any("row_id" in sql for _, sql in spark)  # numbering rows would take one partition there
    assert "ROW_NUMBER() OVER (ORDER BY as_of, person_id) - 1 AS row_id" in dict(duck)["spine_d"]


def _days_free(sql: str, dialect) -> str:
    """The statement with every day conversion replaced by a marker."""
    head, tail = dialect.days_template.split("{}")
    out = []
    while head in sql:
        before, rest = sql.split(head, 1)
        inner, sql = rest.split(tail, 1)
        out += [before, f"DAYS[{inner}]"]
    return "".join([*out, sql])


@pytest.mark.parametrize("dialect", [DUCKDB, SPARK], ids=lambda d: d.name)
@pytest.mark.parametrize("kind", ["german", "otc", "uci"])
def test_plans_of_declared_data_sets_parse_in_both_engines(dialect, kind):
    """Declared attributes (ordinals, dates, special values), attribute history and the users' own words stay
    portable."""
    spec = builtin_spec(kind)
    attrs = [*spec.profile.attributes, Attribute(name="opened", type="date", dimension="identity"),
             Attribute(name="late_count", type="numeric", dimension="credit_history",
                       special={"96": "not reported", "-1": "it's unknown"})]
    spec = spec.model_copy(update={"profile": spec.profile.model_copy(
        update={"valid_from": "valid_from", "id_column": "person_id", "attributes": attrs})})
    people = {"person_id", "valid_from", *(a.name for a in attrs)}
    for name, sql in plan(features_for(spec), people, set(EVENTS.names), dialect, spec=spec):
        assert sqlglot.parse_one(sql, read=dialect.name) is not None, name
