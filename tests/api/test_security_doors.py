"""What the doors refuse, how early and how cheaply: charsets, credentials and failed logins, sizes and counts.

Every request goes over loopback HTTP to a real gateway; the pure parts (charset names, the failure buckets)
are also checked directly.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from martinet.api.legacy.credentials import find_credentials
from martinet.api.legacy.decoding import decode_params
from martinet.app import account_service
from martinet.config import Settings
from martinet.services.auth_failures import FailureLimits, address_key
from tests.api.test_legacy_send import ACCEPTED
from tests.gateway import Gateway, running_gateway

FORM = "application/x-www-form-urlencoded"
AUTH_ERROR = "32 | Erreur d'authentification"


def _text(reply: httpx.Response) -> str:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    return reply.content.decode("iso-8859-15")


async def _timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    reply = await call
    return reply, time.perf_counter() - started


async def _credit(http: httpx.AsyncClient, gw: Gateway) -> str:
    return _text(await http.get("/credit.do", params={"accessToken": gw.token}))


# --- Charsets ---

EXOTIC_CHARSETS = ["punycode", "utf-7", "rot13", "zlib", "hex", "base64", "utf-16", "idna", "klingon", "x" * 300]


@pytest.mark.parametrize("name", EXOTIC_CHARSETS)
def test_a_charset_clients_do_not_send_is_read_as_no_charset(name: str) -> None:
    body = b"message=Caf%E9+%A4+%80&numero=%2B33612345678"
    assert decode_params(b"", body, f"{FORM}; charset={name}") == decode_params(b"", body)


@pytest.mark.parametrize(
    ("declared", "text"),
    [
        ("ISO-8859-15", "Café € €"),
        ('"latin-9"', "Café € €"),
        ("iso_8859_15", "Café € €"),
        ("ISO-8859-1", "Café ¤ €"),  # 0x80-0x9F read as Windows-1252, as when nothing is declared
        ("latin1", "Café ¤ €"),
        ("windows-1252", "Café ¤ €"),
        ("CP1252", "Café ¤ €"),
        ("UTF-8", "Caf\ufffd \ufffd \ufffd"),
        ("utf8", "Caf\ufffd \ufffd \ufffd"),
        ("US-ASCII", "Café € €"),  # 8-bit bytes under an ASCII label: read as when nothing is declared
        ("ascii", "Café € €"),
    ],
)
def test_the_charsets_clients_send_are_honoured_under_their_usual_names(declared: str, text: str) -> None:
    assert decode_params(b"", b"message=Caf%E9+%A4+%80", f"{FORM}; charset={declared}")["message"] == text


def test_credentials_are_found_in_raw_forms_as_the_full_decoding_reads_them() -> None:
    raw = b"AccessToken=first&message=a%26b&ACCESSTOKEN=t%2Bk+n&pseudo=&Pass=p%E9&pass&x=accesstoken%3Dno"
    found = find_credentials(raw, None)
    params = decode_params(b"", raw)
    assert (found.token, found.login, found.password) == ("t+k n", "", "")
    assert (params["accesstoken"], params["pseudo"], params["pass"]) == ("t+k n", "", "")
    assert find_credentials(b"pass=p%E9", None).password == "pé"  # decoded on its own: Latin-9
    assert find_credentials(b"pass=p%C3%A9", None).password == "pé"  # UTF-8
    assert not find_credentials(b"xaccesstoken=1&accesstokens=2&message=pass", None).any


async def test_exotic_charsets_answer_as_without_one_quickly_and_never_fail(database_url: str) -> None:
    padding = "a" * 400_000
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for name in [*EXOTIC_CHARSETS, None]:
            headers = {"content-type": FORM if name is None else f"{FORM}; charset={name}"}
            body = f"accessToken={gw.token}&numero=0612345678&message=Caf%E9+%A4&pad={padding}".encode()
            reply, seconds = await _timed(http.post("/sendSMS.do", content=body, headers=headers))
            assert _text(reply).startswith("0 | Accepté | "), (name, reply.text)
            assert seconds < 1.0, (name, seconds)
            # A token whose UTF-7 reading is a lone surrogate: refused like any unknown token.
            wrong = b"accessToken=%2B2D00-&numero=0612345678&message=x"
            assert _text(await http.post("/sendSMS.do", content=wrong, headers=headers)) == AUTH_ERROR
        listing = _text(await http.get("/smsList.do", params={"accessToken": gw.token}))
        assert listing.count("Café €") == len(EXOTIC_CHARSETS) + 1, listing


async def test_bytes_that_break_their_declared_charset_never_fail(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for declared in ("us-ascii", "utf-8", "windows-1252"):
            body = f"accessToken={gw.token}&numero=0612345678&message=%81%FF%ED%A0%80%C3".encode()
            reply = await http.post(
                "/sendSMS.do", content=body, headers={"content-type": f"{FORM}; charset={declared}"}
            )
            assert _text(reply).startswith("0 | Accepté | "), (declared, reply.text)
        # Broken percent escapes, escaped surrogates and NUL bytes in the query string.
        reply = await http.get(f"/credit.do?accessToken={gw.token}&x=%zz%%ED%A0%80%00%")
        assert _text(reply) == "997"


async def test_rest_bodies_that_are_not_utf8_json_are_400_problems(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(base_url=gw.base) as http:
        headers = {"x-api-key": gw.token, "content-type": "application/json"}
        for body in (
            b'{"body": {"text": "\xe9"}}',
            b'{"body": {"text": "\\ud800"}}',
            b'{"a": "\xed\xa0\x80"}',
            b"\xff",
        ):
            reply = await http.post("/sms/v1/messages", content=body, headers=headers)
            assert reply.status_code == 400, (body, reply.text)
            assert reply.json()["errorCode"] == "INVALID_JSON"


# --- Password logins ---

GENEROUS = {"auth_failures_per_minute": 10_000, "login_failures_per_minute": 10_000}


async def _password_login(http: httpx.AsyncClient, login: str, password: str) -> tuple[str, float]:
    reply, seconds = await _timed(http.post("/credit.do", data={"pseudo": login, "pass": password}))
    return _text(reply), seconds


async def test_password_checks_leave_the_event_loop_free(database_url: str) -> None:
    """A token request sent behind twelve wrong passwords is answered before most of them: scrypt runs beside the
    event loop. (Had it run on the loop, which this test's client shares with the gateway, every password check
    queued ahead would have been done before the token request could be answered.)"""
    async with running_gateway(database_url, with_engine=False, security=GENEROUS) as gw, gw.client() as http:
        assert (await _password_login(http, "acme", "secret"))[0] == "1000"
        logins = [asyncio.create_task(_password_login(http, "acme", f"wrong{i}")) for i in range(12)]
        await asyncio.sleep(0.02)
        reply = await http.get("/credit.do", params={"accessToken": gw.token})
        done_before = sum(login.done() for login in logins)
        assert _text(reply) == "1000"
        answers = await asyncio.gather(*logins)
    assert all(text == AUTH_ERROR for text, _ in answers)
    assert done_before < len(logins) // 2, done_before


async def test_unknown_logins_take_as_long_as_known_ones(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, security=GENEROUS) as gw, gw.client() as http:
        await account_service(gw.settings, gw.db).create("keyonly", credits=0, password=None)
        await _password_login(http, "acme", "warm-up")
        known: list[float] = []
        unknown: list[float] = []
        unusable: list[float] = []
        for i in range(7):  # interleaved, so that the machine slowing down for a moment weighs on all three alike
            known.append((await _password_login(http, "acme", f"wrong{i}"))[1])
            unknown.append((await _password_login(http, f"nobody{i}", "wrong"))[1])
            unusable.append((await _password_login(http, "keyonly", "anything"))[1])
    assert statistics.median(unknown) > 0.5 * statistics.median(known), (unknown, known)
    assert statistics.median(unusable) > 0.5 * statistics.median(known), (unusable, known)


async def test_wrong_passwords_are_limited_per_login(database_url: str) -> None:
    limits = {"auth_failures_per_minute": 100, "login_failures_per_minute": 3}
    async with running_gateway(database_url, with_engine=False, security=limits) as gw, gw.client() as http:
        for i in range(3):
            assert (await _password_login(http, "acme", f"guess{i}"))[0] == AUTH_ERROR
        # The right password is refused too now, at once, and says when to come back.
        started = time.perf_counter()
        reply = await http.post("/credit.do", data={"pseudo": "acme", "pass": "secret"})
        assert time.perf_counter() - started < 0.5
        assert _text(reply) == AUTH_ERROR
        assert 1 <= int(reply.headers["retry-after"]) <= 20
        # Other logins, and access tokens from the same address, are not affected.
        assert (await _password_login(http, "nobody", "x"))[0] == AUTH_ERROR
        assert await _credit(http, gw) == "1000"


async def test_refused_credentials_are_limited_per_address_on_both_doors(database_url: str) -> None:
    limits = {"auth_failures_per_minute": 4, "login_failures_per_minute": 100}
    async with (
        running_gateway(database_url, with_engine=False, security=limits) as gw,
        gw.client() as http,
        httpx.AsyncClient(base_url=gw.base) as rest,
    ):
        for token in ("wrong-1", "wrong-2"):
            assert _text(await http.get("/credit.do", params={"accessToken": token})) == AUTH_ERROR
        for key in ("wrong-3", ""):
            assert (await rest.get("/commons/v1/balance", headers={"x-api-key": key})).status_code == 401
        # Four refusals: this address is refused whatever it brings, on both doors, until it earns one back.
        legacy = await http.get("/credit.do", params={"accessToken": gw.token})
        assert _text(legacy) == AUTH_ERROR
        assert 1 <= int(legacy.headers["retry-after"]) <= 15
        answer = await rest.get("/commons/v1/balance", headers={"x-api-key": gw.token})
        assert answer.status_code == 429
        assert answer.json()["errorCode"] == "TOO_MANY_AUTH_FAILURES"
        assert 1 <= int(answer.headers["retry-after"]) <= 15
        sent = await rest.post(
            "/sms/v1/messages",
            json={"recipient": {"to": "0612345678"}, "body": {"text": "x"}},
            headers={"x-api-key": gw.token},
        )
        assert sent.status_code == 429


def test_failure_buckets_refill_over_time_per_address_and_per_login() -> None:
    now = [0.0]
    limits = FailureLimits(6, 2, clock=lambda: now[0])
    for _ in range(2):
        assert limits.wait("192.0.2.1", "acme") == 0
        limits.failed("192.0.2.1", "acme")
    assert limits.wait("192.0.2.1", "acme") == pytest.approx(30)  # the login earns one back every 30 s
    assert limits.wait("192.0.2.1") == 0  # the address still has 4
    assert limits.wait("192.0.2.2", "other") == 0
    now[0] = 30.0
    assert limits.wait("192.0.2.1", "acme") == 0
    for _ in range(6):
        limits.failed("192.0.2.1")
    assert limits.wait("192.0.2.1") > 0
    now[0] = 1000.0
    assert limits.wait("192.0.2.1", "acme") == 0  # refilled, and forgotten


def test_an_ipv6_client_is_counted_per_64_and_memory_stays_bounded() -> None:
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    limits = FailureLimits(1, 1, max_tracked=100, clock=lambda: 0.0)
    limits.failed("192.0.2.1")
    for i in range(1000):
        limits.failed(f"10.0.{i // 256}.{i % 256}", f"login{i}")
    assert limits.wait("10.0.3.231") > 0  # recent ones are remembered
    assert limits.wait("192.0.2.1") == 0  # the oldest were forgotten


def test_no_limit_when_set_to_zero() -> None:
    limits = FailureLimits(0, 0, clock=lambda: 0.0)
    for _ in range(100):
        limits.failed("192.0.2.1", "acme")
    assert limits.wait("192.0.2.1", "acme") == 0


def test_the_default_limits() -> None:
    settings = Settings()
    assert settings.security.auth_failures_per_minute == 30
    assert settings.security.login_failures_per_minute == 10
    assert settings.http.max_recipients == 100_000


# --- Caps ---


def _numbers(count: int, start: int = 0) -> str:
    return ",".join(f"0612{i:06d}" for i in range(start, start + count))


async def test_recipients_of_a_post_are_capped_invalid_ones_included(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, http={"max_recipients": 50}) as gw, gw.client() as http:
        send: Callable[[str], Awaitable[httpx.Response]] = lambda numero: http.post(  # noqa: E731
            "/sendSMS.do", data={"accessToken": gw.token, "message": "x", "numero": numero}
        )
        assert _text(await send(_numbers(51))) == "35 | Paramètre invalide : numero (plus de 50 destinataires)"
        assert _text(await send(_numbers(49) + ",123,abc")).startswith("35 | Paramètre invalide : numero")
        assert _text(await send(_numbers(50) + ",0612000000")).startswith("35 | ")  # duplicates count too
        assert await _credit(http, gw) == "1000"
        assert _text(await send(_numbers(48) + ",123,abc")).startswith("0 | Accepté | ")
        assert await _credit(http, gw) == "952"


async def test_head_is_answered_only_where_nothing_changes(database_url: str) -> None:
    """A link checker or a monitor sends HEAD expecting no effect: answered as a GET without its body on the
    endpoints that only read, refused (405) on those that send, charge or create."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        params = {"accessToken": gw.token, "message": "x", "numero": "0612345678"}
        for path in ("/sendSMS.do", "/addContact.do", "/sendVoiceMessage.do"):
            reply = await http.head(path, params=params)
            assert (reply.status_code, reply.headers["allow"]) == (405, "GET, POST"), path
        async with httpx.AsyncClient(base_url=gw.base) as v2:
            reply = await v2.head("/http/2.0/createAuthorisation.do", params={"accessToken": gw.token})
            assert reply.status_code == 405
        assert await _credit(http, gw) == "1000"
        assert _text(await http.get("/smsList.do", params={"accessToken": gw.token})) == ""
        head = await http.head("/credit.do", params={"accessToken": gw.token})
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "4")
        put = await http.put("/credit.do", params={"accessToken": gw.token})
        assert (put.status_code, put.headers["allow"]) == (405, "GET, POST, HEAD")


