"""The console's sub-accounts, transfers, ledger, usage and sender IDs over HTTP, on SQLite and PostgreSQL: the
reseller service's rules and refusals as form errors, CSRF, and what one account may see of another's tree."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from martinet.app import account_service
from martinet.clock import now_ms
from martinet.domain.credits import to_milli
from martinet.store.accounts import AccountStore
from tests.console.session import signed_in
from tests.gateway import Gateway, running_gateway


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, credits=100) as gateway:
        await account_service(gateway.settings, gateway.db).create(
            "other", credits=to_milli(10), password="other-secret", language="en"
        )
        yield gateway


async def _child(client: httpx.AsyncClient, csrf: str, login: str, base: str = "/console/accounts") -> int:
    created = await client.post(base, data={"csrf": csrf, "action": "create", "login": login, "password": "pw"})
    assert created.status_code == 303, created.text
    found = re.search(rf'data-account="(\d+)" data-login="{re.escape(login)}"', (await client.get(base)).text)
    assert found is not None
    return int(found.group(1))


def _applied(page: str) -> str:
    """The page's line of the limits that hold, as its `data-applied` values."""
    return " ".join(re.findall(r'data-applied="[a-z_]+">[^<]*<', page))


def _balance(page: str, account_id: int) -> str:
    found = re.search(rf'data-account="{account_id}".*?class="num balance">([^<]+)<', page, re.S)
    assert found is not None
    return found.group(1)


