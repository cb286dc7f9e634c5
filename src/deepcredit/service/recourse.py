"""What would raise me to the next band: the smallest plan of future behaviour the model says gets there.

For any model the service serves (through ModelScorer, the one scoring path): a plan is a set of future
commitments kept, written as events dated after now and scored as of the plan's end. Nothing in the past
is edited, and nothing but events is simulated, so only what the person can do by their own behaviour
moves: profile attributes (protected or not, actionable or not) are copied as they are, and the search
refuses any plan whose features read from the profile or from a protected attribute differ from those of
the empty plan (time passing, every commitment kept) as a guard.

The behaviours come from the data set's own spec and data, not from any one data set: for each event kind
(other than ratings, which others give) the statuses the spec says mean "kept" that the data holds for
that kind, at the person's usual amount for the kind (the data set's median when they have none), and for
kinds whose amount is money owed also at half that amount ("keep your bills to about half their usual
size"). Amounts are written in the unit the spec declares for money (the unit of its credit line or
income attribute, "EUR"); a kind the data set holds no amounts of (no amount column, or 0 on every row)
gets none, so a plan says nothing about money it cannot know. The pace follows the data set's declared
period ([windows] period) and the person's own observed pace of each kind (their events of it per period,
over the span of their record): a kind the person does themselves (a repayment, an order) once, once a
period, or at their own pace; a kind whose amount is money owed is issued by the business (a bill, an
invoice), so a plan only has the person keep the ones that come at their own pace, and none where they have had none. Candidates over 3, 6
and 12 months: the empty plan and each behaviour at each of its paces (one model run for every horizon:
scoring.ModelScorer.score_futures scores copies of the person, each as of its plan's end), then, only if
none reaches, every pair of behaviours at the same pace and everything at once (a second run). The smallest reaching plan (fewest behaviours, then fewest events, then
the shortest horizon) is re-scored on the person's own record as a re-score would (`verify`); the next
smallest is tried if the copy's score does not hold there, so a promised band is the model's own answer.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from deepcredit.data.spec import DatasetSpec
from deepcredit.features.spec import Source
from deepcredit.features.templates import currency
from deepcredit.service.context import DEFAULT_BANDS, ServiceContext, scale_bands
from deepcredit.service.history import status_meaning
from deepcredit.service.problems import Problem
from deepcredit.service.schemas import RecourseOut, RecourseStep
from deepcredit.service.scoring import OVERLAY_COLUMNS, ModelScorer
from deepcredit.service.store.models import Score

HORIZONS = (3, 6, 12)
"""Months a plan may take, shortest tried first."""
MONTH = timedelta(days=30)
MAX_BEHAVIOURS = 8
VERIFY_AT_MOST = 4
"""Reaching plans re-scored on the person's own record, cheapest first, before giving up on a promise."""


def plural(noun: str) -> str:
    """The English plural of a kind's name, whoever declared it: a utility -> utilities, a tax -> taxes."""
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + ("es" if re.search(r"(s|x|z|ch|sh)$", noun) else "s")


@dataclass(frozen=True)
class Behaviour:
    kind: str
    status: str
    amount: float | None
    smaller: bool = False
    """The amount is half the usual: for money owed, a smaller bill."""
    pace: float | None = None
    """The person's own events of this kind per period, over the span of their record (None: they have none)."""
    issued: bool = False
    """A kind the business issues (its amount is money owed): a plan only keeps those that come at `pace`."""
    unit: str = ""
    """The unit the spec declares for money ("EUR"), written after the amount."""
    priced: bool = True
    """Whether the data set holds amounts for this kind; without (no amount column, or 0 on every row) the
    plan says nothing about money and its simulated events carry the 0 the data set stores."""


def status_words(status: str) -> str:
    """A status in words: 'paid_full' -> 'paid in full' (a verb before a closing 'full' takes 'in')."""
    words = status.replace("_", " ")
    return re.sub(r" full$", " in full", words) if re.search(r"\w (?<!\bin )full$", words) else words


