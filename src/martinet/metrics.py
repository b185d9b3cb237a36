"""Prometheus metrics (placeholder: filled in by the metrics work)."""

from __future__ import annotations


def exposition() -> tuple[bytes, str]:
    """The metrics of every process of this gateway in the text exposition format, and its content type."""
    return b"", "text/plain; version=0.0.4; charset=utf-8"


def parts_submitted(connector: str) -> float:
    """Parts this process handed to `connector` that its carrier accepted, since the process started.

    The engine's heartbeat turns two readings into the live throughput `martinet status` shows.
    """
    return 0.0
