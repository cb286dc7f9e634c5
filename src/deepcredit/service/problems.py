"""Errors as RFC 9457 problem details (`application/problem+json`), or for a person's browser a page in words.

A refusal says what kind of refusal it is (`type`, `title`) and never what the service knows about the
person: a query without consent gets the same 403 body whether or not the person has a score. Nor does an
error echo the request: `instance` is the matched route template (`/v1/people/{person_id}/report`), or for
a path that matched no route the path with every segment no route names replaced by `*`, capped in
length; validation errors carry locations and messages, never the input, and an unknown field's name is
not repeated (it could be anything the client sent).

A person opening a page in a browser reads words, not JSON: where the route is a page (its path ends in
`.html`) or the client names `text/html` in its Accept header, the same status comes as a small HTML page
(`error_page`) that says what happened and what to do (an expired or invalid link: ask the service that
sent it for a new one), and nothing about the person or the request. Every other client, and one that
asks for JSON only, keeps `application/problem+json`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
WHOLE_BODY = {"dict_type", "model_attributes_type", "model_type"}
"""pydantic's types for a body that is not an object (JSON sent as text, without its content type)."""
TYPE_BASE = "https://deepcredit.dev/problems/"

TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Content too large", 422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error",
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


MAX_INSTANCE = 120
KINDS = {400: "invalid-body", 401: "unauthorized", 404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}


def _route_table(app) -> list[tuple[re.Pattern, set[str], set[str]]]:
    """(path pattern, methods, static segments) per documented path, from the app's own OpenAPI document."""
    table = getattr(app.state, "problem_routes", None)
    if table is None:
        table = []
        for path, ops in app.openapi().get("paths", {}).items():
            parts = path.split("/")
            pattern = "/".join("[^/]+" if "{" in p else re.escape(p) for p in parts)
            methods = {m.upper() for m in ops} | ({"HEAD"} if "get" in ops else set())
            table.append((re.compile(f"^{pattern}$"), methods, {p for p in parts if "{" not in p}))
        app.state.problem_routes = table
    return table


def instance_of(scope) -> str:
    """Where the problem happened, without anything the client put in the path."""
    route = scope.get("route")
    if getattr(route, "path", None):
        return route.path
    app = scope.get("app")
    known = set().union(*(seg for _, _, seg in _route_table(app))) if app is not None else {""}
    path = "/".join(p if p in known else "*" for p in str(scope.get("path", "")).split("/"))
    return path if len(path) <= MAX_INSTANCE else path[:MAX_INSTANCE - 3] + "..."


def allowed_methods(app, path: str) -> str:
    """Every method some route serves at this path (Starlette names only the first route that matched)."""
    methods = set().union(*(m for pattern, m, _ in _route_table(app) if pattern.match(path)))
    return ", ".join(sorted(methods))


ENUM_REPR = re.compile(r"<\w+\.\w+: ('[^']*')>")
"""An enum member as pydantic writes it in a message (<Outcome.LATE: 'late'>): the client knows the value only."""


def _msg(error: dict) -> str:
    if error.get("type") == "union_tag_invalid":  # pydantic's message quotes the tag the client sent
        ctx = error.get("ctx") or {}
        tags = ENUM_REPR.sub(r"\1", str(ctx.get("expected_tags", "")))  # tags that are enum members: their values
        return f"{ctx.get('discriminator', 'the tag')} must be one of {tags}"
    if error.get("type") == "json_invalid":  # its location is a character offset, which reads like a field
        at = next((x for x in error.get("loc", ())[1:] if isinstance(x, int)), None)
        return "the body is not valid JSON" + (f" (at character {at})" if at is not None else "")
    if error.get("type") in WHOLE_BODY and tuple(error.get("loc", ())) == ("body",):
        return ("the body must be a JSON object: send it with the header Content-Type: application/json")
    return str(error.get("msg", ""))[:200]


def _loc(error: dict) -> list[str]:
    if error.get("type") == "json_invalid":
        return ["body"]
    loc = [str(x) for x in error.get("loc", ())]
    if error.get("type") == "extra_forbidden" and loc:
        loc[-1] = "(unknown field)"
    return [x if len(x) <= 60 else x[:57] + "..." for x in loc]


def problem_response(status: int, kind: str, title: str, detail: str, instance: str,
                     headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Vary": "Accept"}
ASK = "Ask the service that sent you the link (the app or website where you asked for your report) for a new one."
PAGES = {
    401: ("This link has expired or is not valid",
          "The link you opened no longer works: links to your report stop working after a while, and a link "
          "that was changed, cut short or withdrawn never works.", ASK),
    403: ("This page is not yours to see", "The link you opened is for someone else's page.",
          "Open the link that was sent to you. " + ASK),
    404: ("There is no such page", "The address you opened does not lead to a page of ours.",
          "Check the address, or open the link you were sent again."),
    422: ("The address is not valid", "Part of the address you opened is not one we understand (for example "
          "a page number that does not exist).", "Open the link you were sent again, without changing it."),
    429: ("Too many requests", "We received too many requests from you in a short time.",
          "Wait a minute, then open the link again."),
}
SERVER_ERROR = ("Something went wrong on our side", "We could not show this page just now.",
                "Try again in a few minutes. If it keeps happening, tell the service that sent you the link.")


def wants_html(request: Request) -> bool:
    """A page (a route ending in .html) or a client that names text/html (a browser): an error in words.
    A client that names JSON and not HTML keeps the problem document, on a page's route too."""
    accept = request.headers.get("accept", "").lower()
    html = "text/html" in accept
    if not html and (PROBLEM_JSON in accept or "application/json" in accept):
        return False
    return html or request.url.path.endswith(".html")


@lru_cache(maxsize=1)
def _pages() -> Environment:
    return Environment(loader=PackageLoader("deepcredit.service", "templates"), autoescape=select_autoescape(["html"]))


def error_page(status: int, kind: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The problem as a person reads it: what happened and what to do, with the same status. Built from the
    status and the problem's kind only: never the detail, the request or anything about the person."""
    heading, what, todo = PAGES.get(status, SERVER_ERROR if status >= 500 else
                                    ("This page cannot be shown", "The request could not be answered.",
                                     "Open the link you were sent again. " + ASK))
    text = _pages().get_template("error.html").render(page={"heading": heading, "what": what, "next": todo},
                                                      status=status, kind=kind)
    return HTMLResponse(text, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def _answer(request: Request, status: int, kind: str, title: str, detail: str,
            headers: dict[str, str] | None = None, **extra: object) -> Response:
    if wants_html(request):
        return error_page(status, kind, headers)
    return problem_response(status, kind, title, detail, instance_of(request.scope), headers, **extra)


def install(app: FastAPI) -> None:
    """Every error path (ours, Starlette's 404/405, validation 422, unexpected 500) speaks problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return _answer(request, exc.status, exc.kind, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request.app, request.url.path) or headers.get("Allow", "")
        return _answer(request, exc.status_code, KINDS.get(exc.status_code, "http-error"),
                       TITLES.get(exc.status_code, "Error"), str(exc.detail), headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # only locations and messages: echoing the input could echo a person id into a log or a proxy
        errors = [{"loc": _loc(e), "msg": _msg(e), "type": e.get("type", "")}
                  for e in exc.errors()[:20]]
        return _answer(request, 422, "invalid-request", TITLES[422], "the request does not match the schema",
                       errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _answer(request, 500, "internal", TITLES[500], "an unexpected error occurred")
