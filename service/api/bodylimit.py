"""The request-body size limit, as pure ASGI middleware (413 over it).

A declared Content-Length over the limit is refused before anything is read. A body sent
without one (chunked) is counted as it arrives and refused as soon as it grows past the
limit, so the server never holds more than the limit plus one chunk.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import ApiError, problem

SLUG = "body-too-large"


class BodyTooLarge(ApiError):
    """Raised from `receive`; an HTTPException, so FastAPI lets it through to the handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, SLUG, f"the request body is over the limit of {limit:,} bytes")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(self.max_bytes)
        response = problem(scope["path"], 413, exc.detail, slug=SLUG)
        await response(scope, receive, send)
