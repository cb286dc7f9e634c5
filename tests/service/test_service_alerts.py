"""Alerts: score and band changes, merchant queries and dispute updates in a feed; webhooks signed, retried,
audited, and never sent over the network in tests (a local server, or an injected transport)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import pytest
from service_testkit import backends
from sqlalchemy import select

from deepcredit.service import alerts
from deepcredit.service.store import public_ids
from deepcredit.service.store.models import AuditEntry, Webhook, WebhookDelivery

DELIVERY_ID = f"^{public_ids.DELIVERY}{public_ids.TOKEN}$"  # a delivery's public id, as the receiver reads it

pytest_plugins = ("service_testkit",)


def _activity(svc) -> tuple[str, dict]:
    """A person a merchant asked about, reported two outcomes for, and who disputed one."""
    pid, me, acme = svc.decided(skip=5)
    for i in range(2):
        svc.clock.advance(days=1)  # an item not returned is at least a day late: reported a day after the order
        r = svc.client.post("/v1/events", json={"transaction_id": f"ev-{i}", "person_id": pid,
                                                 "outcome": "rental_not_returned", "amount": 80}, headers=acme)
        assert r.status_code == 201
    event = r.json()["event_id"]
    svc.clock.advance(hours=1)
    assert svc.client.post("/v1/me/disputes", json={"event_id": event, "reason": "I returned it"},
                           headers=me).status_code == 201
    return pid, me


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_feed_pages_back_to_the_oldest_alert(service):
    """25 alerts, 20 a page: page 2 holds the oldest 5, numbered as the report's lists are; a page past the last
    shows the last (no alert is out of reach beyond `limit`)."""
    pid, me, acme = service.decided()
    for i in range(2, 26):
        service.clock.advance(minutes=1)
        assert service.decide(acme, pid, f"tx-{i}").status_code == 200
    whole = service.client.get("/v1/me/alerts", params={"limit": 1000}, headers=me).json()
    queries = [a for a in whole["alerts"] if a["kind"] == "merchant_query"]
    held = whole["alerts_held"]
    assert len(queries) == 25 and held == len(whole["alerts"]) >= 25
    first = service.client.get("/v1/me/alerts", params={"limit": 20}, headers=me).json()
    assert (first["alerts"], first["alerts_page"], first["alerts_first"]) == (whole["alerts"][:20], 1, 1)
    last = -(-held // 20)
    older = service.client.get("/v1/me/alerts", params={"limit": 20, "alerts_page": last}, headers=me).json()
    assert older["alerts"] == whole["alerts"][(last - 1) * 20:] and older["alerts"][-1] == whole["alerts"][-1]
    assert (older["alerts_held"], older["alerts_page"], older["alerts_pages"], older["alerts_first"]) == (
        held, last, last, (last - 1) * 20 + 1)
    beyond = service.client.get("/v1/me/alerts", params={"limit": 20, "alerts_page": 99}, headers=me).json()
    assert beyond == older


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_feed_has_score_changes_queries_and_disputes(service):
    pid, me = _activity(service)
    feed = service.client.get("/v1/me/alerts", headers=me).json()["alerts"]
    kinds = [a["kind"] for a in feed]
    assert "merchant_query" in kinds and "dispute_update" in kinds
    assert {"score_changed", "band_changed"} & set(kinds)
    texts = " ".join(a["text"] for a in feed)
    assert "Acme Rentals asked about you" in texts and "Acme Rentals reported a rental not returned" in texts
    assert pid not in texts and " s1" not in texts
    assert [a["at"] for a in feed] == sorted((a["at"] for a in feed), reverse=True)
    later = service.client.get("/v1/me/alerts", params={"since": feed[0]["at"]}, headers=me).json()
    assert later["alerts"] == [] and later["alerts_held"] == 0 and later["alerts_first"] == 0
    html = service.client.get("/v1/me/report.html", headers=me).text
    assert '<section id="alerts"' in html and "Acme Rentals asked about you" in html


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[bytes, str]] = []
    delivery: list[str] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append((body, self.headers[alerts.SIGNATURE]))
        _Receiver.delivery.append(self.headers[alerts.DELIVERY])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_webhook_delivers_signed_payloads_to_a_local_server(service):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pid, me = _activity(service)
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert service.client.post("/v1/me/webhooks", json={"url": url}, headers=me).status_code == 403  # https only, by this server's policy
        service.ctx.settings.webhook_allow_http = True
        assert service.client.post("/v1/me/webhooks", json={"url": url}, headers=me).status_code == 403  # loopback
        service.ctx.settings.webhook_allow_private = True  # a receiver on this machine, as in development
        service.clock.advance(seconds=1)
        created = service.client.post("/v1/me/webhooks", json={"url": url}, headers=me).json()
        secret = created["secret"]
        assert "secret" not in service.client.get("/v1/me/webhooks", headers=me).json()[0]
        service.clock.advance(minutes=1)
        _Receiver.got.clear()
        _Receiver.delivery.clear()
        r = service.client.post("/v1/me/disputes", json={"event_id": "s1", "reason": "wrong"}, headers=me)
        assert r.status_code == 201  # an update after registering
        assert alerts.queue(service.ctx) >= 1
        assert alerts.queue(service.ctx) == 0  # the cursor moved: nothing twice
        counts = alerts.deliver_due(service.ctx)
        assert counts["delivered"] >= 1 and _Receiver.got
        for body, header in _Receiver.got:
            assert alerts.verify_signature(secret, body, header, now=service.clock())
            assert not alerts.verify_signature(secret, body + b" ", header, now=service.clock())  # a changed body fails
            late = service.clock() + alerts.SIGNATURE_TOLERANCE + timedelta(seconds=1)
            assert not alerts.verify_signature(secret, body, header, now=late)  # the same request replayed later
            payload = json.loads(body)
            assert payload["webhook"] == created["id"] and pid not in body.decode()
            assert re.match(public_ids.WEBHOOK_ID, payload["webhook"])  # a token, not a count of webhooks
        with service.ctx.db.read() as s:
            tokens = set(s.execute(select(WebhookDelivery.public_id)).scalars())
        assert [json.loads(body)["delivery"] for body, _ in _Receiver.got] == _Receiver.delivery
        assert set(_Receiver.delivery) <= tokens and all(re.match(DELIVERY_ID, d) for d in tokens)
    finally:
        server.shutdown()


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_webhook_retries_with_backoff_then_gives_up_audited(service):
    pid, me = _activity(service)
    service.ctx.settings.webhook_allow_http = True
    hook = service.client.post("/v1/me/webhooks", json={"url": "https://example.invalid/h"}, headers=me).json()
    service.clock.advance(minutes=1)
    service.client.post("/v1/me/disputes", json={"event_id": "s1", "reason": "wrong"}, headers=me)
    assert alerts.queue(service.ctx) >= 1
    calls = []

    def down(url, body, headers):
        calls.append((json.loads(body)["delivery"], headers[alerts.DELIVERY]))
        raise OSError("unreachable")

    assert alerts.deliver_due(service.ctx, down)["retry"] >= 1
    assert alerts.deliver_due(service.ctx, down) == {"delivered": 0, "retry": 0, "failed": 0}  # not due yet
    for _ in range(alerts.MAX_ATTEMPTS):
        service.clock.advance(hours=1)
        alerts.deliver_due(service.ctx, down)
    with service.ctx.db.read() as s:
        rows = s.execute(select(WebhookDelivery)).scalars().all()
        assert rows and all(d.state == "failed" and d.attempts == alerts.MAX_ATTEMPTS for d in rows)
        tokens = [d.public_id for d in rows]
        audit = s.execute(select(AuditEntry.action, AuditEntry.details)
                          .where(AuditEntry.action.like("webhook_%"))).all()
    # every attempt at a delivery carried its token, the same each time, in the body and the header
    assert sorted(calls) == sorted((t, t) for t in tokens for _ in range(alerts.MAX_ATTEMPTS))
    assert all(re.match(DELIVERY_ID, t) for t in tokens)
    assert all(f'"delivery":"{t}"' in "".join(d for _, d in audit) for t in tokens)  # audited by it too
    actions = [a for a, _ in audit]
    assert "webhook_registered" in actions and "webhook_retry" in actions and "webhook_failed" in actions
    assert all("example.invalid" not in d for _, d in audit)  # no URL in the audit log
    other = service.person(service.with_score(skip=9)[0])
    assert service.client.delete(f"/v1/me/webhooks/{hook['id']}", headers=other).status_code == 404
    assert service.client.delete(f"/v1/me/webhooks/{hook['id']}", headers=me).json()["active"] is False


def test_a_signature_verifies_only_near_its_signed_time():
    """Replay protection for receivers: a captured request, signature intact, fails once its time is stale."""
    body, sent = b'{"kind":"score_change"}', int(time.time())
    assert alerts.verify_signature("k", body, alerts.sign("k", body, sent))
    assert alerts.verify_signature("k", body, alerts.sign("k", body, sent - 60))  # clocks a minute apart
    assert not alerts.verify_signature("k", body, alerts.sign("k", body, sent - 3600))  # replayed an hour later
    assert not alerts.verify_signature("k", body, alerts.sign("k", body, sent + 3600))  # from the future


def test_backoff_doubles():
    assert [alerts.BACKOFF * 2 ** (a - 1) for a in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                                                 timedelta(minutes=2)]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_webhook_url_that_cannot_be_parsed_is_a_422_not_a_500(service):
    _, me = _activity(service)
    for url in ("https://host[:044?x", "https://host:port/x", "https://[::1/x"):
        r = service.client.post("/v1/me/webhooks", json={"url": url}, headers=me)
        assert r.status_code == 422, (url, r.text)  # by the schema's pattern or by the parser


# -- several workers: each runs a dispatcher on the one database --------------------------------------------

class _SlowReceiver(BaseHTTPRequestHandler):
    """Counts every POST by its idempotency key, and answers slowly, so two dispatchers overlap."""

    got: Counter = Counter()
    keys_agree: list[bool] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _SlowReceiver.got[body.get("delivery")] += 1
        _SlowReceiver.keys_agree.append(str(body.get("delivery")) == self.headers.get(alerts.DELIVERY))
        time.sleep(0.02)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


def _receiver() -> tuple[ThreadingHTTPServer, str]:
    _SlowReceiver.got.clear()
    _SlowReceiver.keys_agree.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/hook"


def _hook_with_past_alerts(svc, url: str) -> int:
    """A person with alerts and a webhook to `url` whose cursor is before all of them; its row key."""
    _, me = _activity(svc)
    svc.ctx.settings.webhook_allow_http = svc.ctx.settings.webhook_allow_private = True
    hook = svc.client.post("/v1/me/webhooks", json={"url": url}, headers=me).json()["id"]
    with svc.ctx.db.write() as s:
        w = s.execute(select(Webhook).where(Webhook.public_id == hook)).scalar_one()
        w.cursor = svc.clock.t - timedelta(days=30)
        key = w.id
    svc.clock.advance(seconds=1)
    return key


def _other_worker(ctx):
    """A second worker's context on the same database: its own write lock (one per process), its own sessions."""
    db = copy.copy(ctx.db)
    db.write_lock = threading.Lock()
    return dataclasses.replace(ctx, db=db)


