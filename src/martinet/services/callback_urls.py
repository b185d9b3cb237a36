"""Checking callback URLs when a send is accepted: what can be known without the network.

At acceptance a URL must be `http(s)` with a host and a valid port (`martinet.domain.webhooks.url_problem`), and,
unless the operator allows private networks, a host that *is* an address must be one callbacks may reach
(`forbidden_address`, the rule the notifier applies). "Is an address" means any form the system's resolver reads
as one, not only the canonical ones: `10.0.0.1`, `[fd00::1]`, but also `127.1`, `2130706433` or `0x7f.1`, and the
names that always mean loopback, `localhost` and `*.localhost` (RFC 6761).

Names are not resolved at acceptance. A lookup would make accepting a send wait on DNS (its latency, its
outages, a client's host names that never resolve), and the lookups run in the threads that SQLite writes and
password checks use: a slow resolver would slow every send of the worker. Nor would it protect anything: a name
may resolve differently by the time a callback leaves, so the notifier resolves every name when it connects and
connects only to the addresses that pass (`martinet.engine.notifier.GuardedResolver`). That is the check that
keeps callbacks out of the gateway's network; this one tells a client at once about the mistakes that can be
seen in the URL itself.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from martinet.domain.webhooks import ascii_host, control_problem, forbidden_address, url_problem

#: The longest callback URL taken, a send's or an account's default, refused rather than cut: the URL is copied
#: into every callback row it gets.
MAX_URL = 2000


class CallbackUrlCheck:
    def __init__(self, *, allow_private_networks: bool) -> None:
        self._allow_private = allow_private_networks

    def problem(self, url: str) -> str | None:
        """Why `url` cannot be a callback URL, as far as the URL itself shows, or None."""
        return control_problem(url) or _problem(_before_query(url), self._allow_private)


def _before_query(url: str) -> str:
    """`url` without its query and fragment, which cannot change what `_problem` finds but a control character
    (checked on the whole URL, uncached): the scheme and the authority (host, port) it checks end before the first
    `?` or `#` (RFC 3986, and `urlsplit`)."""
    return url.partition("?")[0].partition("#")[0]


@functools.lru_cache(maxsize=1024)
def _problem(url: str, allow_private: bool) -> str | None:
    """`CallbackUrlCheck.problem`, remembered: a client's URLs usually differ by their query only (a send's
    reference in it), and splitting and checking one cost a few percent of accepting a send. No lookup is made,
    so the answer depends on the URL and the setting alone."""
    problem = url_problem(url)
    if problem is not None or allow_private:
        return problem
    # Judged as connected to: `１２７.０.０.１` or `127。0。0。1` are 127.0.0.1 once in their ASCII form.
    return host_problem(ascii_host(urlsplit(url).hostname or ""))


def host_problem(host: str) -> str | None:
    """Why callbacks may not go to `host` when it stands for an address without a lookup, else None (a name)."""
    host = host.split("%", 1)[0]  # an IPv6 zone (fe80::1%eth0) does not change the address
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return forbidden_address(host)
    address = resolver_literal(host)
    if address is None:
        return None
    problem = forbidden_address(address)
    return None if problem is None else f"{host} means {address}: {problem}"


def resolver_literal(host: str) -> str | None:
    """The IPv4 address a host that is not written canonically still stands for without asking DNS, or None
    when it is a name to resolve.

    The C resolver reads the short, decimal, octal and hexadecimal forms of `inet_aton` (`127.1`, `2130706433`,
    `0x7f.1` are 127.0.0.1), and RFC 6761 makes `localhost` and its subdomains loopback whatever DNS says.
    """
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "127.0.0.1"
    try:
        return socket.inet_ntoa(socket.inet_aton(name))
    except OSError:
        return None