@dataclass(frozen=True)
class Step:
    behaviour: Behaviour
    count: int

    def text(self) -> str:
        b = self.behaviour
        noun = b.kind.replace("_", " ")
        noun = plural(noun) if self.count != 1 else noun
        words = f"{self.count} {noun} {status_words(b.status)}"
        if b.amount is not None:
            words += f", about {b.amount:,.0f}{' ' + b.unit if b.unit else ''} each"
            if b.smaller:
                words += " (half your usual)"
        return words


@dataclass(frozen=True)
class Plan:
    months: int
    steps: tuple[Step, ...] = ()

    @property
    def effort(self) -> tuple[int, int, int]:
        return len(self.steps), sum(s.count for s in self.steps), self.months

    def text(self) -> str:
        keep = "keep every commitment you already have on time"
        if not self.steps:
            return f"Over the next {self.months} months, {keep}."
        return f"Over the next {self.months} months: " + "; ".join(s.text() for s in self.steps) + f"; and {keep}."

    def end(self, start: datetime) -> datetime:
        """When the plan ends: `months` calendar months after `start` (what "in 6 months" means to a person)."""
        return (pd.Timestamp(start) + pd.DateOffset(months=self.months)).to_pydatetime()

    def events(self, start: datetime) -> pd.DataFrame:
        """The plan as events strictly after `start` and before its end, spread evenly; kept, on time."""
        rows = []
        span = self.end(start) - start
        for s in self.steps:
            for i in range(s.count):
                ts = start + span * (i + 1) / (s.count + 1)
                b = s.behaviour
                rows.append((None, ts, b.kind, b.amount if b.priced else 0.0, b.status, ts, 0.0, None, None))
        return pd.DataFrame(rows, columns=list(OVERLAY_COLUMNS))


@dataclass
class Suggestion:
    score: int
    band: str
    target_band: str | None
    """None: already in the top band."""
    target_score: int | None
    plan: Plan | None
    score_after: int | None = None
    band_after: str | None = None
    reached: bool = False
    until: datetime | None = None
    notes: list[str] = field(default_factory=list)


def next_band(score: int, bands: Sequence[tuple[str, int]]) -> tuple[str, int] | None:
    """The band above the one `score` is in, with its lower edge (None in the top band)."""
    above = [(n, int(lo)) for n, lo in bands if int(lo) > score]
    return above[0] if above else None


@functools.lru_cache(maxsize=8)
def _kept_kinds(scorer: ModelScorer) -> tuple[tuple[str, str, float | None], ...]:
    """(kind, kept status, median amount) the data set holds, most frequent first (one scan per scorer); the
    median is None for a kind without amounts (no amount column, or 0 on every row of the kind)."""
    spec: DatasetSpec = scorer.dataset.spec
    if spec.events is None:
        return ()
    con = scorer.cursor()
    try:
        rows = con.execute(f"SELECT kind, status, median(amount), count(*) AS n, "
                           "max(max(abs(amount))) OVER (PARTITION BY kind) "
                           f"FROM {scorer.dataset.scan('events')} GROUP BY kind, status ORDER BY n DESC").fetchall()
    finally:
        con.close()
    rating = spec.events.kinds_amount("rating")
    priced = bool(spec.events.columns.amount)
    return tuple((str(k), str(st), None if a is None or np.isnan(a) or not (priced and top) else float(a))
                 for k, st, a, _, top in rows if str(k) not in rating and status_meaning(str(st), spec) == "kept")


def money_unit(spec: DatasetSpec) -> str:
    """The unit the spec declares for money ("EUR"; "" where it declares none): the one the template
    features' money reads in (features.templates.currency)."""
    return currency(spec)


def own_paces(events: pd.DataFrame, period: int, now: datetime | None = None) -> dict[str, float]:
    """Each kind's events per `period` days in the person's record: its count over the record's span (from
    their first event to `now`, else to their latest; at least one period)."""
    if not len(events):
        return {}
    ts = pd.to_datetime(events["ts"])
    end = pd.Timestamp(now).tz_localize(None) if now is not None else ts.max()
    span = max(float(period), (end - ts.min()).total_seconds() / 86400)
    return {str(k): n * period / span for k, n in events.groupby("kind").size().items()}


