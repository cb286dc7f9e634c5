"""Versioned HTTP routes, one module per caller: merchants, people, operators, and health.

What every route shares is here: the shape of an error in the OpenAPI document, the errors any route can
answer (401 credentials, 413 body too large, 422 schema), the extra one a route with a body can answer
(400: the body is not UTF-8 JSON), and the path id type (a positive 64-bit integer, so a larger number is
a 422 from the schema, never a database overflow).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from deepcredit.service.schemas import INT64_MAX, ProblemDetail
from deepcredit.service.store import public_ids

# Typed as FastAPI's `responses` parameter (keys int | str), so route literals like {**BODY, 404: P} check.
Responses = dict[int | str, dict[str, Any]]
P: dict[str, Any] = {"model": ProblemDetail, "content": {"application/problem+json": {}}}
COMMON: Responses = {401: P, 413: P, 422: P}
BODY: Responses = {400: P}
PathId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A row id (a positive 64-bit integer).")]
DisputePath = Annotated[str, Path(pattern=rf"{public_ids.DISPUTE_ID}|^[0-9]{{1,18}}$",
                                  description="The dispute's id (dsp_…; its number before public ids is taken too)")]
