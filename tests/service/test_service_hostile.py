"""What a hostile probe found at the service's edges (issue 15), one test per finding, each failing before its fix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from deepcredit.service.store.models import AuditEntry, ServiceEvent

pytest_plugins = ("service_testkit",)

TOO_BIG = 9223372036854775808  # 2**63: one past the largest 64-bit integer
AWARE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _event(svc, merchant, pid, tx, outcome="rental_returned_late", **extra):
    body = {"transaction_id": tx, "person_id": pid, "outcome": outcome, "amount": 25, **extra}
    if outcome.endswith("_late") and "days_late" not in extra:
        body["days_late"] = 3
    return svc.client.post("/v1/events", json=body, headers=merchant)


def _customer(svc, skip=0, scope="admittance"):
    """A person, a merchant with a policy, a consent and one admitted-or-not decision (an order)."""
    pid, _ = svc.with_score(skip=skip)
    mid, acme = svc.merchant()
    svc.policy(acme)
    me = svc.person(pid)
    grant = svc.grant(me, mid, scope=scope)
    r = svc.decide(acme, pid, "order-1")
    assert r.status_code == 200, r.text
    return pid, mid, acme, me, grant, r.json()


# -- 1. ids beyond 64 bits are refused by the schema, never a 500 --------------------------------------

def test_ids_above_int64_are_422_on_every_operation(service):
    pid, mid, acme, me, _, _ = _customer(service)
    a = service.admin
    calls = [("PATCH", f"/v1/policies/{TOO_BIG}", acme, {"threshold": 600}),
             ("DELETE", f"/v1/me/consents/{TOO_BIG}", me, None),
             ("POST", f"/v1/admin/merchants/{TOO_BIG}/keys", a, None),
             ("POST", f"/v1/admin/merchants/{TOO_BIG}/disable", a, None),
             ("POST", f"/v1/admin/disputes/{TOO_BIG}/review", a, None),
             ("POST", f"/v1/admin/disputes/{TOO_BIG}/resolve", a, {"outcome": "upheld", "note": "n"}),
             ("POST", "/v1/me/consents", me, {"merchant_id": 99999999999999999999, "scope": "admittance",
                                               "purpose": "x", "mode": "standing",
                                               "expires_at": service.iso(service.clock.t + timedelta(days=1))})]
    for method, url, headers, body in calls:
        r = service.client.request(method, url, headers=headers, json=body)
        assert r.status_code == 422, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # the largest 64-bit id is valid and simply not there
    assert service.client.post(f"/v1/admin/merchants/{TOO_BIG - 1}/disable", headers=a).status_code == 404
    doc = service.client.get("/openapi.json").json()
    param = doc["paths"]["/v1/admin/merchants/{merchant_id}/keys"]["post"]["parameters"][0]["schema"]
    assert param["maximum"] == TOO_BIG - 1 and param["minimum"] == 1
    param = doc["paths"]["/v1/policies/{policy_id}"]["patch"]["parameters"][0]["schema"]
    assert param["type"] == "string" and param["pattern"].startswith("^pol_")  # a public id, or an old number


# -- 2. an event replayed with different facts is a conflict ---------------------------------------------

def test_event_replay_with_other_facts_is_409(service):
    pid, _, acme, _, _, _ = _customer(service)
    service.clock.advance(days=3)
    first = _event(service, acme, pid, "return-1001", days_late=3)
    assert first.status_code == 201
    again = _event(service, acme, pid, "return-1001", days_late=3)
    assert again.status_code == 201 and again.json()["replayed"] is True
    changed = _event(service, acme, pid, "return-1001", days_late=300)
    assert changed.status_code == 409 and changed.json()["type"].endswith("/transaction-conflict")
    with service.ctx.db.read() as s:
        assert [e.days_late for e in s.execute(select(ServiceEvent)).scalars()] == [3.0]


# -- 3. every timestamp in a response carries its offset -------------------------------------------------

def _timestamps(obj, key=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _timestamps(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _timestamps(v, key)
    elif isinstance(obj, str) and re.match(r"^\d{4}-\d\d-\d\dT", obj):
        yield key, obj


def test_every_response_timestamp_is_timezone_aware(service):
    pid, _, acme, me, grant, decision = _customer(service, scope="factors")
    service.clock.advance(days=3)
    assert _event(service, acme, pid, "ev-1").status_code == 201
    event = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    dispute = service.client.post("/v1/me/disputes", json={"event_id": event, "reason": "no"}, headers=me).json()
    bodies = [decision, grant, dispute, service.client.get("/v1/me/report", headers=me).json(),
              service.client.get("/v1/merchant", headers=acme).json(),
              service.client.get("/v1/admin/merchants", headers=service.admin).json(),
              service.client.delete(f"/v1/me/consents/{grant['id']}", headers=me).json(),
              service.client.post("/v1/admin/person-tokens", json={"person_id": pid}, headers=service.admin).json()]
    seen = [(k, v) for b in bodies for k, v in _timestamps(b)]
    assert len(seen) > 10
    assert [(k, v) for k, v in seen if not AWARE.match(v)] == []


# -- 4. a body size limit, before the body is read and before authentication ----------------------------

def test_large_bodies_are_413_before_they_are_read(service):
    limit = service.ctx.settings.max_body_bytes
    big = b"x" * (limit + 1)
    r = service.client.post("/v1/policies", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/payload-too-large")

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    r = service.client.post("/v1/decisions", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    doc = service.client.get("/openapi.json").json()
    assert "413" in doc["paths"]["/v1/decisions"]["post"]["responses"]


def test_the_body_limit_reads_no_more_than_it_allows():
    """The middleware itself: a declared length above the limit is answered without a single receive()."""
    import asyncio

    from deepcredit.service.limits import BodyLimit

    async def app(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("the application was called")

    received, sent = [], []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/policies", "headers": [(b"content-length", b"200000000")]}
    asyncio.run(BodyLimit(app, 1024)(scope, receive, send))
    assert sent[0]["status"] == 413 and received == []


# -- 5. revoking consent ends a merchant's power to report -----------------------------------------------

def test_reports_need_an_order_decided_under_consent_within_the_window(service):
    pid, mid, acme, me, grant, decision = _customer(service)
    _, other = service.merchant("Other Ltd")
    assert _event(service, other, pid, "x-1").status_code == 403  # never decided anything about this person
    assert service.client.delete(f"/v1/me/consents/{grant['id']}", headers=me).status_code == 200
    # the order decided before the revocation can still be concluded ...
    service.clock.advance(days=3)
    assert _event(service, acme, pid, "ev-1", decision_id=decision["decision_id"]).status_code == 201
    # ... but no new order can be decided, and the old one ages out of the window
    assert service.decide(acme, pid, "order-2").status_code == 403
    service.clock.advance(days=service.ctx.settings.report_window_days + 1)
    r = _event(service, acme, pid, "ev-2", outcome="rental_not_returned")
    assert r.status_code == 403 and r.json()["type"].endswith("/no-order")
    # another merchant's decision id is not an order of this one
    r = _event(service, other, pid, "x-2", decision_id=decision["decision_id"])
    assert r.status_code == 403
    with service.ctx.db.read() as s:
        refused = s.execute(select(AuditEntry.details).where(AuditEntry.action == "event_refused")).scalars().all()
    assert len(refused) == 3 and all('"reason":"no-order"' in d for d in refused)


def test_an_outcome_cannot_predate_its_order(service):
    pid, _, acme, _, _, _ = _customer(service)
    earlier = service.iso(service.clock.t - timedelta(days=2))
    assert _event(service, acme, pid, "ev-1", occurred_at=earlier).status_code == 403


# -- 8. error bodies never echo the request -------------------------------------------------------------

def test_problem_instances_never_echo_the_request(service):
    pid, _ = service.with_score()
    me = service.person(pid)
    other = service.world.ids[-1]
    r = service.client.get(f"/v1/people/{other}/report", headers=me)
    assert r.status_code == 403 and r.json()["instance"] == "/v1/people/{person_id}/report"
    for path in ("/v1/people/" + "p" * 60_000 + "/report", "/v1/" + "p" * 60_000):
        r = service.client.get(path, headers=me)
        assert r.status_code in (404, 422) and len(r.text) < 2000 and "ppppp" not in r.text
    r = service.client.get(f"/v1/nowhere/{other}", headers=me)
    assert r.status_code == 404 and other not in r.text and r.json()["instance"] == "/v1/*/*"
    r = service.client.post("/v1/decisions", json={"transaction_id": "t", "person_id": pid, "policy": "x",
                                                    other: 1}, headers=me)
    assert r.status_code in (401, 422) and other not in r.text and pid not in r.text
    _, acme = service.merchant()
    r = service.client.post("/v1/decisions", json={"transaction_id": "t", "person_id": pid, "policy": "x",
                                                    other: 1}, headers=acme)
    assert r.status_code == 422 and other not in r.text and pid not in r.text
    r = service.client.post("/v1/policies", json={"name": "a", "scenario": other}, headers=acme)
    assert r.status_code == 422 and other not in r.text


# -- 10. the OpenAPI document tells the whole truth ------------------------------------------------------

def test_non_text_bodies_are_a_documented_400(service):
    _, acme = service.merchant()
    r = service.client.post("/v1/policies", content=b"\x80abc", headers={**acme, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    doc = service.client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert "400" in op["responses"], (method, path)


def test_405_allows_every_method_of_the_path(service):
    r = service.client.put("/v1/policies")
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    r = service.client.put("/v1/me/consents/1")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE"


@pytest.mark.parametrize("body", [{"name": "0", "scenario": "pay_later"},
                                  {"name": "0", "scenario": "threshold"},
                                  {"name": "0", "scenario": "pay_later", "limits": {}},
                                  {"name": "0", "scenario": "threshold", "threshold": 600, "limits": {"good": 1}}])
def test_cross_field_rules_are_in_the_schema(service, body):
    """A body that breaks a cross-field rule is schema-invalid (validated against the published schema)."""
    import jsonschema_rs

    doc = service.client.get("/openapi.json").json()
    schema = {**doc["paths"]["/v1/policies"]["post"]["requestBody"]["content"]["application/json"]["schema"],
              "components": doc["components"]}
    schema = {"$ref": schema["$ref"], "components": doc["components"]} if "$ref" in schema else schema
    assert not jsonschema_rs.validator_for(schema).is_valid(body)
    _, acme = service.merchant()
    assert service.client.post("/v1/policies", json=body, headers=acme).status_code == 422


def test_threshold_step_is_in_the_schema(service):
    doc = service.client.get("/openapi.json").json()
    threshold = doc["components"]["schemas"]["ThresholdPolicyCreate"]["properties"]["threshold"]
    assert threshold["multipleOf"] == service.ctx.settings.threshold_step
