"""The address book and personalised sends over a real store, on SQLite and PostgreSQL: merging by mobile,
CSV imports in both charsets and separators, exports read back, groups, group sends rendered per recipient in the
acceptance transaction, opt-outs, previews, and CSV campaigns refused whole for one bad row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from martinet.app import account_service, open_store, price_table
from martinet.domain.contacts import ContactError
from martinet.domain.credits import to_milli
from martinet.domain.ids import new_send_id
from martinet.domain.status import OPTED_OUT, State
from martinet.services import contacts as services_contacts
from martinet.services.accept import InvalidParameter, SendRequest, SendService
from martinet.services.campaign_files import CampaignFile
from martinet.services.contacts import ContactService, contact_data
from martinet.services.personal_sends import MESSAGE_ERROR, CampaignRow, RowError
from martinet.store import contacts as store_contacts
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import Account, AccountStore
from martinet.store.contacts import ContactStore
from martinet.store.database import Database
from martinet.store.migrate import upgrade
from martinet.store.opt_outs import OptOutStore
from martinet.store.schema import contacts, messages, sends
from tests.gateway import test_settings as gateway_settings

NOW = 1_767_225_600_000
CREDITS = 5000


@dataclass
class World:
    db: Database
    account: Account
    contacts: ContactService
    sends: SendService
    spool: Path  # where the campaigns read row by row wait for their acceptance


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = gateway_settings(database_url)
    spool = tmp_path / "spool"
    spool.mkdir()
    db = open_store(settings)
    await upgrade(db)
    await account_service(settings, db).create("acme", credits=to_milli(CREDITS))
    found = await AccountStore(db, lambda: NOW).by_login("acme")
    assert found is not None
    store = ContactStore(db, lambda: NOW)
    writer = AcceptanceWriter(db, opt_out_lanes=("marketing",))
    await writer.start()
    service = SendService(
        writer,
        price_table(settings),
        stop_mention="STOP 36180",
        now_ms=lambda: NOW,
        new_id=new_send_id,
        contacts=store,
        marketing_stop="off",
        spool_dir=str(spool),
    )
    try:
        yield World(db, found[0], ContactService(store), service, spool)
    finally:
        await writer.stop()
        await db.dispose()


async def _messages_of(world: World, send_id: str, *columns: ColumnElement[Any]) -> list[Row[Any]]:
    """The messages of one send, in recipient order, with the columns a test reads."""
    async with world.db.reader.connect() as conn:
        query = select(*columns).where(messages.c.send_id == send_id).order_by(messages.c.seq)
        return list((await conn.execute(query)).all())


async def test_contacts_merge_by_mobile_and_import_both_charsets(world: World) -> None:
    account = world.account.id
    row, created = await world.contacts.add(
        account, contact_data(mobile="06 12 34 56 78", last_name="Durand", groups=["clients"])
    )
    assert created and row.msisdn == "33612345678" and row.groups == ("clients",)
    again, created = await world.contacts.add(
        account, contact_data(mobile="+33612345678", first_name="Élodie", groups=["vip"])
    )
    assert not created and again.id == row.id
    assert (again.last_name, again.first_name, again.groups) == ("Durand", "Élodie", ("clients", "vip"))
    with pytest.raises(ContactError) as bad:
        await world.contacts.add(account, contact_data(mobile="12", last_name="x"))
    assert bad.value.name == "mobile"

    # French Excel: `;`, ISO-8859-15, quoted fields, a free field; a bad line is refused alone.
    latin = (
        'Nom;Prénom;Mobile;Société;Ville\n"Lefèvre";"Hélène";0611111111;"Café ; Cie";Rennes\n'
        "Martin;Paul;pas un numéro;ACME;Brest\nDurand;Élodie;+33 6 12 34 56 78;;Nantes\n"
    ).encode("iso-8859-15")
    report = await world.contacts.import_csv(account, latin, group="import")
    assert [(r.line, r.outcome) for r in report.lines] == [(2, "created"), (3, "refused"), (4, "merged")]
    assert report.lines[1].reason is not None and report.lines[1].reason.startswith("mobile")
    # UTF-8 with its byte-order mark, `,`, the same mobile twice in the file: merged, not doubled.
    utf8 = "\ufeffmobile,prenom,code\n0622222222,Zoé,A1\n06.22.22.22.22,,B2\n".encode()
    report = await world.contacts.import_csv(account, utf8)
    assert [r.outcome for r in report.lines] == ["created", "merged"]

    page = await world.contacts.store.page(account, search="hél", group=None, after=0, offset=0, limit=10)
    assert [(c.first_name, c.company, c.fields, c.groups) for c in page] == [
        ("Hélène", "Café ; Cie", {"ville": "Rennes"}, ("import",))
    ]
    zoe = (await world.contacts.store.page(account, search="0622", group=None, after=0, offset=0, limit=10))[0]
    assert zoe.fields == {"code": "B2"} and zoe.first_name == "Zoé"
    members = await world.contacts.store.page(account, search=None, group="import", after=0, offset=0, limit=10)
    assert {c.msisdn for c in members} == {"33611111111", "33612345678"}

    exported = b"".join([chunk async for chunk in world.contacts.export_csv(account)])
    assert exported.startswith(b"\xef\xbb\xbf") and "Hélène".encode() in exported
    # The export reads back as an import: everything merges, nothing is created.
    report = await world.contacts.import_csv(account, exported)
    assert {r.outcome for r in report.lines} == {"merged"} and len(report.lines) == 3

    groups = await world.contacts.store.groups(account, search=None, offset=0, limit=10)
    assert {(g.name, g.members) for g in groups} == {("clients", 1), ("vip", 1), ("import", 2)}


async def test_a_template_sent_to_a_group_is_rendered_and_priced_per_recipient(world: World) -> None:
    account = world.account
    await world.contacts.add(account.id, contact_data(mobile="0611111111", first_name="Al", groups=["g"]))
    await world.contacts.add(
        account.id, contact_data(mobile="0622222222", first_name="B" * 90, fields={"code": "X" * 80}, groups=["g"])
    )
    await world.contacts.add(account.id, contact_data(mobile="0633333333", first_name="Stop", groups=["g"]))
    await OptOutStore(world.db, lambda: NOW).add(account.id, ["33633333333"], "manual")
    text = "Bonjour {prenom} {{code}} {code}"
    request = SendRequest(
        account=account, text=text, recipients="0611111111,0644444444", groups=("g",), lane="marketing"
    )

    preview = await world.sends.preview(request)
    rendered = [(p.analysis.text if p.analysis else None, p.cost) for p in preview.recipients]
    assert rendered[0] == ("Bonjour Al {code} ", rendered[0][1])
    assert rendered[1][0] == "Bonjour  {code} "  # a number of numero without a contact: fields are empty
    assert preview.recipients[2].analysis is not None and preview.recipients[2].analysis.segments == 2
    assert preview.recipients[2].cost == 2 * preview.recipients[0].cost
    assert preview.cost == sum(p.cost for p in preview.recipients)

    accepted = await world.sends.accept(request)
    rows = await _messages_of(
        world,
        accepted.send_id,
        messages.c.msisdn,
        messages.c.text,
        messages.c.segments,
        messages.c.code,
        messages.c.cost,
    )
    assert [r.msisdn for r in rows] == ["33611111111", "33644444444", "33622222222", "33633333333"]
    assert (
        rows[0].text == "Bonjour Al {code} " and rows[2].text.endswith(" {code} " + "X" * 80) and rows[2].segments == 2
    )
    assert rows[3].code == OPTED_OUT and rows[3].cost == 0  # opted out: 3999, free
    assert accepted.send.cost == sum(r.cost for r in rows) == preview.cost - preview.recipients[3].cost

    with pytest.raises(InvalidParameter) as unknown:
        await world.sends.accept(SendRequest(account=account, text="x", recipients=None, groups=("nope",)))
    assert unknown.value.name == "groups"
    with pytest.raises(InvalidParameter) as brace:
        await world.sends.accept(SendRequest(account=account, text="a } b", recipients=None, groups=("g",)))
    assert brace.value.name == "text"


async def test_a_campaign_with_one_bad_row_stores_nothing(world: World) -> None:
    account = world.account

    async def count() -> int:
        async with world.db.reader.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(sends)) or 0)

    rows = [
        CampaignRow(2, "0611111111", "Bonjour Al", "Boutique", "r1"),
        CampaignRow(3, "0622222222", "Bonjour Bea", None, None),
        CampaignRow(4, "0633333333", "Salut", "Trop long émetteur", "r3"),
    ]
    with pytest.raises(InvalidParameter) as bad:
        await world.sends.accept(SendRequest(account=account, text=None, recipients=None, rows=rows))
    assert bad.value.name == "rows" and bad.value.problem.startswith("line 4: emetteur")
    assert await count() == 0
    accepted = await world.sends.accept(
        SendRequest(account=account, text=None, recipients=None, rows=rows[:2], sender="Defaut")
    )
    assert [(m.text, m.sender, m.ref_client) for m in accepted.send.messages] == [
        ("Bonjour Al", "Boutique", "r1"),
        ("Bonjour Bea", "Defaut", None),
    ]
    assert await count() == 1


async def test_a_campaign_read_row_by_row_waits_on_disk_and_leaves_nothing_there(world: World) -> None:
    """More rows than one chunk of the spool, an opted-out number in the second chunk: every row stored in order,
    the opt-out at no cost, and the spool gone once the campaign is closed."""
    account = world.account
    await OptOutStore(world.db, lambda: NOW).add(account.id, ["33600002400"], "manual")
    request = SendRequest(account=account, text=None, recipients=None, lane="marketing")
    campaign = await world.sends.open_campaign(request)
    try:
        for i in range(2500):
            campaign.add(CampaignRow(i + 2, f"06{i:08d}", f"Café à {i}", "Boutique", f"r{i}"))
        campaign.add(CampaignRow(2502, "0612", "Trop court", None, None))  # kept: 2 (invalid number), free
        assert [p.name for p in world.spool.iterdir()] == [Path(campaign.spooled.path).name]
        accepted = await world.sends.accept(replace(request, rows=campaign))
    finally:
        campaign.close()
    assert list(world.spool.iterdir()) == []
    rows = await _messages_of(
        world, accepted.send_id, messages.c.seq, messages.c.msisdn, messages.c.text, messages.c.code, messages.c.cost
    )
    assert [r.seq for r in rows] == list(range(2501))
    assert rows[1234].text == "Café à 1234" and rows[1234].msisdn == "33600001234"
    assert rows[2400].code == OPTED_OUT and rows[2400].cost == 0 and rows[2500].cost == 0
    assert (accepted.recipients, accepted.refused) == (2499, 2)
    assert accepted.send.cost == sum(r.cost for r in rows) == 2499 * rows[0].cost > 0
    assert await AccountStore(world.db, lambda: NOW).balance(account.id) == to_milli(CREDITS) - accepted.send.cost


async def test_a_refused_campaign_file_stores_nothing_and_leaves_no_spool(world: World) -> None:
    account = world.account
    campaign = await world.sends.open_campaign(SendRequest(account=account, text=None, recipients=None))
    try:
        campaign.add(CampaignRow(2, "0611111111", "Bonjour", None, "r1"))
        with pytest.raises(RowError):
            campaign.add(CampaignRow(3, "0622222222", "Bonjour", None, "r" * 41))
    finally:
        campaign.close()
    assert list(world.spool.iterdir()) == []
    async with world.db.reader.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(sends)) == 0
        assert await conn.scalar(select(func.count()).select_from(messages)) == 0


# Files as spreadsheets write them: Windows-1252 (French Excel's "CSV"), exports a spreadsheet opens without running
# formulas and an import reads back; blank campaign rows, templates that render blank for some contacts.


async def test_windows_1252_files_read_as_excel_wrote_them(world: World) -> None:
    """`€ ’ œ …` are 0x80-0x9F in Windows-1252: read as ISO-8859-15 they were C1 control codes (contact lines
    refused) or `?` in a campaign's text."""
    account = world.account
    book = "Mobile;Nom;Prénom;Société\r\n06 12 34 56 78;Cœur;Zoé;L’Atelier\r\n0698765432;Dupont;Éric;Café 20€\r\n"
    report = await world.contacts.import_csv(account.id, book.encode("cp1252"))
    assert [(r.outcome, r.reason) for r in report.lines] == [("created", None), ("created", None)]
    page = await world.contacts.store.page(account.id, search=None, group=None, after=0, offset=0, limit=10)
    assert [(c.last_name, c.first_name, c.company) for c in page] == [
        ("Cœur", "Zoé", "L’Atelier"),
        ("Dupont", "Éric", "Café 20€"),
    ]
    # ISO-8859-15 files still read as before: its `€` is 0xA4, its `œ` 0xBD.
    latin = "mobile;nom;societe\n0611111111;Œuvre;Prix 5€\n".encode("iso-8859-15")
    assert (await world.contacts.import_csv(account.id, latin)).count("created") == 1

    text = "Votre commande d’un montant de 20€ est prête…"
    # UCS-2 for the text's characters outside GSM (the account's default would write `?` for them).
    request = SendRequest(account=account, text=None, recipients=None, max_parts=3, non_gsm="ucs2")
    campaign = await world.sends.open_campaign(request)
    try:
        reader = CampaignFile(10, campaign.add)
        reader.feed(f"numero;message;emetteur\r\n0612345678;{text};Boutique\r\n".encode("cp1252"))
        reader.close()
        accepted = await world.sends.accept(replace(request, rows=campaign))
    finally:
        campaign.close()
    rows = await _messages_of(world, accepted.send_id, messages.c.text)
    assert [r.text for r in rows] == [text]


