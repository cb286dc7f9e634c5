"""Consent: every authorization negative is refused with nothing leaked; valid grants disclose their scope only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from deepcredit.service.store.models import AuditEntry

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database

LEAKS = ("score", "band", "admitted", "limit", "factors", "result", "dimensions", "reasons")


def _refused(r, status: int = 403) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert not set(body) & set(LEAKS), body
    return body


def test_no_consent_is_refused_and_never_on_by_default(service):
    pid, _ = service.with_score()
    _, acme = service.merchant()
    service.policy(acme)
    service.person(pid)  # the person exists and has a token, but granted nothing
    body = _refused(service.decide(acme, pid, "tx-1"))
    assert body["type"].endswith("/consent-required")
    # an unknown person gets exactly the same answer: the refusal does not reveal who is on file
    other = _refused(service.decide(acme, "nobody-at-all", "tx-2"))
    assert {k: v for k, v in other.items()} == body


def test_expired_and_revoked_grants_are_refused(service):
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    grant = service.grant(me, mid, days=1)
    assert service.decide(acme, pid, "tx-ok").status_code == 200
    service.clock.advance(days=1, seconds=1)
    _refused(service.decide(acme, pid, "tx-expired"))
    grant2 = service.grant(me, mid, days=10)
    assert service.decide(acme, pid, "tx-ok2").status_code == 200
    r = service.client.delete(f"/v1/me/consents/{grant2['id']}", headers=me)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    _refused(service.decide(acme, pid, "tx-revoked"))
    states = {c["id"]: c["state"] for c in service.client.get("/v1/me/consents", headers=me).json()}
    assert states == {grant["id"]: "expired", grant2["id"]: "revoked"}


def test_another_merchants_grant_does_not_cover(service):
    pid, _ = service.with_score()
    mid_a, a = service.merchant("Acme Rentals")
    _, b = service.merchant("Bolt Bikes")
    service.policy(a)
    service.policy(b)
    service.grant(service.person(pid), mid_a)
    assert service.decide(a, pid, "tx-a").status_code == 200
    _refused(service.decide(b, pid, "tx-b"))


def test_scope_above_the_grant_purpose_and_order_are_refused(service):
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    service.policy(acme, name="members", scenario="threshold", threshold=500, purpose="membership")
    me = service.person(pid)
    service.grant(me, mid, scope="band")
    ok = service.decide(acme, pid, "tx-band", include="band")
    assert ok.status_code == 200 and "band" in ok.json() and "score" not in ok.json()
    _refused(service.decide(acme, pid, "tx-score", include="score"))
    _refused(service.decide(acme, pid, "tx-factors", include="factors"))
    _refused(service.decide(acme, pid, "tx-purpose", policy="members"))  # granted for rentals only
    service.grant(me, mid, scope="admittance", purpose="membership", mode="per_order", order_ref="order-7")
    _refused(service.decide(acme, pid, "tx-no-order", policy="members"))
    _refused(service.decide(acme, pid, "tx-other-order", policy="members", order_ref="order-8"))
    assert service.decide(acme, pid, "tx-order", policy="members", order_ref="order-7").status_code == 200


def test_each_scope_discloses_only_itself(service):
    pid, score = service.with_score(lo=600)
    mid, acme = service.merchant()
    service.policy(acme, threshold=600)
    me = service.person(pid)
    service.grant(me, mid, scope="factors")
    seen = {inc: service.decide(acme, pid, f"tx-{inc}", include=inc).json()
            for inc in ("admittance", "band", "score", "factors")}
    assert seen["admittance"]["admitted"] is True and seen["admittance"]["result"] == "admit"
    assert not {"band", "score", "factors"} & set(seen["admittance"])
    assert "band" in seen["band"] and not {"score", "factors"} & set(seen["band"])
    assert seen["score"]["score"] == score and "factors" not in seen["score"]
    assert len(seen["factors"]["factors"]["dimensions"]) == 5


def test_pay_later_needs_a_band_grant_and_limits_by_band(service):
    pid, _ = service.with_score()
    mid, shop = service.merchant("Paylater Shop")
    limits = {"poor": 0, "fair": 100, "good": 300, "very good": 600, "excellent": 1000}
    service.policy(shop, name="bnpl", scenario="pay_later", threshold=None, limits=limits)
    me = service.person(pid)
    service.grant(me, mid, scope="admittance", purpose="pay_later")
    _refused(service.decide(shop, pid, "tx-1", policy="bnpl"))
    service.grant(me, mid, scope="band", purpose="pay_later")
    body = service.decide(shop, pid, "tx-2", policy="bnpl").json()
    band = service.score_of(pid).band
    assert body["limit"] == limits[band] and body["admitted"] == (limits[band] > 0)
    # the merchant asked for admittance but learnt a limit, which tells the band: the person reads "band"
    seen = [a for a in service.client.get("/v1/me/report", headers=me).json()["accesses"] if a["action"] == "decision"]
    assert seen and seen[-1]["scope"] == "band"


def test_pay_later_limits_name_every_band_and_do_not_decrease(service):
    _, shop = service.merchant("Paylater Shop")
    bands = service.ctx.band_names()  # the served scale's, lowest first
    good = {b: 100.0 * i for i, b in enumerate(bands)}

    def create(name: str, limits: dict):
        return service.client.post("/v1/policies", json={"name": name, "scenario": "pay_later", "limits": limits},
                                   headers=shop)

    # a band left out would be declined in silence (limit 0): refused, naming the missing bands
    body = _refused(create("partial", {bands[0]: 0}), 422)
    assert body["type"].endswith("/invalid-policy")
    assert all(repr(b) in body["detail"] for b in bands[1:]) and "missing" in body["detail"]
    # inverted limits (the lowest band the most credit): refused, naming the first pair out of order
    body = _refused(create("inverted", {b: 1000.0 - v for b, v in good.items()}), 422)
    assert body["type"].endswith("/limits-out-of-order")  # a rule no schema can state (the fuzz test's filter)
    assert repr(bands[0]) in body["detail"] and repr(bands[1]) in body["detail"]
    assert repr(bands[2]) not in body["detail"]
    dip = {**good, bands[3]: good[bands[1]]}  # only the 3rd -> 4th step goes down
    body = _refused(create("dip", dip), 422)
    assert repr(bands[2]) in body["detail"] and repr(bands[3]) in body["detail"]
    assert [p["name"] for p in service.client.get("/v1/policies", headers=shop).json()] == []
    # every band, never decreasing (equal neighbours are fine): stored; a change is held to the same rule
    flat = {**good, bands[1]: 0.0}
    policy = service.policy(shop, name="bnpl", scenario="pay_later", threshold=None, limits=flat)
    r = service.client.patch(f"/v1/policies/{policy['id']}", json={"limits": {bands[-1]: 500}}, headers=shop)
    assert _refused(r, 422)["type"].endswith("/invalid-policy")
    r = service.client.patch(f"/v1/policies/{policy['id']}", json={"limits": {**good, bands[-1]: 0}}, headers=shop)
    _refused(r, 422)
    assert service.client.get("/v1/policies", headers=shop).json()[0]["limits"] == flat


def test_a_person_cannot_read_or_change_another_persons_data(service):
    (a, _), (b, _) = service.with_score(skip=0), service.with_score(skip=1)
    mid, acme = service.merchant()
    service.policy(acme)
    me_a, me_b = service.person(a), service.person(b)
    grant_b = service.grant(me_b, mid)
    r = service.client.get(f"/v1/people/{b}/report", headers=me_a)
    body = _refused(r)
    assert body["type"].endswith("/not-your-report")
    assert service.client.get(f"/v1/people/{a}/report", headers=me_a).status_code == 200
    # another person's consent is "not found" (its existence is not confirmed) and stays active
    _refused(service.client.delete(f"/v1/me/consents/{grant_b['id']}", headers=me_a), 404)
    assert [c["state"] for c in service.client.get("/v1/me/consents", headers=me_b).json()] == ["active"]
    assert service.client.get("/v1/me/consents", headers=me_a).json() == []
    # a merchant key is not a person token, and a person token is not a merchant key
    _refused(service.client.get("/v1/me/report", headers=service.merchant("Other")[1]), 401)
    _refused(service.client.post("/v1/decisions", json={"transaction_id": "x", "person_id": b, "policy": "rental"},
                                 headers=me_a), 401)


def test_consent_must_expire_within_the_limit(service):
    pid, _ = service.with_score()
    mid, _ = service.merchant()
    me = service.person(pid)
    for days in (-1, 400):
        body = {"merchant_id": mid, "scope": "band", "purpose": "deposit_free_rental", "mode": "standing",
                "expires_at": service.iso(service.clock.t.replace(microsecond=0)) if days < 0 else
                service.iso(service.clock.t.replace(year=2027, month=9))}
        _refused(service.client.post("/v1/me/consents", json=body, headers=me), 422)
    bad = {"merchant_id": 999, "scope": "band", "purpose": "x", "mode": "standing",
           "expires_at": "2026-07-05T00:00:00Z"}
    _refused(service.client.post("/v1/me/consents", json=bad, headers=me), 404)


def test_a_time_that_falls_off_the_calendar_in_utc_is_a_422_not_a_500(service):
    """Valid RFC 3339 times within a day of year 1 or 9999 overflow when converted to UTC (found by fuzzing)."""
    pid, _ = service.with_score()
    mid, _ = service.merchant()
    me = service.person(pid)
    for at in ("0001-01-01T01:41:07.321495+10:17", "9999-12-31T23:00:00-10:00"):
        body = {"merchant_id": mid, "scope": "band", "purpose": "deposit_free_rental", "mode": "standing",
                "expires_at": at}
        _refused(service.client.post("/v1/me/consents", json=body, headers=me), 422)
        assert service.client.get("/v1/me/alerts", params={"since": at}, headers=me).status_code == 200


def test_a_grant_for_a_purpose_the_merchant_never_asks_for_is_refused_with_its_purposes(service):
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    me = service.person(pid)
    body = {"merchant_id": mid, "scope": "admittance", "purpose": "deposit_free_rental", "mode": "standing",
            "expires_at": service.iso(service.clock.t + timedelta(days=5))}
    r = service.client.post("/v1/me/consents", json=body, headers=me)
    assert r.status_code == 422 and "has no policy" in r.json()["detail"]  # it would have covered nothing
    service.policy(acme)
    service.policy(acme, name="members", scenario="threshold", threshold=500, purpose="membership")
    r = service.client.post("/v1/me/consents", json={**body, "purpose": "pay_later"}, headers=me)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/unknown-purpose")
    assert "deposit_free_rental, membership" in r.json()["detail"]
    assert service.client.get("/v1/me/consents", headers=me).json() == []  # nothing was stored
    assert service.client.post("/v1/me/consents", json=body, headers=me).status_code == 201


def test_a_person_is_told_where_they_grant_factors_that_points_tell_their_bins(service):
    """The points a `factors` answer carries are a function of the person's values: a merchant that gathers
    answers can tell each characteristic's bin. The person reads that where they grant it (the API schema's
    description of a consent's scope and of the scope itself) and on their page beside a factors grant."""
    must = ("never sent", "computed from them", "which bin", "a range for a number", "the category itself")
    schemas = service.client.get("/openapi.json").json()["components"]["schemas"]
    for text in (schemas["Scope"]["description"], schemas["StandingConsent"]["properties"]["scope"]["description"],
                 schemas["PerOrderConsent"]["properties"]["scope"]["description"]):
        assert all(w in text for w in must), text
    assert "never the person's own value" not in schemas["MerchantReason"]["description"]
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid, scope="admittance")
    assert 'id="factors-note"' not in service.client.get("/v1/me/report.html", headers=me).text
    service.grant(me, mid, scope="factors")
    page = service.client.get("/v1/me/report.html", headers=me).text
    assert 'id="factors-note"' in page
    note = page.split('id="factors-note">')[1].split("</p>")[0]
    assert all(w in note.replace("&#39;", "'") for w in must), note


