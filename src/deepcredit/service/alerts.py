"""Alerts: what a person is told without asking: score and band changes, every merchant query, dispute updates.

The feed is read from what the service already keeps (score history, the audit log), so an alert cannot
disagree with the report and nothing is stored twice. A person may register webhooks: every new alert is
queued for each (an outbox row), sent as JSON signed with HMAC-SHA256 under a secret derived from the
service's key and the webhook's id (shown once at registration, never stored), retried with exponential
backoff until delivered or out of attempts, each attempt audited (ids and status codes only: never the
URL or the payload). Every worker runs a dispatcher; conditional updates (the webhook's cursor, a claim on
each delivery) let each alert be queued once and each delivery be sent by one of them. Delivery goes
through a `Transport` (default: a POST over HTTPS to public addresses only, service/outbound.py), so tests
inject one or run a local server and nothing reaches the network.

    X-DeepCredit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from deepcredit.service import history as hist
from deepcredit.service import outbound
from deepcredit.service.context import ServiceContext
from deepcredit.service.problems import Problem, not_found
from deepcredit.service.schemas import AlertOut, WebhookCreated, WebhookOut
from deepcredit.service.store import public_ids
from deepcredit.service.store.db import updated_one
from deepcredit.service.store.models import AuditEntry, Merchant, ScoreHistory, Webhook, WebhookDelivery

log = logging.getLogger("deepcredit.service")
QUERY_ACTIONS = {"decision": "asked about you", "decision_replayed": "repeated an earlier question about you",
                 "decision_refused": "asked about you and was refused", "event_reported": "reported an outcome"}
DISPUTE_ACTIONS = {"dispute_opened": "You opened a dispute", "dispute_under_review": "Your dispute is under review",
                   "dispute_corrected": "Your dispute was accepted and the record corrected",
                   "dispute_upheld": "Your dispute was reviewed and the record kept as it was"}
REMOVED = "Your dispute was accepted and the record removed"
"""A dispute corrected by removing the record: it is gone, not changed."""
MAX_ATTEMPTS = 6
BACKOFF = timedelta(seconds=30)
"""The first retry's wait; each further one doubles it (30 s, 1, 2, 4, 8 minutes)."""
SIGNATURE = "X-DeepCredit-Signature"
DELIVERY = "X-DeepCredit-Delivery"
"""The delivery's id (also `delivery` in the signed body): the same on every attempt, so a receiver can
drop a repeat (delivery is at least once: a dispatcher that dies between sending and recording resends). Like
the webhook's id (`webhook`), its public id (`dlv_…`, store/public_ids.py): a row key would count every
delivery (every webhook) of the service."""
CLAIM_TIMEOUT = timedelta(minutes=5)
"""How long a dispatcher's claim on a delivery holds (far longer than one send: outbound.TIMEOUT_S per
connect or read); after it, a claim whose dispatcher died is due again."""
LOST_CLAIMS_MAX = 3
"""Claims past the last attempt whose dispatcher died before recording an outcome: each is sent again (nobody
saw it fail), but a delivery that has taken down this many dispatchers is given up (audited with status
"unknown"), so one payload that crashes every dispatcher is not retried for ever."""
MAX_WEBHOOKS = 5

Transport = Callable[[str, bytes, dict[str, str]], int]
"""(url, body, headers) -> HTTP status; raises on a network failure."""