async def test_a_declared_charset_is_honoured(world: World) -> None:
    """A file whose upload says `charset=windows-1250` (Central Europe) reads in it; a Latin-1 label changes
    nothing (clients put it on any text), UTF-16 without its byte-order mark reads when declared."""
    account = world.account
    polish = "mobile;nom\n0611111111;Łódź Świętokrzyska\n".encode("cp1250")
    assert (await world.contacts.import_csv(account.id, polish, charset="windows-1250")).count("created") == 1
    utf8 = "mobile;nom\n0622222222;Zoé\n".encode()
    assert (await world.contacts.import_csv(account.id, utf8, charset="ISO-8859-1")).count("created") == 1
    utf16 = "mobile;nom\n0633333333;Noël\n".encode("utf-16-le")
    assert (await world.contacts.import_csv(account.id, utf16, charset="utf-16le")).count("created") == 1
    page = await world.contacts.store.page(account.id, search=None, group=None, after=0, offset=0, limit=10)
    assert [c.last_name for c in page] == ["Łódź Świętokrzyska", "Zoé", "Noël"]
    with pytest.raises(ContactError) as unknown:
        await world.contacts.import_csv(account.id, utf8, charset="klingon")
    assert (unknown.value.name, unknown.value.problem) == ("charset", "unknown charset 'klingon'")


