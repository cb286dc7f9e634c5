"""Errors as a person's browser reads them: an expired or invalid link on a page is a page in words, with the
same status; JSON clients keep the problem document (service/problems.py)."""

from __future__ import annotations

import pytest

pytest_plugins = ("service_testkit",)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _is_page(r, status: int) -> str:
    assert r.status_code == status and r.headers["content-type"].startswith("text/html"), r.text[:200]
    assert "default-src 'none'" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    assert "{" not in r.text.split("<style>")[0] + r.text.split("</style>")[1]  # no JSON in the page's text
    assert "credentials" not in r.text and "<script" not in r.text
    return r.text


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_an_expired_missing_or_invalid_link_is_a_page_that_says_what_to_do(service):
    pid, _ = service.with_score()
    me = service.person(pid)
    token = me["Authorization"].split()[1]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Bearer {token[:-4]}AAAA"}):
        page = _is_page(service.client.get("/v1/me/report.html", headers=headers), 401)
        assert "This link has expired or is not valid" in page and "Ask the service that sent you the link" in page
    service.clock.advance(days=31)  # tokens last 30 days
    r = service.client.get("/v1/me/report.html", headers=me)
    page = _is_page(r, 401)
    assert r.headers["www-authenticate"] == "Bearer" and "expired" in page
    assert pid not in page and service.subject(pid) not in page and token not in page  # nothing about the person
    # a browser on any route gets the page; a bad page number reads as an address problem, not JSON
    _is_page(service.client.get("/v1/me/report", headers={"Accept": BROWSER}), 401)
    me = service.person(pid)
    assert "The address is not valid" in _is_page(service.client.get("/v1/me/report.html?history_page=0",
                                                                       headers=me), 422)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_json_clients_keep_problem_json(service):
    for path, accept in (("/v1/me/report", None), ("/v1/me/report", "application/json"),
                         ("/v1/me/report.html", "application/problem+json"), ("/v1/me/consents", "*/*")):
        r = service.client.get(path, headers={"Accept": accept} if accept else {})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", (path, accept)
        assert r.json()["detail"] == "missing, unknown, revoked or malformed credentials"


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_body_that_is_not_json_says_so(service):
    """Malformed JSON reads as such (its location was a character offset, as if it were a field); JSON
    sent without its content type is told to send one; neither echoes the body."""
    _, acme = service.merchant()
    head = {**acme, "Content-Type": "application/json"}
    r = service.client.post("/v1/decisions", content=b'{"transaction_id": "t-1", "person_id": p0000042}', headers=head)
    error = r.json()["errors"][0]
    assert r.status_code == 422 and error["loc"] == ["body"] and error["msg"].startswith("the body is not valid JSON")
    assert "p0000042" not in r.text
    r = service.client.post("/v1/decisions", content=b'{"transaction_id": "t-1"}',
                            headers={**acme, "Content-Type": "text/plain"})
    assert r.status_code == 422 and "Content-Type: application/json" in r.json()["errors"][0]["msg"]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_document_files_every_error_under_problem_json(service):
    """Every error response declares ProblemDetail under application/problem+json, the type the service sends
    (not under application/json, where FastAPI files a response model); a page's errors keep text/html."""
    doc = service.client.get("/openapi.json").json()
    assert "ProblemDetail" in doc["components"]["schemas"]
    seen = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                seen += 1
                content, where = response["content"], (path, method, status)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ProblemDetail"}, where
                assert set(content) <= {"application/problem+json", "text/html"}, where
                if "text/html" in content:
                    assert path.endswith(".html") and content["text/html"]["schema"] == {"type": "string"}, where
    assert seen > 100
    r = service.client.get("/v1/me/report")
    assert r.status_code == 401 and r.headers["content-type"] in doc["paths"]["/v1/me/report"]["get"]["responses"]["401"]["content"]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_pages_errors_are_declared_as_a_page_too(service):
    """The .html route declares its errors where it is written: problem+json for a client, and the page in
    words a browser gets (text/html); a JSON route declares problem+json only."""
    doc = service.client.get("/openapi.json").json()
    page = doc["paths"]["/v1/me/report.html"]["get"]["responses"]["401"]["content"]
    assert set(page) == {"application/problem+json", "text/html"}
    assert set(doc["paths"]["/v1/me/report"]["get"]["responses"]["401"]["content"]) == {"application/problem+json"}
