"""Answers worked out from a person's stored score, kept until that score changes.

The what-if plan and the records behind a score each re-run the model many times (a second or more for a
person with a few hundred records), and the person's page asks for both on every view. Both depend only on
the person's data as of their score and on the model: every change to that data (a reported event, a
corrected dispute, a neighbour's change, a retention run) re-scores the person and so writes a new score
row. An answer is therefore kept under the score row it was worked out from (its model, its as-of and the
time it was written) and the model that worked it out; a new score row or a new model misses, and the old answer
ages out. Erasure forgets a person's answers at once, so nothing about them stays in memory, except in a
service running beside a `person-erase` in another process: there they stay, unreachable (no score row keys
them), until they age out or the service restarts (docs/security.md, "What stays").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import TypeVar

from deepcredit.service.store.models import Score

T = TypeVar("T")

KEPT = 1024
"""Answers kept per service, oldest dropped first."""


class AnswerCache:
    """Per-service answers by (what, person, score row, model): bounded, thread-safe, forgettable by person."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._answers: OrderedDict[tuple[Hashable, ...], object] = OrderedDict()
        self._lock = Lock()

    def get(self, what: str, score: Score, model_id: str | None, work_out: Callable[[], T]) -> T:
        """The `what` answer for the person of `score`, worked out by `work_out` when none is kept for this
        score row and model. Two requests at once may both work it out; the answers are the same."""
        key = (what, score.subject, score.model_id, score.as_of, score.updated_at, model_id)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]  # type: ignore[return-value]
        answer = work_out()
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.kept:
                self._answers.popitem(last=False)
        return answer

    def forget(self, subject: str) -> None:
        """Drop every answer about one person (erasure)."""
        with self._lock:
            for key in [k for k in self._answers if k[1] == subject]:
                del self._answers[key]

    def __len__(self) -> int:
        return len(self._answers)