async def test_exports_do_not_run_formulas_and_read_back(world: World) -> None:
    account = world.account
    await world.contacts.add(
        account.id,
        contact_data(
            mobile="0611111111",
            last_name='=HYPERLINK("http://x")',
            first_name="+33 par erreur",
            company="-2",
            other="@SUM(A1)",
            fields={"note": "'déjà cité"},
            groups=["=cmd|' /C calc'!A0"],
        ),
    )
    exported = b"".join([chunk async for chunk in world.contacts.export_csv(account.id)]).decode("utf-8-sig")
    header, line = exported.splitlines()
    assert header == "mobile;nom;prenom;societe;date;other;groupes;note"
    assert line == (
        "+33611111111;\"'=HYPERLINK(\"\"http://x\"\")\";'+33 par erreur;'-2;;'@SUM(A1);'=cmd|' /C calc'!A0;''déjà cité"
    )
    # Read back: one `'` taken off each cell, everything merges into the same contact, nothing changes.
    report = await world.contacts.import_csv(account.id, exported.encode("utf-8-sig"))
    assert [r.outcome for r in report.lines] == ["merged"]
    (row,) = await world.contacts.store.page(account.id, search=None, group=None, after=0, offset=0, limit=10)
    assert (row.last_name, row.first_name, row.company, row.other, row.fields, row.groups) == (
        '=HYPERLINK("http://x")',
        "+33 par erreur",
        "-2",
        "@SUM(A1)",
        {"note": "'déjà cité"},
        ("=cmd|' /C calc'!A0",),
    )