async def test_callback_urls_are_capped_at_2000_characters(database_url: str) -> None:
    url = "http://93.184.215.14/" + "a" * 1979  # 2,000 characters
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for name in ("notification_url", "notification_url_reponse"):
            data = {"accessToken": gw.token, "message": "x", "numero": "0612345678", name: url + "a"}
            reply = _text(await http.post("/sendSMS.do", data=data))
            assert reply == f"35 | Paramètre invalide : {name} (plus de 2000 caractères)"
        assert await _credit(http, gw) == "1000"
        data = {"accessToken": gw.token, "message": "x", "numero": "0612345678", "notification_url": url}
        assert _text(await http.post("/sendSMS.do", data=data)).startswith("0 | Accepté | ")
        rest = httpx.AsyncClient(base_url=gw.base)
        for field in ("callbackUrlStatus", "callbackUrlMo"):
            body = {"recipient": {"to": "0612345678"}, "body": {"text": "x"}, field: url + "a"}
            answer = await rest.post("/sms/v1/messages", json=body, headers={"x-api-key": gw.token})
            assert answer.status_code == 422
            assert answer.json()["field"] == field
        await rest.aclose()


async def _raw_request(gw: Gateway, head: bytes, body: bytes = b"", timeout: float = 3.0) -> bytes:
    """Send a request's head and the start of its body, and read the answer without sending the rest."""
    host, port = gw.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        length = int(next(line for line in answer.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
        return answer + await asyncio.wait_for(reader.readexactly(length), timeout)
    finally:
        writer.close()


def _post_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: {FORM}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_wrong_credentials_in_the_query_are_refused_before_the_body_is_read(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        head = _post_head("/http/1.6/sendSMS.do?accessToken=wrong", 10_000_000)
        answer = await _raw_request(gw, head, b"numero=" + b"0612345678%2C" * 100)
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(AUTH_ERROR.encode("iso-8859-15"))


async def test_a_body_over_the_limit_is_refused_before_it_is_read(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        too_big = gw.settings.http.max_body_bytes + 1
        answer = await _raw_request(gw, _post_head(f"/http/1.6/sendSMS.do?accessToken={gw.token}", too_big))
        expected = f"35 | Paramètre invalide : body (plus de {gw.settings.http.max_body_bytes} octets)"
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(expected.encode("iso-8859-15"))
        # Without a Content-Length (chunked), the answer comes as soon as the limit is passed.
        async with gw.client() as http:

            async def chunks() -> AsyncIterator[bytes]:
                yield f"accessToken={gw.token}&pad=".encode()
                for _ in range(too_big // 65536 + 1):
                    yield b"a" * 65536

            assert _text(await http.post("/sendSMS.do", content=chunks())) == expected


async def test_an_unauthenticated_body_costs_one_pass(database_url: str) -> None:
    """Millions of pairs, wrong credentials at the end: refused without splitting or decoding the pairs."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        body = b"n=%41&" * 2_000_000 + b"numero=0612345678&message=x&accessToken=wrong"
        reply, seconds = await _timed(http.post("/sendSMS.do", content=body, headers={"content-type": FORM}))
        assert _text(reply) == AUTH_ERROR
        assert seconds < 1.5, seconds
        # Authenticated, such a body is refused before it is split: no real client sends a thousand parameters.
        body = body.replace(b"accessToken=wrong", f"accessToken={gw.token}".encode())
        reply, seconds = await _timed(http.post("/sendSMS.do", content=body, headers={"content-type": FORM}))
        assert _text(reply) == "35 | Paramètre invalide : body (plus de 1000 paramètres)"
        assert seconds < 1.5, seconds
        params = {"accessToken": gw.token, "numero": "0612345678", "message": "x"}
        many = {**params, **{f"p{i}": "" for i in range(990)}}
        assert _text(await http.post("/sendSMS.do", data=many)).startswith("0 | Accepté | ")
        too_many = {**params, **{f"p{i}": "" for i in range(1000)}}
        in_query = _text(await http.get("/sendSMS.do", params=too_many))
        assert in_query == "35 | Paramètre invalide : query (plus de 1000 paramètres)"


# --- Numbers in other scripts ---


async def test_numbers_in_other_scripts_are_refused_not_failed(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        async with httpx.AsyncClient(base_url=gw.base, headers={"x-api-key": gw.token}) as rest:
            for query in ("page=²", "pageSize=٣", "page=1_0", "page=" + "9" * 30):
                answer = await rest.get(f"/sms/v1/messages?{query}")
                assert answer.status_code == 422, (query, answer.text)
                assert answer.json()["field"] == query.split("=")[0]
            for path in ("/sms/v1/replies/r²", "/sms/v1/replies/r١", "/sms/v1/messages/Xk3p9QaZ2mTb-²"):
                assert (await rest.get(path)).status_code == 404, path
        async with gw.client() as http:
            token = {"accessToken": gw.token}
            for name, value in (("offset", "١٠"), ("start", "9" * 20), ("start", "²"), ("offset", "1_0")):
                reply = _text(await http.get("/smsList.do", params={**token, name: value}))
                assert reply.startswith(f"35 | Paramètre invalide : {name} "), (name, value, reply)
            send = {**token, "message": "x", "numero": "0612345678"}
            for name, value in (("date_envoi", "٠١٠١٢٠٣٠-١٠:٠٠"), ("nbr_msg", "٣"), ("classe_msg", "²")):
                reply = _text(await http.get("/sendSMS.do", params={**send, name: value}))
                assert reply.startswith(f"35 | Paramètre invalide : {name} "), (name, value, reply)
            assert await _credit(http, gw) == "1000"


# --- Cut bodies ---


async def _cut_request(gw: Gateway, head: bytes, sent: bytes, *, half_close: bool) -> bytes:
    """Send a request's head and only `sent` of its body, then close (or half-close) the connection: what a
    client whose network fails mid-upload leaves. Returns whatever the gateway wrote back meanwhile."""
    host, port = gw.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + sent)
        await writer.drain()
        await asyncio.sleep(0.2)  # the door reads what came before the connection ends
        if half_close:
            writer.write_eof()
            return await asyncio.wait_for(reader.read(), 3.0)
        return b""
    finally:
        writer.close()


@pytest.mark.parametrize("half_close", [False, True], ids=["closed", "half-closed"])
async def test_a_body_cut_short_is_never_acted_on(database_url: str, half_close: bool) -> None:
    """The text cut mid-sentence would leave with another meaning, and be charged; the JSON cut after its last
    brace is whole but for the bytes its length announced. Neither door acts on either."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        body = b"numero=0612345678&message=Le%20rendez-vous%20de%20demain%20est%20annul%E9"
        head = _post_head(f"/http/1.6/sendSMS.do?accessToken={gw.token}", len(body))
        answer = await _cut_request(gw, head, body[: body.index(b"annul")], half_close=half_close)
        assert b"Accept" not in answer
        json_body = b'{"recipient": {"to": "33612345678"}, "body": {"text": "whole"}}'
        rest_head = (
            f"POST /sms/v1/messages HTTP/1.1\r\nHost: gateway\r\nX-Api-Key: {gw.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(json_body) + 10}\r\n\r\n"
        ).encode()
        answer = await _cut_request(gw, rest_head, json_body, half_close=half_close)
        assert b"201" not in answer.partition(b"\r\n")[0]
        await asyncio.sleep(0.5)  # time enough for the gateway to have acted on them, had it
        assert _text(
            await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "ok"})
        ).startswith("0 | Accepté")
        listed = _text(await http.get("/smsList.do", params={"accessToken": gw.token})).splitlines()
        assert [line.split(" | ")[2] for line in listed] == ["ok"]
        assert await _credit(http, gw) == "999"


# --- NUL characters ---


async def test_a_nul_character_is_answered_alike_on_both_databases(database_url: str) -> None:
    """PostgreSQL's text holds no NUL (SQLite's does): a NUL in any parameter must not reach the store as one, or
    the same request would be accepted on one database and answered 31 (500) on the other."""
    async with running_gateway(database_url) as gw, gw.client() as http:
        data = {"accessToken": gw.token, "numero": "0612345678,06\x0012", "message": "a\x00b", "classe_msg": "9"}
        accepted = ACCEPTED.fullmatch((await http.post("/sendSMS.do", data=data)).content)
        assert accepted, "a NUL reads as ? in a text, as any character the text cannot carry"
        data = {"accessToken": gw.token, "numero": "0612345678", "message": "x", "refClient": "r\x00f"}
        assert ACCEPTED.fullmatch((await http.post("/sendSMS.do", data=data)).content)
        contact = {"accessToken": gw.token, "nom": "Du\x00rand", "mobile": "0611111111", "groupes": "g"}
        assert _text(await http.post("/addContact.do", data=contact)).startswith("0 | ")
        listed = _text(await http.get("/smsList.do", params={"accessToken": gw.token}))
        assert "\x00" not in listed and "a?b" in listed
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as rest:
            body = b'{"recipient": {"to": "33612345678"}, "body": {"text": "a\\u0000b"}}'
            answer = await rest.post("/sms/v1/messages", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400, answer.text
            assert answer.json()["errorCode"] == "INVALID_JSON" and "NUL" in answer.json()["detail"]
            escaped = b'{"recipient": {"to": "33612345678"}, "body": {"text": "a\\\\u0000b"}}'  # a backslash, then text
            answer = await rest.post("/sms/v1/messages", content=escaped, headers={"content-type": "application/json"})
            assert answer.status_code == 201, answer.text
