"""Access and portability (GDPR Art. 15/20, PIPL Art. 45): everything held about a person, and deletion of
what no retention rule requires.

`collect` gathers every section the service holds about one person: the profile the data set holds, every
event (data set and merchant-reported), the relations they are part of (kind, direction and date: the
other person is never named), the current score and its whole history, every access and change in the
audit log, consents, disputes (with their own words), webhooks (never their secrets) and alerts. `as_zip`
writes the same as one CSV per section plus the JSON. `delete` removes what is kept only for the person's
convenience (webhooks and their deliveries, consents no longer in force, the words of closed disputes) and
says what stays and why (records scored within the retention period, the current score, the audit log).
Only the person's own token reaches these (routes/person.py); a merchant never does.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pandas as pd
from sqlalchemy import delete, select

from deepcredit.service import alerts, consent, disputes
from deepcredit.service.context import ServiceContext
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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _shared(held: Held, subject: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(profile, events, relations) as the person may take them away: no ids of other people."""
    events = held.events.drop(columns=["person_id"], errors="ignore")
    if "counterparty" in events:  # a merchant reference or another party: the service's ids only
        events["counterparty"] = events["counterparty"].where(events["counterparty"].isna(), "recorded")
    rel = held.relations
    if len(rel):
        rel = rel.copy()
        rel.insert(0, "direction", ["from you" if s == subject else "to you" for s in rel["source"]])
        rel = rel.drop(columns=["source", "target"])
    return held.profile.drop(columns=["person_id"], errors="ignore"), events, rel


def collect(ctx: ServiceContext, subject: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    scorer = ctx.scorer
    if isinstance(scorer, ModelScorer):
        profile, events, relations = _shared(scorer.held(subject), subject)
        out.update(profile=_records(profile), events=_records(events), relations=_records(relations))
    else:
        out.update(profile=[], events=[], relations=[])
    with ctx.db.read() as s:
        merchants = dict(s.execute(select(Merchant.id, Merchant.name)).all())
        score = s.get(Score, subject)
        out["score"] = [] if score is None else [{"score": score.score, "band": score.band,
                                                  "as_of": score.as_of.isoformat(), "model_id": score.model_id,
                                                  "dimensions": score.dimensions, "reasons": score.reasons}]
        out["score_history"] = [{"as_of": h.as_of.isoformat(), "score": h.score, "band": h.band, "cause": h.cause,
                                 "model_id": h.model_id} for h in s.execute(
            select(ScoreHistory).where(ScoreHistory.subject == subject).order_by(ScoreHistory.as_of, ScoreHistory.id)
        ).scalars()]
        out["accesses"] = [{"at": a.at.isoformat(), "who": _who(a.actor, merchants), "action": a.action,
                            "details": json.loads(a.details)} for a in s.execute(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)).scalars()]
        out["consents"] = [c.model_dump(mode="json") for c in consent.list_for(ctx, s, subject)]
        reasons = dict(s.execute(select(Dispute.id, Dispute.reason).where(Dispute.subject == subject)).all())
        out["disputes"] = [{**d.model_dump(mode="json"), "reason": reasons.get(d.id)}
                           for d in disputes.list_for(s, ctx, subject=subject)]
    out["webhooks"] = [w.model_dump(mode="json") for w in alerts.list_for(ctx, subject)]
    out["alerts"] = [a.model_dump(mode="json") for a in alerts.feed(ctx, subject, limit=100_000)]
    return {k: out[k] for k in SECTIONS}


def _who(actor: str, merchants: dict[int, str]) -> str:
    if actor.startswith("merchant:"):
        return merchants.get(int(actor.split(":")[1]), "a merchant")
    return actor


def as_zip(data: dict[str, Any]) -> bytes:
    """One CSV per section (nested values as JSON text; an empty file for an empty section) and the whole as
    export.json, in one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("export.json", json.dumps(data, indent=2, default=str))
        for name in SECTIONS:
            rows = data[name]
            if not rows:  # an empty file: no rows, and no made-up header
                z.writestr(f"{name}.csv", "")
                continue
            cols = list(dict.fromkeys(k for r in rows for k in r))
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

