"""The request body size limit, enforced before a body is read (ASGI middleware).

Why here and not in a route: FastAPI reads a whole body before it checks credentials, so without this an
unauthenticated client could make the server hold any amount of memory. A declared Content-Length above
the limit is refused at once; a body sent without one (chunked) is counted as it streams and refused as
soon as it passes the limit. Either way the answer is a 413 problem document, for every route.
"""

from __future__ import annotations

from fastapi import HTTPException

from deepcredit.service.problems import instance_of, problem_response

TOO_LARGE = "payload-too-large"


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than the service accepts ({limit:,} bytes)"


class BodyLimit:
    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = problem_response(413, TOO_LARGE, "Content too large", too_large_detail(self.max_bytes),
                                        instance_of(scope), headers={"Connection": "close"})
            return await response(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI passes an HTTPException from the body read through
                    raise HTTPException(413, too_large_detail(self.max_bytes), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
