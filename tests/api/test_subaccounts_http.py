"""Resellers over HTTP on both databases: smsmode's sub-account endpoints called as its PHP samples call them
(form POST, values in ISO-8859-15), and the REST account endpoints and smsmode calls through the SDK, on a real
gateway, with two- and three-level trees."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from martinet.app import account_service
from martinet.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InsufficientCreditError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from martinet.client.accounts import Limits, Webhooks
from martinet.clock import now_ms
from martinet.domain.credits import to_milli
from martinet.store.accounts import AccountStore
from tests.gateway import Gateway, running_gateway

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PASSWORD = "pässwörd€"  # survives ISO-8859-15 both ways


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, with_engine=False) as gateway:
        await account_service(gateway.settings, gateway.db).create("other", credits=to_milli(10), password="x")
        yield gateway


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is required in CI") if _ci() else pytest.skip("install php-cli and php-curl")
    return php


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _call(gw: Gateway, path: str, *pairs: str) -> str:
    php = _php()
    process = await asyncio.create_subprocess_exec(
        php,
        SAMPLES / "subaccounts.php",
        f"{gw.base}{path}",
        *pairs,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode("iso-8859-15")


async def test_smsmode_sub_account_endpoints_from_php(gw: Gateway) -> None:
    probe = await asyncio.create_subprocess_exec(_php(), "-r", "exit(function_exists('curl_init') ? 0 : 1);")
    if await probe.wait() != 0:
        pytest.fail("php-curl is required in CI") if _ci() else pytest.skip("install php-curl")
    acme = f"accessToken={gw.token}"
    client1 = ("pseudo=client1", f"pass={PASSWORD}")
    v16 = "/http/1.6/"

    async def call(endpoint: str, *pairs: str) -> str:
        return await _call(gw, f"{v16}{endpoint}.do", *pairs)

    created = await call("createSubAccount", acme, "newPseudo=client1", f"newPass={PASSWORD}", "societe=Café Crème")
    assert created == "0 | Sous-compte créé"
    assert await call("createSubAccount", acme, "newPseudo=client1", "newPass=x") == "41 | Pseudo déjà existant"
    assert (await call("createSubAccount", acme, "newPseudo=client2")).startswith("35 | Paramètre invalide : newPass")
    assert await call("createSubAccount", acme, "newPseudo=a b", "newPass=x") == (
        "35 | Paramètre invalide : newPseudo (1 à 50 caractères, sans espace)"
    )
    # Parent → child, with the spec's codes for no credit (33), unknown target (41), bad amount (35).
    assert await call("creditTransfert", acme, "targetPseudo=client1", "creditAmount=100", "reference=FAC-1") == (
        "0 | Transfert effectué"
    )
    assert (await call("creditTransfert", acme, "targetPseudo=client1", "creditAmount=5000")).startswith("33 | ")
    assert await call("creditTransfert", acme, "targetPseudo=nobody", "creditAmount=1") == "41 | Pseudo inconnu"
    assert await call("creditTransfert", acme, "targetPseudo=other", "creditAmount=1") == "41 | Pseudo inconnu"
    assert await call("creditTransfert", acme, "targetPseudo=acme", "creditAmount=1") == (
        "35 | Paramètre invalide : targetPseudo (c'est le compte qui donne)"
    )
    assert await call("creditTransfert", acme, "targetPseudo=client1", "creditAmount=1.5") == (
        "35 | Paramètre invalide : creditAmount (un nombre entier de crédits, de 1 à 1000000000000)"
    )
    assert (await call("creditTransfert", acme, "targetPseudo=client1", "creditAmount=10000000000000")).endswith(
        "(un nombre entier de crédits, de 1 à 1000000000000)"
    )
    # The sub-account logs in with its ISO-8859-15 password; a third level; child → parent; child → its child.
    assert await call("createSubAccount", *client1, "newPseudo=dept", "newPass=x") == "0 | Sous-compte créé"
    assert await call("creditTransfert", *client1, "targetPseudo=acme", "creditAmount=10") == "0 | Transfert effectué"
    assert await call("creditTransfert", *client1, "targetPseudo=dept", "creditAmount=20") == "0 | Transfert effectué"
    assert await call("credit", acme) == "910"
    assert await call("credit", *client1) == "70"
    assert await call("credit", "pseudo=dept", "pass=x") == "20"
    # Up one level only: a grandchild giving to its grandparent, or to its parent's sibling, is refused as unknown.
    assert await call("creditTransfert", "pseudo=dept", "pass=x", "targetPseudo=acme", "creditAmount=1") == (
        "41 | Pseudo inconnu"
    )
    assert await call("creditTransfert", "pseudo=dept", "pass=x", "targetPseudo=other", "creditAmount=1") == (
        "41 | Pseudo inconnu"
    )
    # Limits set above refuse sends with French reasons, as every 35 of this door.
    async with AsyncClient(gw.base, gw.token, retries=0) as sdk:
        (child,) = await sdk.accounts.subaccounts()
        await sdk.accounts.set_limits(child.id, countries=["FR"], sender_policy="approved")
        send = ("message=Bonjour", "numero=33612345678")
        assert await call("sendSMS", *client1, "message=Bonjour", "numero=32470123456") == (
            "35 | Paramètre invalide : numero (pays de destination non autorisé pour ce compte : BE)"
        )
        assert await call("sendSMS", *client1, *send, "emetteur=CAFE") == (
            "35 | Paramètre invalide : emetteur (émetteur non approuvé pour ce compte)"
        )
        await sdk.accounts.set_limits(child.id, flows=["OTP"])
        assert await call("sendSMS", *client1, *send) == (
            "35 | Paramètre invalide : lane (voie notification non autorisée pour ce compte)"
        )
        # A rate set on client1 caps its sub-account too: one send, then 50 (a token per 1,000 s).
        await sdk.accounts.set_limits(child.id, flows=None, rate_limit=0.001)
        assert (await call("sendSMS", "pseudo=dept", "pass=x", *send)).startswith("0 | ")
        assert (await call("sendSMS", "pseudo=dept", "pass=x", *send)).startswith("50 | ")
    # A key for the caller, answered in JSON, that works at once.
    document = json.loads(await _call(gw, "/http/2.0/createAuthorisation.do", *client1))
    assert set(document) == {"id", "accessToken", "creationDate", "state", "expiration", "account"}
    assert document["account"] == "client1" and document["expiration"] is None
    assert await call("credit", f"accessToken={document['accessToken']}") == "70"
    # Deleting: not with sub-accounts left, not an unrelated or own account; the ancestor may delete a grandchild.
    assert await call("deleteSubAccount", acme, "pseudoToDelete=client1") == (
        "35 | Paramètre invalide : pseudoToDelete (a des sous-comptes : supprimez-les d'abord)"
    )
    assert await call("deleteSubAccount", "pseudo=other", "pass=x", "pseudoToDelete=dept") == "41 | Pseudo inconnu"
    assert await call("deleteSubAccount", acme, "pseudoToDelete=acme") == "41 | Pseudo inconnu"
    assert await call("deleteSubAccount", acme, "pseudoToDelete=dept") == "0 | Sous-compte supprimé"
    assert await call("credit", *client1) == "89"  # dept's 19 credits back (it sent one message)
    assert await call("deleteSubAccount", acme, "pseudoToDelete=client1") == "0 | Sous-compte supprimé"
    assert await call("credit", acme) == "999"
    # The deleted account can no longer authenticate, by password or key.
    assert (await call("credit", *client1)).startswith("32 | ")
    assert (await call("credit", f"accessToken={document['accessToken']}")).startswith("32 | ")
    assert await call("creditTransfert", acme, "targetPseudo=client1", "creditAmount=1") == "41 | Pseudo inconnu"


async def test_resellers_through_the_sdk(gw: Gateway) -> None:
    async with AsyncClient(gw.base, gw.token, retries=0) as acme:
        me = await acme.accounts.me()
        assert (me.login, me.balance, me.parent_id) == ("acme", 1000, None)
        shop = await acme.accounts.create_subaccount("shop", password="pw", profile={"societe": "Shop"})
        assert shop.api_key and shop.parent_id == me.id and shop.profile == {"societe": "Shop"}
        team = await acme.accounts.create_subaccount("team", parent=shop.id)
        assert team.parent_id == shop.id
        with pytest.raises(ConflictError):
            await acme.accounts.create_subaccount("shop")
        # Refusals name this door's fields, not smsmode's parameters.
        for profile, field in (({"nom": "x" * 201}, "profile.nom"), ({"color": "red"}, "profile")):
            with pytest.raises(InvalidRequestError) as refused:
                await acme.accounts.create_subaccount("shop2", profile=profile)
            assert refused.value.field == field
        with pytest.raises(InvalidRequestError) as refused:
            await acme.accounts.set_limits(shop.id, countries=["FR", "UK"])
        assert refused.value.field == "countries"
        moved = await acme.accounts.transfer(shop.id, "50.5", reference="R1")
        assert (moved.source_balance, moved.to_balance) == (949.5, 50.5)
        with pytest.raises(InsufficientCreditError):
            await acme.accounts.transfer(shop.id, 5000)
        await acme.accounts.set_limits(shop.id, countries=["FR"], flows=["TRANSACTIONAL"], sender_policy="approved")
        assert [a.login for a in await acme.accounts.subaccounts()] == ["shop"]
        assert [a.login for a in await acme.accounts.subaccounts(shop.id)] == ["team"]
        # What holds below shop: none of team's own limits, all of shop's, in the list as in the account itself.
        await acme.accounts.set_limits(team.id, countries=["FR", "BE"], rate_limit=5)
        for seen in (await acme.accounts.get(team.id), (await acme.accounts.subaccounts(shop.id))[0]):
            assert seen.limits == Limits(5, None, ("BE", "FR"), "any")
            assert seen.effective_limits == Limits(5, ("TRANSACTIONAL",), ("FR",), "approved")
        assert (await acme.accounts.me()).effective_limits == Limits(0, None, None, "any")
        await acme.accounts.set_limits(team.id, countries=None, rate_limit=None)

        async with AsyncClient(gw.base, shop.api_key, retries=0) as client:
            # Shop sees what binds it, set from above; its own limits stay its parent's to change.
            assert (await client.accounts.me()).effective_limits == Limits(0, ("TRANSACTIONAL",), ("FR",), "approved")
            with pytest.raises(InvalidRequestError) as refused:
                await client.send("+32470123456", "hello")
            assert refused.value.field == "recipient.to"
            with pytest.raises(InvalidRequestError) as refused:
                await client.send("+33612345678", "hello", sender="SHOP", stop=True)
            assert refused.value.field == "from"
            with pytest.raises(InvalidRequestError) as refused:
                await client.send("+33612345678", "hello", flow="MARKETING")
            assert (refused.value.field, "MARKETING" in str(refused.value)) == ("flow", True)
            with pytest.raises(InvalidRequestError) as refused:
                await client.accounts.request_sender("SHOP-1")
            assert refused.value.field == "sender"
            assert (await client.accounts.request_sender("SHOP")).status == "requested"
            assert [(s.sender, s.status) for s in await client.accounts.senders()] == [("SHOP", "requested")]
            with pytest.raises(PermissionDeniedError):
                await client.accounts.decide_sender("me", "SHOP", "approved")
            with pytest.raises(PermissionDeniedError):
                await client.accounts.set_limits("me", countries=None)
            with pytest.raises(NotFoundError):
                await client.accounts.get(me.id)
            assert (await acme.accounts.decide_sender(shop.id, "SHOP", "approved")).status == "approved"
            await client.send("+33612345678", "hello", sender="SHOP", stop=True)
            # Child → parent; the grandchild's transfer to its grandparent is refused as unknown.
            await client.accounts.transfer(me.id, "0.5")
            async with AsyncClient(gw.base, team.api_key or "", retries=0) as grandchild:
                with pytest.raises(NotFoundError):
                    await grandchild.accounts.transfer(me.id, 1)
            # Keys: the parent keys its grandchild with a flow; the grandchild's key is limited as asked.
            key = await acme.accounts.create_key(account=team.id, label="ops", flows=["OTP"])
            assert key.access_token and key.flows == ("OTP",)
            expiring = await acme.accounts.create_key(
                account=team.id, networks=["10.0.0.0/8"], expires_at=datetime(2030, 1, 1, tzinfo=UTC)
            )
            assert (expiring.networks, expiring.expires_at, expiring.state) == (
                ("10.0.0.0/8",),
                "2030-01-01T00:00:00.000Z",
                "ACTIVE",
            )
            with pytest.raises(InvalidRequestError) as refused:
                await acme.accounts.create_key(account=team.id, expires_at=datetime(2020, 1, 1, tzinfo=UTC))
            assert refused.value.field == "expiresAt"
            assert [k.label for k in await acme.accounts.keys(team.id)] == ["default", "ops", ""]
            with pytest.raises(NotFoundError):
                await client.accounts.revoke_key(1)  # acme's own key: not managed by shop
            assert (await acme.accounts.revoke_key(key.id)).state == "REVOKED"

        # A rate set on shop caps its sub-account over REST: one send, then 429 (a token per 1,000 s).
        await acme.accounts.set_limits(shop.id, rate_limit=0.001)
        await acme.accounts.transfer(team.id, 2)
        async with AsyncClient(gw.base, (await acme.accounts.create_key(account=team.id)).access_token, retries=0) as t:
            await t.send("+33612345678", "hello")
            with pytest.raises(RateLimitedError):
                await t.send("+33612345678", "hello")

        entries = [e async for e in acme.accounts.ledger(shop.id)]
        assert [(e.reason, e.amount, e.balance_after) for e in entries][:2] == [
            ("transfer_in", 50.5, 50.5),
            ("send", -1, 49.5),
        ]
        assert entries[0].reference == "R1" and entries[0].counterparty == "acme"
        exported = list(csv.reader(io.StringIO(await acme.accounts.ledger_csv(shop.id))))
        assert exported[0][:5] == ["id", "at", "reason", "amount", "balance_after"]
        assert [row[2] for row in exported[1:]] == [e.reason for e in entries]
        # Date filters: a day without a time, as a statement names its last day, includes that whole day.
        found = await AccountStore(gw.db, now_ms).by_login("acme")
        assert found is not None
        zone = ZoneInfo(found[0].timezone)
        days = sorted({datetime.fromisoformat(e.at).astimezone(zone).date() for e in entries})
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as raw:

            async def dated(**query: object) -> list[int]:
                answer = await raw.get(f"/sms/v1/accounts/{shop.id}/ledger", params={**query, "pageSize": 100})
                assert answer.status_code == 200, answer.text
                return [item["id"] for item in answer.json()["items"]]

            assert await dated(startDate=days[0], endDate=days[-1]) == [e.id for e in entries]
            assert await dated(endDate=days[0] - timedelta(days=1)) == []
            assert await dated(startDate=days[-1] + timedelta(days=1)) == []
            assert await dated(endDate=f"{days[0]}T00:00:00") == []  # a time is that instant
        today = datetime.now(zone).date()  # usage days are the account's: after 23:00 UTC, Paris is a day ahead
        days = await acme.accounts.usage(shop.id, today, today)
        assert sum(sum(d.messages.values()) for d in days) == 1

        # smsmode's calls through the SDK.
        legacy = acme.accounts.legacy
        await legacy.create_sub_account("legacy1", "pw", societe="Ltd")
        with pytest.raises(ConflictError):
            await legacy.create_sub_account("legacy1", "pw")
        await legacy.credit_transfer("legacy1", 5, reference="L1")
        with pytest.raises(NotFoundError):
            await legacy.credit_transfer("other", 5)
        with pytest.raises(InsufficientCreditError):
            await legacy.credit_transfer("legacy1", 10**6)
        authorisation = await legacy.create_authorisation()
        assert authorisation["account"] == "acme"
        await legacy.delete_sub_account("legacy1")
        with pytest.raises(NotFoundError):
            await legacy.delete_sub_account("legacy1")

        # Deleting the three-level branch from the top: the grandchild first, then the child.
        deleted = await acme.accounts.delete(team.id)
        assert deleted.state == "DELETED"
        with pytest.raises(ConflictError):
            await acme.accounts.transfer(team.id, 1)
        await acme.accounts.delete(shop.id)
        assert (await acme.accounts.me()).balance == 998  # shop and team sent one message each
        # The deleted sub-account's history stays readable by its parent; never by another account.
        assert [m.to for m in [m async for m in acme.accounts.messages(shop.id)]] == ["33612345678"]
        async with AsyncClient(
            gw.base, (await acme.accounts.create_subaccount("peer")).api_key or "", retries=0
        ) as peer:
            with pytest.raises(NotFoundError):
                [m async for m in peer.accounts.messages(shop.id)]
    async with AsyncClient(gw.base, shop.api_key, retries=0) as gone:
        with pytest.raises(AuthenticationError):
            await gone.accounts.me()


async def test_webhook_settings_of_an_account_and_of_its_sub_accounts_over_rest(gw: Gateway) -> None:
    """`/sms/v1/accounts/{accountId}/webhooks`: an account reads and sets its own, the accounts above it theirs,
    nobody else's; what is refused names its field and changes nothing; only the fields given change."""

    def problem(reply: httpx.Response, status: int, code: str, field: str | None = None) -> None:
        assert reply.status_code == status, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        body = reply.json()
        assert (body["errorCode"], body.get("field")) == (code, field), body

    async with AsyncClient(gw.base, gw.token, retries=0) as acme_sdk:
        me = await acme_sdk.accounts.me()
        shop = await acme_sdk.accounts.create_subaccount("shop")
        gone = await acme_sdk.accounts.create_subaccount("gone")
        await acme_sdk.accounts.delete(gone.id)
    other = await account_service(gw.settings, gw.db).create("stranger", credits=to_milli(1))
    assert shop.api_key is not None
    keys = {"acme": gw.token, "shop": shop.api_key, "stranger": other.token}

    def client(login: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": keys[login]}, timeout=30)

    async with client("acme") as acme, client("shop") as shop_http, client("stranger") as stranger:
        own = await acme.get("/sms/v1/accounts/me/webhooks")
        assert own.status_code == 200
        assert own.json() == {
            "callbackUrl": None,
            "replyUrl": None,
            "callbackStatuses": "all",
            "href": f"/sms/v1/accounts/{me.id}/webhooks",
        }
        path = f"/sms/v1/accounts/{shop.id}/webhooks"
        for body, code, field in (
            ({"callbackUrl": "ftp://shop.example/dlr"}, "INVALID_PARAMETER", "callbackUrl"),
            ({"replyUrl": "http://127.0.0.1/mo"}, "INVALID_PARAMETER", "replyUrl"),  # loopback: refused here
            ({"callbackUrl": "https://shop.example/" + "x" * 2000}, "INVALID_PARAMETER", "callbackUrl"),
            ({"callbackStatuses": "some"}, "INVALID_PARAMETER", "callbackStatuses"),
            ({"callback_url": "https://shop.example/dlr"}, "INVALID_PARAMETER", "callback_url"),
        ):
            problem(await acme.patch(path, json=body), 422, code, field)
        problem(await acme.patch(path, content=b"{", headers={"content-type": "application/json"}), 400, "INVALID_JSON")
        assert (await shop_http.get("/sms/v1/accounts/me/webhooks")).json()["callbackUrl"] is None

        set_by_parent = await acme.patch(
            path, json={"callbackUrl": "https://shop.example/dlr", "callbackStatuses": "final"}
        )
        assert set_by_parent.status_code == 200, set_by_parent.text
        assert set_by_parent.json() == {
            "callbackUrl": "https://shop.example/dlr",
            "replyUrl": None,
            "callbackStatuses": "final",
            "href": path,
        }
        by_itself = await shop_http.patch("/sms/v1/accounts/me/webhooks", json={"replyUrl": "https://shop.example/mo"})
        assert by_itself.json() == {**set_by_parent.json(), "replyUrl": "https://shop.example/mo"}
        stored = (await account_service(gw.settings, gw.db).show("shop")).account
        assert (stored.callback_url, stored.reply_url, stored.callback_statuses) == (
            "https://shop.example/dlr",
            "https://shop.example/mo",
            "final",
        )
        cleared = await shop_http.patch(
            "/sms/v1/accounts/me/webhooks", json={"callbackUrl": None, "replyUrl": "", "callbackStatuses": None}
        )
        assert cleared.json()["callbackUrl"] is None and cleared.json()["replyUrl"] is None
        assert cleared.json()["callbackStatuses"] == "all"

        # Nobody else's: not the account above it, not an unrelated one, not a deleted sub-account's.
        problem(await shop_http.get(f"/sms/v1/accounts/{me.id}/webhooks"), 404, "NOT_FOUND")
        problem(
            await shop_http.patch(f"/sms/v1/accounts/{me.id}/webhooks", json={"callbackUrl": None}), 404, "NOT_FOUND"
        )
        problem(await stranger.get(path), 404, "NOT_FOUND")
        problem(await stranger.patch(path, json={"callbackStatuses": "final"}), 404, "NOT_FOUND")
        problem(
            await acme.patch(f"/sms/v1/accounts/{gone.id}/webhooks", json={"callbackUrl": None}), 409, "ACCOUNT_CLOSED"
        )
        assert (await acme.get("/sms/v1/accounts/me/webhooks")).json() == own.json()

    # The same through the SDK, both clients: only what is given changes.
    async with AsyncClient(gw.base, shop.api_key, retries=0) as shop_sdk:
        assert await shop_sdk.accounts.set_webhooks(callback_statuses="final") == Webhooks(None, None, "final")
        with pytest.raises(InvalidRequestError) as refused:
            await shop_sdk.accounts.set_webhooks(callback_url="gopher://shop.example")
        assert refused.value.field == "callbackUrl"
    with Client(gw.base, gw.token, retries=0) as acme_sync:
        changed = await asyncio.to_thread(
            acme_sync.accounts.set_webhooks, shop.id, callback_url="https://shop.example/r"
        )
        assert changed == Webhooks("https://shop.example/r", None, "final")
        assert await asyncio.to_thread(acme_sync.accounts.webhooks, shop.id) == changed


async def test_a_key_limited_to_lanes_manages_nothing_wider_than_itself(gw: Gateway) -> None:
    """A key for one-time passwords must not lock the account's unrestricted keys out, nor give a sub-account
    lanes it does not have itself."""
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as full:
        otp = (await full.post("/sms/v1/keys", json={"label": "codes", "flows": ["OTP"]})).json()
        child = await full.post("/sms/v1/accounts/me/subaccounts", json={"login": "shop-otp", "password": "secret-1"})
        assert child.status_code == 201, child.text
        child_id = child.json()["id"]
        own = (await full.get("/sms/v1/keys")).json()
        full_key = next(k for k in own["items"] if k["label"] != "codes")
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": otp["accessToken"]}) as limited:
        refused = await limited.delete(f"/sms/v1/keys/{full_key['id']}")
        assert refused.status_code == 403 and refused.json()["errorCode"] == "ACCOUNT_NOT_ALLOWED", refused.text
        wider = await limited.patch(f"/sms/v1/accounts/{child_id}", json={"flows": ["OTP", "MARKETING"]})
        assert wider.status_code == 422 and wider.json()["field"] == "flows", wider.text
        narrowed = await limited.patch(f"/sms/v1/accounts/{child_id}", json={"flows": None})
        assert narrowed.status_code == 200 and narrowed.json()["limits"]["flows"] == ["OTP"], narrowed.text
        inner = (await limited.post("/sms/v1/keys", json={"label": "inner"})).json()
        assert (await limited.delete(f"/sms/v1/keys/{inner['id']}")).status_code == 200
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as full:
        assert (await full.get("/commons/v1/balance")).status_code == 200  # the full key still works


async def test_the_last_day_of_the_calendar_is_refused_not_failed(gw: Gateway) -> None:
    """A statement or usage report to 9999-12-31 would end the day after, which no date can hold."""
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
        usage = await http.get("/sms/v1/accounts/me/usage", params={"from": "9999-12-01", "to": "9999-12-31"})
        assert usage.status_code == 422 and usage.json()["field"] == "to", usage.text
        ledger = await http.get("/sms/v1/accounts/me/ledger", params={"endDate": "9999-12-31"})
        assert ledger.status_code == 422 and ledger.json()["field"] == "endDate", ledger.text
        assert (await http.get("/sms/v1/accounts/me/ledger", params={"endDate": "9999-12-30"})).status_code == 200
        # A day in ISO 8601's basic form is that whole day too.
        today = datetime.now(ZoneInfo("Europe/Paris")).date()
        basic = await http.get("/sms/v1/accounts/me/ledger", params={"endDate": today.strftime("%Y%m%d")})
        extended = await http.get("/sms/v1/accounts/me/ledger", params={"endDate": today.isoformat()})
        assert basic.json()["items"] == extended.json()["items"] != []


async def test_a_statement_comes_as_the_client_ranks_its_types(gw: Gateway) -> None:
    """`format` wins; else `Accept` with its quality values (RFC 9110 §12.5.1), JSON when nothing ranks CSV first."""
    path = "/sms/v1/accounts/me/ledger"
    cases = [
        ({}, {"accept": "text/csv"}, "text/csv"),
        ({}, {"accept": "application/json, text/csv;q=0.1"}, "application/json"),
        ({}, {"accept": "text/csv;q=0.9, application/json;q=0.5"}, "text/csv"),
        ({"format": "json"}, {"accept": "text/csv"}, "application/json"),
        ({"format": "csv"}, {"accept": "application/json"}, "text/csv"),
        ({}, {"accept": "*/*"}, "application/json"),
    ]
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
        for params, headers, expected in cases:
            answer = await http.get(path, params=params, headers=headers)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(expected), (params, headers)


async def test_a_transfer_moves_credits_only_on_numbers_written_as_numbers(gw: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
        child = await http.post("/sms/v1/accounts/me/subaccounts", json={"login": "shop-num", "password": "secret-1"})
        to = child.json()["id"]
        for body in ({"to": to, "amount": True}, {"to": to, "amount": "1"}, {"to": str(to), "amount": 1}):
            refused = await http.post("/sms/v1/transfers", json=body)
            assert refused.status_code == 422, (body, refused.text)
        assert (await http.post("/sms/v1/transfers", json={"to": to, "amount": 1})).status_code == 201
        assert (await http.get(f"/sms/v1/accounts/{to}")).json()["balance"] == 1


async def test_a_deleted_sub_account_is_read_but_never_changed(gw: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
        child = await http.post("/sms/v1/accounts/me/subaccounts", json={"login": "shop-gone", "password": "secret-1"})
        gone = child.json()["id"]
        assert (await http.delete(f"/sms/v1/accounts/{gone}")).status_code == 200
        assert (await http.get(f"/sms/v1/accounts/{gone}")).json()["state"] == "DELETED"
        changes = [
            await http.post(f"/sms/v1/accounts/{gone}/senders", json={"sender": "LATE"}),
            await http.post("/sms/v1/keys", json={"accountId": gone}),
            await http.post(f"/sms/v1/accounts/{gone}/subaccounts", json={"login": "under-gone"}),
            await http.patch(f"/sms/v1/accounts/{gone}", json={"rateLimit": 5}),
        ]
        assert [(a.status_code, a.json()["errorCode"]) for a in changes] == [(409, "ACCOUNT_CLOSED")] * 4
