"""Webhooks reach public addresses only: refused at registration, and checked again at each delivery on
the address the connection uses (a name that later resolves to this machine is not posted to)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from deepcredit.service import alerts, outbound
from deepcredit.service.store.models import WebhookDelivery

pytest_plugins = ("service_testkit",)


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("::ffff:127.0.0.1", False), ("fe80::1%eth0", False), ("fd00::1", False),
    ("8.8.8.8", True), ("2606:4700::1111", True)])
def test_only_globally_routable_addresses_are_public(address, public):
    assert outbound.is_public(address) is public


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_registration_refuses_hosts_that_are_not_public(service):
    pid, me, _ = service.decided(skip=4)
    for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data", "https://10.0.0.7/x",
                "https://localhost:9000/admin", "https://2130706433/h"):  # the last: 127.0.0.1 as one number
        r = service.client.post("/v1/me/webhooks", json={"url": url}, headers=me)
        assert r.status_code == 403 and r.json()["type"].endswith("/webhook-host-forbidden"), url
        assert "127.0.0.1" not in r.text and "localhost" not in r.text  # the error does not echo the URL
    assert service.client.post("/v1/me/webhooks", json={"url": "https://[::1]/h"}, headers=me).status_code == 422
    r = service.client.post("/v1/me/webhooks", json={"url": f"https://{'0' * 400}/h"}, headers=me)
    assert r.status_code == 403 and r.json()["type"].endswith("/webhook-host-forbidden")  # found by the fuzzer
    # a name that does not resolve now may later: delivery checks it again
    assert service.client.post("/v1/me/webhooks", json={"url": "https://hooks.example.invalid/h"},
                               headers=me).status_code == 201


class _Receiver(BaseHTTPRequestHandler):
    got: list[bytes] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        _Receiver.got.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_name_that_later_resolves_to_this_machine_gets_nothing(service, monkeypatch):
    """DNS rebinding: registered while its name resolved to a public address, delivered after it resolves
    to 127.0.0.1, where a receiver listens. The delivery is refused and retried; nothing arrives."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answers = {"hooks.example.com": ["93.184.216.34"]}
    monkeypatch.setattr(outbound, "resolve", lambda host, port: answers[host])
    monkeypatch.setitem(outbound.DEFAULT_PORTS, "http", server.server_port)  # the receiver's port: no port rule here
    try:
        pid, me, acme = service.decided(skip=4)
        service.ctx.settings.webhook_allow_http = True
        url = f"http://hooks.example.com:{server.server_port}/h"
        assert service.client.post("/v1/me/webhooks", json={"url": url}, headers=me).status_code == 201
        service.clock.advance(minutes=1)
        assert service.decide(acme, pid, "tx-2").status_code == 200  # an alert after registering
        answers["hooks.example.com"] = ["127.0.0.1"]  # rebound
        _Receiver.got.clear()
        assert alerts.queue(service.ctx) >= 1
        counts = alerts.deliver_due(service.ctx)
        assert counts["delivered"] == 0 and counts["retry"] >= 1 and _Receiver.got == []
        with service.ctx.db.read() as s:
            assert all(d.state == "pending" for d in s.execute(select(WebhookDelivery)).scalars())
        # the operator's switch for a receiver on this machine lets it through
        service.ctx.settings.webhook_allow_private = True
        service.clock.advance(hours=1)
        assert alerts.deliver_due(service.ctx)["delivered"] >= 1 and _Receiver.got
    finally:
        server.shutdown()


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_public_host_gets_webhooks_on_its_scheme_s_default_port_only(service, monkeypatch):
    """Another port of a public host (an admin console, a database) is not a receiver: refused at
    registration, naming the field and echoing nothing of the URL, and at delivery; the operator's switch
    for private receivers lets it through."""
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.216.34"])
    pid, me, _ = service.decided(skip=4)
    service.ctx.settings.webhook_allow_http = True
    for url in ("https://hooks.example.com:8443/h", "https://hooks.example.com:80/h", "http://hooks.example.com:22/h",
                "http://hooks.example.com:443/h"):
        r = service.client.post("/v1/me/webhooks", json={"url": url}, headers=me)
        assert r.status_code == 403 and r.json()["type"].endswith("/webhook-port-forbidden"), url
        assert r.json()["detail"].startswith("url:") and "hooks.example.com" not in r.text, url
        assert not any(p in r.text for p in ("8443", ":22", ":443/")), url
    for url in ("https://hooks.example.com/h", "https://hooks.example.com:443/h", "http://hooks.example.com:80/h"):
        assert service.client.post("/v1/me/webhooks", json={"url": url}, headers=me).status_code == 201, url
    with pytest.raises(outbound.UnsafeTarget):  # a webhook stored before the rule gets nothing either
        outbound.post("https://hooks.example.com:8443/h", b"{}", {})
    service.ctx.settings.webhook_allow_private = True
    assert service.client.post("/v1/me/webhooks", json={"url": "https://hooks.example.com:8443/h"},
                               headers=me).status_code == 201
