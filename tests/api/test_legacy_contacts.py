"""addContact.do, `groupe` on sendSMS.do and sendSMSBatch.do over real HTTP, on both databases, and the CSV
upload as smsmode users write it with unmodified clients: PHP curl with CURLFile, Python requests with
`files={'fichier': ...}`, and `curl -F "fichier=@file.csv;type=text/csv"`."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from martinet.store.schema import messages, sends
from tests.api.test_client_samples import SAMPLES, require, run
from tests.engine.test_notifier import FAST, Receiver
from tests.gateway import Gateway, running_gateway, wait_for

ACCEPTED = re.compile(r"0 \| Accepté \| ([A-Za-z0-9]{12})")
CAMPAIGN = (
    '"numero";"message";"emetteur";"refClient"\n'
    '"0611111111";"Bonjour Zoé, votre code est 1234";"Boutique";"c-1"\n'
    "0622222222;Bonjour Éric;Boutique;c-2\n"
    '0633333333;"Ligne 1\nligne 2; avec ""guillemets""";;c-3\n'
).encode("iso-8859-15")


def accepted_id(text: str) -> str:
    match = ACCEPTED.fullmatch(text)
    assert match, text
    return match.group(1)


async def count_sends(gw: Gateway) -> int:
    async with gw.db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(sends)) or 0)


async def campaign_rows(gw: Gateway, sms_id: str) -> list[tuple[str, str, str | None, str | None]]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(messages.c.msisdn, messages.c.text, messages.c.sender, messages.c.ref_client)
            .where(messages.c.send_id == sms_id)
            .order_by(messages.c.seq)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def follow(http: httpx.AsyncClient, gw: Gateway, sms_id: str, expected: str) -> None:
    async def reported() -> bool:
        report = await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})
        return report.text == expected

    await wait_for(reported)