def feed(ctx: ServiceContext, subject: str, since: datetime | None = None, limit: int | None = 100
         ) -> list[AlertOut]:
    """The person's alerts, newest first (those after `since`, when given; the latest `limit`, None: all)."""
    with ctx.db.read() as s:
        merchants = dict(s.execute(select(Merchant.id, Merchant.name)).all())
        words = hist.describer(s, subject, merchants, hist.spec_of(ctx.scorer))
        rows = s.execute(select(ScoreHistory.created_at, ScoreHistory.score, ScoreHistory.band, ScoreHistory.cause)
                         .where(ScoreHistory.subject == subject).order_by(ScoreHistory.id)).all()
        audit = s.execute(select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                          .where(AuditEntry.subject == subject,
                                 AuditEntry.action.in_(list(QUERY_ACTIONS) + list(DISPUTE_ACTIONS)))
                          .order_by(AuditEntry.seq)).all()
    out: list[AlertOut] = []
    for prev, row in zip(rows, rows[1:], strict=False):
        if (row.score, row.band) == (prev.score, prev.band):
            continue
        moved = row.band != prev.band
        text = f"Your score went from {prev.score} to {row.score}"
        text += f" (band {prev.band} to {row.band})" if moved else ""
        out.append(AlertOut(at=row.created_at, kind="band_changed" if moved else "score_changed", text=f"{text}: {words(row.cause)}.", score=row.score,
                            band=row.band))
    for a in audit:
        if a.action in QUERY_ACTIONS:
            who = merchants.get(int(a.actor.split(":")[1]), "A merchant") if a.actor.startswith("merchant:") \
                else "Someone"
            out.append(AlertOut(at=a.at, kind="merchant_query", text=f"{who} {QUERY_ACTIONS[a.action]}."))
        else:
            removed = a.action == "dispute_corrected" and json.loads(a.details).get("correction") == "remove"
            out.append(AlertOut(at=a.at, kind="dispute_update", text=f"{REMOVED if removed else DISPUTE_ACTIONS[a.action]}."))
    out.sort(key=lambda x: x.at, reverse=True)
    if since is not None:
        out = [x for x in out if x.at.replace(tzinfo=None) > since]
    return out[:limit]


# -- webhooks ----------------------------------------------------------------------------------------------

def secret(ctx: ServiceContext, webhook_id: int) -> str:
    """The webhook's signing secret: derived (from its row key, never shown: a secret given before public ids
    stays the same), so the database alone never holds it."""
    return hmac.new(ctx.pseudonym.derive("webhook-secret"), str(webhook_id).encode(), hashlib.sha256).hexdigest()


def sign(key: str, body: bytes, at: int) -> str:
    mac = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


SIGNATURE_TOLERANCE = timedelta(minutes=5)
"""How far a signed time may lie from the receiver's clock: each attempt is signed when it is sent, so only a
captured request replayed later (or a clock that far off) falls outside it."""


def verify_signature(key: str, body: bytes, header: str, now: datetime | None = None,
                     tolerance: timedelta = SIGNATURE_TOLERANCE) -> bool:
    """What a receiver does: refuse a signed time further than `tolerance` from its own clock (`now`, default
    the current time: a replayed request), recompute the HMAC over that time and the body, compare in constant
    time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    at = int(parts["t"])
    current = time.time() if now is None else now.timestamp()
    if abs(current - at) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(sign(key, body, at), header)


def _check_url(ctx: ServiceContext, url: str) -> str:
    try:  # urlsplit and .port raise ValueError on a bracketed host left open or a port that is not a number
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise Problem(422, "invalid-webhook", "the webhook URL cannot be parsed") from None
    allowed = {"https"} | ({"http"} if ctx.settings.webhook_allow_http else set())
    if not parts.hostname:
        raise Problem(422, "invalid-webhook", "a webhook URL needs a host")
    if parts.scheme not in allowed:  # the schema admits http; this server's policy may not
        raise Problem(403, "webhook-scheme-forbidden", f"this service sends webhooks over {' or '.join(sorted(allowed))} only")
    try:
        outbound.check_at_registration(parts.hostname, parts.port or outbound.DEFAULT_PORTS[parts.scheme],
                                       ctx.settings.webhook_allow_private)
    except outbound.UnsafeTarget:
        raise Problem(403, "webhook-host-forbidden", "this service sends webhooks to public internet addresses "
                                                     "only") from None
    except (UnicodeError, ValueError):  # a label over 63 characters, or one no IDNA encoding holds: the schema
        # admits it (a URL's shape), this server's policy does not (as a private address)
        raise Problem(403, "webhook-host-forbidden", "the webhook host is not a name on the public internet "
                                                     "(a label of more than 63 characters?)") from None
    try:  # like the scheme and the host, the port is this server's policy, not the URL's shape: a 403
        outbound.check_port(parts.scheme, parts.port, ctx.settings.webhook_allow_private)
    except outbound.UnsafeTarget:
        raise Problem(403, "webhook-port-forbidden", "url: this service sends webhooks to the scheme's default "
                                                     "port only (443 for https, 80 for http)") from None
    return url


def _out(w: Webhook) -> WebhookOut:
    return WebhookOut(id=w.public_id, url=w.url, created_at=w.created_at, active=w.revoked_at is None)


def register(ctx: ServiceContext, subject: str, url: str) -> WebhookCreated:
    now = ctx.now()
    url = _check_url(ctx, url)
    with ctx.db.write() as s:
        active = s.execute(select(Webhook.id).where(Webhook.subject == subject, Webhook.revoked_at.is_(None))).all()
        if len(active) >= MAX_WEBHOOKS:
            raise Problem(409, "too-many-webhooks", f"at most {MAX_WEBHOOKS} webhooks")
        w = Webhook(public_id=public_ids.new_webhook(), subject=subject, url=url, created_at=now, cursor=now)
        s.add(w)
        s.flush()
        ctx.audit.append(s, now, "person", "webhook_registered", subject, webhook=w.public_id)
        return WebhookCreated(**_out(w).model_dump(), secret=secret(ctx, w.id))


def list_for(ctx: ServiceContext, subject: str) -> list[WebhookOut]:
    with ctx.db.read() as s:
        return [_out(w) for w in s.execute(select(Webhook).where(Webhook.subject == subject)
                                           .order_by(Webhook.id)).scalars()]


def revoke(ctx: ServiceContext, subject: str, webhook_id: str) -> WebhookOut:
    """webhook_id: the webhook's public id, or its number (as webhooks were named before schema s0006): either
    names the caller's own webhook only."""
    now = ctx.now()
    with ctx.db.write() as s:
        w = public_ids.find(s, Webhook, webhook_id)
        if w is not None and w.subject == subject:
            if w.revoked_at is None:
                w.revoked_at = now
                ctx.audit.append(s, now, "person", "webhook_revoked", subject, webhook=w.public_id)
            return _out(w)
        # another person's webhook is "not found"; the attempt is audited under the caller only (as for consents)
        ctx.audit.append(s, now, "person", "access_refused", subject, what="webhook", reason="not-found")
    raise not_found("webhook")  # after the commit, so the refusal's audit row is kept


