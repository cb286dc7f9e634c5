"""The person's own report: score, band, five dimensions, reasons, history, who looked, what data is used.

One builder (`build`) feeds both the JSON response and the HTML page, so the two can never disagree. The
page is one self-contained file: inline CSS and server-drawn SVG (a radar of the five dimensions), no
script and nothing fetched from elsewhere, so it renders the same offline, in a mail or in a headless
browser, and a strict Content-Security-Policy can forbid everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, time
from functools import lru_cache

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deepcredit.data.spec import DatasetSpec
from deepcredit.data.spec_profile import Attribute
from deepcredit.features.spec import shown_in
from deepcredit.scoring.scorer import NO_RECORD_PART
from deepcredit.service import alerts as alert_feed
from deepcredit.service import consent as consents
from deepcredit.service import disputes as dispute_mod
from deepcredit.service import history as hist
from deepcredit.service.attribute_fixes import shown
from deepcredit.service.context import DEFAULT_BANDS, ServiceContext
from deepcredit.service.record_dates import own_dates
from deepcredit.service.records import amounts_held
from deepcredit.service.recourse import money_unit
from deepcredit.service.schemas import (
    FACTORS_DISCLOSES,
    AccessOut,
    ConsentOut,
    DataCategory,
    Dimension,
    EventOut,
    HistoryPoint,
    PersonDimension,
    PersonReport,
    ProfileItem,
    ReasonOut,
    RecordsOut,
    RecourseOut,
    Scope,
    _as_utc,
)
from deepcredit.service.store.models import (
    AuditEntry,
    Consent,
    Decision,
    Merchant,
    Score,
    ScoreHistory,
    ServiceEvent,
)

ACCESS_ACTIONS = ("decision", "decision_replayed", "decision_refused", "event_reported", "event_refused",
                  "dispute_read", "dispute_under_review", "dispute_corrected", "dispute_upheld")
ACTION_WORDS = {"decision": "asked for a decision", "decision_replayed": "repeated an earlier question",
                "decision_refused": "asked for a decision", "event_reported": "reported an outcome",
                "event_refused": "tried to report an outcome", "dispute_read": "read your dispute",
                "dispute_under_review": "started reviewing your dispute",
                "dispute_corrected": "accepted your dispute and corrected the record",
                "dispute_upheld": "reviewed your dispute and kept the record"}
"""What each look at the person's data was, as the page says it: 'dispute upheld' read as the person's win."""
assert set(ACCESS_ACTIONS) == set(ACTION_WORDS)
DIMENSION_LABELS = {"identity": "Identity", "credit_history": "Credit history",
                    "fulfilment_capacity": "Fulfilment capacity", "behaviour_preferences": "Behaviour",
                    "social_connections": "Connections"}
MAX_EVENTS, MAX_ACCESSES, MAX_ALERTS = 50, 100, 20
"""MAX_EVENTS: the records listed per page of `events` (newest first; `events_page` pages through the rest);
MAX_ACCESSES: the looks listed per page of `accesses` (`accesses_page`), so none is out of the person's reach
however many cheap ones follow it; MAX_ALERTS: the latest alerts shown (`alerts_held` counts them all)."""
RESULT_WORDS = {"admit": "admitted", "decline": "declined", "no_score": "not admitted: no score held",
                "consent-required": "refused: you had not given consent for this",
                "consent-used": "refused: your consent for that order had already been used for a decision",
                "threshold-probing-limit": "refused: the merchant changed its threshold too often",
                "transaction-conflict": "refused: it reused the id of an earlier, different request",
                "no-order": "refused: no order of yours it had decided on",
                "no-such-policy": "refused: it named a policy it does not have",
                "record-removed": "the record was removed"}
"""What a look at the person's data ended in, as the page says it (the audit log's codes)."""
DISPUTE_WORDS = {"open": "open", "under_review": "under review", "corrected": "corrected: the record was changed",
                 "upheld": "kept: the record was found right"}
REMOVED_WORDS = "corrected: the record was removed"
"""A corrected dispute whose correction removed the record (it is gone, not changed)."""
SCOPE_WORDS = {"admittance": "the decision only", "band": "your band", "score": "your score",
               "factors": "your score, five dimensions and the reasons"}
"""What a merchant saw under each consent scope, as the page says it (the access log and the consents)."""
MEANING_WORDS = {"kept": "kept: on time", "late": "late", "broken": "missed: not kept", "open": "still open",
                 "neutral": "neutral: activity, not a commitment"}
"""What a record's status means (its data set's spec), as the page says it beside the status."""


HELD = "records held on you"
"""The source shown for an event the model's data set holds (not one a merchant reported here)."""