def behaviours(scorer: ModelScorer, person_id: str, now: datetime | None = None) -> list[Behaviour]:
    """What the person could do, from the spec and the data (see the module docstring)."""
    spec = scorer.dataset.spec
    own = scorer.person_events(person_id)
    if now is not None and len(own):  # historical data served as of an earlier date: what was known by then
        own = own[pd.to_datetime(own["ts"]) <= pd.Timestamp(now).tz_localize(None)]
    usual = own.groupby("kind")["amount"].median().to_dict() if len(own) else {}
    paces = own_paces(own, spec.windows.period, now)
    owed = spec.events.kinds_amount("owed") if spec.events is not None else frozenset()
    unit = money_unit(spec)
    out: list[Behaviour] = []
    seen_kinds: set[str] = set()
    for kind, status, median in _kept_kinds(scorer):
        if kind in seen_kinds:  # the most frequent kept status of each kind
            continue
        seen_kinds.add(kind)
        if kind in owed and kind not in paces:  # the business issues these; none has come to this person
            continue
        priced = median is not None  # the data set holds amounts for this kind
        amount = usual.get(kind, median) if priced else None
        amount = None if amount is None or pd.isna(amount) else round(float(amount), 2)
        said = unit if amount is not None else ""
        out.append(Behaviour(kind, status, amount, pace=paces.get(kind), issued=kind in owed, unit=said,
                             priced=priced))
        if kind in owed and amount:
            out.append(Behaviour(kind, status, round(amount / 2, 2), smaller=True, pace=paces.get(kind),
                                 issued=True, unit=said))
    return out[:MAX_BEHAVIOURS]


def paces_of(b: Behaviour, months: int, period: int) -> list[int]:
    """How many events of `b` a plan of `months` may hold, fewest first: a kind the business issues only at
    the person's own pace; any other once, once a `period`, or at the person's own pace."""
    per_period = max(1, round(months * MONTH.days / period))
    own = None if b.pace is None else max(1, round(b.pace * months * MONTH.days / period))
    if b.issued:
        return [] if own is None else [own]
    return sorted({1, per_period} | ({own} if own is not None else set()))


def candidates(options: Sequence[Behaviour], months: int, pairs: bool = False, period: int = 30) -> list[Plan]:
    """Singles (pairs=False): the empty plan and each behaviour at each of its paces (paces_of: `period` is
    the data set's declared period in days). Pairs: every two behaviours of different kinds at the same
    pace (the fewest, the next...; one with fewer paces keeps its last), and everything at once, each at
    its most."""
    paces = {b: paces_of(b, months, period) for b in options}
    usable = [b for b in options if paces[b]]
    if not pairs:
        return [Plan(months)] + [Plan(months, (Step(b, n),)) for b in usable for n in paces[b]]
    plans: list[Plan] = []
    for a, b in itertools.combinations(usable, 2):
        if a.kind == b.kind:
            continue
        pa, pb = paces[a], paces[b]
        plans += list(dict.fromkeys(Plan(months, (Step(a, pa[min(i, len(pa) - 1)]), Step(b, pb[min(i, len(pb) - 1)])))
                                    for i in range(max(len(pa), len(pb)))))
    if len(usable) > 2:
        plans.append(Plan(months, tuple(Step(b, paces[b][-1]) for b in usable if not b.smaller)))
    return plans


def fixed_columns(scorer: ModelScorer) -> list[str]:
    """Features a plan must never move: read from the profile or from a protected attribute."""
    return [d.name for d in scorer.definitions if d.source is Source.PROFILE or d.is_protected()]