def _together(fn, *ctxs) -> list:
    """Run fn(ctx) for each context at the same moment, each in its own thread (a worker's dispatcher)."""
    start, out, errors = threading.Barrier(len(ctxs)), [None] * len(ctxs), []

    def run(i, c):
        start.wait()
        try:
            out[i] = fn(c)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(ctxs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return out


@pytest.mark.parametrize("service", backends(), indirect=True)
def test_two_workers_queue_each_alert_once(service, monkeypatch):
    hook = _hook_with_past_alerts(service, "https://example.invalid/h")
    a, b = service.ctx, _other_worker(service.ctx)
    with a.db.read() as s:
        w = s.get_one(Webhook, hook)
    expected = len(alerts.feed(a, w.subject, since=w.cursor, limit=1000))
    read_both = threading.Barrier(2)
    real_feed = alerts.feed

    def feed_then_wait(*args, **kw):  # the worst case: both have read the cursor before either writes
        out = real_feed(*args, **kw)
        read_both.wait(timeout=10)
        return out

    monkeypatch.setattr(alerts, "feed", feed_then_wait)
    queued = _together(alerts.queue, a, b)
    monkeypatch.setattr(alerts, "feed", real_feed)
    with a.db.read() as s:
        rows = s.execute(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == hook)).scalars().all()
    assert expected >= 3 and len(rows) == expected and sorted(queued) == [0, expected]
    assert _together(alerts.queue, a, b) == [0, 0]