def build(ctx: ServiceContext, subject: str, events_page: int = 1, accesses_page: int = 1) -> PersonReport:
    """The person's report; `events` holds page `events_page` (1 = newest) of their records, MAX_EVENTS a
    page, and `events_held` says how many there are in all; `accesses` likewise page `accesses_page` of the
    looks at their data, MAX_ACCESSES a page, `accesses_held` in all."""
    now = ctx.now()
    with ctx.db.read() as s:
        score = s.get(Score, subject)
        history = s.execute(select(ScoreHistory).where(ScoreHistory.subject == subject)
                            .order_by(ScoreHistory.as_of, ScoreHistory.id)).scalars().all()
        looks = (AuditEntry.subject == subject, AuditEntry.action.in_(ACCESS_ACTIONS))
        accesses_held = s.execute(select(func.count()).select_from(AuditEntry).where(*looks)).scalar_one()
        accesses_pages = max(1, math.ceil(accesses_held / MAX_ACCESSES))
        accesses_page = min(max(1, accesses_page), accesses_pages)
        audit = s.execute(select(AuditEntry).where(*looks).order_by(AuditEntry.seq.desc())
                          .offset((accesses_page - 1) * MAX_ACCESSES).limit(MAX_ACCESSES)).scalars().all()
        merchants = dict(s.execute(select(Merchant.id, Merchant.name)).all())
        grants = consents.list_for(ctx, s, subject)
        disputes = dispute_mod.list_for(s, ctx, subject=subject)
        words = hist.describer(s, subject, merchants, hist.spec_of(ctx.scorer))
        reported = s.execute(select(ServiceEvent).where(ServiceEvent.subject == subject)).scalars().all()
        service_events = {e.public_id: merchants.get(e.merchant_id, "a merchant") for e in reported}
        when = {e.public_id: e.ts for e in reported}  # a reported record's own date (record_dates)
        accesses = _accesses(s, subject, audit, merchants, grants)
    points = hist.points([(h.as_of, h.score, h.band, words(h.cause)) for h in history])
    active = {d.event_id: d.state for d in disputes if d.state.value in dispute_mod.ACTIVE}
    spec = hist.spec_of(ctx.scorer)
    priced = amounts_held(spec)
    events: list[EventOut] = []
    reader = getattr(ctx.scorer, "held", None)  # a ModelScorer's; a stand-in scorer holds no records
    held = reader(subject) if reader is not None else None
    events_held, events_pages = 0, 1
    if held is None:
        events_page = 1
    else:
        read = held.events[held.events["ts"] <= pd.Timestamp(now)]  # historical data: not what comes after now
        read = own_dates(read, when)  # shown at its own date, with when it was reported (order kept)
        events_held = len(read)
        events_pages = max(1, math.ceil(events_held / MAX_EVENTS))
        events_page = min(max(1, events_page), events_pages)
        start = (events_page - 1) * MAX_EVENTS
        for r in read.iloc[start:start + MAX_EVENTS].itertuples(index=False):
            ref = None if _missing(r.event_id) else str(r.event_id)
            events.append(EventOut(event_id=ref, ts=r.ts.to_pydatetime(), kind=str(r.kind), status=str(r.status),
                                   amount=None if _missing(r.amount) or not priced else float(r.amount),
                                   days_late=None if _missing(r.days_late) else float(r.days_late),
                                   reported_at=None if _missing(r.reported_at) else r.reported_at.to_pydatetime(),
                                   source=HELD if ref is None else service_events.get(ref, HELD),
                                   disputed=ref in active, dispute_state=None if ref is None else active.get(ref)))
    latest = held.latest_profile(now) if held is not None else {}
    disputing = {d.attribute: d.state for d in disputes if d.attribute and d.state.value in dispute_mod.ACTIVE}
    profile = [ProfileItem(attribute=name, text=a.text, value=shown(latest[name]),
                           reads=as_read(a, latest[name], spec), disputed=name in disputing,
                           dispute_state=disputing.get(name))
               for name, a in dispute_mod.disputable_attributes(ctx).items() if name in latest]
    categories = ctx.scorer.data_categories() if ctx.scorer is not None else []
    alerts = alert_feed.feed(ctx, subject, limit=None)  # the feed is built whole: counting it costs nothing more
    return PersonReport(
        scored=score is not None, score=score.score if score else None, band=score.band if score else None,
        scored_at=score.as_of if score else None, model_id=score.model_id if score else None,
        dimensions=[PersonDimension(**d) for d in score.dimensions] if score else [],
        reasons=[ReasonOut(**r) for r in score.reasons] if score else [],
        history=[HistoryPoint(as_of=p.at, score=p.score, band=p.band, cause=history[p.last].cause,
                             reasons=p.reasons)
                 for p in points],
        next_recalculation=hist.next_recalculation(score.as_of if score else None, now,
                                                   ctx.settings.recalculation_days),
        accesses=accesses, accesses_held=accesses_held, accesses_page=accesses_page, accesses_pages=accesses_pages,
        accesses_first=(accesses_page - 1) * MAX_ACCESSES + 1 if accesses else 0, data_categories=[DataCategory(**c) for c in categories], events=events,
        events_held=events_held, events_page=events_page, events_pages=events_pages,
        events_first=(events_page - 1) * MAX_EVENTS + 1 if events else 0, profile=profile,
        consents=grants, disputes=disputes, alerts=alerts[:MAX_ALERTS], alerts_held=len(alerts), bands=ctx.bands or DEFAULT_BANDS, generated_at=now)


