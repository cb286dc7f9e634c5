"""Alerts: score and band changes, merchant queries and dispute updates in a feed; webhooks signed, retried,
audited, and never sent over the network in tests (a local server, or an injected transport)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from deepcredit.service import alerts
from deepcredit.service.store.models import AuditEntry, WebhookDelivery

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
def test_feed_has_score_changes_queries_and_disputes(service):
    pid, me = _activity(service)
    feed = service.client.get("/v1/me/alerts", headers=me).json()
    kinds = [a["kind"] for a in feed]
    assert "merchant_query" in kinds and "dispute_update" in kinds
    assert {"score_changed", "band_changed"} & set(kinds)
    texts = " ".join(a["text"] for a in feed)
    assert "Acme Rentals asked about you" in texts and "Acme Rentals reported a rental not returned" in texts
    assert pid not in texts and " s1" not in texts
    assert [a["at"] for a in feed] == sorted((a["at"] for a in feed), reverse=True)
    later = service.client.get("/v1/me/alerts", params={"since": feed[0]["at"]}, headers=me).json()
    assert later == []
    html = service.client.get("/v1/me/report.html", headers=me).text
    assert '<section id="alerts"' in html and "Acme Rentals asked about you" in html


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[bytes, str]] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append((body, self.headers[alerts.SIGNATURE]))
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
        r = service.client.post("/v1/me/disputes", json={"event_id": "s1", "reason": "wrong"}, headers=me)
        assert r.status_code == 201  # an update after registering
        assert alerts.queue(service.ctx) >= 1
        assert alerts.queue(service.ctx) == 0  # the cursor moved: nothing twice
        counts = alerts.deliver_due(service.ctx)
        assert counts["delivered"] >= 1 and _Receiver.got
        for body, header in _Receiver.got:
            assert alerts.verify_signature(secret, body, header)
            assert not alerts.verify_signature(secret, body + b" ", header)  # a changed body fails
            payload = json.loads(body)
            assert payload["webhook"] == created["id"] and pid not in body.decode()
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
        calls.append(url)
        raise OSError("unreachable")

    assert alerts.deliver_due(service.ctx, down)["retry"] >= 1
    assert alerts.deliver_due(service.ctx, down) == {"delivered": 0, "retry": 0, "failed": 0}  # not due yet
    for _ in range(alerts.MAX_ATTEMPTS):
        service.clock.advance(hours=1)
        alerts.deliver_due(service.ctx, down)
    with service.ctx.db.read() as s:
        rows = s.execute(select(WebhookDelivery)).scalars().all()
        assert rows and all(d.state == "failed" and d.attempts == alerts.MAX_ATTEMPTS for d in rows)
        audit = s.execute(select(AuditEntry.action, AuditEntry.details)
                          .where(AuditEntry.action.like("webhook_%"))).all()
    actions = [a for a, _ in audit]
    assert "webhook_registered" in actions and "webhook_retry" in actions and "webhook_failed" in actions
    assert all("example.invalid" not in d for _, d in audit)  # no URL in the audit log
    other = service.person(service.with_score(skip=9)[0])
    assert service.client.delete(f"/v1/me/webhooks/{hook['id']}", headers=other).status_code == 404
    assert service.client.delete(f"/v1/me/webhooks/{hook['id']}", headers=me).json()["active"] is False


def test_backoff_doubles():
    assert [alerts.BACKOFF * 2 ** (a - 1) for a in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                                                 timedelta(minutes=2)]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_webhook_url_that_cannot_be_parsed_is_a_422_not_a_500(service):
    _, me = _activity(service)
    for url in ("https://host[:044?x", "https://host:port/x", "https://[::1/x"):
        r = service.client.post("/v1/me/webhooks", json={"url": url}, headers=me)
        assert r.status_code == 422, (url, r.text)  # by the schema's pattern or by the parser
