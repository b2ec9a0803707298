"""Request bodies are bounded before anything reads them (pure ASGI, ahead of routing).

A body larger than its limit is refused with 413 before authentication, parsing or any
database work: ten anonymous 50 MB posts must cost the server nothing. The limit depends
on what the body claims to be: JSON, a URL-encoded form (the sign-in) or a file upload.
Chunked bodies without a Content-Length are counted as they arrive and cut off at the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM = b"application/problem+json"


@dataclass(frozen=True)
class BodyLimits:
    """Largest request bodies, in bytes, by kind."""

    json: int
    form: int
    upload: int

    def for_content_type(self, content_type: str) -> tuple[int, str]:
        """The limit for a body of this media type, and the name of that kind of body."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "multipart/form-data":
            return self.upload, "file upload"
        if media == "application/x-www-form-urlencoded":
            return self.form, "form"
        # JSON and anything else: a route that accepts it parses it in memory
        return self.json, "request body"


def _too_large(limit: int, kind: str) -> str:
    return (f"the {kind} is larger than this server accepts ({limit:,} bytes): send a "
            "smaller one, or split it")


class BodyTooLarge(HTTPException):
    """The body grew past its limit while it was being received (an HTTP error, so that
    FastAPI passes it on instead of calling it a parse error)."""

    def __init__(self, limit: int, kind: str) -> None:
        super().__init__(413, _too_large(limit, kind), headers={"Connection": "close"})


def _problem_413(limit: int, kind: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    detail = _too_large(limit, kind)
    body = json.dumps({"type": "about:blank", "title": "Request too large", "status": 413,
                       "detail": detail, "limit_bytes": limit}).encode()
    headers = [(b"content-type", PROBLEM), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return headers, body


class BodyLimitMiddleware:
    """Refuse request bodies over their limit with 413 problem+json."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit, kind = self.limits.for_content_type(
            headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server refuses a malformed length itself
            if too_large:
                await _send_413(send, limit, kind)
                return

        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, kind)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not response_started:
                await _send_413(send, limit, kind)


async def _send_413(send: Send, limit: int, kind: str) -> None:
    headers, body = _problem_413(limit, kind)
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
