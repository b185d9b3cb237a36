"""The live counter and a send's page at scale, over HTTP on SQLite and PostgreSQL.

The counter, posted at each pause in typing, used to read and price every contact of the groups ticked (a second
and more per keystroke for 50,000, on the worker's event loop); a send's page listed every recipient and re-read
them all every second. These tests assert on structure (statements, rows, sizes, htmx attributes), not on time.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from martinet.store.contacts import ContactStore
from tests.console.session import signed_in
from tests.gateway import Gateway, running_gateway

PRICES = {"prices": {"FR": "1", "BE": "1.5", "DE": "0.8"}, "closed": ["GB"]}
LONG = "Maximilienne-" + "é" * 60 + "-Ω"  # GSM-7, but long enough to take a text to another part
#: Contacts of mixed countries (one closed), with first names in every class of character a text can hold.
CONTACTS = [
    ("+33612340001", "Léa"),
    ("+33612340002", "Zoë"),  # ë is not GSM-7: that contact's text goes in UCS-2
    ("+33612340003", "😀Jo"),  # outside the BMP: two UCS-2 units
    ("+33612340004", "€mile"),  # a GSM-7 extension character: two septets
    ("+33612340005", ""),  # a text naming only {prenom} is blank for them: not sent, not charged
    ("+33612340006", LONG),
    ("+33612340007", "Léa"),
    ("+32470123401", "Anaïs"),  # ï is not GSM-7
    ("+32470123402", "Bram"),
    ("+4915112345601", "Jürgen"),
    ("+4915112345602", LONG),
    ("+447700900001", "Olivia"),  # GB is closed: 3560, free
]
TYPED = "+33612340001\n+33699999999\n12"  # a contact typed too (sent once, as typed), a stranger, an invalid number
TEXTS = [
    "Bonjour {prenom}, à bientôt",
    "Hi {prenom}! " + "x" * 140,
    "Привет {prenom}",
    "{prenom}",
    "Hello everyone €",
    "Hi {prenom} " + "y" * 54,
]


@pytest.fixture
async def gw(database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, credits=1000, with_engine=False, pricing=PRICES) as gateway:
        yield gateway


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The SQL statements run in this process (the gateway's included), as they run."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def member_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Calls of `ContactStore.members` (every contact of groups, read row by row)."""
    calls: list[int] = []
    original = ContactStore.members

    async def members(self: ContactStore, account_id: int, group_names: Any) -> Any:
        calls.append(account_id)
        return await original(self, account_id, group_names)

    monkeypatch.setattr(ContactStore, "members", members)
    return calls


async def _import(client: httpx.AsyncClient, csrf: str, group: str, rows: list[tuple[str, str]]) -> None:
    data = "mobile;prenom\n" + "".join(f"{mobile};{name}\n" for mobile, name in rows)
    answer = await client.post(
        "/console/contacts/import",
        data={"csrf": csrf, "group": group},
        files={"file": ("contacts.csv", data.encode())},
    )
    assert answer.status_code == 200, answer.text


async def _counter(client: httpx.AsyncClient, csrf: str, form: dict[str, str]) -> tuple[str, int]:
    answer = await client.post("/console/send/counter", data=form, headers={"x-csrf-token": csrf, "hx-request": "true"})
    assert answer.status_code == 200, answer.text
    found = re.search(r'id="count-price">([^ <]+) [^<]*<small>\D*(\d+)', answer.text)
    assert found is not None, html.unescape(answer.text)
    return found.group(1), int(found.group(2))


async def _sent(client: httpx.AsyncClient, csrf: str, form: dict[str, str]) -> tuple[str, int]:
    """The cost the send was charged, and its recipients not failed."""
    answer = await client.post("/console/send", data={"csrf": csrf, **form})
    assert answer.status_code == 303, answer.text
    page = (await client.get(answer.headers["location"])).text
    cost = re.search(r'id="send-cost" data-cost="([^"]+)"', page)
    total = re.search(r'data-total="(\d+)"', page)
    failed = re.search(r'data-state="failed">[^<]* (\d+)<', page)
    assert cost is not None and total is not None, page
    return cost.group(1), int(total.group(1)) - (int(failed.group(1)) if failed else 0)


async def test_the_counter_prices_groups_as_the_send_charges_them_without_reading_each_contact(
    gw: Gateway, statements: list[str], member_reads: list[int]
) -> None:
    """Groups of mixed countries (one closed), names in every class of character, a contact also typed, a
    contact in both groups: for each text the counter's price and valid recipients are what the send charges and
    sends. The groups are read with aggregated statements only, never contact by contact."""
    async with signed_in(gw) as (client, csrf):
        await _import(client, csrf, "clients", CONTACTS[:8])
        await _import(client, csrf, "friends", CONTACTS[6:])  # +33612340007 and the first Belgian are in both
        group_reads = []
        for text in TEXTS:
            form = {"recipients": TYPED, "text": text, "groups[]": "clients\nfriends", "lane": "notification"}
            statements.clear()
            counted = await _counter(client, csrf, form)
            group_reads += [s for s in statements if "contact_group_members" in s]
            assert counted == await _sent(client, csrf, form), text
        assert group_reads  # the groups are counted in SQL...
        assert all("GROUP BY" in s for s in group_reads), group_reads  # ... never read contact by contact
        assert member_reads == []


