"""The address book's bounds held on every door, over real HTTP on both databases, and campaign files as
spreadsheets write them.

Each request was checked alone: three `POST /sms/v1/contacts` of one mobile with 20 different free fields each
made a contact of 60, whose export no import could read back. A group name could hold `,`, which every list of
groups (a file's `groupes` column, `addContact.do`'s `groupes`) splits on: an export re-imported made other groups.
A campaign header of Excel's (`numero;message;emetteur;`, `Numéro;Message`) was refused as an unknown column, and a
charset the upload's part declares was ignored.
"""

from __future__ import annotations

import httpx
from sqlalchemy import update

from martinet.api.legacy.answers import invalid_parameter
from martinet.store.schema import accounts
from tests.api.test_legacy_contacts import ACCEPTED, campaign_rows
from tests.gateway import running_gateway

MOBILE = "0611111111"


def _fields(prefix: str, count: int = 20) -> dict[str, str]:
    return {f"{prefix}{i}": str(i) for i in range(count)}


async def test_merges_and_group_names_are_bounded_on_every_door(database_url: str) -> None:
    async with (
        running_gateway(database_url, with_engine=False) as gw,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http,
        gw.client() as legacy,
    ):
        first = await http.post("/sms/v1/contacts", json={"mobile": MOBILE, "fields": _fields("a")})
        assert first.status_code == 201, first.text
        contact = first.json()["contactId"]
        again = await http.post("/sms/v1/contacts", json={"mobile": MOBILE, "fields": _fields("b")})
        assert again.status_code == 422 and again.json()["field"] == "fields", again.text
        assert "more than 20 free fields once merged: the contact has 20, this adds 20" in again.text
        patched = await http.patch(f"/sms/v1/contacts/{contact}", json={"fields": {"ville": "Brest"}})
        assert patched.status_code == 422 and patched.json()["field"] == "fields", patched.text
        replaced = await http.post("/sms/v1/contacts", json={"mobile": MOBILE, "fields": {"a0": "new"}})
        assert replaced.status_code == 200  # a known field replaced: still 20
        # A merge that adds no free field is no refusal (addContact.do has none to add).
        added = await legacy.post("/addContact.do", data={"accessToken": gw.token, "nom": "Durand", "mobile": MOBILE})
        assert added.content.decode("iso-8859-15") == "0 | Contact ajouté"

        # An import: the line that would exceed is refused alone, with its reason; the others are written.
        csv = f"mobile;nom;x1;x2\n{MOBILE};Martin;1;2\n0622222222;Noir;1;2\n".encode()
        report = (await http.post("/sms/v1/contacts:import", content=csv, headers={"Content-Type": "text/csv"})).json()
        assert (report["created"], report["merged"], report["refused"]) == (1, 0, 1)
        assert report["lines"][0] == {
            "line": 2,
            "outcome": "refused",
            "mobile": None,
            "reason": "fields: more than 20 free fields once merged: the contact has 20, this adds 2",
        }
        stored = (await http.get(f"/sms/v1/contacts/{contact}")).json()
        assert (len(stored["fields"]), stored["fields"]["a0"], stored["lastName"]) == (20, "new", "Durand")
        exported = (await http.get("/sms/v1/contacts:export")).content
        assert exported.splitlines()[0].count(b";") == 6 + 20 + 2  # 7 columns, 20 + 2 free fields: importable

        # Group names: `,` refused on each door that names a group, naming the field.
        for method, path, body, field in [
            ("POST", "/sms/v1/groups", {"name": "Paris, Lyon"}, "name"),
            ("POST", "/sms/v1/contacts", {"mobile": "0633333333", "groups": ["Paris, Lyon"]}, "groups"),
        ]:
            refused = await http.request(method, path, json=body)
            assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
            assert "a group name cannot hold ','" in refused.text
        group = (await http.post("/sms/v1/groups", json={"name": "Paris"})).json()["groupId"]
        renamed = await http.patch(f"/sms/v1/groups/{group}", json={"name": "Paris,Lyon"})
        assert renamed.status_code == 422 and renamed.json()["field"] == "name"
        imported = await http.post(
            "/sms/v1/contacts:import", params={"group": "a,b"}, content=csv, headers={"Content-Type": "text/csv"}
        )
        assert imported.status_code == 422 and imported.json()["field"] == "group", imported.text
        names = [g["name"] for g in (await http.get("/sms/v1/groups")).json()["items"]]
        assert names == ["Paris"]


def test_the_bounds_read_as_french() -> None:
    merged = "more than 20 free fields once merged: the contact has 20, this adds 2"
    assert invalid_parameter("fields", merged, "fr") == (
        "35 | Paramètre invalide : fields (plus de 20 champs libres une fois fusionnés : le contact en a 20,"
        " en voici 2 de plus)"
    )
    assert invalid_parameter("groupes", "a group name cannot hold ',' (it separates the groups of a list)", "fr") == (
        "35 | Paramètre invalide : groupes (un nom de groupe ne peut contenir de virgule (elle sépare les groupes"
        " d'une liste))"
    )


async def test_campaign_headers_as_excel_writes_them_and_a_declared_charset(database_url: str) -> None:
    """Excel's trailing separator, accented and capitalised column names; the part's `charset=` honoured."""
    excel = "Numéro;Message;Émetteur;RefClient;\r\n0611111111;Bonjour Zoé;Boutique;c-1;\r\n0622222222;Salut;;;\r\n"
    polish = "numero;message\n0633333333;Dzień dobry, Łódź\n"
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        async with gw.db.write() as conn:  # texts stored as read, not with `?` for what GSM 03.38 lacks
            await conn.execute(update(accounts).values(non_gsm="ucs2"))
        params = {"accessToken": gw.token, "emetteur": "Defaut"}
        answer = await http.post(
            "/sendSMSBatch.do", params=params, files={"fichier": ("c.csv", excel.encode("cp1252"), "text/csv")}
        )
        match = ACCEPTED.fullmatch(answer.content.decode("iso-8859-15"))
        assert match, answer.content
        assert await campaign_rows(gw, match.group(1)) == [
            ("33611111111", "Bonjour Zoé", "Boutique", "c-1"),
            ("33622222222", "Salut", "Defaut", None),
        ]
        part = ("c.csv", polish.encode("cp1250"), "text/csv; charset=windows-1250")
        answer = await http.post("/sendSMSBatch.do", params=params, files={"fichier": part})
        match = ACCEPTED.fullmatch(answer.content.decode("iso-8859-15"))
        assert match, answer.content
        assert [r[1] for r in await campaign_rows(gw, match.group(1))] == ["Dzień dobry, Łódź"]
        part = ("c.csv", polish.encode(), "text/csv; charset=klingon")
        answer = await http.post("/sendSMSBatch.do", params=params, files={"fichier": part})
        assert answer.content.decode("iso-8859-15") == (
            "35 | Paramètre invalide : fichier (jeu de caractères inconnu 'klingon')"
        )