async def test_blank_campaign_rows_are_refused(world: World) -> None:
    """A row whose message is only spaces is refused, naming its line, as sendSMS.do refuses a blank text."""
    account = world.account
    rows = [CampaignRow(2, "0611111111", "Bonjour"), CampaignRow(3, "0622222222", "   \t ")]
    with pytest.raises(InvalidParameter) as blank:
        await world.sends.accept(SendRequest(account=account, text=None, recipients=None, rows=rows))
    assert (blank.value.name, blank.value.problem) == ("rows", "line 3: message: empty")
    campaign = await world.sends.open_campaign(SendRequest(account=account, text=None, recipients=None))
    try:
        reader = CampaignFile(10, campaign.add)
        with pytest.raises(InvalidParameter) as refused:
            reader.feed(b"numero;message\n0611111111;Bonjour\n0622222222;   \n")
            reader.close()
    finally:
        campaign.close()
    assert (refused.value.name, refused.value.problem) == ("fichier", "line 3: message: empty")


async def test_a_template_rendered_blank_is_not_sent_nor_charged(world: World) -> None:
    """`{prenom}` alone, to a contact without a first name: that recipient fails with 36 at no cost (the others
    go), and the preview says why."""
    account = world.account
    await world.contacts.add(account.id, contact_data(mobile="0611111111", first_name="Al", groups=["g"]))
    await world.contacts.add(account.id, contact_data(mobile="0622222222", last_name="Sans prénom", groups=["g"]))
    request = SendRequest(account=account, text=" {prenom} ", recipients=None, groups=("g",))
    preview = await world.sends.preview(request)
    assert [(p.cost > 0, p.problem) for p in preview.recipients] == [
        (True, None),
        (False, "blank once rendered: the fields it names are empty for this contact"),
    ]
    accepted = await world.sends.accept(request)
    rows = await _messages_of(
        world, accepted.send_id, messages.c.msisdn, messages.c.state, messages.c.code, messages.c.cost
    )
    assert [(r.msisdn, r.state, r.code, r.cost > 0) for r in rows] == [
        ("33611111111", str(State.QUEUED), 1, True),
        ("33622222222", str(State.FAILED), MESSAGE_ERROR, False),
    ]
    assert (accepted.recipients, accepted.refused) == (1, 1)
    assert accepted.send.cost == rows[0].cost


