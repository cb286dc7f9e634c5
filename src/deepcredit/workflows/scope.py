"""A data set narrowed to some people: what one chunk of a batch job reads.

Why: batch scoring works on chunks of people so that memory follows the chunk, not the population. A
chunk's features need its people's profiles and events, every relation that touches them, and the events
of the people on the other end of those relations (neighbour aggregates). `ScopedData` exposes exactly
those rows under the usual table names, so the feature engine runs unchanged (the service narrows a data
set the same way for one person).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.features.engine import NEIGHBOUR_HISTORY
from deepcredit.features.templates import sql_text


class ScopedData(Dataset):
    """`base`, read only for `people`: their profiles, their relations, and events of them and their
    neighbours. Other tables (outcomes, extras) are the base's own.

    own_events: only the people's own events (what their sequences, or their own rows of the
    neighbour-history step, read). neighbour_histories: a folder of Parquet files holding the
    `neighbour_history` step's rows of people (features.engine.neighbour_histories, computed beforehand);
    the step is then read from there for the neighbours, so only the people's own events are scanned.
    relations: False for a session that reads none (the people's own histories or sequences): their relations
    are then empty, and the relations file, the largest of a population, is not scanned.
    """

    def __init__(self, base: Dataset, people: Iterable[str], own_events: bool = False,
                 neighbour_histories: Path | None = None, relations: bool = True) -> None:
        self.root, self.manifest, self.base = base.root, base.manifest, base  # validated when base was opened
        self.people = np.unique(np.asarray(list(people) if not isinstance(people, np.ndarray) else people,
                                           dtype=object))
        self.histories = neighbour_histories
        self.own_events = own_events or neighbour_histories is not None
        self.provided_steps = frozenset({NEIGHBOUR_HISTORY}) if neighbour_histories is not None else frozenset()
        self.relations = relations

    def _own_events(self) -> str:
        """The people's events; the id range first, so Parquet row groups of other people (files written in
        person order, as ingest and the simulator write them) are skipped on their statistics."""
        if not len(self.people):
            return f"SELECT * FROM {self.base.scan('events')} WHERE false"
        lo, hi = (sql_text(str(v)) for v in (self.people[0], self.people[-1]))
        return (f"SELECT * FROM {self.base.scan('events')} WHERE person_id BETWEEN {lo} AND {hi} "
                "AND person_id IN (SELECT person_id FROM _scope_people)")

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        con = con or new_connection()
        scan = self.base.scan
        con.register("_scope_in", pa.table({"person_id": pa.array(self.people.tolist(), pa.string())}))
        con.execute("CREATE OR REPLACE TEMP TABLE _scope_people AS SELECT DISTINCT person_id FROM _scope_in")
        con.unregister("_scope_in")
        touching = ("source IN (SELECT person_id FROM _scope_people) OR target IN (SELECT person_id FROM _scope_people)"
                    if self.relations else "false")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _scope_relations AS SELECT * FROM {scan('relations')} WHERE {touching}")
        con.execute("""CREATE OR REPLACE TEMP TABLE _scope_reach AS
                       SELECT person_id FROM _scope_people UNION SELECT source FROM _scope_relations
                       UNION SELECT target FROM _scope_relations""")
        reach_events = f"SELECT * FROM {scan('events')} WHERE person_id IN (SELECT person_id FROM _scope_reach)"
        views = {"people": f"SELECT * FROM {scan('people')} WHERE person_id IN (SELECT person_id FROM _scope_people)",
                 "relations": "SELECT * FROM _scope_relations",
                 "events": self._own_events() if self.own_events else reach_events}
        for name in [*self.manifest.tables, *self.manifest.extras]:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {views.get(name, f'SELECT * FROM {scan(name)}')}")
        if self.histories is not None:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE {NEIGHBOUR_HISTORY} AS
                            SELECT * FROM read_parquet('{self.histories / '*.parquet'}')
                            WHERE nb IN (SELECT person_id FROM _scope_reach)""")
        return con


def ring_sql(frontier: str, ball: str, relations: str = "relations") -> str:
    """One hop of a neighbourhood, in the SQL both engines run: (chunk, person_id) related to a `frontier`
    row of the same chunk (either direction, at any time) and not in that chunk's `ball` yet."""
    return f"""
        SELECT chunk, person_id FROM (
            SELECT f.chunk, r.target AS person_id FROM {frontier} f JOIN {relations} r ON r.source = f.person_id
            UNION SELECT f.chunk, r.source AS person_id FROM {frontier} f JOIN {relations} r ON r.target = f.person_id
        ) x
        EXCEPT SELECT chunk, person_id FROM {ball}"""


def neighbourhood(dataset: Dataset, people: np.ndarray, hops: int,
                  con: duckdb.DuckDBPyConnection | None = None) -> np.ndarray:
    """`people` and everyone within `hops` relations of them (either direction, at any time: a superset of
    the graph any as-of date sees), sorted. One chunk's ball; Spark builds every chunk's at once with the
    same ring_sql (workflows/spark_score.py)."""
    con = con or new_connection()
    con.register("_ball_in", pa.table({"person_id": pa.array(list(people), pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _ball AS SELECT DISTINCT 0 AS chunk, person_id FROM _ball_in")
    con.execute("CREATE OR REPLACE TEMP TABLE _frontier AS SELECT chunk, person_id FROM _ball")
    con.unregister("_ball_in")
    for _ in range(hops):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _next AS {ring_sql('_frontier', '_ball', dataset.scan('relations'))}")
        if not con.execute("SELECT COUNT(*) FROM _next").fetchall()[0][0]:  # COUNT(*) always gives one row
            break
        con.execute("INSERT INTO _ball SELECT chunk, person_id FROM _next")
        con.execute("CREATE OR REPLACE TEMP TABLE _frontier AS SELECT chunk, person_id FROM _next")
    return np.sort(con.execute("SELECT person_id FROM _ball").fetchnumpy()["person_id"].astype(object))