async def test_typing_analyses_the_text_and_reuses_the_groups_counts(
    gw: Gateway, statements: list[str], member_reads: list[int]
) -> None:
    """Keystrokes after the first read no contact: the groups' counts are kept briefly per account, group set,
    numbers typed and fields named; naming another field counts again, in one statement."""
    async with signed_in(gw) as (client, csrf):
        await _import(client, csrf, "clients", CONTACTS)
        form = {"recipients": "", "groups[]": "clients", "lane": "notification"}
        first = await _counter(client, csrf, {**form, "text": "Bonjour {prenom}"})
        statements.clear()
        for typed in ("Bonjour {prenom} !", "Bonjour {prenom} !!", "Bonjour {prenom} !!!"):
            assert await _counter(client, csrf, {**form, "text": typed}) == first
        assert not [s for s in statements if "contact_group_members" in s], statements
        await _counter(client, csrf, {**form, "text": "Bonjour {nom}"})
        assert len([s for s in statements if "contact_group_members" in s]) == 1, statements
        assert member_reads == []


async def test_counter_requests_replace_each_other(gw: Gateway) -> None:
    """A keystroke's counter request aborts the one still running for the form, rather than queueing behind it."""
    async with signed_in(gw) as (client, _csrf):
        page = (await client.get("/console/send")).text
        counter = re.search(r'<aside[^>]*id="counter"[^>]*>', page)
        assert counter is not None and 'hx-sync="this:replace"' in counter.group(0)


def _in_a_month() -> str:
    return (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")


async def test_a_send_page_shows_its_recipients_fifty_at_a_time(gw: Gateway) -> None:
    """A send to 120: its page shows 50 recipients, the counts of all 120, and links to the next 50; the last page
    the remaining 20. Another account's send is still not found."""
    async with signed_in(gw) as (client, csrf):
        numbers = "\n".join(f"+336123{i:05d}" for i in range(120))
        answer = await client.post(
            "/console/send",
            data={"csrf": csrf, "recipients": numbers, "text": "hello", "schedule": _in_a_month()},
        )
        assert answer.status_code == 303, answer.text
        page_url = answer.headers["location"]
        first = await client.get(page_url)
        assert first.text.count('class="recipient"') == 50
        assert 'data-total="120"' in first.text and 'data-state="scheduled"' in first.text
        assert f'href="{page_url}?offset=50" rel="next"' in first.text
        assert 'id="recipients-poll"></div>' in first.text  # scheduled: nothing moves, nothing polls
        last = await client.get(page_url, params={"offset": "100"})
        assert last.text.count('class="recipient"') == 20 and 'rel="next"' not in last.text
        seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', last.text)]
        assert seqs == list(range(100, 120))
        beyond = await client.get(page_url, params={"offset": "5000"})  # the last page, not an empty one
        assert beyond.text.count('class="recipient"') == 20
        assert 'id="cancel-send"' in first.text and len(first.content) < 60_000
        async with httpx.AsyncClient(base_url=gw.base) as other:
            assert (await other.get(page_url)).status_code in (303, 401, 404)


async def test_a_moving_send_polls_for_its_changes_and_backs_off(gw: Gateway) -> None:
    """A send still queued (no engine here) polls for changes after 1 s. A poll that finds the counts it saw gets
    only the poller back, waiting twice as long (up to 30 s); one that finds them changed gets the counts and the
    visible page of recipients (50, swapped out of band) and polls again after 1 s."""
    async with signed_in(gw) as (client, csrf):
        numbers = "\n".join(f"+336123{i:05d}" for i in range(120))
        answer = await client.post("/console/send", data={"csrf": csrf, "recipients": numbers, "text": "hello"})
        assert answer.status_code == 303, answer.text
        page_url = answer.headers["location"]
        page = (await client.get(page_url, params={"offset": "50"})).text
        poller = re.search(r'<div id="recipients-poll" hx-get="([^"]+)" hx-trigger="load delay:1s"', page)
        assert poller is not None, page
        assert "every 1s" not in page and page.count('class="recipient"') == 50
        poll_url = html.unescape(poller.group(1))
        assert "offset=50" in poll_url and "seen=queued120" in poll_url
        same = await client.get(poll_url)
        assert same.status_code == 200 and 'class="recipient"' not in same.text and len(same.content) < 1000
        assert 'hx-trigger="load delay:2s"' in same.text and "wait=2" in same.text
        waits = []
        for wait in ("2", "4", "8", "16", "30", "999"):
            again = await client.get(poll_url.replace("wait=1", f"wait={wait}"))
            waits.append(int(re.findall(r'data-wait="(\d+)"', again.text)[0]))
        assert waits == [4, 8, 16, 30, 30, 30]
        changed = await client.get(poll_url.replace("seen=queued120", "seen=queued119.sent1"))
        assert changed.text.count('class="recipient"') == 50
        assert 'id="recipients-block" hx-swap-oob="true"' in changed.text
        assert 'id="recipients-counts" hx-swap-oob="true"' in changed.text
        assert 'hx-trigger="load delay:1s"' in changed.text
