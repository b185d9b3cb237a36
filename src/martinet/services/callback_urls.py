"""Checking callback URLs when a send is accepted, so that a URL the notifier would refuse is refused at once.

The same rules as at delivery (`martinet.domain.webhooks`): http(s) only, and a host that resolves only to
loopback, private, link-local or other refused addresses is refused (unless the operator allows private
networks). A host that does not resolve now is accepted: DNS may be down for a moment, and the notifier checks
every address again before it connects (which is what stops DNS rebinding). Answers are cached per host for a
minute so that a busy client's sends do not each cost a lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from martinet.domain.webhooks import forbidden_address, url_problem

#: Seconds a host's verdict is kept; seconds a lookup may take before the URL is accepted unchecked.
CACHE_SECONDS = 60.0
RESOLVE_TIMEOUT = 2.0


class CallbackUrlCheck:
    def __init__(self, *, allow_private_networks: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._allow_private = allow_private_networks
        self._clock = clock
        self._verdicts: dict[str, tuple[float, str | None]] = {}

    async def problem(self, url: str) -> str | None:
        """Why `url` cannot be a callback URL, or None."""
        problem = url_problem(url)
        if problem is not None or self._allow_private:
            return problem
        host = (urlsplit(url).hostname or "").split("%", 1)[0]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return await self._host_problem(host)
        return forbidden_address(host)

    async def _host_problem(self, host: str) -> str | None:
        cached = self._verdicts.get(host)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        try:
            infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, None), RESOLVE_TIMEOUT)
        except (OSError, TimeoutError):
            return None  # cannot tell now; not cached, the notifier checks again anyway
        problems = [forbidden_address(str(info[4][0])) for info in infos]
        verdict = problems[0] if problems and all(problems) else None
        if verdict is not None:
            verdict = f"{host} resolves only to refused addresses ({verdict})"
        if len(self._verdicts) > 10_000:
            self._verdicts.clear()
        self._verdicts[host] = (self._clock() + CACHE_SECONDS, verdict)
        return verdict