def _accesses(s: Session, subject: str, audit: Sequence[AuditEntry], merchants: dict[int, str],
              grants: Sequence[ConsentOut]) -> list[AccessOut]:
    """The audit's looks at the person, as their report lists them. A request refused for want of consent says
    when the person had withdrawn the consent it needed (`withdrawn_at`, from their consents) or when that
    consent had run out (`expired_at`); a refused
    replay of an earlier request, which the audit writes without a scope or purpose, shows the earlier
    request's (what it asked for again)."""
    rows = [(a, json.loads(a.details)) for a in audit]
    # an audit row names a decision by its public id; one written before schema s0006 by its row key
    replays = {d["replay_of"] for a, d in rows if d.get("replay_of") is not None}
    earlier: dict[int | str, Decision] = {}
    if replays:
        keys = [r for r in replays if isinstance(r, int)]
        for x in s.execute(select(Decision).where(Decision.id.in_(keys) | Decision.public_id.in_(
                [str(r) for r in replays if not isinstance(r, int)]))).scalars():
            earlier[x.id] = earlier[x.public_id] = x
    asked: dict[int, str] = {}
    grant_of: dict[int, str] = {}  # a consent's row key (a decision's consent_id) -> its public id (a grant's id)
    if replays:  # the scope the earlier request was decided under (its own audit row)
        grant_of = {i: p for i, p in s.execute(select(Consent.id, Consent.public_id).where(Consent.subject == subject))}
        for (details,) in s.execute(select(AuditEntry.details).where(AuditEntry.subject == subject,
                                                                     AuditEntry.action == "decision")):
            d = json.loads(details)
            decided = earlier.get(d.get("decision")) if isinstance(d.get("decision"), int | str) else None
            if decided is not None and d.get("scope"):
                asked[decided.id] = str(d["scope"])
    by_id = {c.id: c for c in grants}
    out = []
    for a, d in rows:
        merchant = int(a.actor.split(":")[1]) if a.actor.startswith("merchant:") else None
        who = merchants.get(merchant, a.actor) if merchant is not None else a.actor
        scope, purpose, result = d.get("scope"), d.get("purpose"), d.get("result") or d.get("reason")
        if a.action == "dispute_corrected" and d.get("correction") == "remove":
            result = "record-removed"  # corrected by removing the record: gone, not changed
        withdrawn, expired, at = None, None, _as_utc(a.at)  # a consent's times are given in UTC: compared as such
        if d.get("replay_of") is not None:
            prior = earlier.get(d["replay_of"])
            if prior is not None:
                purpose = purpose or prior.response.get("purpose")
                scope = scope or asked.get(prior.id)
                grant = by_id.get(grant_of.get(prior.consent_id, ""))
                if grant is not None and grant.revoked_at is not None and grant.revoked_at <= at:
                    withdrawn = grant.revoked_at
                elif grant is not None and grant.expires_at <= at:
                    expired = grant.expires_at
        elif result == "consent-required" and merchant is not None:
            level = Scope(scope).level if scope in set(Scope) else 0
            covering = [c for c in grants if c.merchant_id == merchant and c.purpose == purpose
                        and c.scope.level >= level and c.created_at <= at]
            withdrawn = max((c.revoked_at for c in covering if c.revoked_at is not None and c.revoked_at <= at),
                            default=None)
            expired = max((c.expires_at for c in covering if c.revoked_at is None and c.expires_at <= at),
                          default=None)
        refused = result == "consent-required"
        out.append(AccessOut(at=a.at, who=who, action=a.action, scope=scope, purpose=purpose, result=result,
                             withdrawn_at=withdrawn if refused else None,
                             expired_at=expired if refused and withdrawn is None else None))
    return out


