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

from deepcredit.service.schemas import INT64_MAX, ProblemDetail
from deepcredit.service.store import public_ids

# An error response's shape. FastAPI files `model` under application/json; app.py's document moves it to
# application/problem+json, the type every error is sent as. Typed as FastAPI's `responses` parameter (keys int | str), so route literals like {**BODY, 404: P} check.
Responses = dict[int | str, dict[str, Any]]
P: dict[str, Any] = {"model": ProblemDetail, "content": {"application/problem+json": {}}}
COMMON: Responses = {401: P, 413: P, 422: P}
BODY: Responses = {400: P}
PathId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A row id (a positive 64-bit integer).")]


def _public(prefix: str, pattern: str, what: str) -> Any:
    return Path(pattern=f"{pattern}|{public_ids.LEGACY_KEY}",
                description=f"The {what}'s id ({prefix}…; its number before public ids is taken too)")


DisputePath = Annotated[str, _public(public_ids.DISPUTE, public_ids.DISPUTE_ID, "dispute")]
ConsentPath = Annotated[str, _public(public_ids.CONSENT, public_ids.CONSENT_ID, "consent")]
PolicyPath = Annotated[str, _public(public_ids.POLICY, public_ids.POLICY_ID, "policy")]
WebhookPath = Annotated[str, _public(public_ids.WEBHOOK, public_ids.WEBHOOK_ID, "webhook")]