async def test_merges_never_take_a_contact_beyond_its_free_fields(world: World) -> None:
    """Each request and line was checked alone: merges of 20 new free fields each made a contact of 60. A merge
    past the bound is refused (the line alone, in an import, even when an earlier line of the file made the
    contact); a contact already past it (written before the check) still merges what adds no field."""
    account = world.account.id
    twelve = ";".join(f"a{i}" for i in range(12))
    nine = ";".join(f"b{i}" for i in range(9))
    file = (
        f"mobile;{twelve};{nine}\n"
        f"0611111111;{';'.join('1' * 12)};{';' * 8}\n"  # created with 12 free fields
        f"0611111111;{';' * 11};{';'.join('2' * 9)}\n"  # 12 + 9 = 21: refused
        f"0611111111;{';' * 11};{';'.join('3' * 8)};\n"  # 12 + 8 = 20: merged
        f"0622222222;{';'.join('4' * 12)};{';'.join('4' * 9)}\n"  # 21 at once: refused as before
    ).encode()
    report = await world.contacts.import_csv(account, file, group="import")
    assert [(r.line, r.outcome, r.reason) for r in report.lines] == [
        (2, "created", None),
        (3, "refused", "fields: more than 20 free fields once merged: the contact has 12, this adds 9"),
        (4, "merged", None),
        (5, "refused", "fields: more than 20 free fields"),
    ]
    (row,) = await world.contacts.store.page(account, search=None, group="import", after=0, offset=0, limit=10)
    assert len(row.fields) == 20 and "b8" not in row.fields

    with pytest.raises(ContactError) as refused:
        await world.contacts.add(account, contact_data(mobile="0611111111", fields={"ville": "Brest"}))
    assert (refused.value.name, refused.value.problem) == (
        "fields",
        "more than 20 free fields once merged: the contact has 20, this adds 1",
    )
    with pytest.raises(ContactError):
        await world.contacts.update(account, row.id, contact_data(mobile="", fields={"ville": "Brest"}))
    assert (await world.contacts.store.get(account, row.id)) == row  # nothing half-written

    # Written before the bound was checked on merges: 25 fields; a merge adding none still goes through.
    async with world.db.write() as conn:
        await conn.execute(
            contacts.update()
            .where(contacts.c.id == row.id)
            .values(fields=json.dumps(dict.fromkeys(map(str, range(25)), "x")))
        )
    merged, created = await world.contacts.add(account, contact_data(mobile="0611111111", last_name="Durand"))
    assert not created and merged.last_name == "Durand" and len(merged.fields) == 25


