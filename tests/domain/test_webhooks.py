"""Callback requests as a client sees them: URL, signature, retry delays, Retry-After, refused addresses."""

from __future__ import annotations

import hashlib
import hmac
import random
from urllib.parse import urlencode

import pytest

from martinet.domain.backoff import backoff
from martinet.domain.webhooks import (
    LONGEST_PAUSE,
    append_query,
    ascii_host,
    ascii_target,
    body_signature,
    date_reception,
    event_id,
    forbidden_address,
    query_string,
    request_target,
    retry_after,
    signature,
    url_problem,
    verify,
    verify_body,
    with_query,
)

pytestmark = pytest.mark.unit


def test_parameters_are_appended_after_the_urls_own_query() -> None:
    assert with_query("https://x.example/dlr", {"a": "1 2"}) == "https://x.example/dlr?a=1+2"
    assert with_query("https://x.example/dlr?k=v", {"a": "é"}) == "https://x.example/dlr?k=v&a=%C3%A9"
    assert with_query("https://x.example/dlr?", {"a": "1"}) == "https://x.example/dlr?a=1"
    assert with_query("https://x.example/dlr#frag", {"a": "1"}) == "https://x.example/dlr?a=1"


#: Callback URLs of every shape `append_query` tells apart (query or not, empty query, trailing `&`, no path).
SHAPES = [
    "https://x.example/dlr",
    "https://x.example/dlr?k=v",
    "https://x.example/dlr?",
    "https://x.example/dlr?k=v&",
    "https://x.example/a&b",
    "https://x.example",
    "https://x.example?k=v",
    "http://u:p@x.example:8080/p/q;r?k=%20v&z",
    "http://[2001:db8::1]:81/?",
]


def test_a_query_encodes_as_urlencode_does() -> None:
    values = ["33612345678", "2024-07-01 12:00:00", "", "0.045", "a~b_c.d-e", "é", "x&y=z", "+/%?#", "a b\tc\n", "€"]
    for value in values:
        assert query_string({"k": value, value or "e": "1"}) == urlencode([("k", value), (value or "e", "1")])
    assert query_string({}) == ""


def test_a_query_appended_to_the_target_is_the_target_of_the_url_with_the_query() -> None:
    """What lets the notifier split a callback URL once and append each callback's query to its target."""
    for url in SHAPES:
        for query in ("", "numero=336&statut=11"):
            assert append_query(request_target(url), query) == request_target(append_query(url, query)), url


def test_request_target_is_path_and_query() -> None:
    assert request_target("https://x.example/dlr?x=1&numero=33600") == "/dlr?x=1&numero=33600"
    assert request_target("https://x.example") == "/"


def test_signature_verifies_with_the_secret_only_within_tolerance() -> None:
    header = signature("s3cret", "/dlr?x=1", 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("s3cret", "/dlr?x=1", header, now=1_700_000_100)
    assert not verify("other", "/dlr?x=1", header, now=1_700_000_100)
    assert not verify("s3cret", "/dlr?x=2", header, now=1_700_000_100)
    assert not verify("s3cret", "/dlr?x=1", header, now=1_700_001_000)
    assert not verify("s3cret", "/dlr?x=1", "garbage", now=1_700_000_000)


def test_signatures_are_hmac_sha256_of_the_timestamp_and_what_is_signed() -> None:
    expected = hmac.new(b"k", b"1700000000./dlr?x=1", hashlib.sha256).hexdigest()
    assert signature("k", "/dlr?x=1", 1_700_000_000) == f"t=1700000000,v1={expected}"
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert body_signature("k", b'{"a":1}', 1_700_000_000) == f"t=1700000000,v1={expected}"
    assert verify_body("k", b'{"a":1}', body_signature("k", b'{"a":1}', 1_700_000_000), now=1_700_000_000)


def test_event_ids_and_dates() -> None:
    assert event_id(42) == "h42"
    # 2024-07-01 10:00:00 UTC is noon in Paris (summer time).
    assert date_reception(1_719_828_000_000, "Europe/Paris") == "2024-07-01 12:00:00"
    assert date_reception(1_719_828_000_000, "Not/AZone") == "2024-07-01 10:00:00"
    # Kept per second and zone: another zone, or the next second, is another text.
    assert date_reception(1_719_828_000_999, "Europe/Paris") == "2024-07-01 12:00:00"
    assert date_reception(1_719_828_001_000, "Europe/Paris") == "2024-07-01 12:00:01"
    assert date_reception(1_719_828_000_000, "America/New_York") == "2024-07-01 06:00:00"
    assert date_reception(-1, "UTC") == "1969-12-31 23:59:59"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    first = [backoff(1, 5, 3600, rng) for _ in range(200)]
    assert all(4 <= d <= 6 for d in first)
    assert all(8 <= backoff(2, 5, 3600, rng) <= 12 for _ in range(50))
    assert backoff(30, 5, 3600, rng) <= 3600


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("3", 100.0) == 103.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412000.0) == 1445412480.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 2e9) == 2e9  # in the past: no pause
    assert retry_after("soon", 0.0) is None
    assert retry_after(None, 0.0) is None
    # A receiver's pause ends within the store's integers, and only ASCII digits are seconds.
    assert retry_after("10000000000000000", 100.0) == 100.0 + LONGEST_PAUSE
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 100.0) == 100.0 + LONGEST_PAUSE
    assert retry_after("\u00b2", 0.0) is None and retry_after("\u0663", 0.0) is None  # ² and Arabic-Indic 3


