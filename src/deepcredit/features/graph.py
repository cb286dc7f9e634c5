"""Structural view: edges between spine rows, first observed before the as-of date, for graph models.

Nodes are the spine's rows (person, as_of) ordered by (as_of, person_id); an edge joins two rows with
the same as_of whose people were connected strictly before it. People outside the spine contribute
through the neighbour aggregate features instead. Labels are never attached to nodes here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepcredit.features.engine import SPINE_ROWS, FeatureSession
from deepcredit.features.sources import stages


@dataclass
class Graph:
    edge_index: np.ndarray  # int64 [2, E]: (source row, target row), both directions present
    edge_weight: np.ndarray  # float32 [E]
    edge_age_days: np.ndarray  # float32 [E]: how long before as_of the connection was first seen
    num_nodes: int


EDGES = f"""
    WITH idx AS ({SPINE_ROWS})
    SELECT a.row_id AS src, b.row_id AS dst, p.weight, p.edge_age_days
    FROM neighbour_pairs p
    JOIN idx a ON a.person_id = p.person_id AND a.as_of = p.as_of
    JOIN idx b ON b.person_id = p.nb AND b.as_of = p.as_of
    ORDER BY src, dst"""
"""Edges between spine rows (by their position in the feature frame), in the common SQL of both engines."""


def build_graph(session: FeatureSession) -> Graph:
    """Edges among the spine's rows; none when the data set declares no relations (a graph of lone nodes)."""
    names = {"spine_d", "neighbour_pairs"}
    steps = [s for s in stages(session.dialect, session.people_columns, session.event_columns, session.spec)
             if s[0] in names]
    n = int(session.numpy("SELECT COUNT(*) AS n FROM spine")["n"][0])
    if len(steps) < len(names):
        return Graph(np.zeros((2, 0), dtype=np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32), n)
    session.materialise(steps)
    edges = session.numpy(EDGES)
    return Graph(np.vstack([edges["src"], edges["dst"]]).astype(np.int64).reshape(2, -1),
                 edges["weight"].astype(np.float32), edges["edge_age_days"].astype(np.float32), n)
