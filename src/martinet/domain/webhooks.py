"""Status callbacks as the client receives them: the URL, the signature, the retry delays, the address rules.

Pure functions, no I/O: the notifier (`martinet.engine.notifier`) does the requests. See docs/webhooks.md.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, urlsplit
from zoneinfo import ZoneInfo

import idna

from martinet.domain.credits import format_credits

EVENT_HEADER = "X-Martinet-Event-Id"
SIGNATURE_HEADER = "X-Martinet-Signature"

#: How far the `t` of a signature may be from the receiver's clock, in seconds (replays older than this fail).
DEFAULT_TOLERANCE = 300


def event_id(history_id: int) -> str:
    """The id of a status event, stable across retries, for the receiver's de-duplication."""
    return f"h{history_id}"


def reply_event_id(inbound_id: int) -> str:
    """The id of a reply event (its `responseID`), stable across retries."""
    return f"r{inbound_id}"


def status_params(
    msisdn: str,
    at_ms: int,
    timezone: str,
    code: int,
    send_id: str,
    ref_client: str | None,
    cost: int,
    mcc_mnc: str | None = None,
) -> dict[str, str]:
    """A delivery report's query parameters, as smsmode sends them (`refClient` only when the send had one;
    `mcc_mnc` the range holder's network when known, else empty)."""
    params = {
        "numero": msisdn,
        "date_reception": date_reception(at_ms, timezone),
        "statut": str(code),
        "smsID": send_id,
    }
    if ref_client:
        params["refClient"] = ref_client
    params["mcc_mnc"] = mcc_mnc or ""
    params["cost"] = format_credits(cost)
    return params