def queue(ctx: ServiceContext) -> int:
    """Queue every alert newer than each active webhook's cursor; how many deliveries were queued.

    Safe with several dispatchers (one per worker) on one database: the cursor moves by a conditional
    update in the transaction that inserts the deliveries, so of two rounds that read the same cursor only
    the first to write queues anything; the other finds the cursor moved and writes nothing."""
    now = ctx.now()
    with ctx.db.read() as s:
        hooks = [(w.id, w.subject, w.cursor) for w in
                 s.execute(select(Webhook).where(Webhook.revoked_at.is_(None))).scalars()]
    queued = 0
    for hook_id, subject, cursor in hooks:
        alerts = list(reversed(feed(ctx, subject, since=cursor, limit=1000)))
        if not alerts:
            continue
        with ctx.db.write() as s:
            moved = updated_one(s, update(Webhook).where(Webhook.id == hook_id, Webhook.cursor == cursor,
                                                      Webhook.revoked_at.is_(None))
                             .values(cursor=max(a.at.replace(tzinfo=None) for a in alerts)))
            if not moved:  # another dispatcher queued these first (or the webhook was revoked): nothing to add
                continue
            for a in alerts:  # the ids are set when it is sent (body_of)
                body = json.dumps(a.model_dump(mode="json"), sort_keys=True)
                s.add(WebhookDelivery(public_id=public_ids.new_delivery(), webhook_id=hook_id, payload=body,
                                      state="pending", attempts=0, next_at=now, created_at=now))
        queued += len(alerts)
    return queued


def checked_transport(ctx: ServiceContext) -> Transport:
    """The default transport: a POST to public addresses only (unless the operator allows private ones),
    checked again at each delivery on the address the connection uses."""
    allow = ctx.settings.webhook_allow_private
    return lambda url, body, headers: outbound.post(url, body, headers, allow_private=allow)


def body_of(delivery_id: str, webhook_id: str, payload: str) -> bytes:
    """What is sent: the queued alert with the webhook's and the delivery's public ids, the latter the receiver's
    idempotency key (the same on every attempt, and signed with the rest). Set here, not when queued, so a
    delivery queued before schema s0006 (its payload names the webhook's row key) is sent with them too."""
    return json.dumps({**json.loads(payload), "delivery": delivery_id, "webhook": webhook_id}, sort_keys=True).encode()