def as_read(a: Attribute, value: object, spec: DatasetSpec | None = None) -> str | None:
    """A held profile value as a person reads it (None where none is held): a category's code in words
    (civil_servant: civil servant), a flag as yes or no, a date as a date ("member since 7 October 2024" for
    the date the person joined), a number with its thousands grouped and the unit the spec declares (a
    credit line or income without its own, the spec's money unit), a special value as its declared meaning."""
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if a.type == "boolean":
        flag = value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "y", "t")
        return "yes" if flag else "no"
    if a.type == "date":
        day = pd.Timestamp(value).strftime("%d %B %Y").lstrip("0")
        return f"member since {day}" if a.role == "joined_at" else day
    if a.type == "numeric":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value)
        meaning = next((m for code, m in a.special.items() if float(code) == number), None)
        if meaning is not None:
            return meaning
        unit = a.unit or (money_unit(spec) if spec is not None and a.role in ("credit_line", "income") else "")
        return shown_in(unit, number)
    return " ".join(str(value).replace("_", " ").split())


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("NaT", "nan", "<NA>")


# -- HTML -------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("deepcredit.service", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def radar(dimensions: Sequence[Dimension], size: int = 300, margin: int = 90) -> dict:
    """SVG geometry for a five-axis radar: each axis the dimension's 0-100 rating (its points on the rating's scale).

    The horizontal margin leaves room for the axis labels left and right of the pentagon.
    """
    cx, cy, r = size / 2 + margin, size / 2, size / 2 - 40
    n = max(len(dimensions), 1)

    def at(i: int, k: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * k * math.cos(angle), cy + r * k * math.sin(angle)

    axes, points = [], []
    for i, d in enumerate(dimensions):
        share = 0.0 if d.rating is None else d.rating / 100
        (x_end, y_end), (lx, ly) = at(i, 1.0), at(i, 1.16)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        axes.append({"x": round(x_end, 1), "y": round(y_end, 1), "lx": round(lx, 1), "ly": round(ly + 4, 1),
                     "anchor": anchor, "label": DIMENSION_LABELS.get(d.name, d.name),
                     "pct": "no data" if d.rating is None else d.rating})
        points.append("{:.1f},{:.1f}".format(*at(i, share)))
    rings = [" ".join("{:.1f},{:.1f}".format(*at(i, k)) for i in range(n)) for k in (0.25, 0.5, 0.75, 1.0)]
    return {"width": size + 2 * margin, "height": size, "cx": cx, "cy": cy, "axes": axes,
            "polygon": " ".join(points), "rings": rings}


def history_chart(history: list[HistoryPoint], bands: list[tuple[str, int]], width: int = 480, height: int = 210,
                  hi: int = 950) -> dict:
    """SVG geometry of the score over time, grouped by period (hist.periods) so it stays readable at any
    number of points: one mark per period (its closing score, a whisker from its lowest to its highest),
    band edges as labelled gridlines, and at most six date labels; no per-point numbers."""
    left, right, top, bottom = 100, 12, 12, 34
    lo = bands[0][1]
    period, groups = hist.periods([hist.Point(h.as_of, h.score, h.band) for h in history])
    n = len(groups)

    def y(score: float) -> float:
        return round(top + (height - top - bottom) * (1 - (score - lo) / (hi - lo)), 1)

    def x(i: int) -> float:
        return round(left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5), 1)

    marks = [{"x": x(i), "y": y(g.score), "y_low": y(g.low), "y_high": y(g.high), "score": g.score,
              "label": g.label, "changes": g.changes} for i, g in enumerate(groups)]
    step = max(1, math.ceil(n / 6))
    at = [i for i in range(n) if i % step == 0 or i == n - 1]
    if len(at) > 1 and x(at[-1]) - x(at[-2]) < 80:  # keep the last date, drop a colliding one
        del at[-2]
    ticks = [{"x": x(i), "label": groups[i].label} for i in at]
    grid = [{"y": y(b), "label": f"{name} {b}"} for name, b in bands]
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": height - bottom,
            "period": period, "marks": marks, "ticks": ticks, "grid": grid,
            "line": " ".join(f"{m['x']},{m['y']}" for m in marks)}


