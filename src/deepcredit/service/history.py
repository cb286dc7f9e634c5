"""A person's score history as they read it: one point per change or per day, reasons in words, periods.

The service stores one history row per re-score with a terse cause ("event s235 reported"); a person reads
neither ids nor a row per re-score. So:

- `points`: the first score as a point of its own, then the rows collapsed to at most one per day (the
  day's last score) and only where the score or band changed, each with the day's causes in words
  (`describe_event`: "Acme Rentals reported a rental returned late (3 days after it was due)", built from
  the event's kind, its status and what the data set's spec says that status means), repeated causes
  counted rather than listed, and the cause that moved the score most, and the latest, never cut off;
- `periods`: the points grouped by the finest period (day, week, month, quarter, year) that keeps a chart
  within `max_periods` marks, each with its closing, lowest and highest score: a chart stays readable at
  thousands of events;
- `page`: the points newest first, a page at a time (the table).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from deepcredit.data.schema import EVENT_STATUSES, GOOD_STATUSES, SEVERE_STATUSES
from deepcredit.data.spec import DatasetSpec
from deepcredit.service.store.models import Dispute, ServiceEvent

PERIODS = (("day", "D"), ("week", "W-SUN"), ("month", "M"), ("quarter", "Q"), ("year", "Y"))
"""Period names and their pandas period codes, finest first."""
MAX_PERIODS = 60
PAGE_SIZE = 20
MAX_REASONS = 4
"""Distinct reasons listed per point; the rest are counted ("and 12 more changes"). The one that moved the
score most and the latest are always among those listed."""
FIRST, CONNECTION, RETENTION = "initial score", "a connection's record changed", "old records retired"
RECALCULATED = "scheduled recalculation"
POPULATION = "population re-score"
"""A batch job's scores of everyone, imported (service/score_import.py)."""
FIXED_CAUSES = {FIRST: "your first score", CONNECTION: "a change in the record of someone you are connected to",
                "model promoted": "we started using an updated scoring model",
                RETENTION: "records older than our retention period stopped counting",
                RECALCULATED: "the regular recalculation of your score",
                POPULATION: "the regular recalculation of everyone's scores"}
EVENT_CAUSE = re.compile(r"^event (\S+) reported$")
DISPUTE_CAUSE = re.compile(r"^dispute (\S+) corrected$")


@dataclass
class EventFacts:
    """What a person reads about one reported event: who reported what."""

    merchant: str
    kind: str
    status: str
    days_late: float | None


@dataclass
class Point:
    at: datetime
    score: int
    band: str
    reasons: list[str] = field(default_factory=list)
    last: int = -1
    """The index of the last row the point stands for (its stored cause is that row's)."""


@dataclass
class Period:
    start: datetime
    label: str
    score: int
    low: int
    high: int
    changes: int


def spec_of(scorer: object) -> DatasetSpec | None:
    """The served data set's spec (what its event statuses mean), when the scorer serves a data set."""
    dataset = getattr(scorer, "dataset", None)
    return dataset.spec if dataset is not None else None


def correctable_statuses(spec: DatasetSpec | None) -> frozenset[str]:
    """The statuses a corrected event may get: the served data set's own (its spec), else the data model's;
    none where its spec declares no events (a profile-only data set holds no event to correct)."""
    if spec is None:
        return EVENT_STATUSES
    return frozenset(spec.events.statuses) if spec.events is not None else frozenset()


def status_meaning(status: str, spec: DatasetSpec | None) -> str:
    """kept | late | broken | open | neutral: the spec's word for the status, else the data model's default."""
    if spec is not None and spec.events is not None and status in spec.events.statuses:
        return spec.events.statuses[status].meaning
    if status in GOOD_STATUSES:
        return "kept"
    if status in SEVERE_STATUSES:
        return "broken"
    return "late" if status in {"late", "overdue", "returned_late"} else "neutral"


def _words(value: str) -> str:
    return value.replace("_", " ").strip()


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def describe_event(e: EventFacts, spec: DatasetSpec | None) -> str:
    """"Acme Rentals reported a rental returned late (3 days after it was due)": merchant, kind, status in
    the data set's own words, and what the status means (days late, or a commitment not kept)."""
    meaning = status_meaning(e.status, spec)
    text = f"{e.merchant} reported {_article(_words(e.kind))} {_words(e.status)}"
    if meaning == "late" and e.days_late:
        days = int(round(e.days_late))
        text += f" ({days} day{'s' if days != 1 else ''} after it was due)"
    elif meaning == "broken":
        text += " (not kept)"
    return text


def describe_cause(cause: str, event: Callable[[str], str | None], dispute: Callable[[str], str | None]) -> str:
    """A stored cause in words; `event(ref)` and `dispute(id)` describe the records they name (None: gone)."""
    if cause in FIXED_CAUSES:
        return FIXED_CAUSES[cause]
    m = EVENT_CAUSE.match(cause)
    if m:
        return event(m.group(1)) or "a merchant reported an outcome"
    m = DISPUTE_CAUSE.match(cause)
    if m:
        about = dispute(m.group(1))
        return f"your dispute was accepted and the record corrected{': ' + about if about else ''}"
    return cause


