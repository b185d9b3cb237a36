"""Request context (placeholder: filled in by the logging work)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestContext:
    """Wraps the HTTP application so every log line of a request carries its id."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