async def test_address_book_group_send_and_batch(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        await address_book_group_send_and_batch(database_url, f"http://127.0.0.1:{receiver.port}/dlr", receiver)
    finally:
        await receiver.stop()


async def address_book_group_send_and_batch(database_url: str, callback_url: str, receiver: Receiver) -> None:
    async with running_gateway(database_url, callbacks=FAST) as gw, gw.client() as http:
        token = gw.token
        added = await http.post(
            "/addContact.do",
            data={"accessToken": token, "nom": "Durand", "prenom": "Zoé", "mobile": "06 11 11 11 11", "groupes": "a,b"},
        )
        assert added.content.decode("iso-8859-15") == "0 | Contact ajouté"
        again = await http.get(
            "/addContact.do", params={"accessToken": token, "nom": "Durand", "mobile": "+33611111111", "groupes": "b"}
        )
        assert again.content.decode("iso-8859-15") == "0 | Contact ajouté"  # merged, not doubled
        await http.get(
            "/addContact.do", params={"accessToken": token, "nom": "Lenoir", "mobile": "0622222222", "groupes": "b"}
        )
        missing = await http.get("/addContact.do", params={"accessToken": token, "mobile": "0611111111"})
        assert missing.content.decode("iso-8859-15") == "35 | Paramètre invalide : nom (manquant)"
        bad_date = await http.get(
            "/addContact.do", params={"accessToken": token, "nom": "X", "mobile": "0611111111", "date": "31022020"}
        )
        assert bad_date.content.decode("iso-8859-15") == "35 | Paramètre invalide : date (date invalide)"
        bad_mobile = await http.get("/addContact.do", params={"accessToken": token, "nom": "X", "mobile": "06 1x"})
        assert bad_mobile.content.decode("iso-8859-15") == "35 | Paramètre invalide : mobile (caractères invalides)"

        # groupe: the group's contacts, deduplicated with numero, the template rendered for each.
        sent = await http.post(
            "/sendSMS.do",
            data={"accessToken": token, "groupe": "b", "numero": "0622222222", "message": "Bonjour {prenom} {nom}"},
        )
        sms_id = accepted_id(sent.content.decode("iso-8859-15"))
        rows = await campaign_rows(gw, sms_id)
        assert [(r[0], r[1]) for r in rows] == [
            ("33622222222", "Bonjour  Lenoir"),
            ("33611111111", "Bonjour Zoé Durand"),
        ]
        await follow(http, gw, sms_id, "33622222222 11 | 33611111111 11")
        brace = await http.get(
            "/sendSMS.do", params={"accessToken": token, "groupe": "b", "message": "Bonjour {prenom"}
        )
        assert brace.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : message ('{' isolé au caractère 9 (écrire {{ pour un seul))"
        )
        unknown = await http.get("/sendSMS.do", params={"accessToken": token, "groupe": "zz", "message": "x"})
        assert unknown.content.decode("iso-8859-15") == "35 | Paramètre invalide : groupe (groupe inconnu zz)"
        # A group without contacts sends to nobody: refused as a send whose numbers are all invalid is, unless
        # valid numbers come with it.
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": token}) as rest:
            assert (await rest.post("/sms/v1/groups", json={"name": "vide"})).status_code == 201
            empty = await rest.post("/sms/v1/messages", json={"groups": ["vide"], "body": {"text": "x"}})
            assert empty.status_code == 422, empty.text
            assert "no contact in the group" in empty.text
            both = await rest.post("/sms/v1/messages", json={"groups": ["vide", "b"], "body": {"text": "x"}})
            assert both.status_code == 201, both.text
        nobody = await http.get("/sendSMS.do", params={"accessToken": token, "groupe": "vide", "message": "x"})
        assert nobody.content.decode("iso-8859-15") == "35 | Paramètre invalide : groupe (aucun contact dans le groupe)"
        named = {"accessToken": token, "groupe": "vide", "numero": "0633333333", "message": "x"}
        assert (await http.get("/sendSMS.do", params=named)).content.startswith(b"0 | Accept")

        # sendSMSBatch.do: one campaign, each row its own text, sender and reference.
        batch = await http.post(
            "/sendSMSBatch.do",
            params={"accessToken": token, "emetteur": "Defaut", "notification_url": callback_url},
            files={"fichier": ("campagne.csv", CAMPAIGN, "text/csv")},
        )
        campaign = accepted_id(batch.content.decode("iso-8859-15"))
        assert await campaign_rows(gw, campaign) == [
            ("33611111111", "Bonjour Zoé, votre code est 1234", "Boutique", "c-1"),
            ("33622222222", "Bonjour Éric", "Boutique", "c-2"),
            ("33633333333", 'Ligne 1\nligne 2; avec "guillemets"', "Defaut", "c-3"),
        ]
        await follow(http, gw, campaign, "33611111111 11 | 33622222222 11 | 33633333333 11")
        status = await http.get("/smsStatus.do", params={"accessToken": token, "smsID": campaign})
        assert status.content.decode("iso-8859-15") == "11 | Reçu"

        # Callbacks report every row, each with its own reference.
        async def every_row_called_back() -> set[tuple[str, str, str]]:
            final = {(c.query["numero"], c.query.get("refClient", ""), c.query["smsID"]) for c in receiver.successes()}
            return final if len([c for c in receiver.successes() if c.query["statut"] == "11"]) >= 3 else set()

        called = await wait_for(every_row_called_back)
        assert called == {
            ("33611111111", "c-1", campaign),
            ("33622222222", "c-2", campaign),
            ("33633333333", "c-3", campaign),
        }

        # One bad row refuses the file, naming the row; nothing is stored.
        before = await count_sends(gw)
        bad = CAMPAIGN + b"0644444444;Salut;Emetteur trop long;c-4\n"
        refused = await http.post(
            "/sendSMSBatch.do", params={"accessToken": token}, files={"file": ("c.csv", bad, "text/csv")}
        )
        # Row 5 as a spreadsheet numbers it: the quoted line break of row 4 does not start a row.
        assert refused.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : fichier (ligne 5 : emetteur : plus de 11 caractères)"
        )
        short = await http.post(
            "/sendSMSBatch.do",
            params={"accessToken": token},
            files={"fichier": ("c.csv", b"numero,message\n0611111111\n")},
        )
        assert short.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : fichier (ligne 2 : 1 champs pour 2 colonnes)"
        )
        unknown_column = await http.post(
            "/sendSMSBatch.do", params={"accessToken": token}, files={"fichier": ("c.csv", b"numero;texte\n")}
        )
        assert unknown_column.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : fichier (ligne 1 : colonne inconnue 'texte')"
        )
        unclosed = await http.post(
            "/sendSMSBatch.do",
            params={"accessToken": token},
            files={"fichier": ("c.csv", b'numero,message\n0611111111,"Bonjour\n')},
        )
        assert unclosed.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : fichier (ligne 2 : un champ entre guillemets n'est pas fermé)"
        )
        not_multipart = await http.post("/sendSMSBatch.do", params={"accessToken": token}, content=b"numero,message\n")
        assert not_multipart.content.decode("iso-8859-15").startswith("35 | Paramètre invalide : fichier")
        wrong_key = await http.post(
            "/sendSMSBatch.do", params={"accessToken": "nope"}, files={"fichier": ("c.csv", CAMPAIGN)}
        )
        assert wrong_key.content.decode("iso-8859-15") == "32 | Erreur d'authentification"
        assert await count_sends(gw) == before


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(f"sqlite:///{tmp_path / 'm.db'}") as gateway:
        yield gateway


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    path = tmp_path / "campagne.csv"
    path.write_bytes(CAMPAIGN)
    return path


