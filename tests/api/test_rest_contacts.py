"""The address book on the REST door and in the SDK, over real HTTP on both databases: contacts and groups
(create, merge, page, search, update, members, delete), CSV import and export, a group send with a template, its
preview, and the problems bad input gets."""

from __future__ import annotations

import asyncio

import httpx

from martinet.api.rest.contact_models import ContactOut, ContactPage, GroupPage, ImportOut
from martinet.api.rest.models import PreviewOut
from martinet.client import AsyncClient, ConflictError, InvalidRequestError, NotFoundError
from tests.gateway import running_gateway, wait_for

IMPORT = "Nom;Prénom;Mobile;Code\nLefèvre;Hélène;0611111111;A1\nMartin;Paul;oops;B2\nNoir;Léa;0622222222;C3\n".encode(
    "iso-8859-15"
)


async def test_address_book_through_rest_and_sdk(database_url: str) -> None:
    async with (
        running_gateway(database_url) as gw,
        AsyncClient(gw.base, gw.token) as client,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http,
    ):
        report = await client.contacts.import_csv(IMPORT, group="clients")
        assert (report.created, report.merged, report.refused) == (2, 0, 1)
        assert report.lines[1].line == 3 and report.lines[1].reason and report.lines[1].reason.startswith("mobile")

        created = await client.contacts.create("+33633333333", first_name="Zoé", groups=["vip"], fields={"code": "Z9"})
        merged = await client.contacts.create("06 33 33 33 33", last_name="Durand", groups=["clients"])
        assert merged.contact_id == created.contact_id
        assert (merged.first_name, merged.last_name, merged.groups) == ("Zoé", "Durand", ("clients", "vip"))
        same = await http.post("/sms/v1/contacts", json={"mobile": "0633333333"})
        assert same.status_code == 200  # merged: not created
        as_number = await http.post("/sms/v1/contacts", json={"mobile": 33633333333})  # a spreadsheet's number
        assert as_number.status_code == 200 and as_number.json()["contactId"] == created.contact_id

        page = (await http.get("/sms/v1/contacts", params={"pageSize": 2})).json()
        assert len(page["items"]) == 2 and page["hasMore"] and page["next"]
        # Answers match the models the OpenAPI document is generated from (extra fields are refused there).
        ContactPage.model_validate(page)
        ContactOut.model_validate(same.json())
        GroupPage.model_validate((await http.get("/sms/v1/groups")).json())
        imported = await http.post("/sms/v1/contacts:import", content=IMPORT, headers={"Content-Type": "text/csv"})
        ImportOut.model_validate(imported.json())
        assert imported.json()["merged"] == 2  # the same file again: merged, nothing doubled
        found = [c async for c in client.contacts.list(search="léa")]
        assert [c.first_name for c in found] == ["Léa"]
        members = [c.mobile async for c in client.contacts.list(group="clients")]
        assert members == ["+33611111111", "+33622222222", "+33633333333"]

        (vip,) = [g async for g in client.contacts.groups(search="vi")]
        assert vip.member_count == 1
        group = await client.contacts.add_members(vip.group_id, [found[0].contact_id])
        assert group.member_count == 2
        removed = await http.delete(f"/sms/v1/groups/{vip.group_id}/members/{found[0].contact_id}")
        assert removed.status_code == 204
        assert "content-length" not in removed.headers and "content-type" not in removed.headers  # RFC 9110 §8.6
        duplicate = await http.post("/sms/v1/groups", json={"name": "vip"})
        assert duplicate.status_code == 409 and duplicate.json()["errorCode"] == "GROUP_EXISTS"

        patched = await http.patch(f"/sms/v1/contacts/{created.contact_id}", json={"company": "ACME"})
        assert patched.json()["company"] == "ACME" and patched.json()["firstName"] == "Zoé"
        updated = await client.contacts.update(created.contact_id, other="note", fields={"ville": "Brest"})
        assert (updated.company, updated.other, updated.fields) == ("ACME", "note", {"code": "Z9", "ville": "Brest"})
        renamed = await client.contacts.rename_group(vip.group_id, "vip-2026")
        assert (renamed.name, (await client.contacts.get_group(vip.group_id)).name) == ("vip-2026", "vip-2026")
        taken = await http.patch(f"/sms/v1/contacts/{created.contact_id}", json={"mobile": "0611111111"})
        assert taken.status_code == 409 and taken.json()["errorCode"] == "CONTACT_EXISTS"
        bad_date = await http.post("/sms/v1/contacts", json={"mobile": "0644444444", "birthDate": "1990-02-30"})
        assert bad_date.status_code == 422 and bad_date.json()["field"] == "birthDate"
        bad_mobile = await http.post("/sms/v1/contacts", json={"mobile": "12"})
        assert bad_mobile.status_code == 422 and bad_mobile.json()["field"] == "mobile"

        exported = await client.contacts.export_csv(group="clients")
        assert exported.startswith(b"\xef\xbb\xbf") and "Hélène".encode() in exported and b"Z9" in exported

        # A group send with a template: each recipient its own text and price; the preview shows them.
        text = "Bonjour {prenom}, code {code}"
        preview = (
            await http.post("/sms/v1/messages:preview", json={"groups": ["clients"], "body": {"text": text}})
        ).json()
        PreviewOut.model_validate(preview)
        assert [r["body"]["text"] for r in preview["recipients"]] == [
            "Bonjour Hélène, code A1",
            "Bonjour Léa, code C3",
            "Bonjour Zoé, code Z9",
        ]
        sdk_preview = await client.preview(None, text, groups=["clients"])
        assert [(r.text, r.part_count) for r in sdk_preview.recipients] == [
            ("Bonjour Hélène, code A1", 1),
            ("Bonjour Léa, code C3", 1),
            ("Bonjour Zoé, code Z9", 1),
        ]
        # Groups alone, or with one number as `to`: the answer is the list of messages all the same.
        alone = await client.send(None, "Bonne année {prenom}", groups=["clients"])
        with_to = await client.send("0655555556", "Bonne année {prenom}", groups=["clients"])
        assert isinstance(alone, list) and isinstance(with_to, list)
        assert [m.text for m in alone] == ["Bonne année Hélène", "Bonne année Léa", "Bonne année Zoé"]
        assert len(with_to) == 4 and all(m.message_id for m in with_to)
        sent = await client.send(None, text, groups=["clients"], recipients=["0655555555"])
        assert [m.text for m in sent] == [
            "Bonjour , code ",
            "Bonjour Hélène, code A1",
            "Bonjour Léa, code C3",
            "Bonjour Zoé, code Z9",
        ]

        async def all_delivered() -> bool:
            messages = await asyncio.gather(*(client.get(m.message_id) for m in sent))
            return all(m.status.value == "DELIVERED" for m in messages)

        await wait_for(all_delivered)
        again = await client.get(sent[2].message_id)
        assert again.text == "Bonjour Léa, code C3"

        # The smsmode door through the SDK: a contact added, a CSV campaign sent, each row followed.
        await client.legacy.add_contact("Blanc", "0666666666", prenom="Jo", groupes="legacy")
        (jo,) = [c async for c in client.contacts.list(group="legacy")]
        assert (jo.first_name, jo.last_name) == ("Jo", "Blanc")
        to_group = await client.legacy.send_sms([], "Salut {prenom}", groupe="legacy")
        jo_message = await client.get(f"{to_group}-0")  # a send's messages are its smsID and their rank
        assert (jo_message.to, jo_message.text) == ("33666666666", "Salut Jo")
        campaign = await client.legacy.send_batch(
            "numero;message;emetteur\n0666666666;Salut Jo;Boutique\n0677777777;Salut Éva;\n".encode("iso-8859-15"),
            emetteur="Defaut",
        )

        async def campaign_delivered() -> bool:
            reports = await client.legacy.delivery_report(campaign)
            return [(r.number, r.code) for r in reports] == [("33666666666", 11), ("33677777777", 11)]

        await wait_for(campaign_delivered)
        try:
            await client.legacy.send_batch(b"numero;message;emetteur\n0666666666;Salut;Emetteur trop long\n")
        except InvalidRequestError as exc:
            assert exc.field == "fichier"
        else:
            raise AssertionError("a campaign with a bad row was accepted")

        unknown = await http.post("/sms/v1/messages", json={"groups": ["nope"], "body": {"text": "x"}})
        assert unknown.status_code == 422 and unknown.json()["field"] == "groups"
        try:
            await client.contacts.get("c999999")
        except NotFoundError:
            pass
        else:
            raise AssertionError("an unknown contact was found")
        try:
            await client.contacts.create_group("")
        except InvalidRequestError:
            pass
        else:
            raise AssertionError("an empty group name was accepted")
        assert ConflictError  # the SDK's class for 409s, which GROUP_EXISTS and CONTACT_EXISTS are
        await client.contacts.delete(created.contact_id)
        assert (await http.get(f"/sms/v1/contacts/{created.contact_id}")).status_code == 404


