"""The REST door over real HTTP, on both databases: sending, reading, cancelling, previewing, replies, balance.

Answers are checked against what the database holds (sends, ledger, balance), not only against themselves.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.domain.inbound import InboundMessage
from martinet.domain.opt_out import StopKeywords
from martinet.store.inbound import InboundStore
from martinet.store.schema import accounts, idempotency_keys, ledger, messages, sends
from tests.gateway import Gateway, running_gateway, wait_for

SEND = "/sms/v1/messages"


def _rest(gw: Gateway, key: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": key or gw.token}, timeout=30)


async def _counts(gw: Gateway) -> tuple[int, int, int, int]:
    """Sends, messages, ledger rows and the balance of the test account (millicredits)."""
    async with gw.db.reader.connect() as conn:
        balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.login == "acme"))
        counts = [await conn.scalar(select(func.count()).select_from(table)) for table in (sends, messages, ledger)]
    return int(counts[0] or 0), int(counts[1] or 0), int(counts[2] or 0), int(balance or 0)


def _problem(reply: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = reply.json()
    assert problem["errorCode"] == code and problem["status"] == status
    assert problem["type"] == f"urn:martinet:error:{code}"
    assert problem["title"] and problem["detail"] and problem["message"]
    assert problem.get("field") == field
    return problem


async def test_a_send_is_answered_with_its_resource_and_reaches_delivered(database_url: str) -> None:
    async with running_gateway(database_url) as gw, _rest(gw) as http:
        reply = await http.post(
            SEND,
            json={"recipient": {"to": "+33612345678"}, "body": {"text": "Code 123456"}, "refClient": "order-42"},
        )
        assert reply.status_code == 201, reply.text
        message = reply.json()
        assert reply.headers["location"] == message["href"] == f"{SEND}/{message['messageId']}"
        assert message["messageId"] == f"{message['smsId']}-0"
        assert message["recipient"] == {"to": "33612345678"}
        assert message["direction"] == "MT" and message["channel"] == {"type": "SMS", "flow": "TRANSACTIONAL"}
        assert message["body"] == {"text": "Code 123456", "encoding": "GSM7", "messagePartCount": 1, "length": 11}
        assert message["status"]["value"] == "ENROUTE" and message["status"]["deliveryDate"] is None
        assert message["price"] == {"amount": 1.0, "currency": "CREDIT"} and message["refClient"] == "order-42"
        assert (await _counts(gw))[3] == to_milli(999)

        async def delivered() -> dict[str, Any] | None:
            found: dict[str, Any] = (await http.get(message["href"])).json()
            return found if found["status"]["value"] == "DELIVERED" else None

        final = await wait_for(delivered)
        assert final["status"]["code"] == 11 and final["status"]["deliveryDate"]
        # The same send through the smsmode door, by its smsID.
        async with gw.client() as legacy:
            report = await legacy.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": message["smsId"]})
        assert report.text == "33612345678 11"
        balance = await http.get("/commons/v1/balance")
        assert balance.json() == {"balance": 999.0, "currency": "CREDIT"}


async def test_numbers_with_or_without_plus_and_unicode_text(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        for to in ("33612345678", "+33612345679", "0612345670"):
            reply = await http.post(SEND, json={"recipient": {"to": to}, "body": {"text": "Привет"}})
            assert reply.status_code == 201, reply.text
            assert reply.json()["recipient"]["to"].startswith("3361234567")
            assert reply.json()["body"]["encoding"] == "UNICODE"
        # A number where text is expected, as JavaScript clients write one, is read as its digits (Jackson does).
        reply = await http.post(SEND, json={"recipient": {"to": 33612345678}, "body": {"text": 42}, "refClient": 7})
        assert reply.status_code == 201, reply.text
        stored = (await http.get(reply.json()["href"])).json()
        assert (stored["recipient"]["to"], stored["body"]["text"], stored["refClient"]) == ("33612345678", "42", "7")
        _problem(
            await http.post(SEND, json={"recipient": {"to": True}, "body": {"text": "x"}}),
            422,
            "INVALID_PARAMETER",
            "recipient.to",
        )


def _document(text: str) -> str:
    return json.dumps({"recipient": {"to": "+33612345678"}, "body": {"text": text}}, ensure_ascii=False)


async def test_a_json_body_is_read_in_the_charset_its_client_marks_or_names(database_url: str) -> None:
    """UTF-8 after a byte order mark (a file saved by Notepad), UTF-16 and UTF-32 with a mark or recognised by
    their zero bytes, and a charset named in Content-Type: the text is stored whole, as Jackson would read it."""
    unicode, latin = "Café € ’ 😀", "Café"
    cases = [
        (b"\xef\xbb\xbf" + _document(unicode).encode(), "application/json", unicode),
        (_document(unicode).encode("utf-16"), "application/json", unicode),  # its byte order mark, little-endian
        (_document(unicode).encode("utf-16-be"), "application/json", unicode),  # no mark: "\0{" starts it
        (_document(unicode).encode("utf-32-le"), "application/json", unicode),
        (_document(unicode).encode("utf-16-le"), "application/json; charset=UTF-16LE", unicode),
        (_document(latin).encode("latin-1"), "application/json; charset=ISO-8859-1", latin),
        (_document("€ ’").encode("cp1252"), 'application/json; charset="windows-1252"', "€ ’"),
        (b"\xef\xbb\xbf" + _document(unicode).encode(), "application/json;charset=utf-8", unicode),
        (_document("plain").encode(), "application/json; charset=us-ascii", "plain"),
    ]
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        for body, content_type, text in cases:
            reply = await http.post(SEND, content=body, headers={"content-type": content_type})
            assert reply.status_code == 201, (content_type, body[:8], reply.text)
            stored = await http.get(reply.json()["href"])
            assert stored.json()["body"]["text"] == text, content_type
        before = await _counts(gw)
        refused = await http.post(
            SEND, content=_document(latin).encode(), headers={"content-type": "application/json; charset=rot13"}
        )
        assert "'rot13' is not read here" in _problem(refused, 415, "UNSUPPORTED_MEDIA_TYPE")["detail"]
        odd = _document(latin).encode("utf-16-le")[:-1]  # half a character at its end
        refused = await http.post(SEND, content=odd, headers={"content-type": "application/json; charset=utf-16le"})
        assert _problem(refused, 400, "INVALID_JSON")["detail"] == "the body is not valid UTF-16-LE"
        latin_as_utf8 = _document(latin).encode("latin-1")
        _problem(
            await http.post(SEND, content=latin_as_utf8, headers={"content-type": "application/json"}),
            400,
            "INVALID_JSON",
        )
        assert await _counts(gw) == before


async def test_many_recipients_get_one_result_each_and_bad_ones_cost_nothing(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        reply = await http.post(
            SEND,
            json={
                "recipients": [{"to": "0612345678"}, {"to": "12"}, {"to": "+32470123456"}],
                "body": {"text": "Hello"},
            },
        )
        assert reply.status_code == 201, reply.text
        results = reply.json()["messages"]
        assert [r["messageId"].rsplit("-", 1)[1] for r in results] == ["0", "1", "2"]
        assert [r["status"]["value"] for r in results] == ["ENROUTE", "UNDELIVERABLE", "ENROUTE"]
        assert results[1]["status"]["code"] == 3998 and results[1]["price"]["amount"] == 0
        for result in results:  # each is readable on its own
            assert (await http.get(result["href"])).json()["status"]["code"] == result["status"]["code"]
        sends_, messages_, _, balance = await _counts(gw)
        spent = to_milli(1000) - balance
        assert (sends_, messages_) == (1, 3)
        assert spent == round((results[0]["price"]["amount"] + results[2]["price"]["amount"]) * 1000)


async def test_listing_pages_and_filters(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        ids = []
        for i in range(5):
            body = {"recipient": {"to": f"061234567{i}"}, "body": {"text": f"n{i}"}, "refClient": f"ref{i % 2}"}
            ids.append((await http.post(SEND, json=body)).json()["messageId"])
        first = (await http.get(SEND, params={"pageSize": 2})).json()
        assert [m["messageId"] for m in first["items"]] == ids[::-1][:2]
        assert first["hasMore"] is True and first["page"] == 1 and first["pageSize"] == 2
        second = (await http.get(first["next"])).json()
        third = (await http.get(second["next"])).json()
        assert [m["messageId"] for m in second["items"] + third["items"]] == ids[::-1][2:]
        assert third["hasMore"] is False and "next" not in third
        refs = (await http.get(SEND, params={"refClient": "ref1"})).json()["items"]
        assert {m["messageId"] for m in refs} == {ids[1], ids[3]}
        to = (await http.get(SEND, params={"recipient": "+33612345672"})).json()["items"]
        assert [m["messageId"] for m in to] == [ids[2]]
        assert (await http.get(SEND, params={"status": "ENROUTE"})).json()["items"].__len__() == 5
        assert (await http.get(SEND, params={"status": "DELIVERED"})).json()["items"] == []
        assert (await http.get(SEND, params={"startDate": "2999-01-01T00:00:00Z"})).json()["items"] == []
        assert len((await http.get(SEND, params={"endDate": "2999-01-01"})).json()["items"]) == 5
        _problem(await http.get(SEND, params={"pageSize": 101}), 422, "INVALID_PARAMETER", "pageSize")
        _problem(await http.get(SEND, params={"page": "x"}), 422, "INVALID_PARAMETER", "page")
        _problem(await http.get(SEND, params={"status": "LOST"}), 422, "INVALID_PARAMETER", "status")
        _problem(await http.get(SEND, params={"startDate": "yesterday"}), 422, "INVALID_PARAMETER", "startDate")


async def test_cancelling_a_scheduled_message_refunds_it_once(database_url: str) -> None:
    later = datetime.date.today() + datetime.timedelta(days=200)
    async with running_gateway(database_url) as gw, _rest(gw) as http:
        reply = await http.post(
            SEND,
            json={
                "recipients": [{"to": "0612345678"}, {"to": "0612345679"}],
                "body": {"text": "Later"},
                "sentDate": f"{later.isoformat()}T10:00:00+02:00",
            },
        )
        scheduled = reply.json()["messages"]
        assert [m["status"]["value"] for m in scheduled] == ["SCHEDULED", "SCHEDULED"]
        assert scheduled[0]["sentDate"] == f"{later.isoformat()}T08:00:00.000Z"
        assert (await _counts(gw))[3] == to_milli(998)
        cancelled = await http.delete(scheduled[0]["href"])
        assert cancelled.status_code == 200 and cancelled.json()["status"]["value"] == "CANCELLED"
        assert (await _counts(gw))[3] == to_milli(999)
        _problem(await http.delete(scheduled[0]["href"]), 409, "NOT_CANCELLABLE")
        assert (await http.get(scheduled[1]["href"])).json()["status"]["value"] == "SCHEDULED"
        _problem(await http.delete(f"{SEND}/nope"), 404, "NOT_FOUND")
        _problem(await http.get(f"{SEND}/{scheduled[0]['smsId']}-9"), 404, "NOT_FOUND")
        # Another account does not see (nor cancel) it.
        other = await account_service(gw.settings, gw.db).create("other", credits=to_milli(5))
        async with _rest(gw, other.token) as stranger:
            _problem(await stranger.get(scheduled[1]["href"]), 404, "NOT_FOUND")
            _problem(await stranger.delete(scheduled[1]["href"]), 404, "NOT_FOUND")
            assert (await stranger.get(SEND)).json()["items"] == []
        assert (await _counts(gw))[3] == to_milli(999)


async def test_preview_stores_and_charges_nothing(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        before = await _counts(gw)
        body = {
            "recipients": [{"to": "0612345678"}, {"to": "abc"}],
            "body": {"text": "Promo -20%"},
            "from": "Acme",
            "flow": "MARKETING",
        }
        for reply in (
            await http.post(f"{SEND}:preview", json=body),
            await http.post(SEND, params={"dryRun": "true"}, json=body),
        ):
            assert reply.status_code == 200, reply.text
            seen = reply.json()
            assert seen["flow"] == "MARKETING"
            assert seen["body"]["text"].startswith("Promo -20%") and seen["body"]["text"] != "Promo -20%"
            assert [r["valid"] for r in seen["recipients"]] == [True, False]
            assert seen["recipients"][1]["problem"] and seen["recipients"][1]["price"]["amount"] == 0
            assert seen["price"] == seen["recipients"][0]["price"]
        assert await _counts(gw) == before


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        body = {"recipient": {"to": "0612345678"}, "body": {"text": "once"}}
        headers = {"Idempotency-Key": "order-42-sms"}
        first = await http.post(SEND, json=body, headers=headers)
        # The same JSON written differently is the same body.
        again = await http.post(
            SEND,
            content=json.dumps({"body": {"text": "once"}, "recipient": {"to": "0612345678"}}, indent=2),
            headers={**headers, "content-type": "application/json"},
        )
        assert first.status_code == again.status_code == 201
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
        _problem(await http.post(SEND, json={**body, "refClient": "x"}, headers=headers), 422, "IDEMPOTENCY_KEY_REUSED")
        # Concurrent retries of one key make one send.
        burst = {"recipient": {"to": "0612345679"}, "body": {"text": "burst"}}
        replies = await asyncio.gather(
            *(http.post(SEND, json=burst, headers={"Idempotency-Key": "burst-1"}) for _ in range(8))
        )
        assert {r.status_code for r in replies} == {201}
        assert len({r.json()["messageId"] for r in replies}) == 1
        assert (await _counts(gw))[:2] == (2, 2)
        _problem(
            await http.post(SEND, json=body, headers={"Idempotency-Key": "two words"}),
            422,
            "INVALID_PARAMETER",
            "Idempotency-Key",
        )


async def test_a_refused_send_does_not_keep_its_idempotency_key(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, credits=0) as gw, _rest(gw) as http:
        body = {"recipient": {"to": "0612345678"}, "body": {"text": "paid"}}
        headers = {"Idempotency-Key": "k-402"}
        _problem(await http.post(SEND, json=body, headers=headers), 402, "INSUFFICIENT_CREDIT")
        async with gw.db.reader.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(idempotency_keys)) == 0
        await account_service(gw.settings, gw.db).credit("acme", to_milli(5))
        assert (await http.post(SEND, json=body, headers=headers)).status_code == 201
        assert (await _counts(gw))[:2] == (1, 1)


async def test_errors_are_problems_with_stable_codes(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        async with httpx.AsyncClient(base_url=gw.base) as anonymous:
            unauthorized = await anonymous.get(SEND)
            _problem(unauthorized, 401, "UNAUTHORIZED")
            assert unauthorized.headers["www-authenticate"].startswith("Bearer")  # RFC 9110 §11.6.1
            # HEAD is a GET without its body; the documents take nothing else.
            assert (await anonymous.post("/sms/v1/openapi.json")).headers["allow"] == "GET, HEAD"
            assert (await anonymous.head("/sms/v1/openapi.json")).status_code == 200
            _problem(await anonymous.get(SEND, headers={"X-Api-Key": "not-a-key"}), 401, "UNAUTHORIZED")
            # The same key as a bearer token, for generic tools; X-Api-Key wins when both are sent.
            assert (await anonymous.get(SEND, headers={"Authorization": f"Bearer {gw.token}"})).status_code == 200
            assert (await anonymous.get(SEND, headers={"Authorization": f"bearer  {gw.token}"})).status_code == 200
            both = {"Authorization": f"Bearer {gw.token}", "X-Api-Key": "not-a-key"}
            _problem(await anonymous.get(SEND, headers=both), 401, "UNAUTHORIZED")
            _problem(await anonymous.get(SEND, headers={"Authorization": f"Basic {gw.token}"}), 401, "UNAUTHORIZED")
        _problem(await http.post(SEND, content=b"{", headers={"content-type": "application/json"}), 400, "INVALID_JSON")
        _problem(await http.post(SEND, json=[1, 2]), 400, "INVALID_JSON")
        _problem(
            await http.post(SEND, content=b"a=b", headers={"content-type": "text/plain"}), 415, "UNSUPPORTED_MEDIA_TYPE"
        )
        _problem(
            await http.post(SEND, json={"recipient": {"to": "12"}, "body": {"text": "x"}}),
            422,
            "INVALID_PARAMETER",
            "recipient.to",
        )
        _problem(await http.post(SEND, json={"recipient": {"to": "0612345678"}}), 422, "INVALID_PARAMETER", "body")
        _problem(
            await http.post(SEND, json={"recipient": {"to": "0612345678"}, "body": {"text": ""}}),
            422,
            "INVALID_PARAMETER",
            "body.text",
        )
        _problem(
            await http.post(
                SEND, json={"recipient": {"to": "0612345678"}, "body": {"text": "x"}, "from": "Bad sender!"}
            ),
            422,
            "INVALID_PARAMETER",
            "from",
        )
        _problem(
            await http.post(SEND, json={"recipient": {"to": "0612345678"}, "body": {"text": "x"}, "flow": "FAST"}),
            422,
            "INVALID_PARAMETER",
            "flow",
        )
        _problem(
            await http.post(SEND, json={"recipient": {"to": "0612345678"}, "body": {"text": "x"}, "validity": 5}),
            422,
            "INVALID_PARAMETER",
            "validity",
        )
        _problem(await http.post(SEND, json={"body": {"text": "x"}}), 422, "INVALID_PARAMETER", "recipient")
        _problem(
            await http.post(
                SEND,
                json={
                    "recipient": {"to": "0612345678"},
                    "body": {"text": "x"},
                    "callbackUrlStatus": "http://10.0.0.1/cb",
                },
            ),
            422,
            "INVALID_PARAMETER",
            "callbackUrlStatus",
        )
        big = {"recipient": {"to": "0612345678"}, "body": {"text": "x" * (gw.settings.http.max_body_bytes + 1)}}
        _problem(await http.post(SEND, json=big), 413, "PAYLOAD_TOO_LARGE")
        wrong = await http.put(SEND)
        _problem(wrong, 405, "METHOD_NOT_ALLOWED")
        assert wrong.headers["allow"] == "GET, POST, HEAD"
        balance = await http.head("/commons/v1/balance")
        assert (balance.status_code, balance.content) == (200, b"")
        assert int(balance.headers["content-length"]) == len((await http.get("/commons/v1/balance")).content)
        _problem(await http.get("/sms/v1/nothing"), 404, "NOT_FOUND")
        # None of it stored anything or spent a credit.
        assert await _counts(gw) == (0, 0, 1, to_milli(1000))


async def test_rate_limit_answers_429_with_retry_after(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, accounts={"rate_limit": 0.5}) as gw, _rest(gw) as http:
        body = {"recipient": {"to": "0612345678"}, "body": {"text": "x"}}
        assert (await http.post(SEND, json=body)).status_code == 201
        limited = await http.post(SEND, json=body)
        _problem(limited, 429, "RATE_LIMITED")
        assert limited.headers["retry-after"] == "2"
        assert (await _counts(gw))[0] == 1


async def test_insufficient_credit_is_402_and_stores_nothing(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, credits=1) as gw, _rest(gw) as http:
        body = {"recipients": [{"to": "0612345678"}, {"to": "0612345679"}], "body": {"text": "x"}}
        _problem(await http.post(SEND, json=body), 402, "INSUFFICIENT_CREDIT")
        assert await _counts(gw) == (0, 0, 1, to_milli(1))


async def test_replies_are_listed_and_read_by_their_account_only(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, _rest(gw) as http:
        inbound = InboundStore(gw.db, StopKeywords(()), lambda: 1_790_000_000_000, {"36180": "acme"})
        await inbound.record(
            [
                InboundMessage("sandbox", "33612345678", "36180", "Oui merci", 1_790_000_000_000),
                InboundMessage("sandbox", "33612345679", "36180", "Plus tard", 1_790_000_001_000),
            ]
        )
        page = (await http.get("/sms/v1/replies", params={"pageSize": 1})).json()
        assert page["hasMore"] is True
        newest = page["items"][0]
        assert newest["from"] == "33612345679" and newest["recipient"] == {"to": "36180"}
        assert newest["body"] == {"text": "Plus tard", "length": 9} and newest["direction"] == "MO"
        assert (await http.get(newest["href"])).json() == newest
        older = (await http.get(page["next"])).json()["items"]
        assert [r["body"]["text"] for r in older] == ["Oui merci"]
        window = {"startDate": "2026-09-21T14:13:20.500Z", "endDate": "2026-09-21T14:13:21Z"}
        assert [r["body"]["text"] for r in (await http.get("/sms/v1/replies", params=window)).json()["items"]] == [
            "Plus tard"
        ]
        other = await account_service(gw.settings, gw.db).create("other", credits=0)
        async with _rest(gw, other.token) as stranger:
            assert (await stranger.get("/sms/v1/replies")).json()["items"] == []
            _problem(await stranger.get(newest["href"]), 404, "NOT_FOUND")
