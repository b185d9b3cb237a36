"""Property-based fuzzing of the smsmode door over loopback HTTP: whatever arrives, a prompt answer in its dialect.

Hypothesis builds requests to every `*.do` endpoint (and unknown ones): random sets of the door's parameters with
values of every shape (numbers in other scripts, huge and broken ones, phone lists, dates, URLs, text in any
script, lone surrogates), encoded in the charsets clients use or as raw byte soups, sent by GET, HEAD or POST
with any `Content-Type` charset, including the codecs that are no text encodings. Every answer must come within
`ANSWER_BOUND` seconds, never be a 5xx, and, from a known endpoint, be an smsmode answer that is not an internal
error (`31`, which the door gives when an endpoint raised).

The default run sends a couple of hundred requests to a gateway in the test's event loop (hypothesis is
synchronous: it runs in a worker thread while the loop serves). The long run (`pytest -m long`) sends 10,000 to
`martinet serve` and checks that its HTTP worker's memory does not keep growing. SQLite only: the door's parsing
and answers do not depend on the store, which the rest of the suite runs on both.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from martinet.api.legacy.endpoints import READ_ONLY
from tests.gateway import running_gateway
from tests.served import served

ANSWER_BOUND = 5.0  # seconds: generous, the machine may be busy; a stalled door takes far longer
SIZES = 100_000  # characters of the longest generated value (the body may carry several)
ENDPOINTS = ["sendSMS", "compteRendu", "smsStatus", "credit", "deleteSMS", "smsList", "responseList"]
KNOWN = {name.lower() + ".do" for name in ENDPOINTS}
CHARSETS = [
    "ISO-8859-15",
    "iso-8859-1",
    "latin1",
    "windows-1252",
    "UTF-8",
    "utf8",
    "us-ascii",
    "punycode",
    "utf-7",
    "rot13",
    "zlib",
    "hex",
    "base64",
    "utf-16",
    "idna",
    "bz2",
    "uu",
    "quopri",
    "",
    '"',
    "x" * 200,
]
ENCODINGS = ["utf-8", "iso-8859-15", "cp1252", "utf-16-le"]
NAMES = [
    "numero",
    "message",
    "classe_msg",
    "nbr_msg",
    "date_envoi",
    "emetteur",
    "refClient",
    "stop",
    "validity",
    "notification_url",
    "notification_url_reponse",
    "smsID",
    "start",
    "offset",
    "startDate",
    "endDate",
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: bytes
    body: bytes
    content_type: str | None


_numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["²", "١٢", "٣", "1_000", "+5", "-0", " 7 ", "0x10", "1e3", "9" * 5000, "", "½", "𝟙"]),
)
_phones = st.tuples(
    st.sampled_from([",", ";", "\n", ", "]),
    st.lists(
        st.one_of(
            st.sampled_from(
                ["0612345678", "+33612345678", "0033612345678", "33612345678", "0692123456", "+3212345678"]
            ),
            st.from_regex(r"[+0-9 ().\-]{0,20}", fullmatch=True),
            st.text(max_size=30),
        ),
        max_size=40,
    ),
).map(lambda drawn: drawn[0].join(drawn[1]))
_dates = st.one_of(
    st.from_regex(r"[0-9]{8}-[0-9]{2}:[0-9]{2}", fullmatch=True),
    st.sampled_from(["01012030-10:00", "31022027-10:00", "٠١٠١٢٠٣٠-١٠:٠٠", "2030-01-01", ""]),
)
_urls = st.one_of(
    st.text(max_size=50).map(lambda path: "http://93.184.215.14/" + path),
    st.integers(1990, 2010).map(lambda n: "http://93.184.215.14/" + "a" * n),
    st.sampled_from(["http://10.0.0.1/", "ftp://x/", "javascript:alert(1)", "http://[::1]/", "http://%zz/"]),
)
_values = st.one_of(
    _numbers,
    _phones,
    _dates,
    _urls,
    st.text(max_size=200),  # any script, lone surrogates included
    st.integers(0, SIZES).map(lambda n: "a" * n),
)


@st.composite
def _form(draw: st.DrawFn, token: str) -> bytes:
    """A form: credentials (right, wrong, absent, odd), random parameters, encoded as a client would, or not."""
    pairs: list[tuple[bytes, bytes]] = []
    credentials = draw(st.sampled_from(["token", "token", "token", "wrong", "password", "bad password", "none", "odd"]))
    if credentials == "token":
        pairs.append((b"accessToken", token.encode()))
    elif credentials == "wrong":
        pairs.append((b"accessToken", draw(st.binary(max_size=64))))
    elif credentials in ("password", "bad password"):
        pairs += [(b"pseudo", b"acme"), (b"pass", b"secret" if credentials == "password" else b"guess")]
    elif credentials == "odd":
        pairs.append((draw(st.sampled_from([b"ACCESSTOKEN", b"access%54oken", b"+accessToken"])), token.encode()))
    encoding = draw(st.sampled_from(ENCODINGS))
    errors = "surrogatepass" if encoding.startswith("utf") else "replace"  # lone surrogates travel in UTF-8/16
    if draw(st.booleans()):  # a plausible send, so that some get through to the rules and the store
        pairs.append((b"numero", draw(st.sampled_from(["0612345678", "0612345678,+33698765432"])).encode()))
        pairs.append((b"message", draw(st.text(min_size=1, max_size=300)).encode(encoding, errors)))
    for name in draw(st.lists(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), max_size=6)):
        value = draw(_values)
        pairs.append((name.encode(encoding, errors), value.encode(encoding, errors)))
    draw(st.randoms()).shuffle(pairs)
    escape = draw(st.sampled_from(["percent", "percent", "raw", "broken"]))
    encoded = []
    for name, value in pairs:
        if escape == "percent" or name in (b"accessToken", b"pseudo", b"pass"):
            encoded.append(quote_from_bytes(name).encode() + b"=" + quote_from_bytes(value).encode())
        elif escape == "raw":
            encoded.append(name + b"=" + value)
        else:
            encoded.append(name + b"=" + quote_from_bytes(value).encode().replace(b"%", b"%%", 1) + b"%")
    form = b"&".join(encoded)
    if draw(st.integers(0, 9)) == 0:
        form += draw(st.binary(max_size=300))  # a byte soup after it
    return form


@st.composite
def requests(draw: st.DrawFn, token: str) -> Request:
    name = draw(
        st.one_of(
            st.just("sendSMS"),  # the endpoint with the most parameters, as often as all the others together
            st.sampled_from(ENDPOINTS),
            st.sampled_from([*ENDPOINTS, "SENDSMS", "CompteRendu", "unknown", "sendFax", "credit.do/x"]),
        )
    )
    method = draw(st.sampled_from(["GET", "GET", "POST", "POST", "POST", "POST", "HEAD", "PUT"]))
    form = draw(st.one_of(_form(token), _form(token), _form(token), st.binary(max_size=500)))
    charset = draw(st.one_of(st.none(), st.sampled_from(CHARSETS), st.sampled_from(CHARSETS), st.text(max_size=20)))
    content_type = None
    if charset is not None:
        content_type = f"application/x-www-form-urlencoded; charset={charset}"
        # What a header can carry: Latin-1 without control characters (HTTP servers refuse those with a 400).
        content_type = "".join(c for c in content_type.encode("latin-1", "replace").decode("latin-1") if c >= " ")
        content_type = content_type.replace("\x7f", "").strip(" \t")  # nor spaces at its ends (h11 refuses them)
    long = len(form) > 20_000  # URLs that long are refused by clients (httpx: 64 KiB, escaped) before they leave
    if long and method != "PUT":
        method = "POST"
    if method in ("POST", "PUT") and (long or draw(st.integers(0, 2)) > 0):
        query = b"accessToken=" + token.encode() if draw(st.booleans()) else b""
        return Request(method, f"/http/1.6/{name}.do", query, form, content_type)
    return Request(method, f"/http/1.6/{name}.do", form, b"", content_type)


def _check(client: httpx.Client, request: Request, seen: Counter[str]) -> None:
    headers = {} if request.content_type is None else {"content-type": request.content_type.encode("latin-1")}
    # What can travel in a request line: bytes outside printable ASCII (and `#`) escaped, broken escapes kept.
    query = quote_from_bytes(request.query, safe="&=%+;,/?:@!$'()*~[]")
    url = request.path + ("?" + query if query else "")
    started = time.perf_counter()
    answer = client.request(request.method, httpx.URL(url), content=request.body or None, headers=headers)
    elapsed = time.perf_counter() - started
    assert elapsed < ANSWER_BOUND, (elapsed, request)
    assert answer.status_code < 500, (answer.status_code, answer.text, request)
    known = request.path.rsplit("/", 1)[1].lower() in KNOWN
    name = request.path.rsplit("/", 1)[1].lower()
    changes = name.removesuffix(".do") not in {n.lower() for n in READ_ONLY}
    if not known or request.method == "PUT" or (request.method == "HEAD" and changes):
        assert answer.status_code == (405 if known else 404), request
        seen[str(answer.status_code)] += 1
        return
    assert answer.status_code == 200, (answer.status_code, request)
    text = answer.content.decode("iso-8859-15")
    assert not text.startswith("31 |"), (text, request)
    first = text.split(" | ", 1)[0]
    seen[first if first in {"0", "32", "33", "35", "61"} else "data"] += 1


def _fuzz(base: str, token: str, examples: int, after: Callable[[int], None] | None = None) -> Counter[str]:
    seen: Counter[str] = Counter()
    sent = [0]
    with httpx.Client(base_url=base, timeout=ANSWER_BOUND * 2) as client:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(request=requests(token))
        def run(request: Request) -> None:
            _check(client, request, seen)
            sent[0] += 1
            if after is not None:
                after(sent[0])

        run()
    return seen


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'martinet.db'}"


async def test_random_requests_get_prompt_answers_in_the_door_dialect(sqlite_url: str) -> None:
    limits = {"auth_failures_per_minute": 0, "login_failures_per_minute": 0}  # fuzz the endpoints, not the limit
    async with running_gateway(sqlite_url, credits=10**6, with_engine=False, security=limits) as gw:
        seen = await asyncio.to_thread(_fuzz, gw.base, gw.token, 200)
    # The fuzzing reached the endpoints, not only the refusals.
    assert seen["0"] >= 5, seen
    assert seen["data"] >= 3, seen
    assert seen["35"] >= 10, seen
    assert seen["32"] >= 10, seen


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.long
def test_ten_thousand_random_requests_leave_the_worker_memory_flat(tmp_path: Path) -> None:
    top = "[security]\nauth_failures_per_minute = 0\nlogin_failures_per_minute = 0\n"
    with served(tmp_path, "fuzz", top, engine=False) as gateway:
        worker = int(httpx.get(gateway.admin + "/healthz", timeout=5).json()["pid"])
        samples: dict[int, int] = {}

        def sample(sent: int) -> None:
            if sent == 2_000:
                samples[sent] = _rss_kib(worker)

        seen = _fuzz(gateway.base, gateway.token, 10_000, sample)
        last = _rss_kib(worker)
    assert sum(seen.values()) >= 9_000, seen
    assert seen["0"] >= 200, seen
    growth_mib = (last - samples[2_000]) / 1024
    assert growth_mib < 32, (samples, growth_mib)
