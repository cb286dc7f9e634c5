"""Errors as RFC 9457 problem details (`application/problem+json`), and nothing else.

A refusal says what kind of refusal it is (`type`, `title`) and never what the service knows about the
person: a query without consent gets the same 403 body whether or not the person has a score.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://deepcredit.dev/problems/"

TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, kind: str, detail: str, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers
        self.extra = extra


def unauthorized(detail: str = "missing, unknown, revoked or malformed credentials") -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(kind: str, detail: str) -> Problem:
    return Problem(403, kind, detail)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"no such {what}")


def problem_response(status: int, kind: str, title: str, detail: str, instance: str,
                     headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Every error path (ours, Starlette's 404/405, validation 422, unexpected 500) speaks problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.title, exc.detail, request.url.path, exc.headers,
                                **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, TITLES.get(exc.status_code, "Error"), str(exc.detail),
                                request.url.path, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # only locations and messages: echoing the input could echo a person id into a log or a proxy
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return problem_response(422, "invalid-request", TITLES[422], "the request does not match the schema",
                                request.url.path, errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "internal", TITLES[500], "an unexpected error occurred", request.url.path)
