"""One person's rows without the whole index (lookup.PersonIndex, held or not, and ScopedDataset for some
people): one path, one order for relations observed more than once, the same scores as reading everyone."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from service_testkit import NOW, duplicated, world

from deepcredit.data.dataset import new_connection
from deepcredit.service.lookup import PersonIndex
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.scoring import ScopedDataset, load_scorer

pytest_plugins = ("service_testkit",)
ORDER = ("ts", "kind", "weight")
"""After its two ends, what orders a pair's relations (lookup.RELATION_ORDER)."""


def _focus(data_is_copy: bool) -> list[list[str]]:
    """Groups of people at either end of a duplicated pair (pseudonyms in the copy), and one nobody."""
    from service_testkit import KEY

    ids = duplicated().pairs
    if data_is_copy:
        ids = [Pseudonymiser(KEY)(i) for i in ids]
    return [ids[:1], ids[3:9], [ids[12], ids[2], "nobody"], ids]


@pytest.mark.parametrize("which", ["raw", "data"])
def test_rows_read_for_some_people_are_the_rows_the_held_index_gives(which):
    data = getattr(duplicated(), which)
    held, read = PersonIndex(data), PersonIndex(data, held=False)
    for ids in _focus(which == "data"):
        for question in ("people", "events", "relations"):
            assert getattr(read, question)(ids).equals(getattr(held, question)(ids)), question
        assert read.neighbours(ids) == held.neighbours(ids)
    assert read._tables is None


def _in_order(rows: pa.Table, key: str, other: str, ids: list[str]) -> pa.Table:
    """`rows` of each of `ids` (by `key`) in turn, each person's by (other, ts, kind, weight)."""
    parts = [
        rows.filter(pc.equal(rows.column(key), i)).sort_by([(c, "ascending") for c in (other, *ORDER)])
        for i in dict.fromkeys(ids)
    ]
    return pa.concat_tables(parts)


@pytest.mark.parametrize("which", ["raw", "data"])
def test_a_persons_relations_come_in_one_documented_order_whatever_the_files_order(which):
    """Those from the people asked about (in the order asked) by (target, ts, kind, weight), then those only
    towards them by (source, ts, kind, weight): a pair observed more than once reads the same from the held
    index, from a read for these people alone, and from the copy's relations sorted either way."""
    data = getattr(duplicated(), which)
    for ids in _focus(which == "data"):
        for index in (PersonIndex(data), PersonIndex(data, held=False)):
            rel = index.relations(ids)
            mine = pa.array(list(ids), pa.string())
            first = rel.filter(pc.is_in(rel.column("source"), mine))
            rest = rel.filter(pc.invert(pc.is_in(rel.column("source"), mine)))
            assert rel.num_rows == first.num_rows + rest.num_rows > 0
            assert rel.slice(0, first.num_rows).equals(_in_order(first, "source", "target", ids))
            assert rel.slice(first.num_rows).equals(_in_order(rest, "target", "source", ids))


def test_a_read_for_some_people_prunes_relations_by_the_file_sorted_on_each_end(monkeypatch):
    """The copy keeps relations sorted by source and again by target (relations_by_target): a read for some
    people filters each by its own sort key, so DuckDB skips the row groups that cannot hold them."""
    data = duplicated().data
    said: list[str] = []
    read = PersonIndex._read

    def recorded(self, sql):
        said.append(sql)
        return read(self, sql)

    monkeypatch.setattr(PersonIndex, "_read", recorded)
    ids = _focus(True)[1]
    PersonIndex(data, held=False).relations(ids)
    relations = [s for s in said if "relations" in s]
    assert len(relations) == 2, relations
    by_source, by_target = relations
    assert (
        "WHERE source IN" in by_source
        and "target IN" not in by_source
        and "relations_by_target" not in by_source
    )
    assert (
        "relations_by_target" in by_target and "WHERE target IN" in by_target and "source IN" not in by_target
    )


def test_a_scope_without_an_index_reads_its_relations_once(monkeypatch):
    """Not held, a scope for some people reads their relations once (each file, pruned, one time) and finds
    their neighbours in what it read: no second read of the same rows for the neighbourhood."""
    data = duplicated().data
    said: list[str] = []
    read = PersonIndex._read

    def recorded(self, sql):
        said.append(sql)
        return read(self, sql)

    monkeypatch.setattr(PersonIndex, "_read", recorded)
    ids = _focus(True)[1]
    con = new_connection()
    try:
        ScopedDataset(data, ids, index=None).sources(con)
    finally:
        con.close()
    assert len([s for s in said if "WHERE source IN" in s]) == 1, said
    assert len([s for s in said if "WHERE target IN" in s]) == 1, said


def test_a_scope_without_an_index_reads_what_one_with_an_index_reads():
    """ScopedDataset for some people reads their rows through the person index, one it is given (the
    service's, held) or one of its own that reads them alone: the same tables either way."""
    data = duplicated().data
    ids = _focus(True)[1]
    tables = []
    for index in (PersonIndex(data), None):
        con = new_connection()
        scope = ScopedDataset(data, ids, index=index)
        tables.append({k: con.sql(v).df() for k, v in scope.sources(con).items()})
        con.close()
    for name in ("people", "relations", "events"):
        pd.testing.assert_frame_equal(tables[0][name], tables[1][name], obj=name)


def test_scoped_reads_score_as_reading_everyone_with_duplicated_relations():
    """Re-scoring some people from their rows (the service's held index, or person-erase's reads) gives the
    scores that reading the whole data set gives them."""
    data = duplicated().data
    model = world().model
    everyone = {s.person_id: s for s in load_scorer(model, data).score_people(None, as_of=NOW)}
    ids = _focus(True)[3]
    for held in (True, False):
        scorer = load_scorer(model, data, held_index=held)
        got = scorer.score_people(ids, as_of=NOW)
        assert got == [everyone[i] for i in ids if i in everyone]
        assert scorer.neighbourhood(ids, hops=2) == load_scorer(model, data).neighbourhood(ids, hops=2)
