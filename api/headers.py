"""Security headers on every response (pure ASGI, so streamed bodies pass untouched).

HTML pages (the sign-in, the maps, /docs) may run the inline scripts that folium and
Swagger UI write, but load nothing from another origin except the configured basemap's
tiles; nothing the product serves may be framed by another site. JSON answers get the
strictest policy, as they are never meant to run anything.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def page_policy(basemap_url: str | None) -> str:
    """The Content-Security-Policy of the HTML pages."""
    tiles = ""
    if basemap_url:
        parts = urlsplit(basemap_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            # a {s} subdomain placeholder becomes a CSP host wildcard
            tiles = f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{tiles}; connect-src 'self'; font-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    """Add CSP, frame, sniffing and referrer headers; HSTS when the request came over HTTPS."""

    def __init__(self, app: ASGIApp, basemap_url: str | None = None) -> None:
        self.app = app
        self.page_policy = page_policy(basemap_url).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((value for name, value in headers
                                     if name.lower() == b"content-type"), b"")
                policy = (self.page_policy if content_type.startswith(b"text/html")
                          else API_POLICY.encode())
                extra = [(b"content-security-policy", policy),
                         (b"x-frame-options", b"DENY"),
                         (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"same-origin"),
                         (b"cross-origin-opener-policy", b"same-origin")]
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
