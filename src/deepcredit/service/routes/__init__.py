"""Versioned HTTP routes, one module per caller: merchants, people, operators, and health.

What every route shares is here: the shape of an error in the OpenAPI document, the errors any route can
answer (401 credentials, 413 body too large, 422 schema), the extra one a route with a body can answer
(400: the body is not UTF-8 JSON), and the path id types: a merchant's a positive 64-bit integer (a larger
number is a 422 from the schema, never a database overflow), any other row's its public id
(store/public_ids.py) or the number it had before them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from deepcredit.service.problems import PROBLEM_JSON
from deepcredit.service.schemas import INT64_MAX, ProblemDetail
from deepcredit.service.store import public_ids

# An error response, declared under the media type it is sent as (problems.py): ProblemDetail as
# application/problem+json. Not FastAPI's `model`, which files a schema under the route's own type
# (application/json); the component PROBLEM names is registered once (app.py, PROBLEM_SCHEMAS). A page's
# route answers a browser's error with a page in words (text/html) too. Typed as FastAPI's `responses`
# parameter (keys int | str), so route literals like {**BODY, 404: P} check.
Responses = dict[int | str, dict[str, Any]]
PROBLEM = ProblemDetail.__name__
_SCHEMA = {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}
P: dict[str, Any] = {"content": {PROBLEM_JSON: _SCHEMA}}
PAGE_P: dict[str, Any] = {"content": {PROBLEM_JSON: _SCHEMA, "text/html": {"schema": {"type": "string"}}}}
COMMON: Responses = {401: P, 413: P, 422: P}
PAGE: Responses = dict.fromkeys(COMMON, PAGE_P)
BODY: Responses = {400: P}
PathId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A row id (a positive 64-bit integer).")]


def _public(prefix: str, pattern: str, what: str) -> Any:
    return Path(pattern=f"{pattern}|{public_ids.LEGACY_KEY}",
                description=f"The {what}'s id ({prefix}…; its number before public ids is taken too)")


DisputePath = Annotated[str, _public(public_ids.DISPUTE, public_ids.DISPUTE_ID, "dispute")]
ConsentPath = Annotated[str, _public(public_ids.CONSENT, public_ids.CONSENT_ID, "consent")]
PolicyPath = Annotated[str, _public(public_ids.POLICY, public_ids.POLICY_ID, "policy")]
WebhookPath = Annotated[str, _public(public_ids.WEBHOOK, public_ids.WEBHOOK_ID, "webhook")]