def describer(s: Session, subject: str, merchants: dict[int, str], spec: DatasetSpec | None
              ) -> Callable[[str], str]:
    """cause -> words for one person's stored causes: their reported events and disputes, looked up once."""
    facts = {e.public_id: EventFacts(merchants.get(e.merchant_id, "a merchant"), e.kind, e.status, e.days_late)
             for e in s.execute(select(ServiceEvent).where(ServiceEvent.subject == subject)).scalars()}
    disputed = {i: (ref, attribute) for i, ref, attribute in s.execute(
        select(Dispute.public_id, Dispute.event_ref, Dispute.attribute).where(Dispute.subject == subject)).all()}
    texts = {a.name: a.text for a in spec.profile.attributes} if spec is not None else {}
    words: dict[str, str] = {}

    def event(ref: str) -> str | None:
        if ref not in words and ref in facts:
            words[ref] = describe_event(facts[ref], spec)
        return words.get(ref)

    def dispute(i: str) -> str | None:
        ref, attribute = disputed.get(i, (None, None))
        if attribute is not None:
            return texts.get(attribute, attribute.replace("_", " "))
        return event(ref) if ref is not None else None

    return lambda cause: describe_cause(cause, event, dispute)


def _summarise(changes: Sequence[tuple[str, int]]) -> list[str]:
    """(reason in words, points it moved the score) per row of one point -> each reason once, with its count.

    At most MAX_REASONS are listed, the rest counted ("and 3 more changes"). Which are listed goes by how
    far each moved the score, then by how often it occurs: the cause that moved the score most is never the
    one cut off (a late instalment that cost 88 points is not hidden behind small repeated ones), and nor is
    the latest. Listed in the order they happened.
    """
    counts = Counter(text for text, _ in changes)
    moved: dict[str, int] = {}
    for text, delta in changes:
        moved[text] = max(moved.get(text, 0), abs(delta))
    order = list(counts)  # first occurrence: the order they happened (ties keep it: sorted is stable)
    ranked = sorted(order, key=lambda t: (-moved[t], -counts[t]))
    keep = ranked[:MAX_REASONS]
    latest = changes[-1][0] if changes else None
    if latest is not None and latest not in keep:
        keep[-1] = latest
    out = [f"{text} ({counts[text]} times)" if counts[text] > 1 else text for text in order if text in keep]
    rest = sum(n for text, n in counts.items() if text not in keep)
    if rest:
        out.append(f"and {rest} more change{'s' if rest != 1 else ''}")
    return out


def points(rows: Sequence[tuple[datetime, int, str, str]]) -> list[Point]:
    """(at, score, band, reason in words) per stored row, oldest first -> the first score, then one point per
    day with a change.

    The first row is a point of its own (the score the person started from: "your score went from 710 to
    672" names it). After it, a day's point carries its last score and every reason of that day, each
    weighed by how far its row moved the score (a day whose score ends where the previous point stood is
    dropped, its reasons with it: nothing changed that day as the person sees it).
    """
    out: list[Point] = []
    day: list[tuple[str, int]] = []
    for i, (at, score, band, reason) in enumerate(rows):
        if i == 0:
            out.append(Point(at, score, band, [reason], last=0))
            continue
        day.append((reason, score - rows[i - 1][1]))
        last_of_day = i + 1 == len(rows) or rows[i + 1][0].date() != at.date()
        if not last_of_day:
            continue
        if (score, band) != (out[-1].score, out[-1].band):
            out.append(Point(at, score, band, _summarise(day), last=i))
        day = []
    return out


def periods(pts: Sequence[Point], max_periods: int = MAX_PERIODS) -> tuple[str, list[Period]]:
    """The points grouped by the finest period giving at most `max_periods` groups: (period name, groups)."""
    if not pts:
        return "day", []
    frame = pd.DataFrame({"at": [p.at.replace(tzinfo=None) for p in pts], "score": [p.score for p in pts]})
    for name, code in PERIODS:
        key = frame["at"].dt.to_period(code)
        if key.nunique() <= max_periods or name == PERIODS[-1][0]:
            break
    groups = []
    for period, g in frame.groupby(key, sort=True):
        start = period.start_time.to_pydatetime()
        groups.append(Period(start, _period_label(name, start), int(g["score"].iloc[-1]), int(g["score"].min()),
                             int(g["score"].max()), len(g)))
    return name, groups


def _period_label(name: str, start: datetime) -> str:
    if name in ("day", "week"):
        return start.strftime("%d %b %Y").lstrip("0")
    if name == "month":
        return start.strftime("%b %Y")
    if name == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


def page(pts: Sequence[Point], number: int, size: int = PAGE_SIZE) -> tuple[list[Point], int, int]:
    """Page `number` (1 = newest) of the points newest first: (rows, the page shown, how many pages)."""
    pages = max(1, math.ceil(len(pts) / size))
    number = min(max(1, number), pages)
    newest = list(reversed(pts))
    return newest[(number - 1) * size: number * size], number, pages


def next_recalculation(scored_at: datetime | None, now: datetime, every_days: int) -> datetime | None:
    """When the score is recalculated at the latest: `every_days` after the last calculation (any new record
    recalculates it sooner); a date already past means the next scheduled run (the next day)."""
    if scored_at is None:
        return None
    due = scored_at + timedelta(days=every_days)
    return due if due > now else (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