@pytest.mark.parametrize("service", backends(), indirect=True)
def test_two_workers_send_each_delivery_once(service):
    server, url = _receiver()
    try:
        _hook_with_past_alerts(service, url)
        a, b = service.ctx, _other_worker(service.ctx)
        assert alerts.queue(a) >= 3
        with a.db.read() as s:
            rows = s.execute(select(WebhookDelivery.public_id)).scalars().all()
        counts = _together(alerts.deliver_due, a, b)  # both read the same due rows; the receiver is slow
        assert _SlowReceiver.got == Counter(dict.fromkeys(rows, 1))  # every delivery POSTed, none twice
        assert all(re.match(DELIVERY_ID, d) for d in rows)  # by its token, not a count of deliveries
        assert all(_SlowReceiver.keys_agree)  # the idempotency key: the body's `delivery` and the header
        assert sum(c["delivered"] for c in counts) == len(rows)
        assert _together(alerts.deliver_due, a, b) == [{"delivered": 0, "retry": 0, "failed": 0}] * 2
        with a.db.read() as s:
            assert {d.state for d in s.execute(select(WebhookDelivery)).scalars()} == {"delivered"}
            audited = s.execute(select(AuditEntry.action).where(AuditEntry.action == "webhook_delivered")).all()
        assert len(audited) == len(rows)
    finally:
        server.shutdown()


