"""Readiness (placeholder: filled in by the health work)."""

from __future__ import annotations

from martinet.config import Settings
from martinet.store.database import Database


async def readiness(db: Database, settings: Settings) -> tuple[int, dict[str, object]]:
    """The HTTP status and JSON body of `/readyz`."""
    return 200, {"status": "ready"}