async def assert_campaign(gw: Gateway, output: bytes) -> None:
    campaign = accepted_id(output.decode("iso-8859-15").strip())
    rows = await campaign_rows(gw, campaign)
    assert [r[1] for r in rows] == [
        "Bonjour Zoé, votre code est 1234",
        "Bonjour Éric",
        'Ligne 1\nligne 2; avec "guillemets"',
    ]


async def test_curl_form_upload(gw: Gateway, campaign_file: Path) -> None:
    curl = require("curl", "install curl")
    output = await run(
        curl, "-sS", "--fail", "-F", f"fichier=@{campaign_file};type=text/csv",
        f"{gw.legacy}/sendSMSBatch.do?accessToken={gw.token}&emetteur=Defaut",
    )  # fmt: skip
    await assert_campaign(gw, output)


async def test_python_requests_files(gw: Gateway, campaign_file: Path) -> None:
    output = await run(sys.executable, SAMPLES / "send_batch_requests.py", gw.legacy, gw.token, campaign_file)
    await assert_campaign(gw, output)


async def test_php_curl_curlfile(gw: Gateway, campaign_file: Path) -> None:
    php = require("php", "install php-cli")
    probe = await asyncio.create_subprocess_exec(php, "-r", "exit(function_exists('curl_init') ? 0 : 1);")
    if await probe.wait() != 0:
        pytest.skip("PHP's curl extension is not installed (install php-curl)")
    output = await run(php, SAMPLES / "send_batch.php", gw.legacy, gw.token, campaign_file)
    await assert_campaign(gw, output)


async def test_a_campaign_spool_is_removed_once_answered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted or refused, a campaign's messages wait on disk (`http.spool_dir`) only until its answer."""
    spool = tmp_path / "spool"
    spool.mkdir()
    created: list[Path] = []
    make = tempfile.mkstemp

    def recorded(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, path = make(*args, **kwargs)
        created.append(Path(path))
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", recorded)
    async with (
        running_gateway(f"sqlite:///{tmp_path / 'm.db'}", http={"spool_dir": str(spool)}) as gw,
        gw.client() as http,
    ):
        accepted = await http.post(
            "/sendSMSBatch.do", params={"accessToken": gw.token}, files={"fichier": ("c.csv", CAMPAIGN)}
        )
        assert ACCEPTED.fullmatch(accepted.content.decode("iso-8859-15").strip())
        refused = await http.post(
            "/sendSMSBatch.do",
            params={"accessToken": gw.token},
            files={"fichier": ("c.csv", CAMPAIGN + b"0644444444;Salut;Emetteur trop long;c-4\n")},
        )
        assert refused.content.decode("iso-8859-15").startswith("35 | ")
        assert await count_sends(gw) == 1
    assert [path.parent for path in created] == [spool, spool]
    assert list(spool.iterdir()) == []
