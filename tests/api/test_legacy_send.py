"""sendSMS.do and friends over real HTTP, on both databases."""

from __future__ import annotations

import re

import httpx

from tests.gateway import running_gateway, wait_for

ACCEPTED = re.compile(rb"0 \| Accept\xe9 \| ([A-Za-z0-9]{12})")


async def test_send_then_follow_it_to_received(database_url: str) -> None:
    async with running_gateway(database_url) as gw, gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "Bonjour"}
        )
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "text/plain; charset=ISO-8859-15"
        match = ACCEPTED.fullmatch(reply.content)
        assert match, reply.content
        sms_id = match.group(1).decode()

        async def received() -> bool:
            report = await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})
            return report.text == "33612345678 11"

        await wait_for(received)
        status = await http.get("/smsStatus.do", params={"accesstoken": gw.token, "smsid": sms_id})
        assert status.content == "11 | Reçu".encode("iso-8859-15")
        credit = await http.get("/credit.do", params={"accessToken": gw.token})
        assert credit.text == "999"


async def test_a_send_whose_recipients_are_all_final_reads_final(database_url: str) -> None:
    """One recipient received, one refused at acceptance: the send ends as a failure (12 is a pending code, and
    a client polling smsStatus.do for a final one would never stop); compteRendu.do tells who got it."""
    async with running_gateway(database_url) as gw, gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678,0000", "message": "Bonjour"}
        )
        match = ACCEPTED.fullmatch(reply.content)
        assert match, reply.content
        sms_id = match.group(1).decode()

        async def received() -> bool:
            report = await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})
            return report.text == "33612345678 11 | 0000 3998"

        await wait_for(received)
        status = await http.get("/smsStatus.do", params={"accessToken": gw.token, "smsID": sms_id})
        assert status.content.decode("iso-8859-15") == "3998 | Destinataire invalide"


async def test_entries_refused_at_acceptance_never_split_a_report(database_url: str) -> None:
    """An invalid entry is kept as written (`06 12 | 99`, a line break, a NUL): the answers that show it keep
    their shape, pairs split on ` | ` then on the space, records on any line break."""
    async with running_gateway(database_url) as gw, gw.client() as http:
        numero = "0612345678,06 12 | 99,07\n\x0b5\x00"
        text = "un\x0bdeux\u2028trois\x85quatre\x00 | fin"
        data = {"accessToken": gw.token, "numero": numero, "message": text, "classe_msg": "9"}
        match = ACCEPTED.fullmatch((await http.post("/sendSMS.do", data=data)).content)
        assert match
        sms_id = match.group(1).decode()

        async def received() -> bool:
            report = await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})
            return report.text.startswith("33612345678 11")

        await wait_for(received)
        report = (await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text
        assert [pair.split(" ") for pair in report.split(" | ")] == [
            ["33612345678", "11"],
            ["061299", "3998"],
            ["07", "3998"],
            ["5?", "3998"],
        ]
        listed = (await http.get("/smsList.do", params={"accessToken": gw.token})).content.decode("iso-8859-15")
        assert len(listed.splitlines()) == 1
        fields = listed.split(" | ")
        assert fields[2:] == ["un deux trois quatre? / fin", "33612345678", "1", "4 |"], fields


async def test_a_text_of_blanks_is_refused_and_costs_nothing(database_url: str) -> None:
    """Spaces and line breaks alone (a template's empty field, a blank form) would cost a message saying nothing."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        data = {"accessToken": gw.token, "numero": "0612345678", "message": "  \r\n "}
        answer = await http.post("/sendSMS.do", data=data)
        assert answer.content.decode("iso-8859-15") == "35 | Paramètre invalide : message (vide)"
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as rest:
            refused = await rest.post(
                "/sms/v1/messages", json={"recipient": {"to": "33612345678"}, "body": {"text": " "}}
            )
            assert refused.status_code == 422, refused.text
        assert (await http.get("/credit.do", params={"accessToken": gw.token})).text == "1000"