#: Addresses callbacks may not reach, with a word the refusal must contain.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this-network"),
    ("224.0.0.1", "multicast"),
    ("224.0.1.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "reserved"),
    ("240.0.0.1", "reserved"),
    # Carrier-grade NAT, which also holds a cloud provider's metadata service.
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.100.100.200", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fd00::1", "unique local"),
    ("fc00::1", "unique local"),
    ("fec0::1", "site-local"),
    ("feff::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("100::1", "discard"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("5f00::1", "segment routing"),
    ("64:ff9b:1::1", "NAT64"),
    # IPv4 addresses inside IPv6 ones: judged by the IPv4 address they lead to.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:100.100.100.200", "carrier-grade NAT"),
    ("::ffff:10.0.0.1", "private"),
    ("::127.0.0.1", "loopback"),
    ("::10.0.0.1", "private"),
    ("::ffff:0:169.254.169.254", "link-local"),
    ("64:ff9b::127.0.0.1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "link-local"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:a00:1::", "private"),
    ("2002:6464:64c8::1", "carrier-grade NAT"),
    ("2002:a9fe:a9fe::1", "link-local"),
    # Teredo: the client (stored inverted) and the server.
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # client 10.0.0.1
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "private"),  # server 10.0.0.1, client 8.8.8.8
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # client 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),  # client 192.0.2.45 (documentation)
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "IETF protocol assignments"),  # client 8.8.8.8: Teredo itself
    # Other IPv6 ranges that are not global.
    ("2001:10::1", "IETF protocol assignments"),
    ("::8.8.8.8", "reserved"),  # IPv4-compatible: deprecated, not routed
    ("400::1", "reserved"),
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below the carrier-grade NAT range
    "100.128.0.1",  # just above it
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "2a00:1450:4007:80e::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped: the IPv4 address it is
    "64:ff9b::808:808",  # NAT64 (DNS64 networks): 8.8.8.8
    "2002:808:808::1",  # 6to4 for 8.8.8.8
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_addresses_that_are_not_globally_routable_are_refused(address: str, why: str) -> None:
    problem = forbidden_address(address)
    assert problem is not None and why in problem, problem


@pytest.mark.parametrize("address", ALLOWED)
def test_globally_routable_addresses_are_allowed(address: str) -> None:
    assert forbidden_address(address) is None


def test_a_wrapped_address_names_what_it_carries() -> None:
    assert forbidden_address("2002:a00:1::") == "2002:a00:1:: carries 10.0.0.1 (6to4), a private address (10.0.0.0/8)"
    assert forbidden_address("not-an-ip") == "'not-an-ip' is not an IP address"


def test_only_http_and_https_urls() -> None:
    assert url_problem("https://x.example/dlr") is None
    assert url_problem("http://x.example:8080/dlr") is None
    assert "scheme" in (url_problem("ftp://x.example/") or "")
    assert "scheme" in (url_problem("file:///etc/passwd") or "")
    assert url_problem("http:///nohost") is not None
    assert url_problem("http://x.example:99999/") is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/dlr",  # an internationalised name: sent as xn--bcher-kva.example
        "https://xn--bcher-kva.example/dlr",
        "https://_dmarc.example.com./dlr",  # a service name's underscore, a final dot
        "https://[2001:db8::1]:8443/dlr",
        "https://203.0.113.7/dlr",
        "https://example.com/dlr/café?client=é&x=%C3%A9",  # accents in the path and the query: percent-encoded
        "https://example.com/dlr?name=Jean Dupont",  # a space, as typed: %20
    ],
)
def test_urls_resolvers_can_look_up_are_usable(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://shop example.com/dlr", "invalid host name 'shop example.com'"),
        ("https://example.com/dlr\r\nX-Injected: 1", "a URL cannot hold control characters (line breaks, tabs)"),
        ("https://example.com/dlr\t", "a URL cannot hold control characters (line breaks, tabs)"),
        ("https://shop,example.com/dlr", "invalid host name 'shop,example.com'"),
        ("https://.example.com/dlr", "invalid host name '.example.com'"),
        ("https://😀.example/dlr", "invalid host name '😀.example'"),
        ("https://é..example/dlr", "invalid host name 'é..example'"),
        (f"https://{'a' * 64}.example/dlr", f"invalid host name '{'a' * 64}.example'"),
        (f"https://{'a.' * 127}example/dlr", f"invalid host name '{'a.' * 127}example'"),  # over 253 characters
    ],
)
def test_urls_no_resolver_can_look_up_are_refused(url: str, problem: str) -> None:
    assert url_problem(url) == problem


def test_a_target_is_sent_in_ascii_and_signed_as_sent() -> None:
    assert ascii_host("bücher.example") == "xn--bcher-kva.example"
    assert ascii_host("straße.de") == "xn--strae-oqa.de"  # IDNA 2008, as browsers: not strasse.de
    assert ascii_host("例え.テスト") == "xn--r8jz45g.xn--zckzah"
    assert ascii_host("2001:db8::1") == "2001:db8::1"
    assert ascii_target("/dlr/café?client=é&x=%C3%A9&q={1}") == "/dlr/caf%C3%A9?client=%C3%A9&x=%C3%A9&q=%7B1%7D"
    assert ascii_target("/dlr?name=Jean Dupont") == "/dlr?name=Jean%20Dupont"
    plain = "/dlr?a=1&b=%20x;y=@z[0]~!$'()*+,:"
    assert ascii_target(plain) is plain
    assert request_target("https://example.com/dlr?client=café#frag") == "/dlr?client=caf%C3%A9"
