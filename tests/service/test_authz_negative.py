"""Authorization, negatively: every way a caller might get what is not theirs, as a table; each must be refused.

Each case builds its situation through the public API, makes one request, and names the status and problem
type it must get. Refusals about a person never say why (one 403 body for every consent failure), and a
credential failure is one 401 whatever the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

pytest_plugins = ("service_testkit",)


@dataclass
class World:
    """Two merchants, two people with scores, and tokens; what every case starts from."""

    svc: object
    pid: str
    other_pid: str
    acme_id: int
    acme: dict
    rival_id: int
    rival: dict
    me: dict
    them: dict


def _world(svc) -> World:
    pid, _ = svc.with_score(skip=3)
    other, _ = svc.with_score(skip=4)
    acme_id, acme = svc.merchant("Acme Rentals")
    rival_id, rival = svc.merchant("Rival Rentals")
    svc.policy(acme)
    svc.policy(rival)
    return World(svc, pid, other, acme_id, acme, rival_id, rival, svc.person(pid), svc.person(other))


def _decide(w: World, merchant=None, pid=None, include="admittance", **extra):
    return w.svc.decide(merchant or w.acme, pid or w.pid, "tx-probe", include=include, **extra)


def no_consent(w):
    return _decide(w)


def expired(w):
    w.svc.grant(w.me, w.acme_id, days=1)
    w.svc.clock.advance(days=2)
    return _decide(w)


def revoked(w):
    g = w.svc.grant(w.me, w.acme_id)
    w.svc.client.delete(f"/v1/me/consents/{g['id']}", headers=w.me)
    return _decide(w)


def revoked_after_a_decision_replay(w):
    g = w.svc.grant(w.me, w.acme_id)
    assert _decide(w).status_code == 200
    w.svc.client.delete(f"/v1/me/consents/{g['id']}", headers=w.me)
    return _decide(w)  # the same transaction id: a replay must not outlive the consent


def another_merchants_consent(w):
    w.svc.grant(w.me, w.acme_id)
    return _decide(w, merchant=w.rival)


def another_persons_consent(w):
    w.svc.grant(w.them, w.acme_id)
    return _decide(w)


def scope_escalation(w):
    w.svc.grant(w.me, w.acme_id, scope="band")
    return _decide(w, include="score")


def pay_later_needs_band(w):
    w.svc.policy(w.acme, name="bnpl", scenario="pay_later", threshold=None,
                 limits={"poor": 0, "fair": 100, "good": 200, "very good": 300, "excellent": 400})
    w.svc.grant(w.me, w.acme_id, purpose="pay_later")
    return w.svc.decide(w.acme, w.pid, "tx-bnpl", policy="bnpl")


def other_purpose(w):
    w.svc.policy(w.acme, name="members", scenario="threshold", threshold=500, purpose="membership")
    w.svc.grant(w.me, w.acme_id, purpose="membership")
    return _decide(w)


def other_order(w):
    w.svc.grant(w.me, w.acme_id, mode="per_order", order_ref="order-1")
    return _decide(w, order_ref="order-2")


def another_merchants_policy(w):
    w.svc.grant(w.me, w.acme_id)
    w.svc.policy(w.rival, name="secret")
    return w.svc.decide(w.acme, w.pid, "tx-x", policy="secret")


def patch_another_merchants_policy(w):
    pid = w.svc.client.get("/v1/policies", headers=w.rival).json()[0]["id"]
    return w.svc.client.patch(f"/v1/policies/{pid}", json={"threshold": 500}, headers=w.acme)


def report_about_someone_never_decided(w):
    w.svc.grant(w.me, w.acme_id)
    return w.svc.client.post("/v1/events", json={"transaction_id": "e", "person_id": w.pid,
                                                  "outcome": "rental_not_returned", "amount": 1}, headers=w.acme)


def report_on_another_merchants_order(w):
    w.svc.grant(w.me, w.acme_id)
    d = _decide(w).json()["decision_id"]
    return w.svc.client.post("/v1/events", json={"transaction_id": "e", "person_id": w.pid, "decision_id": d,
                                                  "outcome": "rental_not_returned", "amount": 1}, headers=w.rival)


def another_persons_report(w):
    return w.svc.client.get(f"/v1/people/{w.other_pid}/report", headers=w.me)


def revoke_another_persons_consent(w):
    g = w.svc.grant(w.them, w.acme_id)
    return w.svc.client.delete(f"/v1/me/consents/{g['id']}", headers=w.me)


def dispute_another_persons_event(w):
    event = w.svc.client.get("/v1/me/report", headers=w.them).json()["events"][0]["event_id"]
    return w.svc.client.post("/v1/me/disputes", json={"event_id": event, "reason": "not mine"}, headers=w.me)


def _forged(headers: dict) -> dict:
    token = headers["Authorization"]
    return {"Authorization": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")}


def forged_merchant_key(w):
    return w.svc.client.get("/v1/merchant", headers=_forged(w.acme))


def forged_person_token(w):
    return w.svc.client.get("/v1/me/report", headers=_forged(w.me))


def rotated_key(w):
    assert w.svc.client.post(f"/v1/admin/merchants/{w.acme_id}/keys", headers=w.svc.admin).status_code == 201
    return w.svc.client.get("/v1/merchant", headers=w.acme)


def disabled_merchant(w):
    w.svc.client.post(f"/v1/admin/merchants/{w.acme_id}/disable", headers=w.svc.admin)
    return w.svc.client.get("/v1/merchant", headers=w.acme)


def consent_to_a_disabled_merchant(w):
    w.svc.client.post(f"/v1/admin/merchants/{w.rival_id}/disable", headers=w.svc.admin)
    return w.svc.client.post("/v1/me/consents", json={"merchant_id": w.rival_id, "scope": "admittance",
                                                       "purpose": "x", "mode": "standing",
                                                       "expires_at": "2026-08-01T00:00:00Z"}, headers=w.me)


def expired_person_token(w):
    w.svc.clock.advance(days=31)
    return w.svc.client.get("/v1/me/report", headers=w.me)


def person_token_on_merchant_route(w):
    return w.svc.client.get("/v1/merchant", headers=w.me)


def merchant_key_on_person_route(w):
    return w.svc.client.get("/v1/me/report", headers=w.acme)


def no_credentials(w):
    return w.svc.client.get("/v1/me/report")


def basic_auth(w):
    return w.svc.client.get("/v1/merchant", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})


def threshold_probing(w):
    w.svc.clock.advance(days=1)  # the world's first policy counted against today's threshold settings
    for i, t in enumerate((600, 610, 620)):
        w.svc.policy(w.acme, name=f"p{i}", scenario="threshold", threshold=t, purpose="probe")
    w.svc.grant(w.me, w.acme_id, purpose="probe", days=90)  # a grant names a purpose the merchant's policies use
    for i in range(3):
        assert w.svc.decide(w.acme, w.pid, f"tx-{i}", policy=f"p{i}").status_code == 200
    w.svc.clock.advance(days=1)
    w.svc.policy(w.acme, name="p3", scenario="threshold", threshold=630, purpose="probe")
    return w.svc.decide(w.acme, w.pid, "tx-3", policy="p3")


def threshold_off_the_step(w):
    return w.svc.client.post("/v1/policies", json={"name": "fine", "scenario": "threshold", "threshold": 605},
                             headers=w.acme)


def too_many_threshold_changes(w):
    pid = w.svc.client.get("/v1/policies", headers=w.acme).json()[0]["id"]
    for t in (610, 620):
        w.svc.client.patch(f"/v1/policies/{pid}", json={"threshold": t}, headers=w.acme)
    return w.svc.client.patch(f"/v1/policies/{pid}", json={"threshold": 630}, headers=w.acme)


CASES: list[tuple[Callable, int, str]] = [
    (no_consent, 403, "consent-required"),
    (expired, 403, "consent-required"),
    (revoked, 403, "consent-required"),
    (revoked_after_a_decision_replay, 403, "consent-required"),
    (another_merchants_consent, 403, "consent-required"),
    (another_persons_consent, 403, "consent-required"),
    (scope_escalation, 403, "consent-required"),
    (pay_later_needs_band, 403, "consent-required"),
    (other_purpose, 403, "consent-required"),
    (other_order, 403, "consent-required"),
    (another_merchants_policy, 404, "not-found"),
    (patch_another_merchants_policy, 404, "not-found"),
    (report_about_someone_never_decided, 403, "no-order"),
    (report_on_another_merchants_order, 403, "no-order"),
    (another_persons_report, 403, "not-your-report"),
    (revoke_another_persons_consent, 404, "not-found"),
    (dispute_another_persons_event, 404, "not-found"),
    (forged_merchant_key, 401, "unauthorized"),
    (forged_person_token, 401, "unauthorized"),
    (rotated_key, 401, "unauthorized"),
    (disabled_merchant, 401, "unauthorized"),
    (consent_to_a_disabled_merchant, 404, "not-found"),
    (expired_person_token, 401, "unauthorized"),
    (person_token_on_merchant_route, 401, "unauthorized"),
    (merchant_key_on_person_route, 401, "unauthorized"),
    (no_credentials, 401, "unauthorized"),
    (basic_auth, 401, "unauthorized"),
    (threshold_probing, 429, "threshold-probing-limit"),
    (threshold_off_the_step, 422, "invalid-policy"),
    (too_many_threshold_changes, 429, "threshold-change-limit"),
]


@pytest.mark.parametrize("case, status, kind", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused(service, case, status, kind):
    r = case(_world(service))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + kind)


ADMIN_ROUTES = [("GET", "/v1/admin/merchants", None), ("POST", "/v1/admin/merchants", {"name": "Evil"}),
                ("POST", "/v1/admin/merchants/1/keys", None), ("POST", "/v1/admin/merchants/1/disable", None),
                ("POST", "/v1/admin/person-tokens", {"person_id": "p0000001"}), ("GET", "/v1/admin/disputes", None),
                ("POST", "/v1/admin/disputes/1/review", None),
                ("POST", "/v1/admin/disputes/1/resolve", {"outcome": "upheld", "note": "n"}),
                ("GET", "/v1/admin/audit/verify", None)]


@pytest.mark.parametrize("method, path, body", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
def test_admin_routes_refuse_every_other_role(service, method, path, body):
    w = _world(service)
    wrong = {"Authorization": "Bearer " + service.admin["Authorization"].split()[1] + "x"}
    for headers in (w.acme, w.me, wrong, {}):
        r = service.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
    assert service.client.get("/v1/admin/merchants", headers=service.admin).status_code == 200


def test_refusals_say_nothing_about_the_person(service):
    """Anti-probing: a stranger with a score, one without, and someone who does not exist get the same 403."""
    w = _world(service)
    bodies = set()
    for pid in (w.pid, "p9999999", "nobody-at-all"):
        r = service.decide(w.acme, pid, f"tx-{pid}")
        assert r.status_code == 403
        bodies.add(r.text)
    assert len(bodies) == 1
    bodies = {service.client.get(f"/v1/merchant{x}", headers=h).text for x, h in
              (("", {}), ("", {"Authorization": "Bearer dcm_0000000000000000_" + "A" * 43}), ("", _forged(w.acme)))}
    assert len(bodies) == 1  # missing, unknown and forged credentials look the same
