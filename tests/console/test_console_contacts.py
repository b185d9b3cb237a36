"""The console's address book over HTTP, on SQLite and PostgreSQL: contacts, CSV import and export, groups and
their members, sends to groups, CSRF, and what one account may see of another's."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from martinet.app import account_service
from martinet.domain.credits import to_milli
from tests.console.session import signed_in
from tests.gateway import Gateway, running_gateway

CSV_FILE = (
    "mobile;nom;prenom;groupes\r\n"
    "0612345678;Martin;Anne;vip\r\n"
    "0612345679;Durand;Paul;\r\n"
    "12;Faux;Numéro;\r\n"
    "+33612345678;Martin;Anne-Marie;\r\n"
).encode()


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, http={"max_body_bytes": 64 * 1024}) as gateway:
        await account_service(gateway.settings, gateway.db).create(
            "other", credits=to_milli(10), password="other-secret", language="en"
        )
        yield gateway


def _id(answer: httpx.Response, kind: str) -> int:
    assert answer.status_code == 303, answer.text
    found = re.search(rf"/console/{kind}/(\d+)", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return int(found.group(1))


async def _group_id(client: httpx.AsyncClient, name: str) -> int:
    page = (await client.get("/console/groups")).text
    found = re.search(rf'data-group="(\d+)">\s*<td><a href="[^"]+">{re.escape(name)}</a>', page)
    assert found is not None, page
    return int(found.group(1))


async def test_contacts_are_created_merged_edited_searched_and_deleted(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        created = await client.post(
            "/console/contacts",
            data={"csrf": csrf, "mobile": "06 12 34 56 78", "last_name": "Martin", "first_name": "Anne"},
        )
        contact_id = _id(created, "contacts")
        assert created.headers["location"].endswith("?note=created")
        again = await client.post("/console/contacts", data={"csrf": csrf, "mobile": "+33612345678", "company": "ACME"})
        assert _id(again, "contacts") == contact_id and again.headers["location"].endswith("?note=merged")
        page = (await client.get(f"/console/contacts/{contact_id}")).text
        assert 'value="+33612345678"' in page and 'value="Martin"' in page and 'value="ACME"' in page  # merged

        # Refusals come back on the form, in the account's language (acme reads French).
        bad = await client.post("/console/contacts", data={"csrf": csrf, "mobile": "12", "last_name": "X"})
        assert bad.status_code == 422 and "Mobile: numéro de téléphone invalide" in bad.text
        date = await client.post(
            f"/console/contacts/{contact_id}",
            data={"csrf": csrf, "action": "save", "mobile": "+33612345678", "birth_date": "31/02/1990"},
        )
        assert date.status_code == 422 and "Date de naissance: date invalide" in date.text

        saved = await client.post(
            f"/console/contacts/{contact_id}",
            data={
                "csrf": csrf,
                "action": "save",
                "mobile": "0612345678",
                "last_name": "Martin-Dupont",
                "first_name": "Anne",
                "company": "",
                "birth_date": "14/07/1990",
                "groups": "clients",
            },
        )
        assert saved.status_code == 303
        page = (await client.get(f"/console/contacts/{contact_id}")).text
        assert 'value="Martin-Dupont"' in page and 'value="14/07/1990"' in page and ">clients<" in page
        assert 'name="company" value=""' in page  # an empty field on an edit clears it

        await client.post("/console/contacts", data={"csrf": csrf, "mobile": "0698765432", "last_name": "Durand"})
        by_name = (await client.get("/console/contacts?search=dupont")).text
        assert by_name.count('class="contact"') == 1 and "+33612345678" in by_name
        by_mobile = (await client.get("/console/contacts?search=0698765432")).text
        assert by_mobile.count('class="contact"') == 1 and "Durand" in by_mobile

        # Without the session's token nothing changes.
        forged = await client.post(f"/console/contacts/{contact_id}", data={"action": "delete"})
        assert forged.status_code == 403
        deleted = await client.post(f"/console/contacts/{contact_id}", data={"csrf": csrf, "action": "delete"})
        assert deleted.status_code == 303
        assert (await client.get(f"/console/contacts/{contact_id}")).status_code == 404
        assert (await client.get("/console/contacts")).text.count('class="contact"') == 1


async def test_csv_import_reports_each_line_and_export_reads_back(gw: Gateway) -> None:
    async with signed_in(gw, "other", "other-secret") as (client, csrf):
        answer = await client.post(
            "/console/contacts/import",
            data={"csrf": csrf, "group": "salon"},
            files={"file": ("contacts.csv", CSV_FILE, "text/csv")},
        )
        assert answer.status_code == 200, answer.text
        text = answer.text
        for outcome, count in (("created", 2), ("merged", 1), ("refused", 1)):
            assert f'data-outcome="{outcome}">{count}<' in text
        refused = re.search(r'data-line="4" data-outcome="refused">(.*?)</tr>', text, re.S)
        assert refused is not None and "Mobile: not a valid phone number" in refused.group(1)
        assert 'data-line="5" data-outcome="merged"' in text
        assert "<td>merged</td>" in text and ">import-" not in text and ">line-" not in text  # words, never keys

        # The importer is the service's: the merged line updated the first contact, every line joined "salon".
        listing = (await client.get("/console/contacts")).text
        assert listing.count('class="contact"') == 2 and "Anne-Marie" in listing
        salon = await _group_id(client, "salon")
        members = (await client.get(f"/console/groups/{salon}")).text
        assert members.count('class="member"') == 2 and '<span id="member-count">2</span>' in members

        exported = await client.get("/console/contacts.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("mobile;nom;prenom") and len(lines) == 3
        vip = (await client.get("/console/contacts.csv?group=vip")).content.decode("utf-8-sig").splitlines()
        assert len(vip) == 2 and vip[1].startswith("+33612345678;Martin;Anne-Marie")

        # A file the importer refuses as a whole, no file at all, and an upload without the session's token.
        headless = await client.post(
            "/console/contacts/import", data={"csrf": csrf}, files={"file": ("x.csv", b"nom;prenom\r\nA;B\r\n")}
        )
        assert headless.status_code == 422 and "File: no mobile column" in headless.text
        empty = await client.post("/console/contacts/import", data={"csrf": csrf}, files={"file": ("x.csv", b"")})
        assert empty.status_code == 422 and "File: choose a CSV file" in empty.text
        forged = await client.post("/console/contacts/import", files={"file": ("contacts.csv", CSV_FILE)})
        assert forged.status_code == 403
        # An upload beyond http.max_body_bytes is refused before it is parsed.
        huge = await client.post(
            "/console/contacts/import", data={"csrf": csrf}, files={"file": ("big.csv", b"mobile\r\n" * 20_000)}
        )
        assert huge.status_code == 413 and "The form is too large." in huge.text
        garbled = await client.post(
            "/console/contacts/import", content=b"--x\r\nnot a part", headers={"content-type": "multipart/form-data"}
        )
        assert garbled.status_code == 400 and "The form could not be read." in garbled.text

        # 55 more contacts: the list shows them 50 at a time.
        many = "mobile\r\n" + "".join(f"+336000000{n:02d}\r\n" for n in range(55))
        assert (
            await client.post("/console/contacts/import", data={"csrf": csrf}, files={"file": ("m.csv", many.encode())})
        ).status_code == 200
        first = (await client.get("/console/contacts")).text
        assert first.count('class="contact"') == 50 and "offset=50" in first and "offset=0" not in first
        second = (await client.get("/console/contacts?offset=50")).text
        assert second.count('class="contact"') == 7 and "offset=100" not in second and "offset=0" in second


async def test_groups_members_and_sending_to_a_group(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        for mobile, name in (("0612345678", "Anne"), ("0698765432", "Paul"), ("0611111111", "Zoé")):
            await client.post("/console/contacts", data={"csrf": csrf, "mobile": mobile, "first_name": name})
        assert (
            await client.post("/console/groups", data={"csrf": csrf, "action": "create", "name": "vip"})
        ).status_code == 303
        twice = await client.post("/console/groups", data={"csrf": csrf, "action": "create", "name": "vip"})
        assert twice.status_code == 422 and "Nom : le compte a déjà un groupe de ce nom" in twice.text
        vip = await _group_id(client, "vip")
        renamed = await client.post(
            "/console/groups", data={"csrf": csrf, "action": "rename", "group": str(vip), "name": "VIP"}
        )
        assert renamed.status_code == 303 and await _group_id(client, "VIP") == vip

        added = await client.post(
            f"/console/groups/{vip}", data={"csrf": csrf, "action": "add", "mobiles": "0612345678\n06 98 76 54 32"}
        )
        assert added.status_code == 303
        unknown = await client.post(
            f"/console/groups/{vip}", data={"csrf": csrf, "action": "add", "mobiles": "0622222222"}
        )
        assert unknown.status_code == 422 and "aucun contact n'a le mobile +33622222222" in html.unescape(unknown.text)
        groups = (await client.get("/console/groups")).text
        assert re.search(rf'data-group="{vip}">.*?class="num members">2<', groups, re.S)
        page = (await client.get(f"/console/groups/{vip}")).text
        anne = re.search(r'class="member" data-contact="(\d+)".*?\+33612345678', page, re.S)
        assert anne is not None and page.count('class="member"') == 2

        # The send form offers the groups; a send to one names each member, with their own field in the text.
        form = (await client.get("/console/send?group=VIP")).text
        assert 'name="groups[]" value="VIP" checked' in form
        counter = await client.post(
            "/console/send/counter",
            data={"groups[]": "VIP", "text": "Bonjour {prenom}"},
            headers={"x-csrf-token": csrf},
        )
        assert "2 destinataire(s)" in counter.text
        sent = await client.post(
            "/console/send", data={"csrf": csrf, "groups[]": "VIP", "text": "Bonjour {prenom}", "lane": "notification"}
        )
        assert sent.status_code == 303, sent.text
        send_page = (await client.get(sent.headers["location"])).text
        assert send_page.count('class="recipient"') == 2
        missing = await client.post("/console/send", data={"csrf": csrf, "groups[]": "absent", "text": "x"})
        assert missing.status_code == 422 and "Groupes de contacts: groupe inconnu absent" in missing.text

        removed = await client.post(
            f"/console/groups/{vip}", data={"csrf": csrf, "action": "remove", "contact": anne.group(1)}
        )
        assert removed.status_code == 303
        assert (await client.get(f"/console/groups/{vip}")).text.count('class="member"') == 1
        deleted = await client.post("/console/groups", data={"csrf": csrf, "action": "delete", "group": str(vip)})
        assert deleted.status_code == 303
        assert (await client.get(f"/console/groups/{vip}")).status_code == 404
        assert (await client.get("/console/contacts")).text.count('class="contact"') == 3  # the contacts stay


async def test_one_account_never_sees_anothers_contacts_or_groups(gw: Gateway) -> None:
    async with signed_in(gw) as (acme, acme_csrf), signed_in(gw, "other", "other-secret") as (other, other_csrf):
        contact = _id(
            await acme.post(
                "/console/contacts", data={"csrf": acme_csrf, "mobile": "0612345678", "last_name": "Secret"}
            ),
            "contacts",
        )
        await acme.post("/console/groups", data={"csrf": acme_csrf, "action": "create", "name": "acme-vip"})
        group = await _group_id(acme, "acme-vip")
        await acme.post(f"/console/groups/{group}", data={"csrf": acme_csrf, "action": "add", "mobiles": "0612345678"})

        for path in (f"/console/contacts/{contact}", f"/console/groups/{group}"):
            answer = await other.get(path)
            assert answer.status_code == 404 and "Secret" not in answer.text and "acme-vip" not in answer.text
        for path, data in (
            (f"/console/contacts/{contact}", {"action": "delete"}),
            (f"/console/contacts/{contact}", {"action": "save", "mobile": "0612345678", "last_name": "Pris"}),
            (f"/console/groups/{group}", {"action": "remove", "contact": str(contact)}),
            ("/console/groups", {"action": "delete", "group": str(group)}),
            ("/console/groups", {"action": "rename", "group": str(group), "name": "pris"}),
        ):
            assert (await other.post(path, data={"csrf": other_csrf, **data})).status_code == 404
        assert "Secret" not in (await other.get("/console/contacts?search=secret")).text
        assert "acme-vip" not in (await other.get("/console/groups")).text
        assert "0612345678" not in (await other.get("/console/contacts.csv")).text
        assert len((await other.get("/console/contacts.csv?group=acme-vip")).text.splitlines()) == 1
        # Its own group cannot take the first account's contact, and a send cannot name the first's group.
        await other.post("/console/groups", data={"csrf": other_csrf, "action": "create", "name": "mine"})
        mine = await _group_id(other, "mine")
        taken = await other.post(
            f"/console/groups/{mine}", data={"csrf": other_csrf, "action": "add", "mobiles": "0612345678"}
        )
        assert taken.status_code == 422 and "no contact has the mobile +33612345678" in taken.text
        send = await other.post("/console/send", data={"csrf": other_csrf, "groups[]": "acme-vip", "text": "x"})
        assert send.status_code == 422
        # Nothing of the first account's changed.
        page = (await acme.get(f"/console/contacts/{contact}")).text
        assert 'value="Secret"' in page and "acme-vip" in page
