"""The console over HTTP, on SQLite and PostgreSQL: sessions and CSRF, sign-in links, what one account may see of
another's, operator pages, the forms' answers to bad input, and the pages' content."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from martinet.app import account_service
from martinet.app_console import sign_in_links
from martinet.domain.credits import to_milli
from tests.console.session import CSRF, signed_in
from tests.engine.test_notifier import FAST, Receiver
from tests.gateway import Gateway, running_gateway, wait_for


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(
        database_url,
        console={"operators": ["acme"]},
        security={"login_failures_per_minute": 3},
    ) as gateway:
        await account_service(gateway.settings, gateway.db).create(
            "other", credits=to_milli(10), password="other-secret", language="en"
        )
        yield gateway


async def _send(client: httpx.AsyncClient, csrf: str, **fields: str) -> str:
    answer = await client.post("/console/send", data={"csrf": csrf, "lane": "notification", **fields})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].rsplit("/", 1)[1]


async def test_session_cookie_flags_csrf_and_sign_out(gw: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gw.base) as client:
        first = await client.get("/console/")
        assert first.status_code == 303 and first.headers["location"] == "/console/login"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
        assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
        assert "default-src 'self'" in first.headers["content-security-policy"]
        # A POST without the session's token is refused before the password is even looked at.
        refused = await client.post("/console/login", data={"login": "acme", "password": "secret"})
        assert refused.status_code == 403
        forged = await client.post("/console/login", data={"csrf": "x" * 32, "login": "acme", "password": "secret"})
        assert forged.status_code == 403
    async with signed_in(gw) as (client, csrf):
        assert (await client.post("/console/send", data={"text": "x", "recipients": "0612345678"})).status_code == 403
        htmx = await client.post(
            "/console/send/counter", data={"text": "abc"}, headers={"x-csrf-token": csrf, "hx-request": "true"}
        )
        assert htmx.status_code == 200 and 'id="count-chars">3<' in htmx.text
        out = await client.post("/console/logout", data={"csrf": csrf})
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
        client.cookies.clear()
        assert (await client.get("/console/history")).status_code == 303
        # An htmx request of a page that needs a session is told where to go.
        expired = await client.get("/console/replies", headers={"hx-request": "true"})
        assert expired.headers["hx-redirect"] == "/console/login"


async def test_wrong_passwords_are_limited_like_the_other_doors(gw: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gw.base) as client:
        token = CSRF.search((await client.get("/console/login")).text)
        assert token is not None
        statuses = []
        for _ in range(4):
            answer = await client.post(
                "/console/login", data={"csrf": token.group(1), "login": "acme", "password": "wrong"}
            )
            statuses.append(answer.status_code)
        assert statuses[0] == 401
        assert statuses[-1] == 429  # the login's failures are spent: even the right password waits now
        right = await client.post(
            "/console/login", data={"csrf": token.group(1), "login": "acme", "password": "secret"}
        )
        assert right.status_code == 429


@pytest.fixture
async def linked_gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, console={"secret_key": "k" * 40}) as gateway:
        yield gateway


async def test_sign_in_links_are_single_use_and_signed(linked_gw: Gateway) -> None:
    gw = linked_gw
    links = sign_in_links(gw.settings, gw.db)
    token = await links.issue("acme")
    async with httpx.AsyncClient(base_url=gw.base) as client:
        page = await client.get(f"/console/link/{token}")
        assert page.status_code == 200 and token in page.text  # a page with a button: opening it uses nothing
        csrf = CSRF.search(page.text)
        assert csrf is not None
        used = await client.post("/console/link", data={"csrf": csrf.group(1), "token": token})
        assert used.status_code == 303
        assert (await client.get("/console/")).status_code == 200
        assert "console sign-in link" not in (await client.get("/console/keys")).text
    async with httpx.AsyncClient(base_url=gw.base) as client:
        csrf = CSRF.search((await client.get(f"/console/link/{token}")).text)
        assert csrf is not None
        again = await client.post("/console/link", data={"csrf": csrf.group(1), "token": token})
        assert again.status_code == 403
        forged = await client.post("/console/link", data={"csrf": csrf.group(1), "token": token[:-2] + "xx"})
        assert forged.status_code == 403


async def test_one_account_never_sees_anothers_send(gw: Gateway) -> None:
    async with signed_in(gw) as (acme, acme_csrf), signed_in(gw, "other", "other-secret") as (other, other_csrf):
        tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        send_id = await _send(
            acme, acme_csrf, recipients="0612345678", text="secret de acme", schedule=tomorrow, reference="r-acme"
        )
        mine = await acme.get(f"/console/sends/{send_id}")
        assert mine.status_code == 200 and "secret de acme" in mine.text and 'data-status="10"' in mine.text
        for path in (f"/console/sends/{send_id}", f"/console/sends/{send_id}/recipients"):
            answer = await other.get(path)
            assert answer.status_code == 404 and "secret de acme" not in answer.text
        cancel = await other.post(f"/console/sends/{send_id}/cancel", data={"csrf": other_csrf})
        assert cancel.status_code == 404
        assert "secret de acme" not in (await other.get("/console/history")).text
        assert "r-acme" not in (await other.get("/console/history.csv")).text
        # Its own cancel works and refunds.
        done = await acme.post(f"/console/sends/{send_id}/cancel", data={"csrf": acme_csrf})
        assert done.status_code == 303 and done.headers["location"].endswith("?note=cancelled")
        csv_text = (await acme.get("/console/history.csv?ref=r-acme")).text
        assert csv_text.splitlines()[1].split(",")[6] == "cancelled"
        # Keys: another account's key cannot be revoked through the console.
        keys = await acme.get("/console/keys")
        key_id = re.search(r'data-key="(\d+)"', keys.text)
        assert key_id is not None
        refused = await other.post(
            "/console/keys", data={"csrf": other_csrf, "action": "revoke", "key": key_id.group(1)}
        )
        assert refused.status_code == 404
        # Operator pages do not exist for an account that is not an operator.
        assert (await other.get("/console/ops/accounts")).status_code == 404
        assert (await acme.get("/console/ops/accounts")).status_code == 200


async def test_send_form_answers_bad_input_and_the_counter_follows_the_rules(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        bad = await client.post("/console/send", data={"csrf": csrf, "recipients": "12", "text": "x"})
        assert bad.status_code == 422 and "Destinataires:" in bad.text
        empty = await client.post("/console/send", data={"csrf": csrf, "recipients": "0612345678", "text": ""})
        assert empty.status_code == 422 and "Texte:" in empty.text
        when = await client.post(
            "/console/send", data={"csrf": csrf, "recipients": "0612345678", "text": "x", "schedule": "demain"}
        )
        assert when.status_code == 422 and "Programmer:" in when.text
        lane = await client.post(
            "/console/send", data={"csrf": csrf, "recipients": "0612345678", "text": "x", "lane": "vip"}
        )
        assert lane.status_code == 422 and "Voie:" in lane.text
        # Past the room for `http.max_recipients` numbers (about 4 MiB by default): the form again, saying why.
        huge = await client.post("/console/send", data={"csrf": csrf, "text": "x" * (5 * 1024 * 1024)})
        assert huge.status_code == 413 and 'id="send-form"' in huge.text
        # A marketing send from a custom sender gets the opt-out mention, and the counter says so.
        counter = await client.post(
            "/console/send/counter",
            data={"text": "Promo -20%", "sender": "BOUTIQUE", "lane": "marketing", "recipients": "0612345678, 12"},
            headers={"x-csrf-token": csrf},
        )
        assert 'id="count-mention"' in counter.text and "STOP" in counter.text
        assert "1 destinataire(s)" in counter.text  # the invalid entry is not priced
        # A sender the only recipient's country refuses: the counter says why as it is typed, the form on submit.
        refused = {"text": "Code 1234", "sender": "ACME", "recipients": "+1 201 555 0123"}
        counter = await client.post("/console/send/counter", data=refused, headers={"x-csrf-token": csrf})
        # Both in the page's language (French here), as the smsmode door words it.
        why = "Émetteur: US : émetteurs alphanumériques non distribués, émetteurs numériques uniquement"
        assert why in html.unescape(counter.text)
        submitted = await client.post("/console/send", data={"csrf": csrf, **refused})
        assert submitted.status_code == 422 and why in html.unescape(submitted.text)


async def test_pages_show_the_accounts_traffic(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        send_id = await _send(client, csrf, recipients="0612345678\n0698765432", text="Bonjour", reference="ref-1")

        async def delivered() -> bool:
            page = await client.get(f"/console/sends/{send_id}/recipients")
            return page.text.count('data-status="11"') == 2

        await wait_for(delivered, timeout=30)
        page = (await client.get(f"/console/sends/{send_id}")).text
        assert "hx-trigger" not in page.split('id="recipients-block"')[1].split(">")[0]  # final: no more polling
        figures = (await client.get("/console/dashboard/figures")).text
        assert re.search(r'data-window="Today" data-state="delivered">2<', figures)
        series = (await client.get("/console/dashboard/series")).json()
        assert sum(series["hourly"]["series"]["delivered"]) == 2
        assert sum(series["daily"]["series"]["delivered"]) == 2
        history = (await client.get("/console/history?recipient=0698765432")).text
        assert history.count('class="message"') == 1
        assert (await client.get("/console/history?since=hier")).status_code == 200
        assert "since:" in (await client.get("/console/history?since=hier")).text
        rows = (await client.get("/console/history.csv")).text.splitlines()
        assert len(rows) == 3 and rows[0].startswith("send_id,")
        opt = await client.post("/console/opt-outs", data={"csrf": csrf, "numbers": "0611223344", "action": "add"})
        assert opt.status_code == 303
        # Refusals in the page's language (French here), under the form's labels.
        no_number = await client.post("/console/opt-outs", data={"csrf": csrf, "numbers": "abc", "action": "add"})
        assert no_number.status_code == 422 and "Numéro: donnez des numéros" in html.unescape(no_number.text)
        bad_key = await client.post(
            "/console/keys", data={"csrf": csrf, "action": "create", "label": "x", "lanes": "sms"}
        )
        assert "Voies permises: voie inconnue 'sms'" in html.unescape(bad_key.text)
        bad_net = await client.post(
            "/console/keys", data={"csrf": csrf, "action": "create", "label": "x", "networks": "ici"}
        )
        assert "Réseaux permis: ni une adresse ni une plage CIDR : 'ici'" in html.unescape(bad_net.text)
        bad_route = await client.get("/console/ops/routes?number=abc", headers={"hx-request": "true"})
        assert "Numéro: donnez un numéro (caractères invalides)" in html.unescape(bad_route.text)
        assert "33611223344" in (await client.get("/console/opt-outs")).text
        created = await client.post("/console/keys", data={"csrf": csrf, "action": "create", "label": "ci"})
        token = re.search(r'id="new-key">([^<]+)<', created.text)
        assert token is not None
        async with httpx.AsyncClient(base_url=gw.base) as api:
            balance = await api.get("/commons/v1/balance", headers={"X-Api-Key": token.group(1)})
            assert balance.status_code == 200
        assert (await client.get("/console/callbacks?state=failed")).status_code == 200
        ops = await client.get("/console/ops/routes?number=0612345678", headers={"hx-request": "true"})
        assert 'id="explain-route"' in ops.text and "sandbox" in ops.text
        accounts = await client.post(
            "/console/ops/accounts", data={"csrf": csrf, "action": "topup", "login": "other", "amount": "5"}
        )
        assert accounts.status_code == 200
        assert (await account_service(gw.settings, gw.db).show("other")).balance == to_milli(15)
        # The form's refusals, in the operator's language (French here), under the form's labels.
        for fields, why in (
            ({"action": "topup", "login": "other", "amount": "cinq"}, "Montant: un nombre de crédits, par exemple"),
            ({"action": "topup", "login": "nobody", "amount": "5"}, "Identifiant: aucun compte de ce nom"),
            ({"action": "create", "login": "x" * 51}, "Identifiant: 1 à 50 caractères"),
            ({"action": "create", "login": "new", "language": "de"}, "Langue: fr ou en"),
            ({"action": "update", "login": "other", "rate_limit": "vite"}, "Limite (envois/s): un nombre d'envois"),
        ):
            refused = await client.post("/console/ops/accounts", data={"csrf": csrf, **fields})
            assert refused.status_code == 422 and why in html.unescape(refused.text), (fields, why)
        assert (await account_service(gw.settings, gw.db).show("other")).balance == to_milli(15)
        # The operator has an account called back for final statuses only, keeping its other settings.
        update = {"csrf": csrf, "action": "update", "login": "other", "lane": "notification", "rate_limit": "7"}
        unknown = await client.post("/console/ops/accounts", data={**update, "callback_statuses": "some"})
        assert (
            unknown.status_code == 422
            and "Comptes rendus: attendu : l'une des valeurs all, final, pas" in html.unescape(unknown.text)
        )
        assert (await account_service(gw.settings, gw.db).show("other")).account.callback_statuses == "all"
        final = await client.post("/console/ops/accounts", data={**update, "callback_statuses": "final"})
        assert final.status_code == 200
        other = (await account_service(gw.settings, gw.db).show("other")).account
        assert (other.callback_statuses, other.lane, other.rate_limit) == ("final", "notification", 7.0)
        assert re.search(r'data-login="other">.*?<option value="final" selected>', final.text, re.S)
        created_account = await client.post(
            "/console/ops/accounts", data={"csrf": csrf, "action": "create", "login": "other", "credits": "1"}
        )
        assert created_account.status_code == 422 and "Identifiant: pris par un autre compte" in created_account.text


async def test_an_account_sets_its_callback_url_and_final_statuses_only_on_its_callbacks_page(
    database_url: str,
) -> None:
    """The account's own callback settings, set on its Callbacks page: refused input changes nothing and says why;
    saved settings are those the next sends are called back by (a real receiver on loopback); another account's
    are untouched."""
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            service = account_service(gw.settings, gw.db)
            await service.create("other", credits=to_milli(10), password="other-secret", language="en")
            base = f"http://127.0.0.1:{receiver.port}"
            async with signed_in(gw) as (client, csrf):
                page = (await client.get("/console/callbacks")).text
                assert 'id="callback-url"' in page and 'value="all" id="statuses-all" checked' in page

                async def save(**fields: str) -> httpx.Response:
                    data = {"csrf": csrf, "action": "settings", "callback_statuses": "final", **fields}
                    return await client.post("/console/callbacks", data=data)

                for fields, why in (
                    ({"callback_url": "ftp://example.org/dlr"}, "URL des comptes rendus: schéma 'ftp' refusé"),
                    ({"callback_url": f"{base}/" + "x" * 2000}, "URL des comptes rendus: plus de 2000 caractères"),
                    ({"reply_url": "https:///no-host"}, "URL des réponses: URL sans hôte"),
                    (
                        {"callback_url": f"{base}/dlr", "callback_statuses": "some"},
                        "Comptes rendus: attendu : l'une des valeurs all, final",
                    ),
                ):
                    refused = await save(**fields)
                    assert refused.status_code == 422 and why in html.unescape(refused.text), (fields, refused.text)
                    assert 'id="callbacks-problem"' in refused.text
                unchanged = (await service.show("acme")).account
                assert (unchanged.callback_url, unchanged.reply_url, unchanged.callback_statuses) == (None, None, "all")

                saved = await save(callback_url=f" {base}/dlr ", reply_url=f"{base}/mo")
                assert saved.status_code == 200 and 'id="callbacks-note"' in saved.text
                assert f'value="{base}/dlr"' in saved.text and 'value="final" id="statuses-final" checked' in saved.text
                account = (await service.show("acme")).account
                assert (account.callback_url, account.reply_url, account.callback_statuses) == (
                    f"{base}/dlr",
                    f"{base}/mo",
                    "final",
                )
                other = (await service.show("other")).account
                assert (other.callback_url, other.callback_statuses) == (None, "all")

                # A send naming no URL of its own is called back at the account's, for its final status only.
                await _send(client, csrf, recipients="0612345678", text="Bonjour")
                await wait_for(lambda: _called_back(receiver, "/dlr", "11"), timeout=30)
                # Back to every status change, the URLs emptied: the next send names its own URL to be heard.
                reset = await save(callback_statuses="all", callback_url="", reply_url="")
                assert reset.status_code == 200
                account = (await service.show("acme")).account
                assert (account.callback_url, account.reply_url, account.callback_statuses) == (None, None, "all")
            async with gw.client() as http:
                answer = await http.post(
                    "/sendSMS.do",
                    data={
                        "accessToken": gw.token,
                        "numero": "0612345679",
                        "message": "hi",
                        "notification_url": f"{base}/all",
                    },
                )
                assert answer.text.startswith("0 | "), answer.text
            await wait_for(lambda: _called_back(receiver, "/all", "11"), timeout=30)
    finally:
        await receiver.stop()
    by_path: dict[str, list[str]] = {}
    for call in receiver.successes():
        by_path.setdefault(call.target.split("?")[0], []).append(call.query["statut"])
    assert by_path["/dlr"] == ["11"], by_path  # one callback, the final status, however long the wait lasted
    assert by_path["/all"][-1] == "11" and len(by_path["/all"]) > 1, by_path
    assert set(by_path) == {"/dlr", "/all"}, by_path


async def _called_back(receiver: Receiver, path: str, status: str) -> bool:
    return any(c.target.split("?")[0] == path and c.query["statut"] == status for c in receiver.successes())
