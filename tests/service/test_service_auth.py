"""Authentication: bad, tampered, revoked or misplaced credentials are one 401; the API documents itself."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _401(r) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers.get("www-authenticate") == "Bearer"
    assert r.json()["detail"] == "missing, unknown, revoked or malformed credentials"


def _tamper(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def test_bad_and_tampered_merchant_keys_are_refused(service):
    mid, acme = service.merchant()
    key = acme["Authorization"].split()[1]
    assert service.client.get("/v1/merchant", headers=acme).json()["id"] == mid
    cases = [{}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {key}"},
             {"Authorization": f"Bearer {_tamper(key)}"},  # right key id, wrong secret
             {"Authorization": f"Bearer dcm_0000000000000000_{key.split('_', 2)[2]}"},  # unknown key id
             {"Authorization": f"Bearer {key}x"}, {"Authorization": f"Bearer {key.replace('dcm', 'dcp', 1)}"},
             {"Authorization": "Bearer ' OR 1=1 --"}]
    for headers in cases:
        _401(service.client.get("/v1/merchant", headers=headers))
        _401(service.client.post("/v1/decisions", headers=headers,
                                 json={"transaction_id": "t", "person_id": "p", "policy": "rental"}))


def test_rotated_keys_and_disabled_merchants_stop_working(service):
    mid, old = service.merchant()
    r = service.client.post(f"/v1/admin/merchants/{mid}/keys", headers=service.admin)
    assert r.status_code == 201
    new = {"Authorization": f"Bearer {r.json()['api_key']}"}
    _401(service.client.get("/v1/merchant", headers=old))
    assert service.client.get("/v1/merchant", headers=new).status_code == 200
    assert service.client.post(f"/v1/admin/merchants/{mid}/disable", headers=service.admin).json()["active"] is False
    _401(service.client.get("/v1/merchant", headers=new))


def test_person_tokens_and_the_admin_key(service):
    pid, _ = service.with_score()
    me = service.person(pid)
    token = me["Authorization"].split()[1]
    assert service.client.get("/v1/me/consents", headers=me).status_code == 200
    _401(service.client.get("/v1/me/consents", headers={"Authorization": f"Bearer {_tamper(token)}"}))
    service.clock.advance(days=31)  # tokens last 30 days by default
    _401(service.client.get("/v1/me/consents", headers=me))
    for headers in ({"Authorization": "Bearer not-the-admin-key-at-all"}, me, {}):
        _401(service.client.get("/v1/admin/merchants", headers=headers))
    service.ctx.settings.admin_key = ""  # no admin key configured: the operator API is closed
    _401(service.client.get("/v1/admin/merchants", headers=service.admin))


def test_a_new_person_token_revokes_the_earlier_ones(service):
    """One live token per person, like a password reset: a token given out by mistake ends with the next."""
    from sqlalchemy import select

    from deepcredit.service.store.models import AuditEntry

    pid, _ = service.with_score()
    first, second = service.person(pid), service.person(pid)
    _401(service.client.get("/v1/me/consents", headers=first))
    assert service.client.get("/v1/me/consents", headers=second).status_code == 200
    other, _ = service.with_score(skip=1)
    assert service.client.get("/v1/me/consents", headers=service.person(other)).status_code == 200
    assert service.client.get("/v1/me/consents", headers=second).status_code == 200  # another person's: no effect
    with service.ctx.db.read() as s:
        issued = s.execute(select(AuditEntry.details).where(AuditEntry.action == "person_token_issued",
                                                            AuditEntry.subject == service.subject(pid))).scalars()
        assert [json.loads(d)["revoked"] for d in issued] == [0, 1]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_openapi_documents_every_route_with_models_and_problems(service):
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert all(p.startswith("/v1/") for p in paths)
    for path, methods in paths.items():
        for method, op in methods.items():
            ok = next(c for c in op["responses"] if c.startswith("2"))
            content = op["responses"][ok].get("content", {})
            if path.endswith(".html"):
                assert "text/html" in content
            elif path.endswith(".zip"):
                assert "application/zip" in content
            else:
                assert "$ref" in str(content["application/json"]["schema"]), (method, path)
            if "requestBody" in op:
                assert "$ref" in str(op["requestBody"]["content"]["application/json"]["schema"])
            if path != "/v1/health":
                assert "ProblemDetail" in str(op["responses"].get("401", {})), (method, path)
    r = service.client.get("/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = service.client.put("/v1/decisions")
    assert r.status_code == 405 and r.json()["status"] == 405
    assert service.client.get("/v1/health").json()["status"] == "ok"


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_document_offers_only_the_outcomes_the_served_data_set_can_hold(service):
    from deepcredit.service.app import _set_outcomes

    doc = service.client.get("/openapi.json").json()  # the simulated world holds all six
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["discriminator"]["mapping"]) == 6 and len(body["oneOf"]) == 3
    _set_outcomes(doc, {"rental_returned_late", "rental_not_returned"})  # a rental shop's declared outcomes
    assert sorted(body["discriminator"]["mapping"]) == ["rental_not_returned", "rental_returned_late"]
    assert [o["$ref"].rsplit("/", 1)[-1] for o in body["oneOf"]] == ["LateEvent", "MissedEvent"]
    schemas = doc["components"]["schemas"]
    assert schemas["LateEvent"]["properties"]["outcome"]["enum"] == ["rental_returned_late"]
    other = [op["requestBody"]["content"]["application/json"]["schema"] for methods in doc["paths"].values()
             for op in methods.values() if "upheld" in str(op.get("requestBody"))]
    assert other and sorted(other[0]["discriminator"]["mapping"]) == ["corrected", "upheld"]  # untouched
    _set_outcomes(doc, set())  # a data set without events: the list stays, the 422 says why
    assert len(body["oneOf"]) == 2