async def test_an_import_is_written_a_batch_at_a_time_in_one_transaction(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import held every line's contact until the end (a 16 MiB file: a 600 MB peak); it now writes them a
    batch at a time, still in one transaction: a mobile met again in a later batch merges, and a file found broken
    after some batches were written leaves nothing."""
    written: list[int] = []
    write = store_contacts.write_contacts

    def counted(conn: Any, account_id: int, items: Any, now: int, extra: Any = ()) -> Any:
        written.append(len(items))
        return write(conn, account_id, items, now, extra)

    monkeypatch.setattr(store_contacts, "write_contacts", counted)
    monkeypatch.setattr(services_contacts, "IMPORT_BATCH", 2, raising=False)
    account = world.account.id
    lines = ["0611111111;A", "0622222222;B", "pas un numéro;C", "0633333333;D", "06 11 11 11 11;E"]
    report = await world.contacts.import_csv(account, ("mobile;nom\n" + "\n".join(lines) + "\n").encode(), "g")
    assert written == [2, 2]
    assert [(r.line, r.outcome) for r in report.lines] == [
        (2, "created"),
        (3, "created"),
        (4, "refused"),
        (5, "created"),
        (6, "merged"),
    ]
    page = await world.contacts.store.page(account, search=None, group="g", after=0, offset=0, limit=10)
    assert [(c.msisdn, c.last_name) for c in page] == [("33611111111", "E"), ("33622222222", "B"), ("33633333333", "D")]

    broken = 'mobile;nom\n0644444444;F\n0655555555;G\n0666666666;H\n0677777777;"I\n'
    with pytest.raises(ContactError) as refused:
        await world.contacts.import_csv(account, broken.encode())
    assert refused.value.name == "file" and written[2:] == [2]  # a batch written, then undone
    assert len(await world.contacts.store.page(account, search=None, group=None, after=0, offset=0, limit=10)) == 3
