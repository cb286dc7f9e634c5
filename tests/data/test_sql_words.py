"""Names a spec gives become SQL identifiers (stored columns, features): a word SQL reserves (a history's
`limit` column, a profile's `order`) is refused at its field, and a draft names such a column otherwise."""

from __future__ import annotations

import duckdb
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.spec_base import SQL_WORDS
from deepcredit.features.engine import build_features

from .test_activity_log import OUTCOMES, PEOPLE, SPEC, TRANSACTIONS, _ingest

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")


def test_the_words_are_those_duckdb_reserves():
    reserved = {r[0] for r in duckdb.sql("SELECT keyword_name FROM duckdb_keywords() "
                                         "WHERE keyword_category = 'reserved'").fetchall()}
    assert reserved <= SQL_WORDS  # a DuckDB that reserves more words fails here, not in a user's feature build


@pytest.mark.parametrize(("change", "field"), [
    ('name = "balance"', "events.measures[0].name"),
    ('name = "branch"', "profile.attributes[0].name"),
])
def test_a_reserved_word_as_a_name_is_refused_at_its_field(change, field):
    spec = SPEC.replace(change, 'name = "limit"\ncolumn = "' + change.split('"')[1] + '"')
    with pytest.raises(SpecError, match="'limit' is a word SQL reserves: name it otherwise \\(limit_value") as err:
        spec_from_toml(spec)
    assert f"field '{field}'" in str(err.value)


def test_a_draft_names_a_reserved_column_otherwise_and_its_spec_builds_features(tmp_path):
    named = {"account": "account_id", "balance": "limit", "branch": "order"}
    TRANSACTIONS.rename(columns=named).to_csv(tmp_path / "transactions.csv", index=False)
    PEOPLE.rename(columns=named).to_csv(tmp_path / "people.csv", index=False)
    OUTCOMES.rename(columns=named).to_csv(tmp_path / "outcomes.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", events=tmp_path / "transactions.csv", outcomes=tmp_path / "outcomes.csv")
    assert 'name = "limit_value"\ncolumn = "limit"' in text and 'name = "order_value"\ncolumn = "order"' in text
    spec = spec_from_toml(text)  # the draft parses as it is
    assert spec.events is not None and [m.name for m in spec.events.measures] == ["limit_value"]
    ds = _ingest(tmp_path / "ds_in", TRANSACTIONS.rename(columns={"balance": "limit"}), SPEC.replace(
        'name = "balance"', 'name = "limit_value"\ncolumn = "limit"'))
    assert {"limit_value_last", "limit_value_min_90d"} <= set(build_features(ds).frame.columns)
