"""The structural view: a graph over more rows than the spine keeps exactly the edges into the spine's rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import worlds

from deepcredit.features.engine import open_session
from deepcredit.features.graph import Graph, build_graph


def _edges(g: Graph) -> set[tuple[int, int, float, float]]:
    return {(int(s), int(d), round(float(w), 6), round(float(a), 6)) for (s, d), w, a in
            zip(g.edge_index.T, g.edge_weight, g.edge_age_days, strict=True)}


def test_a_graph_over_more_nodes_keeps_every_edge_into_the_spine_and_no_other(tmp_path):
    """What a batch chunk builds: the spine is the people within hops - 1, the nodes the whole ball; a
    graph layer of those people then receives every message it would in the whole graph."""
    ds = worlds.store(tmp_path / "w", worlds.frames(n_people=60, seed=3))
    people = sorted(ds.read("people")["person_id"].astype(str))
    rows = ds.connect().execute("SELECT person_id, as_of, label FROM outcomes ORDER BY as_of, person_id").df()
    rows["as_of"] = rows["as_of"].astype("datetime64[us]")
    whole = build_graph(open_session(ds, rows))
    inner = rows["person_id"].isin(people[:12]).to_numpy()
    session = open_session(ds, rows[inner])
    session.con.register("_nodes", pa.table({"person_id": pa.array(rows["person_id"].tolist(), pa.string()),
                                             "as_of": pa.array(rows["as_of"].to_numpy()),
                                             "row_id": pa.array(np.arange(len(rows)))}))
    part = build_graph(session, nodes="SELECT person_id, as_of, row_id FROM _nodes")
    into_inner = {e for e in _edges(whole) if inner[e[1]]}
    assert part.num_nodes == whole.num_nodes == len(rows)
    assert into_inner and _edges(part) == into_inner
    assert len(_edges(part)) < len(_edges(whole))  # edges between two rows outside the spine are not built
