"""Opt-outs: marketing to a number on the account's list is not sent and costs nothing; other lanes go out."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.domain.opt_out import StopKeywords
from martinet.store.accounts import AccountStore
from martinet.store.opt_outs import OptOutStore
from martinet.store.schema import accounts, messages
from tests.cli.support import martinet as command
from tests.gateway import Gateway, running_gateway


def _now() -> int:
    return 1_700_000_000_000


async def _send(gw: Gateway, token: str, numbers: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": token, "numero": numbers, "message": "Promo"})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def test_marketing_to_an_opted_out_number_gets_3999_at_no_cost(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        shop = await account_service(gw.settings, gw.db).create("shop", credits=to_milli(100), lane="marketing")
        found = await AccountStore(gw.db, _now).by_login("shop")
        assert found is not None
        await OptOutStore(gw.db, _now).add(found[0].id, ["33612345678"], "manual")
        sms_id = await _send(gw, shop.token, "0612345678,0612345679")
        async with gw.db.reader.connect() as conn:
            result = await conn.execute(select(messages.c.msisdn, messages.c.code).where(messages.c.send_id == sms_id))
            rows = {msisdn: code for msisdn, code in result}
            balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.login == "shop"))
    assert rows["33612345678"] == 3999
    assert rows["33612345679"] != 3999
    assert balance == to_milli(100) - to_milli(1)  # one French part paid, the opted-out one free


async def test_notifications_still_reach_an_opted_out_number(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:  # the test account's lane: notification
        found = await AccountStore(gw.db, _now).by_login("acme")
        assert found is not None
        await OptOutStore(gw.db, _now).add(found[0].id, ["33612345678"], "manual")
        sms_id = await _send(gw, gw.token, "0612345678")
        async with gw.db.reader.connect() as conn:
            code = await conn.scalar(select(messages.c.code).where(messages.c.send_id == sms_id))
    assert code != 3999


def test_stop_keywords_ignore_case_accents_and_punctuation() -> None:
    keywords = StopKeywords()
    assert all(keywords.matches(t) for t in ("STOP", "stop", " Stop ! ", "Arrêt", "ARRET.", "stop sms", "Unsubscribe"))
    assert not any(keywords.matches(t) for t in ("Stop the music please", "OK", "", "stopper"))
    assert StopKeywords(["Désinscrire"]).matches("desinscrire")


def test_the_cli_adds_lists_and_removes_numbers(tmp_path: Path) -> None:
    def martinet(*args: str) -> subprocess.CompletedProcess[str]:
        return command(*args, "--data", tmp_path, cwd=tmp_path)

    assert martinet("account", "create", "shop").returncode == 0
    added = martinet("optout", "add", "shop", "06 12 34 56 78", "+33612345679")
    assert added.returncode == 0, added.stderr
    assert "2 number(s) added" in added.stdout
    assert martinet("optout", "add", "shop", "0612345678").stdout.startswith("0 number(s) added")
    listed = martinet("optout", "list", "shop").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["33612345678", "33612345679"]
    assert martinet("optout", "remove", "shop", "0612345678").returncode == 0
    assert [line.split("\t")[0] for line in martinet("optout", "list", "shop").stdout.splitlines()] == ["33612345679"]
    assert martinet("optout", "add", "shop", "not-a-number").returncode == 2
    assert martinet("optout", "list", "nobody").returncode == 1
