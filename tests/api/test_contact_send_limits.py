"""Group sends and campaign files at the doors' limits, over real HTTP on both databases: a send to groups is
held to `http.max_recipients` as one to numbers is (it was not), and a campaign file refused while it is still
arriving names its line (it answered a generic "unreadable upload")."""

from __future__ import annotations

import httpx

from martinet.services.campaign_files import MAX_RECORD_BYTES
from tests.api.test_legacy_contacts import count_sends
from tests.gateway import running_gateway


async def test_group_sends_are_held_to_max_recipients(database_url: str) -> None:
    async with (
        running_gateway(database_url, with_engine=False, http={"max_recipients": 3}) as gw,
        gw.client() as legacy,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as rest,
    ):
        for n in range(4):
            added = await rest.post("/sms/v1/contacts", json={"mobile": f"061111111{n}", "groups": ["big"]})
            assert added.status_code == 201, added.text
        await rest.post("/sms/v1/contacts", json={"mobile": "0622222222", "groups": ["small"]})
        await rest.post("/sms/v1/contacts", json={"mobile": "0611111110", "groups": ["small"]})  # also in big

        refused = await legacy.post("/sendSMS.do", data={"accessToken": gw.token, "message": "x", "groupe": "big"})
        assert refused.content.decode("iso-8859-15") == ("35 | Paramètre invalide : groupe (plus de 3 destinataires)")
        problem = await rest.post("/sms/v1/messages", json={"groups": ["big"], "body": {"text": "x"}})
        assert problem.status_code == 422
        assert (problem.json()["field"], problem.json()["detail"]) == ("groups", "more than 3 recipients")
        # Numbers named beside the groups count too.
        beside = await rest.post(
            "/sms/v1/messages",
            json={
                "groups": ["small"],
                "recipients": [{"to": "+33633333333"}, {"to": "+33644444444"}],
                "body": {"text": "x"},
            },
        )
        assert beside.status_code == 422 and beside.json()["field"] == "groups"
        assert await count_sends(gw) == 0
        # Within the cap: a contact in two groups counts once.
        sent = await legacy.post(
            "/sendSMS.do", data={"accessToken": gw.token, "message": "x", "groupe": "small", "numero": "0633333333"}
        )
        assert sent.text.startswith("0 | "), sent.text
        two = await rest.post("/sms/v1/messages", json={"groups": ["small", "small"], "body": {"text": "x"}})
        assert two.status_code == 201, two.text


async def test_a_campaign_file_refused_as_it_arrives_names_its_line(database_url: str) -> None:
    long_row = b"0611111111;" + b"a" * MAX_RECORD_BYTES + b"\n"
    stray = b'0622222222;"un" perdu\n'  # strict CSV: text after a closing quote
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for row, problem in (
            (long_row, f"ligne 3 : une ligne de plus de {MAX_RECORD_BYTES} octets"),
            (stray, "ligne 3 : CSV invalide ("),
        ):
            answer = await http.post(
                "/sendSMSBatch.do",
                params={"accessToken": gw.token},
                files={"fichier": ("c.csv", b"numero;message\n0611111111;Bonjour\n" + row + b"0633333333;Fin\n")},
            )
            text = answer.content.decode("iso-8859-15")
            assert text.startswith("35 | Paramètre invalide : fichier (" + problem), text
        assert await count_sends(gw) == 0