def suggest(scorer: ModelScorer, person_id: str, score: int, band: str, now: datetime,
            bands: Sequence[tuple[str, int]]) -> Suggestion:
    """The smallest plan of future behaviour that raises `person_id` from `score` to the next band.

    Two batched model runs at most (singles over every horizon, then pairs), then the cheapest reaching
    plans are re-scored on the person's own record (`verify`) until one holds: what is promised is what a
    re-score after those events gives.
    """
    target = next_band(score, bands)
    if target is None:
        keep = ": keep your commitments to stay there." if _kept_kinds(scorer) else "."
        return Suggestion(score, band, None, None, None, reached=True, notes=[f"You are in the top band{keep}"])
    options = behaviours(scorer, person_id, now)
    period = scorer.dataset.spec.windows.period
    out = Suggestion(score, band, target[0], target[1], None)
    if not options:  # time passing alone is no plan to offer: nothing to do, and nothing to keep
        out.notes.append("The records we score hold no commitments you could add by your own behaviour, so no "
                         "plan of future behaviour can be tested. The reasons above say which of the details we "
                         "hold lower your score, and what you can do about each.")
        return out
    fixed = fixed_columns(scorer)
    best: tuple[int, Plan, str] | None = None
    for pairs in (False, True):
        plans = [p for months in HORIZONS for p in candidates(options, months, pairs, period)]
        if not plans:
            continue
        empty = [Plan(m) for m in HORIZONS]  # the reference each plan's fixed features are compared with
        scored = scorer.score_futures(person_id, [(p.events(now), p.end(now)) for p in empty + plans])
        ref = {m: i for i, m in enumerate(HORIZONS)}
        scored_plans = scored.iloc[len(empty):].reset_index(drop=True)
        cols = [c for c in fixed if c in scored.columns]
        values = scored[cols].astype(str)  # NaN reads "nan" on both sides
        ok = [bool((values.iloc[len(empty) + i] == values.iloc[ref[p.months]]).all()) for i, p in enumerate(plans)]
        reach = sorted((p.effort, i) for i, p in enumerate(plans)
                       if ok[i] and scored_plans["score"].iloc[i] >= target[1])
        for _, i in reach[:VERIFY_AT_MOST]:
            got, got_band = verify(scorer, person_id, plans[i], now)
            if got >= target[1]:
                out.plan, out.score_after, out.band_after, out.reached = plans[i], got, got_band, True
                out.until = plans[i].end(now)
                return out
        i = int(scored_plans["score"].to_numpy().argmax())
        if best is None or int(scored_plans["score"].iloc[i]) > best[0]:
            best = (int(scored_plans["score"].iloc[i]), plans[i], str(scored_plans["band"].iloc[i]))
    if best is not None:
        out.notes.append(f"No plan within {HORIZONS[-1]} months reaches {target[0]}; this one comes closest.")
        out.plan, out.score_after, out.band_after = best[1], best[0], best[2]
        out.until = best[1].end(now)
    return out


def verify(scorer: ModelScorer, person_id: str, plan: Plan, now: datetime) -> tuple[int, str]:
    """The plan applied to the person's own record as future events and re-scored: (score, band)."""
    return scorer.score_with(person_id, plan.events(now), plan.end(now))


# -- the service's answer ------------------------------------------------------------------------------

def to_out(s: Suggestion, model_id: str | None) -> RecourseOut:
    steps = [RecourseStep(kind=x.behaviour.kind, status=x.behaviour.status, count=x.count, amount=x.behaviour.amount,
                          text=x.text()) for x in (s.plan.steps if s.plan else ())]
    if s.target_band is None:
        summary = "You are in the top band."
    elif s.plan is None:
        summary = f"We found no plan of future behaviour that moves you towards {s.target_band}."
    else:
        summary = s.plan.text()
    return RecourseOut(score=s.score, band=s.band, target_band=s.target_band, target_score=s.target_score,
                       reached=s.reached, score_after=s.score_after, band_after=s.band_after,
                       months=s.plan.months if s.plan else None, until=s.until, steps=steps, summary=summary,
                       notes=s.notes, model_id=model_id)


def person_recourse(ctx: ServiceContext, subject: str) -> RecourseOut:
    """The person's own what-if answer (never a merchant's): from their stored score, as of now."""
    with ctx.db.read() as s:
        score = s.get(Score, subject)
    scorer = ctx.scorer
    if score is None:
        return RecourseOut(score=None, band=None, target_band=None, target_score=None, reached=False,
                           score_after=None, band_after=None, months=None, until=None, steps=[],
                           summary="We hold no score for you yet.", notes=[], model_id=None)
    if not isinstance(scorer, ModelScorer):
        raise Problem(501, "recourse-unavailable", "what-if answers need a model scorer")
    def work_out() -> RecourseOut:
        now = ctx.now() + timedelta(microseconds=1)
        return to_out(suggest(scorer, subject, score.score, score.band, now, scale_bands(scorer) or DEFAULT_BANDS),
                      score.model_id)

    return ctx.answers.get("recourse", score, scorer.model_id, work_out)