async def test_excel_unicode_text_imports_and_sends_as_a_campaign(database_url: str) -> None:
    """A file saved by Excel as "Unicode text" (UTF-16 with its byte-order mark, tabs, CRLF) imports with its
    accents and emoji whole, and is read the same as a campaign file by `sendSMSBatch.do`."""
    contacts = "Nom\tPrénom\tMobile\r\nLefèvre\tHélène 🌸\t0611111111\r\nNoir\tLéa\t0622222222\r\n"
    campaign = "numero\tmessage\r\n0611111111\tBonjour Hélène, à demain\r\n0622222222\tBonjour Léa\r\n"
    async with (
        running_gateway(database_url, with_engine=False) as gw,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http,
    ):
        imported = await http.post(
            "/sms/v1/contacts:import", content=contacts.encode("utf-16"), headers={"Content-Type": "text/csv"}
        )
        assert imported.status_code == 200, imported.text
        assert (imported.json()["created"], imported.json()["refused"]) == (2, 0)
        found = (await http.get("/sms/v1/contacts", params={"search": "Lefèvre"})).json()["items"]
        assert [(c["firstName"], c["mobile"]) for c in found] == [("Hélène 🌸", "+33611111111")]

        files = {"fichier": ("campagne.txt", campaign.encode("utf-16"), "text/plain")}
        answer = await http.post("/http/1.6/sendSMSBatch.do", params={"accessToken": gw.token}, files=files)
        assert answer.content.decode("iso-8859-15").startswith("0 | Accepté | "), answer.content
        listed = (await http.get("/http/1.6/smsList.do", params={"accessToken": gw.token})).content
        assert "Bonjour Hélène, à demain | 33611111111" in listed.decode("iso-8859-15")


async def test_the_export_is_streamed_page_after_page(database_url: str) -> None:
    """12,000 contacts (three pages of the export's reads): the answer goes out in chunks as they are read, with
    no length announced, and holds every contact once, each line as an import reads it back."""
    count = 12_000
    lines = "".join(f"336{n:08d};Nom{n}\n" for n in range(50_000_000, 50_000_000 + count))
    async with (
        running_gateway(database_url) as gw,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=60) as http,
    ):
        imported = await http.post(
            "/sms/v1/contacts:import", content=f"mobile;nom\n{lines}".encode(), headers={"Content-Type": "text/csv"}
        )
        assert imported.json()["created"] == count
        async with http.stream("GET", "/sms/v1/contacts:export") as answer:
            assert answer.status_code == 200
            assert "content-length" not in answer.headers and answer.headers["transfer-encoding"] == "chunked"
            chunks = [chunk async for chunk in answer.aiter_raw()]
    body = b"".join(chunks).decode("utf-8-sig").splitlines()
    assert len(body) == count + 1 and len({line.split(";")[0] for line in body[1:]}) == count
    assert len(chunks) >= 3
