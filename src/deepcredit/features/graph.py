"""Structural view: edges between spine rows, first observed before the as-of date, for graph models.

Nodes are the spine's rows (person, as_of) ordered by (as_of, person_id); an edge joins two rows with
the same as_of whose people were connected strictly before it. People outside the spine contribute
through the neighbour aggregate features instead. Labels are never attached to nodes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from deepcredit.features.engine import SPINE_ROWS, FeatureSession, over_steps
from deepcredit.features.sources import stages


@dataclass
class Graph:
    edge_index: np.ndarray  # int64 [2, E]: (source row, target row), both directions present
    edge_weight: np.ndarray  # float32 [E]
    edge_age_days: np.ndarray  # float32 [E]: how long before as_of the connection was first seen
    num_nodes: int


def edges_sql(nodes: str = SPINE_ROWS, by: str | None = None, order: bool = True, inward: bool = False) -> str:
    """Edges between node rows (by their position `row_id` in the feature frame), in the common SQL of both
    engines. `nodes` (person_id, as_of, row_id): the spine's rows, or many graphs' rows at once, told apart
    by their `by` column (a Spark batch job's chunks: workflows/spark_score.py); an edge joins two rows of
    the same graph. Each pair of neighbour_pairs (person, neighbour) gives the edge person -> neighbour, or,
    `inward`, neighbour -> person: the messages the pairs' people receive (pairs are symmetric, so over the
    whole spine both give every edge)."""
    keep, same = (f"a.{by}, ", f" AND b.{by} = a.{by}") if by else ("", "")
    src, dst = ("b", "a") if inward else ("a", "b")
    return f"""
    WITH idx AS ({nodes})
    SELECT {keep}{src}.row_id AS src, {dst}.row_id AS dst, p.weight, p.edge_age_days
    FROM neighbour_pairs p
    JOIN idx a ON a.person_id = p.person_id AND a.as_of = p.as_of
    JOIN idx b ON b.person_id = p.nb AND b.as_of = p.as_of{same}""" + ("\n    ORDER BY src, dst" if order else "")


EDGES = edges_sql()
"""Edges between spine rows, ordered (src, dst)."""
EDGE_FIELDS = ("src", "dst", "weight", "edge_age_days")


def graph_steps(session: FeatureSession) -> list[tuple[str, str]]:
    """The plan's steps the edges read (spine_d, neighbour_pairs); none when the data set declares no
    relations."""
    names = {"spine_d", "neighbour_pairs"}
    steps = [s for s in stages(session.dialect, session.people_columns, session.event_columns, session.spec)
             if s[0] in names]
    return steps if len(steps) == len(names) else []


def edge_arrays(edges: Mapping[str, np.ndarray], n: int) -> Graph:
    """A Graph of n nodes from the edge columns (EDGE_FIELDS, as EDGES orders them)."""
    return Graph(np.vstack([edges["src"], edges["dst"]]).astype(np.int64).reshape(2, -1),
                 edges["weight"].astype(np.float32), edges["edge_age_days"].astype(np.float32), n)


def build_graph(session: FeatureSession, nodes: str | None = None) -> Graph:
    """Edges among the spine's rows; none when the data set declares no relations (a graph of lone nodes).

    nodes: a query of (person_id, as_of, row_id) rows that hold the spine's rows and more: the graph is then
    over those rows, with every edge *into* a spine row and no other. A model of L graph layers scoring some
    rows reads only messages into the rows within L-1 hops of them, so a batch chunk gives those as the
    spine and its whole L-hop ball as nodes (workflows/score.py): the edges among the ball's outer ring,
    most of its edges, are never built."""
    steps = graph_steps(session)
    n = int(session.numpy(f"SELECT COUNT(*) AS n FROM ({nodes or 'SELECT * FROM spine'})")["n"][0])
    if not steps:
        return edge_arrays({c: np.zeros(0) for c in EDGE_FIELDS}, n)
    return edge_arrays(over_steps(session, steps, EDGES if nodes is None else edges_sql(nodes, inward=True)), n)