def reply_params(
    inbound_id: int,
    to: str,
    sender: str,
    text: str,
    at_ms: int,
    timezone: str,
    send_id: str | None,
    ref_client: str | None,
) -> dict[str, str]:
    """A reply's query parameters, as smsmode sends them: `numero` is the number replied to, `emetteur` the
    phone that replied, `date_reception` as `ddMMyyyy-HHmmss` in the account's time zone."""
    return {
        "numero": to,
        "message": text,
        "emetteur": sender,
        "date_reception": _local_text(at_ms // 1000, timezone, "%d%m%Y-%H%M%S"),
        "smsID": send_id or "",
        "refClient": ref_client or "",
        "responseID": str(inbound_id),
    }


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` percent-encoded and appended after its own query string (kept as it is)."""
    base, _, fragment = url.partition("#")
    del fragment  # never sent
    return append_query(base, query_string(params))


def append_query(base: str, extra: str) -> str:
    """`base` (a URL without fragment, or a request target) followed by the encoded query `extra`.

    The same rule for both, so the target of `append_query(url, q)` is `append_query(target of url, q)`: the
    notifier splits a callback URL once for all its callbacks and appends each callback's query to the target.
    """
    if not extra:
        return base
    if "?" not in base:
        return f"{base}?{extra}"
    if base.endswith(("?", "&")):
        return base + extra
    return f"{base}&{extra}"


#: What `quote_plus` leaves as it is; a value made only of these is its own encoding.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def query_string(params: Mapping[str, str]) -> str:
    """`urlencode(params)`, cheaper: most callback values (numbers, codes, ids) need no quoting, and one match
    per value costs less than `urlencode`'s calls through `quote_plus` for each key and value."""
    return "&".join(f"{_quoted(key)}={_quoted(value)}" for key, value in params.items())


@functools.lru_cache(maxsize=1024)
def _quoted(value: str) -> str:
    """Kept: the names, and most values (a second's `date_reception`, codes, a send's `smsID`), repeat from one
    callback to the next, and a cache hit costs less than the match, let alone `quote_plus`."""
    return value if _PLAIN.fullmatch(value) else quote_plus(value)


def request_target(url: str) -> str:
    """The path and query of `url` as they appear on the request line (`/dlr?x=1&numero=…`), the part its
    signature covers (`ascii_target`: a receiver sees an accent of the URL percent-encoded)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return ascii_target(f"{path}?{parts.query}" if parts.query else path)


def signature(secret: str, target: str, timestamp: int) -> str:
    """The `X-Martinet-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.target")>`."""
    return f"t={timestamp},v1={_hmac_hex(secret, f'{timestamp}.{target}'.encode())}"


def body_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Martinet-Signature` value of a JSON callback: a POST's URL says nothing of what it reports, so
    the body is signed instead, as received (`HMAC-SHA256(secret, b"t." + body)`)."""
    return f"t={timestamp},v1={_hmac_hex(secret, f'{timestamp}.'.encode() + body)}"


def _hmac_hex(secret: str, message: bytes) -> str:
    """HMAC-SHA256 of `message` in hex, from a copy of the secret's keyed state: the key is padded and hashed
    once per secret rather than once per callback, and no digest is looked up by name per call."""
    mac = _keyed(secret).copy()
    mac.update(message)
    return mac.hexdigest()


@functools.lru_cache(maxsize=1024)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def verify(secret: str, target: str, header: str, now: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether `header` signs `target` with `secret`, made at most `tolerance` seconds from `now`."""
    return _verify(header, now, tolerance, lambda timestamp: signature(secret, target, timestamp))


def verify_body(secret: str, body: bytes, header: str, now: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether `header` signs the raw `body` of a JSON callback with `secret`, made at most `tolerance` seconds
    from `now` (the body as received: parsed and serialised again, it would not match)."""
    return _verify(header, now, tolerance, lambda timestamp: body_signature(secret, body, timestamp))


def _verify(header: str, now: float, tolerance: float, sign: Callable[[int], str]) -> bool:
    """The check shared by both kinds of signature: fresh `t`, and one `v1` equal to what `sign(t)` gives."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in fields.get("v1", []))


def date_reception(at_ms: int, timezone: str) -> str:
    """The status change time as smsmode's delivery callbacks give it (`yyyy-MM-dd HH:mm:ss`), local to the
    account's time zone (the specification names no zone)."""
    return _local_text(at_ms // 1000, timezone, "%Y-%m-%d %H:%M:%S")


@functools.lru_cache(maxsize=4096)
def _local_text(seconds: int, timezone: str, pattern: str) -> str:
    """The second `seconds` written with `pattern` in `timezone` (UTC when the zone is unknown).

    Kept: the reports of one batch of receipts mostly share their second and their account's zone, and the
    zone lookup, conversion and formatting cost more than the rest of a callback's parameters.
    """
    try:
        zone: ZoneInfo | None = ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        zone = None
    moment = datetime.fromtimestamp(seconds, UTC)
    return (moment.astimezone(zone) if zone is not None else moment).strftime(pattern)


#: Seconds a receiver's `Retry-After` may pause it at most (a year): its end must fit the store's integers.
LONGEST_PAUSE = 365 * 24 * 3600


def retry_after(value: str | None, now: float) -> float | None:
    """The end (unix seconds) of a `Retry-After` pause, given as seconds or as an HTTP date, at most
    `LONGEST_PAUSE` away; None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # `²` is a digit to `isdigit`, not to `int`
        return now + min(int(value[:12]), LONGEST_PAUSE)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(now, moment.timestamp()), now + LONGEST_PAUSE)


def forbidden_address(address: str) -> str | None:
    """Why callbacks may not go to `address` (an IP literal), or None when it is globally routable.

    Only addresses that `ipaddress` calls global pass, after the table of special-purpose ranges below (which
    `is_global` misses in some Python versions). An IPv6 address that carries an IPv4 address (IPv4-mapped,
    -compatible or -translated, NAT64, 6to4, Teredo) is refused when what it carries is: `2002:a00:1::` reaches
    10.0.0.1 through any 6to4 relay. IPv4-mapped, NAT64 and 6to4 addresses lead to the IPv4 address they carry and
    nowhere else, and are judged by it alone (Python's own verdict on 2002::/16 differs between patch releases:
    3.11.2 calls it private, 3.11.7 does not); the others are judged by both.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        carried, how, only = _carried(ip)
        for inner in carried:
            problem = _non_global(inner)
            if problem is not None:
                return f"{ip} carries {inner} ({how}), {problem}"
        if only:
            return None
    problem = _non_global(ip)
    return None if problem is None else f"{ip} is {problem}"


def _carried(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], str, bool]:
    """The IPv4 addresses `ip` leads to, how it carries them, and whether they are all it is."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped], "IPv4-mapped", True
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return [low], "NAT64", True
    if ip in _IPV4_TRANSLATED:
        return [low], "IPv4-translated", False
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves
        return [low], "IPv4-compatible", False
    if ip.sixtofour is not None:
        return [ip.sixtofour], "6to4", True
    if ip.teredo is not None:
        server, client = ip.teredo
        return [client, server], "Teredo", False
    return [], "", False


def _non_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes `ip` itself other than a globally routable unicast address ("a loopback address"), or None."""
    for name, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
    ):
        if hit:
            return _a(f"{name} address")
    for network, name in _SPECIAL[ip.version]:
        if ip in network:
            return _a(f"{name} address ({network})")
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiouAEIOU' else 'a'} {noun}"


_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

#: Ranges that are not globally routable, named, from the IANA special-purpose registries (RFC 6890 and later):
#: `is_private`/`is_global` cover most of them but not all, and not the same ones in every Python version.
_SPECIAL: dict[int, tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]] = {
    4: tuple(
        (ipaddress.IPv4Network(net), name)
        for net, name in (
            ("0.0.0.0/8", "this-network"),
            ("10.0.0.0/8", "private"),
            ("100.64.0.0/10", "shared (carrier-grade NAT)"),
            ("172.16.0.0/12", "private"),
            ("192.0.0.0/24", "IETF protocol assignments"),
            ("192.0.2.0/24", "documentation"),
            ("192.88.99.0/24", "6to4 relay anycast"),
            ("192.168.0.0/16", "private"),
            ("198.18.0.0/15", "benchmarking"),
            ("198.51.100.0/24", "documentation"),
            ("203.0.113.0/24", "documentation"),
            ("240.0.0.0/4", "reserved"),
        )
    ),
    6: tuple(
        (ipaddress.IPv6Network(net), name)
        for net, name in (
            ("64:ff9b:1::/48", "local-use NAT64"),
            ("100::/64", "discard-only"),
            ("2001::/23", "IETF protocol assignments"),
            ("2001:db8::/32", "documentation"),
            ("3fff::/20", "documentation"),
            ("5f00::/16", "segment routing"),
            ("fc00::/7", "unique local"),
            ("fec0::/10", "site-local"),
        )
    ),
}


#: A host name as resolvers take it, in its ASCII form: labels of letters, digits, `-` and `_` (which names of
#: services hold), 1 to 63 characters each and 253 in all, a final dot allowed.
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*\.?", re.ASCII)
#: What a request target may hold as written: URI characters, `%` of the escapes already there. Anything else (an
#: accent, a space, `"`, `{`) is sent percent-encoded in UTF-8, as browsers and HTTP libraries send a URL typed
#: with it.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"
#: A target every character of which is one `ascii_target` keeps (nearly every callback URL).
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9_.~!#$%&'()*+,/:;=?@\[\]-]*")
#: Never sent, nor percent-encoded: a line break in a URL is an attempt to add headers to the request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def url_problem(url: str) -> str | None:
    """What makes `url` unusable as a callback URL whatever it resolves to (scheme, host), or None."""
    problem = control_problem(url)
    if problem is not None:
        return problem
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} refused: only http and https"
    if not parts.hostname:
        return "URL without a host"
    try:
        ascii_host(parts.hostname)
    except ValueError as exc:
        return str(exc)
    return None


