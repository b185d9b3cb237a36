"""Waiting on several asyncio events at once: the engine's loops sleep until stopped, woken or timed out.

`asyncio.Event` has no "wait for any of these"; each loop of the engine (the dispatcher, the notifier, the
wake-up listener) needs one, so it is written once here.
"""

from __future__ import annotations

import asyncio

__all__ = ["first_of"]


async def first_of(*events: asyncio.Event, within: float | None = None) -> None:
    """Return as soon as one of `events` is set, or after `within` seconds (None: no limit); leaves no task
    behind either way."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