def test_a_time_in_a_request_is_an_rfc_3339_text_with_its_offset_as_the_schema_says(service):
    """Not a number or a text of digits (seconds since 1970, which pydantic's lax mode would take), nor a time
    without an offset (in which zone?): a 422 naming the field, the input not echoed. The schema still says
    `date-time`, and answers give times as before."""
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    later = service.clock.t + timedelta(days=5)
    body = {"merchant_id": mid, "scope": "band", "purpose": "deposit_free_rental", "mode": "standing"}
    epoch = int((later - datetime(1970, 1, 1)).total_seconds())
    for value in (epoch, float(epoch), str(epoch), later.isoformat(), later.strftime("%d/%m/%Y %H:%M"), True):
        r = service.client.post("/v1/me/consents", json={**body, "expires_at": value}, headers=me)
        refused = _refused(r, 422)
        assert [e["loc"] for e in refused["errors"]] == [["body", "standing", "expires_at"]], refused
        assert str(epoch) not in r.text and later.isoformat()[:16] not in r.text
    r = service.client.post("/v1/me/consents", json={**body, "expires_at": later.isoformat() + "+02:00"}, headers=me)
    assert r.status_code == 201 and r.json()["expires_at"] == (later - timedelta(hours=2)).isoformat() + "Z"
    schema = service.client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["StandingConsent"]["properties"]["expires_at"] == {
        "type": "string", "format": "date-time", "title": "Expires At",
        "description": schema["StandingConsent"]["properties"]["expires_at"]["description"]}
    report = {"transaction_id": "t-1", "person_id": pid, "amount": 10.0, "outcome": "instalment_paid",
              "occurred_at": epoch}
    r = service.client.post("/v1/events", json=report, headers=acme)
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["body", "instalment_paid", "occurred_at"]]