def control_problem(url: str) -> str | None:
    """`url_problem`'s check of the whole URL, for a caller that checks the rest on its part before the query."""
    if url.isprintable() or not _CONTROL.search(url):  # the first test, in C, settles nearly every URL
        return None
    return "a URL cannot hold control characters (line breaks, tabs)"


def ascii_host(host: str) -> str:
    """`host` as resolvers and the `Host` header take it: a name written in Unicode in its IDNA form, as browsers
    write it (IDNA 2008 with UTS 46: `bücher.example` → `xn--bcher-kva.example`, `straße.de` →
    `xn--strae-oqa.de`; Python's own codec is IDNA 2003, which makes the latter `strasse.de`, another domain), an
    IPv6 address as it is; raises ValueError for what no resolver can look up (a space, an empty label, a label
    over 63 characters)."""
    if ":" in host:  # an IPv6 address: the URL's brackets were checked by `urlsplit`
        return host
    name = host
    if not host.isascii():
        try:
            name = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise ValueError(f"invalid host name {host!r}") from None
    if _HOST_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid host name {host!r}")
    return name


def ascii_target(target: str) -> str:
    """A request target (path and query) as sent on the request line: what is not a URI character is
    percent-encoded in UTF-8 (`/dlr?client=café` → `/dlr?client=caf%C3%A9`), the rest, escapes included, kept."""
    return target if _PLAIN_TARGET.fullmatch(target) else quote(target, safe=_TARGET_SAFE)