def render_html(report: PersonReport, history_page: int = 1, recourse: RecourseOut | None = None,
                zone: str | None = None, takes_records: bool = True, costly: RecordsOut | None = None) -> str:
    """The person's report page; its times are the service's, in `zone` (the data set's; None: UTC).
    takes_records: whether the served data set holds records of commitments at all (a profile-only one
    does not: no record can arrive; a wrong detail is disputed, corrected and re-scored). costly: the
    records that cost the person most (service/records.py; None: not available)."""
    bands = report.bands
    position = None
    if report.score is not None:
        lo, hi = bands[0][1], 950
        position = round(100 * (report.score - lo) / (hi - lo), 1)
    pts = [hist.Point(h.as_of, h.score, h.band, h.reasons) for h in report.history]
    rows, page, pages = hist.page(pts, history_page)
    return _env().get_template("report.html").render(
        r=report, radar=radar(report.dimensions), dim_sum=dimension_sum(report), chart=history_chart(report.history, bands), labels=DIMENSION_LABELS,
        position=position, band_edges=_band_labels(bands), history_rows=rows, page=page, pages=pages,
        recourse=recourse, costly=costly, zone=zone or "UTC", takes_records=takes_records, result_words=RESULT_WORDS, action_words=ACTION_WORDS,
        dispute_words=DISPUTE_WORDS, removed_words=REMOVED_WORDS, scope_words=SCOPE_WORDS, meaning_words=MEANING_WORDS,
        no_record=NO_RECORD_PART, before=before(costly.as_of) if costly is not None and costly.as_of else "",
        words=shown_words, history_page=page, events_page=report.events_page, accesses_page=report.accesses_page, factors_words=FACTORS_DISCLOSES)


def before(as_of: datetime) -> str:
    """The day a score's as-of reads as ("30 June 2026"), with its time where it is not midnight ("30 June 2026,
    00:01"): a record of 30 June 00:00 is before a score of 30 June 00:01, and the page says so truly."""
    day = as_of.strftime("%d %B %Y").lstrip("0")
    if as_of.time() == time(0):
        return day
    return f"{day}, {as_of.strftime('%H:%M' if as_of.second == 0 else '%H:%M:%S')}"


def shown_words(value: str) -> str:
    """A reason's value as the profile shows a held category (gig_worker: gig worker); a number is as it is."""
    return " ".join(str(value).replace("_", " ").split())


def dimension_sum(report: PersonReport) -> dict:
    """What the page says of the dimensions' points: `terms` (each dimension's points with data), `adds_up`
    (whether they add up to the score: the page says so only then), `no_data` (a dimension without data) and
    `range` (lo, hi of the 0-100 rating's scale when every dimension shares it, else None)."""
    have = [d for d in report.dimensions if d.points is not None]
    ranges = {(d.lo, d.hi) for d in report.dimensions}
    return {"terms": [str(d.points) if d.points >= 0 else f"(\u2212{-d.points})" for d in have if d.points is not None],
            "adds_up": report.score is not None and bool(have) and sum(d.points or 0 for d in have) == report.score,
            "no_data": len(have) < len(report.dimensions), "range": next(iter(ranges)) if len(ranges) == 1 else None}


def _band_labels(bands: list[tuple[str, int]], hi: int = 950) -> dict:
    """The scale's band marks: `edges`, each boundary's score and place (a tick through the bar and its number
    under it), and `bands`, each band's name under a bracket spanning exactly its stretch, in three
    alternating rows so that narrow bands do not collide on a phone. A score just past a boundary (713 in
    excellent, from 700) reads on the right side of its tick, not between two centred names."""
    lo = bands[0][1]
    edges = [b for _, b in bands] + [hi]

    def pct(v: int) -> float:
        return round(100 * (v - lo) / (hi - lo), 1)

    marks = [{"value": v, "pct": pct(v), "align": "start" if i == 0 else "end" if i == len(edges) - 1 else "middle",
              "inner": 0 < i < len(edges) - 1} for i, v in enumerate(edges)]
    spans = [{"name": name, "start": pct(edges[i]), "width": round(pct(edges[i + 1]) - pct(edges[i]), 1),
              "row": i % 3} for i, (name, _) in enumerate(bands)]
    return {"edges": marks, "bands": spans, "rows": min(len(bands), 3)}