def test_a_per_order_consent_is_good_for_one_decision_and_its_replay(service):
    """Asking again on the same order (another policy, scope or transaction id) would probe the score."""
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme, threshold=600)
    service.policy(acme, name="strict", threshold=700)
    me = service.person(pid)
    service.grant(me, mid, scope="score", mode="per_order", order_ref="order-7")
    first = service.decide(acme, pid, "tx-1", order_ref="order-7")
    assert first.status_code == 200
    again = service.decide(acme, pid, "tx-1", order_ref="order-7")  # the same request: a replay answers
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    for tx, policy, include in (("tx-2", "rental", "admittance"), ("tx-3", "strict", "admittance"),
                                ("tx-4", "rental", "score")):
        used = service.decide(acme, pid, tx, policy=policy, include=include, order_ref="order-7")
        assert used.status_code == 409 and used.json()["type"].endswith("/consent-used"), used.json()
        assert pid not in used.text
    with service.ctx.db.read() as s:
        refusals = [json.loads(d) for d in s.execute(select(AuditEntry.details)
                                                     .where(AuditEntry.action == "decision_refused")).scalars()]
    assert [r["reason"] for r in refusals] == ["consent-used"] * 3
    assert not any(pid in json.dumps(r) for r in refusals)
    # a new order needs a new consent; a standing consent is good for any number of decisions
    service.grant(me, mid, scope="admittance", mode="per_order", order_ref="order-8")
    assert service.decide(acme, pid, "tx-5", order_ref="order-8").status_code == 200
    service.grant(me, mid, scope="admittance")
    assert service.decide(acme, pid, "tx-6", order_ref="order-7").status_code == 200
    assert service.decide(acme, pid, "tx-7", policy="strict").status_code == 200
    page = service.client.get("/v1/me/report", headers=me).json()
    assert any(a["result"] == "consent-used" for a in page["accesses"])
    states = {c["order_ref"]: c["state"] for c in service.client.get("/v1/me/consents", headers=me).json()}
    assert states == {"order-7": "used", "order-8": "used", None: "active"}  # the person sees it is spent
    doc = service.client.get("/openapi.json").json()  # the contract says it, for merchant and person alike
    assert "consent-used" in doc["paths"]["/v1/decisions"]["post"]["responses"]["409"]["description"]
    assert "one decision" in doc["components"]["schemas"]["PerOrderConsent"]["description"]


