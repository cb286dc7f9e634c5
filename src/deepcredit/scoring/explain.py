"""Reason codes: the few characteristics that lower a person's score most, in plain language.

A characteristic lowers the score by the points the person's bin falls short of the best bin attainable for
that characteristic (the "points below maximum" convention of adverse-action notices). Only the
characteristics a model actually uses can be reasons, since a reason must be something whose change moves
the score. Ordering is deterministic: most points lost first, ties by the model's characteristic order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

REASON_COLUMNS = ("row", "rank", "feature", "dimension", "value", "points", "best_points", "points_lost",
                  "reason", "how_to_improve")


class Characteristic(Protocol):
    name: str
    dimension: str
    description: str
    improve: str
    points: list[int]

    @property
    def labels(self) -> list[str]: ...

    @property
    def best_points(self) -> int: ...


def top_losses(loss: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of an (n, k) matrix of points lost, the columns of the `top` largest positive losses.

    Returns (cols (n, t), valid (n, t)): valid is False where fewer than t losses are positive. A stable
    sort on -loss breaks ties by column order, so the same input always gives the same reasons.
    """
    n, k = loss.shape
    t = max(0, min(int(top), k))
    order = np.argsort(-loss, axis=1, kind="stable")[:, :t]
    valid = np.take_along_axis(loss, order, axis=1) > 0
    return order, valid


def reason_codes(bins: np.ndarray, features: Sequence[Characteristic], top: int = 4,
                 index: pd.Index | Sequence | None = None) -> pd.DataFrame:
    """Long table of reason codes: one row per (input row, rank) with a positive points loss.

    bins: (n, k) bin index per row and characteristic, columns in `features` order.
    """
    n, k = bins.shape
    index = pd.RangeIndex(n) if index is None else pd.Index(index)
    if k == 0 or top <= 0 or n == 0:
        return pd.DataFrame(columns=list(REASON_COLUMNS))
    points = np.column_stack([np.asarray(f.points, dtype=np.int64)[bins[:, j]] for j, f in enumerate(features)])
    best = np.array([f.best_points for f in features], dtype=np.int64)
    cols, valid = top_losses(best[None, :] - points, top)
    r, rank = np.nonzero(valid)  # row-major: grouped by row, ranks ascending
    c = cols[r, rank]
    b = bins[r, c]
    labels = [np.asarray(f.labels, dtype=object) for f in features]
    value = np.empty(len(r), dtype=object)
    for j in np.unique(c):
        m = c == j
        value[m] = labels[j][b[m]]
    meta = lambda attr: np.array([getattr(f, attr) for f in features], dtype=object)[c]  # noqa: E731
    return pd.DataFrame({
        "row": index.to_numpy()[r], "rank": rank + 1, "feature": meta("name"), "dimension": meta("dimension"),
        "value": value, "points": points[r, c], "best_points": best[c], "points_lost": best[c] - points[r, c],
        "reason": meta("description"), "how_to_improve": meta("improve"),
    })