class _Died(BaseException):
    """A dispatcher's process ending in the middle of a send (not an error the dispatcher catches)."""


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_delivery_claimed_by_a_dispatcher_that_died_is_sent_after_the_claim_timeout(service):
    server, url = _receiver()
    try:
        _hook_with_past_alerts(service, url)
        assert alerts.queue(service.ctx) >= 1
        with service.ctx.db.read() as s:
            key, first = s.execute(select(WebhookDelivery.id, WebhookDelivery.public_id)
                                   .order_by(WebhookDelivery.id)).first()
        sent = []

        def dies(url, body, headers):
            sent.append((json.loads(body)["delivery"], headers[alerts.DELIVERY]))
            raise _Died

        with pytest.raises(_Died):  # the first delivery is claimed, then its dispatcher dies
            alerts.deliver_due(service.ctx, dies)
        others = alerts.deliver_due(service.ctx)  # the rest are sent; the claimed one is not yet
        assert first not in _SlowReceiver.got and others["delivered"] == len(_SlowReceiver.got)
        service.clock.advance(seconds=alerts.CLAIM_TIMEOUT.total_seconds() - 1)
        assert alerts.deliver_due(service.ctx)["delivered"] == 0 and first not in _SlowReceiver.got
        service.clock.advance(seconds=2)
        assert alerts.deliver_due(service.ctx) == {"delivered": 1, "retry": 0, "failed": 0}
        assert _SlowReceiver.got[first] == 1 and all(_SlowReceiver.keys_agree)
        assert sent == [(first, first)]  # the first attempt carried the same token, in the body and the header
        with service.ctx.db.read() as s:
            d = s.get_one(WebhookDelivery, key)
            assert (d.state, d.attempts) == ("delivered", 2)  # the dead dispatcher's claim counted as an attempt
    finally:
        server.shutdown()


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_an_expired_claim_on_the_last_attempt_is_sent_again_not_given_up(service):
    """Nobody saw how the last attempt ended: giving up there would drop an alert that may never have been sent."""
    _hook_with_past_alerts(service, "https://example.invalid/h")
    assert alerts.queue(service.ctx) >= 1
    with service.ctx.db.write() as s:  # a dispatcher died during the last attempt
        for d in s.execute(select(WebhookDelivery)).scalars():
            d.state, d.attempts, d.next_at = "sending", alerts.MAX_ATTEMPTS, service.clock.t + alerts.CLAIM_TIMEOUT
        queued = len(s.execute(select(WebhookDelivery)).scalars().all())
    calls = []
    assert alerts.deliver_due(service.ctx, lambda *a: calls.append(a) or 204)["delivered"] == 0  # claim still held
    service.clock.advance(seconds=alerts.CLAIM_TIMEOUT.total_seconds() + 1)
    assert alerts.deliver_due(service.ctx, lambda *a: calls.append(a) or 204) == {
        "delivered": queued, "retry": 0, "failed": 0}
    assert len(calls) == queued  # each sent once more, by one dispatcher
    with service.ctx.db.read() as s:
        rows = s.execute(select(WebhookDelivery)).scalars().all()
        assert {(d.state, d.attempts) for d in rows} == {("delivered", alerts.MAX_ATTEMPTS + 1)}


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_resent_last_attempt_that_fails_is_given_up_audited(service):
    _hook_with_past_alerts(service, "https://example.invalid/h")
    assert alerts.queue(service.ctx) >= 1
    with service.ctx.db.write() as s:
        for d in s.execute(select(WebhookDelivery)).scalars():
            d.state, d.attempts, d.next_at = "sending", alerts.MAX_ATTEMPTS, service.clock.t
    service.clock.advance(seconds=1)

    def down(url, body, headers):
        raise OSError("unreachable")

    assert alerts.deliver_due(service.ctx, down)["failed"] >= 1
    with service.ctx.db.read() as s:
        assert {d.state for d in s.execute(select(WebhookDelivery)).scalars()} == {"failed"}
        failed = s.execute(select(AuditEntry.details).where(AuditEntry.action == "webhook_failed")).scalars().all()
    assert failed and all(json.loads(d)["attempt"] == alerts.MAX_ATTEMPTS + 1 for d in failed)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_delivery_that_keeps_killing_its_dispatcher_is_given_up_audited_as_unknown(service):
    """Re-sent after lost claims, but not for ever: a payload that takes down every dispatcher ends failed."""
    _hook_with_past_alerts(service, "https://example.invalid/h")
    assert alerts.queue(service.ctx) >= 1
    with service.ctx.db.write() as s:  # the last of the lost claims allowed has expired
        for d in s.execute(select(WebhookDelivery)).scalars():
            d.state, d.attempts = "sending", alerts.MAX_ATTEMPTS + alerts.LOST_CLAIMS_MAX
            d.next_at = service.clock.t
    service.clock.advance(seconds=1)
    calls = []
    assert alerts.deliver_due(service.ctx, lambda *a: calls.append(a) or 204)["failed"] >= 1
    assert not calls
    with service.ctx.db.read() as s:
        assert {d.state for d in s.execute(select(WebhookDelivery)).scalars()} == {"failed"}
        failed = s.execute(select(AuditEntry.details).where(AuditEntry.action == "webhook_failed")).scalars().all()
    assert failed and all(json.loads(d)["status"] == "unknown" for d in failed)