def _second_worker(service):
    """Another worker on the same database: its own connections and no Python lock shared with this one (as
    another process, or another server behind PostgreSQL, would be)."""
    import copy
    import dataclasses
    import threading

    db = copy.copy(service.ctx.db)
    db.write_lock = threading.Lock()
    return dataclasses.replace(service.ctx, db=db)


def test_a_second_worker_waits_for_the_firsts_decision_and_then_reads_the_consent_used(service, monkeypatch):
    """The check (no decision yet) and the write were two steps: a decision made by another worker between
    them, on the same order under the same consent, let both through. Each write now holds the database's
    write lock from its first statement (store.db), so the other worker (its own connections and no Python
    lock shared: another process) waits while the first is between its check and its write, then reads the
    consent as used: one decision; the other is the 409 consent-used a later request gets, audited."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from deepcredit.service import consent, decisions
    from deepcredit.service.auth import MerchantPrincipal
    from deepcredit.service.problems import Problem
    from deepcredit.service.schemas import DecisionRequest
    from deepcredit.service.store.models import Decision

    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme, threshold=600)
    service.policy(acme, name="strict", threshold=700)
    service.grant(service.person(pid), mid, scope="admittance", mode="per_order", order_ref="order-7")
    real, checked, go_on = consent.find_valid, threading.Event(), threading.Event()

    def checked_then_paused(*args, **kwargs):  # the first request, between its check and its write
        found = real(*args, **kwargs)
        if not checked.is_set():
            checked.set()
            go_on.wait(timeout=30)
        return found

    def ask(ctx, tx: str, policy: str):
        try:
            return decisions.decide(ctx, MerchantPrincipal(mid, "Acme Rentals"), DecisionRequest(
                transaction_id=tx, person_id=pid, policy=policy, order_ref="order-7"))
        except Problem as p:
            return p

    monkeypatch.setattr(consent, "find_valid", checked_then_paused)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(ask, service.ctx, "tx-a", "rental")
        assert checked.wait(timeout=30)
        second = pool.submit(ask, _second_worker(service), "tx-b", "strict")
        assert not second.done() or isinstance(second.result(), Problem)  # it waits for the first's write
        go_on.set()
        won, lost = first.result(timeout=60), second.result(timeout=60)
    monkeypatch.undo()
    assert not isinstance(won, Problem) and won.decision_id, won
    assert isinstance(lost, Problem) and (lost.status, lost.kind) == (409, "consent-used"), lost
    later = service.decide(acme, pid, "tx-c", order_ref="order-7")  # asked again afterwards: the same refusal
    assert later.status_code == 409 and later.json()["type"].endswith("/consent-used")
    with service.ctx.db.read() as s:
        assert s.execute(select(Decision.transaction_id)).scalars().all() == ["tx-a"]
        refusals = [json.loads(d)["reason"] for d in s.execute(
            select(AuditEntry.details).where(AuditEntry.action == "decision_refused")).scalars()]
    assert refusals == ["consent-used", "consent-used"]
    replay = service.decide(acme, pid, "tx-a", order_ref="order-7")  # the winner's replay
    assert replay.status_code == 200 and replay.json()["replayed"] is True


def test_a_per_order_consent_is_claimed_once_by_the_database_itself(service):
    """The claim does not rest on the write lock alone: of two transactions claiming one per-order consent's
    use (a conditional UPDATE), the second finds it claimed, whatever ordered them."""
    from deepcredit.service import consent
    from deepcredit.service.store.models import Consent

    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid, mode="per_order", order_ref="order-7")
    with service.ctx.db.read() as s:
        grant_id = s.execute(select(Consent.id).where(Consent.order_ref == "order-7")).scalar_one()
    now = service.ctx.now()
    with service.ctx.db.write() as s:
        assert consent.claim(s, grant_id, now)
    with _second_worker(service).db.write() as s:
        assert not consent.claim(s, grant_id, now)


def test_a_per_order_consent_stays_used_when_its_decision_is_deleted(service):
    """Used is a fact kept on the consent: deleting old decisions (a retention purge, say) does not make a
    spent per-order consent active again."""
    from sqlalchemy import delete

    from deepcredit.service.store.models import Decision

    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid, mode="per_order", order_ref="order-7")
    assert service.decide(acme, pid, "tx-1", order_ref="order-7").status_code == 200
    service.clock.advance(hours=25)  # past the replay window: tx-1 is a new request again
    with service.ctx.db.write() as s:
        s.execute(delete(Decision))
    assert [c["state"] for c in service.client.get("/v1/me/consents", headers=me).json()] == ["used"]
    again = service.decide(acme, pid, "tx-1", order_ref="order-7")
    assert again.status_code == 409 and again.json()["type"].endswith("/consent-used"), again.text
