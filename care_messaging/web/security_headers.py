"""Security headers on every HTTP response (pages, API routes, static files).

Applied as the last ``api_transformer``, so it wraps Reflex's own routes and the compiled
frontend too. The CSP is the strictest one the compiled app works under: React Router's
hydration and Radix/Emotion styles need inline script and style; no eval, no third-party
origins, the websocket only back to ourselves, no framing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

BASE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
}
# Hashed build assets are safe to cache; everything else may carry PHI or session state.
CACHEABLE_PREFIXES = ("/assets/", "/favicon")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in BASE_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()]
                if not path.startswith(CACHEABLE_PREFIXES):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(app: ASGIApp) -> ASGIApp:
    return SecurityHeadersMiddleware(app)