async def test_sub_accounts_and_transfers_follow_the_services_rules(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        shop = await _child(client, csrf, "acme-shop")
        taken = await client.post("/console/accounts", data={"csrf": csrf, "action": "create", "login": "other"})
        assert taken.status_code == 422 and "Identifiant : un compte de ce nom existe déjà" in taken.text
        spaced = await client.post("/console/accounts", data={"csrf": csrf, "action": "create", "login": "a b"})
        assert spaced.status_code == 422 and "Identifiant: 1 à 50 caractères, sans espace" in spaced.text

        def transfer(amount: str, direction: str = "give", child: int = shop) -> dict[str, str]:
            return {"csrf": csrf, "action": "transfer", "direction": direction, "child": str(child), "amount": amount}

        given = await client.post("/console/accounts", data={**transfer("12.5"), "reference": "avance"})
        assert given.status_code == 303 and given.headers["location"] == "/console/accounts?note=moved"
        taken_back = await client.post("/console/accounts", data=transfer("2,5", "take"))
        assert taken_back.status_code == 303
        page = (await client.get("/console/accounts")).text
        assert _balance(page, shop) == "10" and 'id="target-balance">90<' in page
        too_much = await client.post("/console/accounts", data=transfer("11", "take"))
        assert too_much.status_code == 402 and "ne couvre pas le transfert" in html.unescape(too_much.text)
        for amount in ("abc", "1.0001", "-3", "0"):
            refused = await client.post("/console/accounts", data=transfer(amount))
            assert refused.status_code == 422 and "Montant" in refused.text, amount
        assert _balance((await client.get("/console/accounts")).text, shop) == "10"  # nothing moved

        # The sub-account signs in with the password it was given: it sees its own balance, never its parent's.
        async with signed_in(gw, "acme-shop", "pw") as (shop_client, _shop_csrf):
            assert 'id="target-balance">10<' in (await shop_client.get("/console/accounts")).text
            acme = await AccountStore(gw.db, now_ms).by_login("acme")
            assert acme is not None
            assert (await shop_client.get(f"/console/ledger?account={acme[0].id}")).status_code == 404

        # The sub-account's own page: its sub-accounts, and transfers between it and them.
        kiosk = await _child(client, csrf, "acme-kiosk", f"/console/accounts/{shop}")
        below = await client.post(f"/console/accounts/{shop}", data=transfer("4", child=kiosk))
        assert below.status_code == 303 and below.headers["location"] == f"/console/accounts/{shop}?note=moved"
        shop_page = (await client.get(f"/console/accounts/{shop}")).text
        assert 'id="target-balance">6<' in shop_page and _balance(shop_page, kiosk) == "4"
        # A sub-account with its own sub-accounts is not deleted; once they are gone, it is, its credits back up.
        refused = await client.post("/console/accounts", data={"csrf": csrf, "action": "delete", "child": str(shop)})
        assert refused.status_code == 422 and "Supprimez d'abord ses sous-comptes." in html.unescape(refused.text)
        async with signed_in(gw, "acme-kiosk", "pw") as (kiosk_client, _kiosk_csrf):
            gone = await client.post(
                f"/console/accounts/{shop}", data={"csrf": csrf, "action": "delete", "child": str(kiosk)}
            )
            assert gone.status_code == 303
            # The deleted sub-account's open console session ends with it.
            after = await kiosk_client.get("/console/accounts")
            assert after.status_code == 303 and after.headers["location"].startswith("/console/login")
        assert (
            await client.post("/console/accounts", data={"csrf": csrf, "action": "delete", "child": str(shop)})
        ).status_code == 303
        assert 'id="target-balance">100<' in (await client.get("/console/accounts")).text
        assert (
            await client.post("/console/accounts", data={"action": "delete", "child": str(shop)})
        ).status_code == 403


async def test_a_parent_sets_where_and_when_its_sub_account_is_called_back(gw: Gateway) -> None:
    """The sub-account's page holds its callback settings, saved by the rules of the account's own Callbacks page:
    a refused value says why, keeps what was typed and changes nothing; the sub-account then finds them on its
    own Callbacks page; a deleted sub-account's are no longer changed."""
    service = account_service(gw.settings, gw.db)
    async with signed_in(gw) as (client, csrf):
        shop = await _child(client, csrf, "acme-shop")
        assert 'id="subaccount-callbacks"' not in (await client.get("/console/accounts")).text  # its own: Callbacks
        page = (await client.get(f"/console/accounts/{shop}")).text
        assert 'id="subaccount-callbacks"' in page and 'value="all" id="statuses-all" checked' in page

        def webhooks(**fields: str) -> dict[str, str]:
            return {"csrf": csrf, "action": "webhooks", "callback_statuses": "final", **fields}

        refused = await client.post(
            f"/console/accounts/{shop}", data=webhooks(callback_url="ftp://hooks.example.org/dlr")
        )
        assert refused.status_code == 422 and "URL des comptes rendus: schéma 'ftp' refusé" in html.unescape(
            refused.text
        )
        assert 'value="ftp://hooks.example.org/dlr"' in refused.text  # shown again as typed, to be corrected
        assert 'value="final" id="statuses-final" checked' in refused.text
        forged = await client.post(
            f"/console/accounts/{shop}", data=webhooks(callback_url='ftp://x/"><script>alert(1)</script>')
        )
        assert forged.status_code == 422 and "<script>alert(1)" not in forged.text  # shown again, escaped
        unknown = await client.post(f"/console/accounts/{shop}", data=webhooks(callback_statuses="some"))
        assert (
            unknown.status_code == 422
            and "Comptes rendus: attendu : l'une des valeurs all, final, pas" in html.unescape(unknown.text)
        )
        untouched = (await service.show("acme-shop")).account
        assert (untouched.callback_url, untouched.reply_url, untouched.callback_statuses) == (None, None, "all")

        saved = await client.post(
            f"/console/accounts/{shop}",
            data=webhooks(callback_url=" https://hooks.example.org/dlr ", reply_url="https://hooks.example.org/mo"),
        )
        assert saved.status_code == 303 and saved.headers["location"] == f"/console/accounts/{shop}?note=saved"
        shown = (await client.get(saved.headers["location"])).text
        assert "Les réglages des notifications sont enregistrés." in shown
        assert 'value="https://hooks.example.org/dlr"' in shown and 'value="final" id="statuses-final" checked' in shown
        account = (await service.show("acme-shop")).account
        assert (account.callback_url, account.reply_url, account.callback_statuses) == (
            "https://hooks.example.org/dlr",
            "https://hooks.example.org/mo",
            "final",
        )
        parent = (await service.show("acme")).account
        assert (parent.callback_url, parent.callback_statuses) == (None, "all")

        # The sub-account sees what its parent set on its own Callbacks page, and may change it there.
        async with signed_in(gw, "acme-shop", "pw") as (shop_client, _shop_csrf):
            own = (await shop_client.get("/console/callbacks")).text
            assert 'value="https://hooks.example.org/dlr"' in own and 'value="final" id="statuses-final" checked' in own

        # Emptied, the URLs are removed; every status change is called back again.
        cleared = await client.post(
            f"/console/accounts/{shop}", data=webhooks(callback_url="", reply_url="", callback_statuses="all")
        )
        assert cleared.status_code == 303
        account = (await service.show("acme-shop")).account
        assert (account.callback_url, account.reply_url, account.callback_statuses) == (None, None, "all")

        deleted = await client.post("/console/accounts", data={"csrf": csrf, "action": "delete", "child": str(shop)})
        assert deleted.status_code == 303
        assert 'id="subaccount-callbacks"' not in (await client.get(f"/console/accounts/{shop}")).text
        closed = await client.post(
            f"/console/accounts/{shop}", data=webhooks(callback_url="https://hooks.example.org/late")
        )
        assert closed.status_code == 422 and "Le compte est supprimé." in html.unescape(closed.text)
        assert (await service.show("acme-shop")).account.callback_url is None


async def test_ledger_usage_and_sender_ids(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        shop = await _child(client, csrf, "acme-shop")
        await client.post(
            "/console/accounts",
            data={"csrf": csrf, "action": "transfer", "child": str(shop), "amount": "7", "reference": "=cmd(1)"},
        )
        ledger = (await client.get("/console/ledger")).text
        assert ledger.count('class="entry"') == 2  # the opening top-up, the transfer out
        out = re.search(r'data-reason="transfer_out">.*?class="num amount">([^<]+)<.*?</tr>', ledger, re.S)
        assert out is not None and out.group(1) == "-7" and "acme-shop" in out.group(0)
        child = (await client.get(f"/console/ledger?account={shop}")).text
        assert child.count('class="entry"') == 1 and 'data-reason="transfer_in"' in child
        assert f"/console/ledger.csv?account={shop}" in child
        tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date().isoformat()
        assert 'id="no-entry"' in (await client.get(f"/console/ledger?since={tomorrow}")).text
        bad = await client.get("/console/ledger?until=demain")
        assert bad.status_code == 422 and "Au: une date (AAAA-MM-JJ)" in bad.text
        rows = (await client.get("/console/ledger.csv")).text.splitlines()
        assert rows[0].startswith("id,at,reason,amount,balance_after") and len(rows) == 3
        assert rows[2].split(",")[2:5] == ["transfer_out", "-7", "93"] and "'=cmd(1)" in rows[2]

        usage = (await client.get("/console/usage")).text
        assert usage.count('class="day"') == 30
        today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
        assert f'data-day="{today}"' in usage
        reversed_days = await client.get("/console/usage?from=2026-03-02&to=2026-03-01")
        assert reversed_days.status_code == 422 and "avant la date de début" in reversed_days.text

        # Sender IDs: a parent asks and decides for its sub-account; an account never decides on its own.
        asked = await client.post(
            "/console/senders", data={"csrf": csrf, "account": str(shop), "sender": "BOUTIQUE", "action": "request"}
        )
        assert asked.status_code == 303 and asked.headers["location"] == f"/console/senders?account={shop}"
        assert 'data-sender="BOUTIQUE" data-status="requested"' in (await client.get(asked.headers["location"])).text
        approved = await client.post(
            "/console/senders", data={"csrf": csrf, "account": str(shop), "sender": "BOUTIQUE", "action": "approved"}
        )
        assert approved.status_code == 303
        assert 'data-status="approved"' in (await client.get(f"/console/senders?account={shop}")).text
        mine = await client.post("/console/senders", data={"csrf": csrf, "sender": "ACME", "action": "request"})
        assert mine.status_code == 303
        own = await client.post("/console/senders", data={"csrf": csrf, "sender": "ACME", "action": "approved"})
        assert own.status_code == 403 and "Seul un compte au-dessus" in own.text
        bad_sender = await client.post("/console/senders", data={"csrf": csrf, "sender": "A B", "action": "request"})
        assert bad_sender.status_code == 422 and "Émetteur: lettres et chiffres uniquement" in bad_sender.text


async def test_one_account_never_sees_anothers_sub_accounts_or_ledger(gw: Gateway) -> None:
    async with signed_in(gw) as (acme, acme_csrf), signed_in(gw, "other", "other-secret") as (other, other_csrf):
        shop = await _child(acme, acme_csrf, "acme-shop")
        assert 'class="subaccount"' not in (await other.get("/console/accounts")).text
        found = await AccountStore(gw.db, now_ms).by_login("acme")
        assert found is not None
        acme_id = found[0].id
        for path in (
            f"/console/accounts/{shop}",
            f"/console/ledger?account={shop}",
            f"/console/ledger.csv?account={shop}",
            f"/console/usage?account={shop}",
            f"/console/senders?account={shop}",
            f"/console/ledger?account={acme_id}",  # the first account itself
        ):
            answer = await other.get(path)
            assert answer.status_code == 404 and "acme-shop" not in answer.text, path
        for path, data in (
            ("/console/accounts", {"action": "transfer", "child": str(shop), "amount": "1", "direction": "take"}),
            ("/console/accounts", {"action": "delete", "child": str(shop)}),
            (f"/console/accounts/{shop}", {"action": "create", "login": "intrus"}),
            (f"/console/accounts/{shop}", {"action": "webhooks", "callback_url": "https://intrus.example.org/"}),
            ("/console/senders", {"account": str(shop), "sender": "PIRATE", "action": "approved"}),
        ):
            answer = await other.post(path, data={"csrf": other_csrf, **data})
            assert answer.status_code == 404, (path, data)
        # Every form of these pages needs the session's token.
        for path, data in (
            ("/console/accounts", {"action": "create", "login": "sans-jeton"}),
            ("/console/senders", {"sender": "SANSJETON", "action": "request"}),
            ("/console/groups", {"action": "create", "name": "sans-jeton"}),
            ("/console/contacts", {"mobile": "0612345678"}),
        ):
            assert (await other.post(path, data=data)).status_code == 403, path
        assert "sans-jeton" not in (await other.get("/console/groups")).text
        page = (await acme.get("/console/accounts")).text
        assert _balance(page, shop) == "0" and "intrus" not in page
        assert "PIRATE" not in (await acme.get(f"/console/senders?account={shop}")).text
        assert (await account_service(gw.settings, gw.db).show("acme-shop")).account.callback_url is None
        assert "No such account." in (await other.get(f"/console/accounts/{shop}")).text


async def test_a_parent_sets_its_sub_accounts_limits(gw: Gateway) -> None:
    """The sub-account's page sets its limits through the reseller service, read as the REST door reads them: the
    REST door then answers what was saved. A refused value names its field, keeps what was typed and saves nothing;
    an account never sets its own limits nor its parent's, and another reseller's sub-account is not found."""
    rest = httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=30)
    async with rest, signed_in(gw) as (client, csrf):
        shop = await _child(client, csrf, "acme-shop")
        path = f"/console/accounts/{shop}"

        async def stored(account: int | str = shop) -> object:
            answer = await rest.get(f"/sms/v1/accounts/{account}")
            assert answer.status_code == 200, answer.text
            return answer.json()["limits"]

        def limits(**fields: str) -> dict[str, str]:
            empty = {"rate_limit": "", "lanes": "", "countries": "", "sender_policy": "any"}
            return {"csrf": csrf, "action": "limits", **empty, **fields}

        none = {"rateLimit": None, "flows": None, "countries": None, "senderPolicy": "any"}
        assert await stored() == none
        assert 'id="subaccount-limits"' not in (await client.get("/console/accounts")).text  # never its own
        assert 'id="limit-rate" value=""' in (await client.get(path)).text

        saved = await client.post(
            path, data=limits(rate_limit="2,5", lanes="otp, Notification", countries="fr,be", sender_policy="approved")
        )
        assert saved.status_code == 303 and saved.headers["location"] == f"{path}?note=limits"
        limited = {
            "rateLimit": 2.5,
            "flows": ["TRANSACTIONAL", "OTP"],
            "countries": ["BE", "FR"],
            "senderPolicy": "approved",
        }
        assert await stored() == limited
        shown = (await client.get(saved.headers["location"])).text
        assert "Les limites sont enregistrées." in shown and 'data-limit="countries">BE,FR<' in shown
        assert 'id="limit-rate" value="2.5"' in shown and 'id="limit-lanes" value="notification,otp"' in shown
        assert '<option value="approved" selected>' in shown
        # What holds, with the limits above: shop's own here; below shop, a sub-account with none of its own is
        # bound by shop's (the configured default rate, none, capped at 2.5).
        applied = (
            'data-applied="rate_limit">2.5< data-applied="lanes">notification,otp< data-applied="countries">BE,FR<'
        )
        assert _applied(shown) == applied + ' data-applied="sender_policy">émetteurs approuvés seulement<'
        team = await _child(client, csrf, "acme-team", base=path)
        assert _applied((await client.get(f"/console/accounts/{team}")).text) == _applied(shown)
        assert "Ce qui s'applique aux envois de acme-team, avec les limites des comptes au-dessus" in html.unescape(
            (await client.get(f"/console/accounts/{team}")).text
        )
        assert _applied((await client.get("/console/accounts")).text) == (
            'data-applied="rate_limit">sans plafond< data-applied="lanes">toutes< data-applied="countries">tous<'
            ' data-applied="sender_policy">tout émetteur valide<'
        )
        deleted_team = {"csrf": csrf, "action": "delete", "child": str(team)}
        assert (await client.post(path, data=deleted_team)).status_code == 303

        # A refused value names its field and is shown again as typed; the whole form saves nothing (the other
        # fields, emptied, would have removed the limits saved above).
        for fields, words in (
            ({"lanes": "otp,sms"}, "Voies permises: voie inconnue 'sms' (otp, notification ou marketing)"),
            (
                {"rate_limit": "-1"},
                "Limite (envois/s): un nombre d'envois par seconde de 0 à 1 000 000 (0 = sans plafond)",
            ),
            ({"rate_limit": "vite"}, "Limite (envois/s): un nombre, par exemple 5 ou 0,5"),
            ({"rate_limit": "2000000"}, "Limite (envois/s): un nombre d'envois par seconde de 0 à 1 000 000"),
            ({"countries": "FR,UK"}, "Pays permis: pas un code pays auquel appartiennent des numéros : 'UK'"),
            ({"countries": "France"}, "Pays permis: pas un code pays de deux lettres : 'FRANCE'"),
            ({"sender_policy": "some"}, "Règle des émetteurs: any (tout émetteur) ou approved"),
        ):
            refused = await client.post(path, data=limits(**fields))
            assert refused.status_code == 422 and words in html.unescape(refused.text), fields
            name, typed = next(iter(fields.items()))
            assert name == "sender_policy" or f'name="{name}" id="limit-' in refused.text
            assert name == "sender_policy" or f'value="{typed}"' in refused.text, fields
            assert 'data-limit="countries">BE,FR<' in refused.text  # what is stored, beside what was typed
        forged = await client.post(path, data=limits(countries='"><script>alert(1)</script>'))
        assert forged.status_code == 422 and "<script>alert(1)" not in forged.text
        assert await stored() == limited

        # A field the form does not carry keeps its limit; an empty one removes it (an empty policy: `any`).
        kept = await client.post(path, data={"csrf": csrf, "action": "limits", "countries": ""})
        assert kept.status_code == 303
        assert await stored() == {**limited, "countries": None}
        cleared = await client.post(path, data=limits(sender_policy=""))
        assert cleared.status_code == 303 and await stored() == none
        assert (await client.post(path, data=limits(rate_limit="3"))).status_code == 303

        # The sub-account sees no limits form on its own page and may not set its own limits, nor its parent's.
        acme = await AccountStore(gw.db, now_ms).by_login("acme")
        assert acme is not None
        async with signed_in(gw, "acme-shop", "pw") as (shop_client, shop_csrf):
            for own in ("/console/accounts", path):
                assert 'id="subaccount-limits"' not in (await shop_client.get(own)).text
                assert 'data-applied="rate_limit">3<' in (await shop_client.get(own)).text  # set from above
                lifted = await shop_client.post(own, data={**limits(), "csrf": shop_csrf})
                assert lifted.status_code == 403, own
                assert "Seul un compte au-dessus de celui-ci peut le faire." in html.unescape(lifted.text)
            parent = await shop_client.post(
                f"/console/accounts/{acme[0].id}", data={**limits(rate_limit="1"), "csrf": shop_csrf}
            )
            assert parent.status_code == 404
        async with signed_in(gw, "other", "other-secret") as (other, other_csrf):
            foreign = await other.post(path, data={**limits(), "csrf": other_csrf})
            assert foreign.status_code == 404 and "acme-shop" not in foreign.text
        assert await stored() == {**none, "rateLimit": 3.0}
        assert await stored("me") == none

        # A deleted sub-account's limits are no longer changed.
        deleted = await client.post("/console/accounts", data={"csrf": csrf, "action": "delete", "child": str(shop)})
        assert deleted.status_code == 303
        assert 'id="subaccount-limits"' not in (await client.get(path)).text
        closed = await client.post(path, data=limits(countries="FR"))
        assert closed.status_code == 422 and "Le compte est supprimé." in html.unescape(closed.text)
        assert await stored() == {**none, "rateLimit": 3.0}
