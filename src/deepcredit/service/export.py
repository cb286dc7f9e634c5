"""Access and portability (GDPR Art. 15/20, PIPL Art. 45): everything held about a person, and deletion of
what no retention rule requires.

`collect` gathers every section the service holds about one person: the profile the data set holds, every
event (data set and merchant-reported), the relations they are part of (kind, direction and date: the
other person is never named), the current score and its whole history, every access and change in the
audit log, consents, disputes (with their own words), webhooks (never their secrets) and alerts; every time
in it is UTC with its offset (`...Z`), as in every other response (schemas.UtcDateTime). `as_zip` writes the
same as one CSV per section plus the JSON; a section with no rows is its header row alone. `delete` removes what is kept only for the person's
convenience (webhooks and their deliveries, consents no longer in force, the words of closed disputes) and
says what stays and why (records scored within the retention period, the current score, the audit log).
Only the person's own token reaches these (routes/person.py); a merchant never does.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import TypeAdapter
from sqlalchemy import delete, select

from deepcredit.service import alerts, consent, disputes
from deepcredit.service.context import ServiceContext
from deepcredit.service.record_dates import occurred, own_dates
from deepcredit.service.schemas import AlertOut, ConsentOut, DisputeOut, UtcDateTime, WebhookOut
from deepcredit.service.scoring import Held, ModelScorer
from deepcredit.service.store.models import (
    AuditEntry,
    Consent,
    Decision,
    Dispute,
    Merchant,
    Score,
    ScoreHistory,
    Webhook,
    WebhookDelivery,
)

SECTIONS = ("profile", "events", "relations", "score", "score_history", "accesses", "consents", "disputes",
            "webhooks", "alerts")
KEPT = {"events": "fulfilment records count towards your score for the retention period (5 years for "
                  "negative records) and are retired by the retention job after it",
        "score": "your current score is what merchants you consent to are told",
        "accesses": "the access log is kept unaltered so that every look at your data can be proven",
        "consents": "consents in force are kept until you revoke them or they expire",
        "disputes": "open disputes are kept until they are resolved"}


COLUMNS = {"score": ["score", "band", "as_of", "model_id", "dimensions", "reasons"],
           "score_history": ["as_of", "score", "band", "cause", "model_id"],
           "accesses": ["at", "who", "action", "details"], "consents": list(ConsentOut.model_fields),
           "disputes": [*DisputeOut.model_fields, "reason"], "webhooks": list(WebhookOut.model_fields),
           "alerts": list(AlertOut.model_fields)}
"""Each section's columns where no data set decides them (the header row of an empty section's CSV)."""
_UTC = TypeAdapter(UtcDateTime)


def stamp(at: Any) -> str | None:
    """A stored time (naive, in the service's zone) as every response gives it: UTC with its offset."""
    if at is None or (not isinstance(at, str) and pd.isna(at)):
        return None
    value = at.to_pydatetime() if isinstance(at, pd.Timestamp) else at
    return _UTC.dump_python(_UTC.validate_python(value), mode="json")


NAIVE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def _details(details: Any) -> Any:
    """An audit row's details as exported: a time in them (a consent's `expires_at`) with its offset too. The
    stored row is not changed (its hash chain covers it)."""
    if isinstance(details, dict):
        return {k: _details(v) for k, v in details.items()}
    if isinstance(details, list):
        return [_details(v) for v in details]
    if isinstance(details, str) and NAIVE_TIME.match(details):
        return stamp(datetime.fromisoformat(details))
    return details


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.copy()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = pd.Series([stamp(v) for v in frame[col]], index=frame.index, dtype=object)
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _shared(held: Held, subject: str, when: dict[str, datetime]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(profile, events, relations) as the person may take them away: no ids of other people; a reported
    record at its own date, with when it was reported (record_dates.own_dates: `when` it occurred)."""
    events = own_dates(held.events, when).drop(columns=["person_id"], errors="ignore")
    if "counterparty" in events:  # a merchant reference or another party: the service's ids only
        events["counterparty"] = events["counterparty"].where(events["counterparty"].isna(), "recorded")
    rel = held.relations
    if len(rel):
        rel = rel.copy()
        rel.insert(0, "direction", ["from you" if s == subject else "to you" for s in rel["source"]])
        rel = rel.drop(columns=["source", "target"])
    return held.profile.drop(columns=["person_id"], errors="ignore"), events, rel


def collect(ctx: ServiceContext, subject: str) -> dict[str, Any]:
    return collect_with_columns(ctx, subject)[0]


def zip_of(ctx: ServiceContext, subject: str) -> bytes:
    """`collect` as `as_zip` writes it, each empty section with its header row."""
    return as_zip(*collect_with_columns(ctx, subject))


def collect_with_columns(ctx: ServiceContext, subject: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(every section, each section's columns): the data set's own columns for its tables, COLUMNS for the rest."""
    out: dict[str, Any] = {}
    columns = dict(COLUMNS)
    scorer = ctx.scorer
    if isinstance(scorer, ModelScorer):
        with ctx.db.read() as s:
            when = occurred(s, subject)
        profile, events, relations = _shared(scorer.held(subject), subject, when)
        out.update(profile=_records(profile), events=_records(events), relations=_records(relations))
        columns.update(profile=list(profile.columns), events=list(events.columns), relations=list(relations.columns))
    else:
        out.update(profile=[], events=[], relations=[])
    with ctx.db.read() as s:
        merchants = dict(s.execute(select(Merchant.id, Merchant.name)).all())
        score = s.get(Score, subject)
        out["score"] = [] if score is None else [{"score": score.score, "band": score.band,
                                                  "as_of": stamp(score.as_of), "model_id": score.model_id,
                                                  "dimensions": score.dimensions, "reasons": score.reasons}]
        out["score_history"] = [{"as_of": stamp(h.as_of), "score": h.score, "band": h.band, "cause": h.cause,
                                 "model_id": h.model_id} for h in s.execute(
            select(ScoreHistory).where(ScoreHistory.subject == subject).order_by(ScoreHistory.as_of, ScoreHistory.id)
        ).scalars()]
        out["accesses"] = [{"at": stamp(a.at), "who": _who(a.actor, merchants), "action": a.action,
                            "details": _details(json.loads(a.details))} for a in s.execute(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)).scalars()]
        out["consents"] = [c.model_dump(mode="json") for c in consent.list_for(ctx, s, subject)]
        reasons = dict(s.execute(select(Dispute.public_id, Dispute.reason).where(Dispute.subject == subject)).all())
        out["disputes"] = [{**d.model_dump(mode="json"), "reason": reasons.get(d.id)}
                           for d in disputes.list_for(s, ctx, subject=subject)]
    out["webhooks"] = [w.model_dump(mode="json") for w in alerts.list_for(ctx, subject)]
    out["alerts"] = [a.model_dump(mode="json") for a in alerts.feed(ctx, subject, limit=100_000)]
    return {k: out[k] for k in SECTIONS}, columns


def _who(actor: str, merchants: dict[int, str]) -> str:
    if actor.startswith("merchant:"):
        return merchants.get(int(actor.split(":")[1]), "a merchant")
    return actor


def as_zip(data: dict[str, Any], columns: dict[str, list[str]] | None = None) -> bytes:
    """One CSV per section (nested values as JSON text) and the whole as export.json, in one zip. An empty
    section is its header row (the section's `columns`), or an empty file where its columns are not known:
    never a made-up header."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("export.json", json.dumps(data, indent=2, default=str))
        for name in SECTIONS:
            rows = data[name]
            cols = list(dict.fromkeys([*(columns or {}).get(name, []), *(k for r in rows for k in r)]))
            if not cols:
                z.writestr(f"{name}.csv", "")
                continue
            text = io.StringIO()
            w = csv.DictWriter(text, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()})
            z.writestr(f"{name}.csv", text.getvalue())
    return buf.getvalue()


def delete_optional(ctx: ServiceContext, subject: str) -> dict[str, Any]:
    """Delete what no retention rule requires; say what was deleted and what is kept, and why. Audited."""
    now = ctx.now()
    with ctx.db.write() as s:
        hooks = list(s.execute(select(Webhook.id).where(Webhook.subject == subject)).scalars())
        deliveries = list(s.execute(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id.in_(hooks))).scalars())
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(deliveries)))
        s.execute(delete(Webhook).where(Webhook.subject == subject))
        ended = list(s.execute(select(Consent.id).where(
            Consent.subject == subject, Consent.revoked_at.is_not(None) | (Consent.expires_at <= now),
            ~Consent.id.in_(select(Decision.consent_id)))).scalars())  # a decision names its consent: kept
        s.execute(delete(Consent).where(Consent.id.in_(ended)))
        closed = s.execute(select(Dispute).where(Dispute.subject == subject,
                                                 Dispute.state.not_in(disputes.ACTIVE))).scalars().all()
        for d in closed:
            d.reason = "(deleted at your request)"
        deleted = {"webhooks": len(hooks), "webhook_deliveries": len(deliveries), "ended_consents": len(ended),
                   "closed_dispute_texts": len(closed)}
        ctx.audit.append(s, now, "person", "deletion_requested", subject, **deleted)
    return {"deleted": deleted, "kept": KEPT}

