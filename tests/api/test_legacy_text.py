"""What happens to the text on its way in: charsets over HTTP, character policies, STOP mention, truncation."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from sqlalchemy import select

from martinet.store.schema import sends
from tests.gateway import Gateway, running_gateway


async def _stored(
    gw: Gateway, raw_body: bytes, content_type: str = "application/x-www-form-urlencoded"
) -> tuple[str, str, int]:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", content=raw_body, headers={"content-type": content_type})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    send_id = answer.rsplit(" | ", 1)[1]
    async with gw.db.reader.connect() as conn:
        row = (
            await conn.execute(select(sends.c.text, sends.c.encoding, sends.c.segments).where(sends.c.id == send_id))
        ).one()
    return row.text, row.encoding, row.segments


def _body(gw: Gateway, message: bytes, **extra: str) -> bytes:
    params = "&".join(f"{k}={v}" for k, v in extra.items())
    return f"accessToken={gw.token}&numero=0612345678&{params}&message=".encode() + quote_from_bytes(message).encode()


async def test_latin9_utf8_and_broken_bytes_over_http(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        assert (await _stored(gw, _body(gw, "Été à 5 €".encode("iso-8859-15"))))[0] == "Été à 5 €"
        assert (await _stored(gw, _body(gw, "Été à 5 €".encode())))[0] == "Été à 5 €"
        # Neither valid UTF-8 nor meaningful Latin-9: still a deterministic text, the same twice.
        garbage = b"\xc3(\xff\xfe\x80abc"
        first = await _stored(gw, _body(gw, garbage))
        assert first == await _stored(gw, _body(gw, garbage))
        # Read as Latin-9 (Ã ( ÿ þ, then %80 as €); Ã, ÿ and þ are not GSM 03.38 and become "?".
        assert first[0] == "?(??€abc"


async def test_unicode_class_keeps_emoji_and_counts_utf16_units(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        text, encoding, segments = await _stored(gw, _body(gw, "Merci 😀".encode(), classe_msg="9"))
        assert (text, encoding, segments) == ("Merci 😀", "UCS-2", 1)
        text, encoding, _ = await _stored(gw, _body(gw, "Merci 😀".encode()))
        assert (text, encoding) == ("Merci ?", "GSM-7")  # classe 2 replaces what GSM cannot carry


async def test_transliterating_account(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, accounts={"non_gsm": "transliterate"}) as gw:
        text, encoding, _ = await _stored(gw, _body(gw, "Tête-à-tête, cœur ç “ok”".encode()))
        assert (text, encoding) == ('Tete-à-tete, coeur Ç "ok"', "GSM-7")


async def test_stop_mention_and_truncation(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        text, _, _ = await _stored(gw, _body(gw, b"Promo", stop="2"))
        assert text == "Promo STOP 36180"
        text, _, segments = await _stored(gw, _body(gw, b"x" * 155, stop="1"))  # would need a 2nd part: not added
        assert (text, segments) == ("x" * 155, 1)
        text, _, segments = await _stored(gw, _body(gw, b"y" * 1000, nbr_msg="2"))
        assert (text, segments) == ("y" * 306, 2)
        text, _, segments = await _stored(gw, _body(gw, b"z" * 1000))  # default nbr_msg is 5
        assert (len(text), segments) == (765, 5)
