"""Defects a probe of the console found, over HTTP on SQLite and PostgreSQL: each was a 500, a session that
outlived its sign-out, or a form that dropped what it was given without saying so."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest

from martinet.store.accounts import AccountStore
from tests.console.session import CSRF, sign_in, signed_in
from tests.gateway import Gateway, running_gateway


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, credits=100) as gateway:
        yield gateway


async def test_a_ledger_filter_on_the_last_day_of_the_calendar_is_a_form_error(gw: Gateway) -> None:
    """`until` is read as the day after it, and 9999-12-31 has none: the page and its export used to fail
    (OverflowError, 500); they refuse it as the usage page refuses the same day."""
    async with signed_in(gw) as (client, _csrf):
        page = await client.get("/console/ledger", params={"until": "9999-12-31"})
        assert page.status_code == 422
        problem = re.search(r'id="ledger-problem">([^<]+)<', page.text)
        assert problem is not None and "9999-12-31" in html.unescape(problem.group(1))
        assert 'id="ledger-problem"' not in (await client.get("/console/ledger?since=9999-12-31")).text
        export = await client.get("/console/ledger.csv", params={"since": "2020-01-01", "until": "9999-12-31"})
        assert export.status_code == 400 and "9999-12-31" in export.text
        usage = await client.get("/console/usage", params={"from": "9999-12-31", "to": "9999-12-31"})
        assert usage.status_code == 422  # the same day, refused the same way


def _filename(disposition: str) -> tuple[str, str]:
    """The ASCII `filename` and the decoded `filename*` of a `Content-Disposition`."""
    plain = re.search(r'filename="([^"]*)"', disposition)
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert plain is not None and extended is not None, disposition
    return plain.group(1), unquote(extended.group(1), errors="strict")


async def test_the_ledger_export_of_a_login_outside_latin_1_names_its_file_in_utf_8(gw: Gateway) -> None:
    """A login goes into the file's name; header values are Latin-1 at most, so `客户一` made the export fail
    (UnicodeEncodeError, 500). The name is given in ASCII and, per RFC 6266, in UTF-8."""
    async with signed_in(gw) as (client, csrf):
        for login in ("客户一", "shop😀"):
            created = await client.post(
                "/console/accounts", data={"csrf": csrf, "action": "create", "login": login, "password": "pw"}
            )
            assert created.status_code == 303, created.text
            found = await AccountStore(gw.db, lambda: 0).by_login(login)
            assert found is not None
            export = await client.get("/console/ledger.csv", params={"account": str(found[0].id)})
            assert export.status_code == 200 and export.text.startswith("id,at,reason")
            disposition = export.headers["content-disposition"]
            assert disposition.isascii() and disposition.startswith("attachment;")
            plain, extended = _filename(disposition)
            assert extended == f"ledger-{login}.csv"
            assert plain.isascii() and plain.startswith("ledger-") and plain.endswith(".csv")
    async with signed_in(gw, "客户一", "pw") as (own, _csrf):  # the sub-account's own export
        export = await own.get("/console/ledger.csv")
        assert export.status_code == 200 and _filename(export.headers["content-disposition"])[1] == "ledger-客户一.csv"


async def test_signing_out_ends_the_session_on_the_server(gw: Gateway) -> None:
    """A copy of the cookie taken before signing out (and its CSRF token) opens nothing afterwards, although it
    is signed and not expired; a new sign-in works again. Every session of the account ends with it."""
    async with signed_in(gw) as (client, csrf):
        cookie = client.cookies["martinet_console"]
        async with httpx.AsyncClient(base_url=gw.base, timeout=30) as other_browser:
            await sign_in(other_browser, "acme", "secret")
            assert (await other_browser.get("/console/")).status_code == 200
            out = await client.post("/console/logout", data={"csrf": csrf})
            assert out.status_code == 303 and out.headers["location"] == "/console/login"
            after = await other_browser.get("/console/")
            assert after.status_code == 303 and after.headers["location"] == "/console/login"
        async with httpx.AsyncClient(base_url=gw.base, timeout=30, cookies={"martinet_console": cookie}) as replay:
            page = await replay.get("/console/keys")
            assert page.status_code == 303 and page.headers["location"] == "/console/login"
            made = await replay.post("/console/keys", data={"csrf": csrf, "action": "create", "label": "stolen"})
            assert made.status_code == 403
        keys = await client.get("/console/keys")
        assert keys.status_code == 303  # signed out here too
        fresh = await sign_in(client, "acme", "secret")
        assert (await client.get("/console/keys")).status_code == 200
        assert "stolen" not in (await client.get("/console/keys")).text
        assert CSRF.search((await client.get("/console/")).text) is not None and fresh


async def test_the_opt_out_form_refuses_more_numbers_than_it_takes_rather_than_dropping_some(gw: Gateway) -> None:
    """1,001 numbers used to add the first 1,000 and drop the last silently: the form now refuses them all,
    naming the limit, and 1,000 are all added."""
    numbers = [f"+3361{2000000 + i:07d}" for i in range(1001)]
    async with signed_in(gw) as (client, csrf):
        refused = await client.post(
            "/console/opt-outs", data={"csrf": csrf, "action": "add", "numbers": "\n".join(numbers)}
        )
        assert refused.status_code == 422
        assert "au plus 1000 à la fois" in html.unescape(refused.text)
        assert numbers[0].removeprefix("+") not in refused.text  # nothing was added
        added = await client.post(
            "/console/opt-outs", data={"csrf": csrf, "action": "add", "numbers": ",".join(numbers[:1000])}
        )
        assert added.status_code == 303
        listed = (await client.get("/console/opt-outs")).text
        assert listed.count('class="msisdn"') == 1000 and numbers[999].removeprefix("+") in listed


async def test_the_callbacks_page_shows_a_refused_url_again_as_typed(gw: Gateway) -> None:
    async with signed_in(gw) as (client, csrf):
        refused = await client.post(
            "/console/callbacks",
            data={
                "csrf": csrf,
                "action": "settings",
                "callback_url": "ftp://hooks.example.org/dlr",
                "reply_url": "https://replies.example.org/mo",
                "callback_statuses": "final",
            },
        )
        assert refused.status_code == 422 and 'id="callbacks-problem"' in refused.text
        assert 'value="ftp://hooks.example.org/dlr"' in refused.text  # to be corrected, not typed again
        assert 'value="https://replies.example.org/mo"' in refused.text
        assert 'value="final" id="statuses-final" checked' in refused.text


async def test_a_send_form_of_as_many_numbers_as_a_send_may_name_reaches_the_send_service(gw: Gateway) -> None:
    """`http.max_recipients` numbers pasted (more than 1 MiB as a browser posts them) used to be a bare 413
    page: the form is sized from the limit, so the send service counts them and answers in the form."""
    limit = gw.settings.http.max_recipients
    pasted = "\r\n".join(f"+3361{i:07d}" for i in range(limit + 1))
    assert len(pasted) > 1024 * 1024
    async with signed_in(gw) as (client, csrf):
        answer = await client.post(
            "/console/send", data={"csrf": csrf, "recipients": pasted, "text": "hello", "lane": "notification"}
        )
        assert answer.status_code == 422, answer.text[-500:]
        problem = re.search(r'id="send-problem">([^<]+)<', answer.text)
        assert problem is not None and str(limit) in problem.group(1).replace(" ", "").replace("\u202f", "")
        assert "hello" in answer.text  # what was typed is there to correct


async def test_a_send_form_past_the_consoles_limit_is_answered_in_the_form(database_url: str) -> None:
    """A form larger still is not read, but the send page says why and names the limit, rather than a bare 413
    page; nothing is sent, and a stranger's form stays capped at 1 MiB."""
    async with running_gateway(database_url, http={"max_recipients": 1000}) as gw:
        body = "x" * (2 * 1024 * 1024)
        async with signed_in(gw) as (client, csrf):
            answer = await client.post(
                "/console/send", data={"csrf": csrf, "recipients": body, "text": "hello", "lane": "notification"}
            )
            assert answer.status_code == 413
            assert 'id="send-form"' in answer.text
            problem = re.search(r'id="send-problem">([^<]+)<', answer.text)
            assert problem is not None and "1000" in problem.group(1), answer.text[-800:]
            counter = await client.post("/console/send/counter", data={"csrf": csrf, "recipients": body})
            assert counter.status_code == 200 and 'id="counter-problem"' in counter.text
            assert "1000" in counter.text
            assert "/console/sends/" not in answer.headers.get("location", "")
        async with httpx.AsyncClient(base_url=gw.base, timeout=30) as stranger:
            refused = await stranger.post("/console/send", content=b"x" * (1024 * 1024 + 1))
            assert refused.status_code == 413 and 'id="send-form"' not in refused.text