def deliver_due(ctx: ServiceContext, transport: Transport | None = None) -> dict[str, int]:
    """Send every due delivery once; a failure (a non-public address included) waits
    BACKOFF * 2^(attempts-1), up to MAX_ATTEMPTS. Audited.

    Safe with several dispatchers on one database: a delivery is claimed (state 'sending', until now +
    CLAIM_TIMEOUT, attempts + 1) by a conditional update before it is sent, and only the dispatcher whose
    claim changed the row sends it. A claim whose dispatcher died is due again once it expires (it counted
    as an attempt), also past the last attempt: a delivery is given up after a failure that was seen, not
    on one send whose outcome nobody knows (up to LOST_CLAIMS_MAX such sends). The receiver may then see
    that delivery twice (at least once: `delivery` is the key)."""
    transport = transport or checked_transport(ctx)
    now = ctx.now()
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    with ctx.db.read() as s:
        due = s.execute(select(WebhookDelivery.id, WebhookDelivery.public_id, WebhookDelivery.payload,
                               WebhookDelivery.attempts, Webhook.id, Webhook.public_id, Webhook.url, Webhook.subject)
                        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                        .where(WebhookDelivery.state.in_(("pending", "sending")), WebhookDelivery.next_at <= now,
                               Webhook.revoked_at.is_(None))
                        .order_by(WebhookDelivery.id)).all()
    for delivery_id, delivery, payload, attempts, hook_id, webhook, url, subject in due:
        mine = (WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempts)
        with ctx.db.write() as s:  # the claim: unchanged since read (attempts), due, and not claimed by a live one
            if attempts >= MAX_ATTEMPTS + LOST_CLAIMS_MAX:  # expired claims only: a seen failure ended it before
                if updated_one(s, update(WebhookDelivery).where(*mine, WebhookDelivery.state == "sending",
                                                             WebhookDelivery.next_at <= now).values(state="failed")):
                    ctx.audit.append(s, now, "service", "webhook_failed", subject, webhook=webhook,
                                     delivery=delivery, attempt=attempts, status="unknown")
                    counts["failed"] += 1
                continue
            if not updated_one(s, update(WebhookDelivery)
                            .where(*mine, WebhookDelivery.state.in_(("pending", "sending")),
                                   WebhookDelivery.next_at <= now)
                            .values(state="sending", attempts=attempts + 1, next_at=now + CLAIM_TIMEOUT)):
                continue  # another dispatcher claimed it first
        attempt = attempts + 1
        body = body_of(delivery, webhook, payload)
        headers = {"Content-Type": "application/json", DELIVERY: delivery,
                   SIGNATURE: sign(secret(ctx, hook_id), body, int(now.timestamp()))}
        try:
            status: int | None = transport(url, body, headers)
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried
            log.warning("webhook delivery failed (%s)", type(exc).__name__)
            status = None
        ok = status is not None and 200 <= status < 300
        state = "delivered" if ok else "failed" if attempt >= MAX_ATTEMPTS else "retry"
        with ctx.db.write() as s:
            values = {"state": "pending" if state == "retry" else state, "last_status": status}
            if state == "retry":
                values["next_at"] = now + BACKOFF * (2 ** (attempt - 1))
            ours = update(WebhookDelivery).where(WebhookDelivery.id == delivery_id,  # our claim, still held
                                                 WebhookDelivery.attempts == attempt, WebhookDelivery.state == "sending")
            if not updated_one(s, ours.values(**values)):
                log.warning("webhook delivery sent after its claim was lost (expired and taken over, or erased): not recorded")
                continue
            ctx.audit.append(s, now, "service", f"webhook_{state}", subject, webhook=webhook,
                             delivery=delivery, attempt=attempt, status=status)
        counts[state] += 1
    return counts


class Dispatcher:
    """A daemon thread that queues and sends alerts every `interval` seconds (started by the app)."""

    def __init__(self, ctx: ServiceContext, interval: float, transport: Transport | None = None) -> None:
        self.ctx, self.interval, self.transport = ctx, interval, transport
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deepcredit-webhooks", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                queue(self.ctx)
                deliver_due(self.ctx, self.transport)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error("webhook round failed (%s)", type(exc).__name__)

