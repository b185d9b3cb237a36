"""The gateway while its store fails: every door answers in its own dialect, every loop backs off, and all of it
works again once the store does.

The faults are real ones (`tests.faults`): a table renamed away, on SQLite and PostgreSQL, so that even reads
fail (the credentials' lookup, which the other faults leave working); and the PostgreSQL server going away and
coming back, through a relay the test cuts.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from martinet.app import engine, notifier
from martinet.store.schema import messages
from tests.console.session import CSRF
from tests.faults import missing_tables, postgres_outage
from tests.gateway import Gateway, running_gateway, wait_for

pytestmark = pytest.mark.slow

SMSMODE_TEXT = "text/plain; charset=ISO-8859-15"
#: Long enough for a loop to reach its longest pause (0.25, 0.5, 1, then 2 s).
OUTAGE_S = 5.0
#: The loops that work the store in cycles and fail at each while it is gone, by their first failure's line, and
#: how many of each an engine runs (the dispatcher one for one-time passwords and one for the other lanes).
LOOPS = {"dispatch cycle failed": 2, "claiming callbacks failed": 1, "scheduler cycle failed": 1}


def _records(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(start)]


async def _send(gw: Gateway, http: httpx.AsyncClient, number: str) -> httpx.Response:
    return await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": number, "message": "Hi"})


async def test_a_store_failure_before_the_endpoint_runs_is_answered_in_each_doors_dialect(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The accounts table gone, the credentials cannot be looked up: the smsmode door answers `31` (not a bare
    `500` from the server), the REST door a problem, the console an error page in its own look, and each failure
    is a line of the log, the traceback on the first of its type only. A send succeeds once the table is back."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        async with missing_tables(database_url, "accounts") as rename:
            await rename()
            with caplog.at_level(logging.INFO):
                by_token = await _send(gw, http, "0612345601")
                by_password = await http.get(
                    "/sendSMS.do", params={"pseudo": "acme", "pass": "secret", "numero": "0612345602", "message": "Hi"}
                )
                batch = await http.post(
                    "/sendSMSBatch.do",
                    params={"accessToken": gw.token},
                    files={"file": ("c.csv", b"0612345603;Hi\n", "text/csv")},
                )
                rest = await http.post(
                    gw.base + "/sms/v1/messages",
                    headers={"X-Api-Key": gw.token},
                    json={"recipient": {"to": "+33612345604"}, "body": {"text": "Hi"}},
                )
                async with httpx.AsyncClient(base_url=gw.base, timeout=30) as console:
                    form = await console.get("/console/login", headers={"accept-language": "en"})
                    token = CSRF.search(form.text)
                    assert token is not None
                    page = await console.post(
                        "/console/login",
                        data={"csrf": token.group(1), "login": "acme", "password": "secret"},
                        headers={"accept-language": "en"},
                    )
        again = await _send(gw, http, "0612345605")

    for answer in (by_token, by_password, batch):
        assert answer.status_code == 200 and answer.headers["content-type"] == SMSMODE_TEXT, answer
        assert answer.content.decode("iso-8859-15") == "31 | Erreur interne", answer.text
    assert rest.status_code == 500 and rest.headers["content-type"] == "application/problem+json", rest.text
    assert rest.json()["errorCode"] == "INTERNAL_ERROR"
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html"), page.text
    assert re.search(r'<p class="problem" id="error">The console failed to answer; please try again', page.text)
    assert again.text.startswith("0 | "), again.text

    legacy = _records(caplog, "legacy endpoint failed")
    assert len(legacy) == 3 and all(r.levelno == logging.ERROR for r in legacy)
    assert [r.exc_info is not None for r in legacy] == [True, False, False]  # one type of failure, one traceback
    assert all("accounts" in r.__dict__["error"] for r in legacy), [r.__dict__["error"] for r in legacy]
    assert len(_records(caplog, "REST endpoint failed: POST /sms/v1/messages")) == 1
    (console_failed,) = _records(caplog, "console page failed: POST /console/login")
    assert console_failed.exc_info is not None
    assert not _records(caplog, "Exception in ASGI application")


def _backs_off(records: list[logging.LogRecord], seconds: float, most_loops: int = 1) -> None:
    """Loops failing all along (at most `most_loops` of one kind), each pausing 0.25, 0.5, 1, then 2 s after its
    failures: each fails at most at 0, 0.25, 0.75, 1.75, 3.75 … s, with a traceback on the first only. Trying
    again at every poll (0.1 s), the notifier failed ten times a second, each with its traceback."""
    loops = sum(r.exc_info is not None for r in records)
    assert 1 <= loops <= most_loops, [r.getMessage() for r in records]
    assert records[0].exc_info is not None
    assert len(records) <= loops * (3 + seconds / 2), [r.getMessage() for r in records]


async def _ready(gw: Gateway) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(gw.admin + "/readyz")).status_code == 200


def _logged(caplog: pytest.LogCaptureFixture, start: str) -> Callable[[], Awaitable[bool]]:
    async def found() -> bool:
        return bool(_records(caplog, start))

    return found


async def test_while_the_store_fails_every_loop_backs_off_and_says_when_it_succeeds_again(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The messages and callbacks tables gone, the dispatcher's claims, the notifier's and the scheduler's cycle
    fail at every try: each waits longer after each failure, logs one traceback for the run, and says when it
    succeeds again; a send made meanwhile is delivered once the tables are back."""
    async with running_gateway(database_url, engine={"heartbeat": 0.2}) as gw, gw.client() as http:
        await wait_for(lambda: _ready(gw), timeout=10)
        async with missing_tables(database_url, "messages", "callbacks") as rename:
            with caplog.at_level(logging.INFO):
                await rename()
                await asyncio.sleep(OUTAGE_S)
                failed = {start: _records(caplog, start) for start in LOOPS}
        with caplog.at_level(logging.INFO):
            for start in LOOPS:
                await wait_for(_logged(caplog, start.replace(" failed", " succeeded again")), timeout=15)
        assert (await _send(gw, http, "0612345606")).text.startswith("0 | ")
        await wait_for(_delivered(gw, 1), timeout=15)
    for start, records in failed.items():
        _backs_off(records, OUTAGE_S, LOOPS[start])


def _delivered(gw: Gateway, count: int) -> Callable[[], Awaitable[bool]]:
    async def enough() -> bool:
        query = select(func.count()).where(messages.c.state == "delivered")
        async with gw.db.reader.connect() as conn:
            return int((await conn.execute(query)).scalar_one()) >= count

    return enough


async def test_when_postgresql_goes_away_the_doors_answer_the_loops_back_off_and_all_resume_when_it_is_back(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server gone (connections reset, new ones refused): sends are answered `31` and `500` in bounded time,
    every loop of the engine and the notifier backs off with one traceback for the run; once the server is back,
    the pools connect again by themselves, the same sends are accepted and delivered."""
    async with (
        postgres_outage(postgres_url) as outage,
        running_gateway(outage.url, engine={"heartbeat": 0.2}) as gw,
        gw.client() as http,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=30) as rest,
    ):
        await wait_for(lambda: _ready(gw), timeout=10)
        assert (await _send(gw, http, "0612345607")).text.startswith("0 | ")
        await wait_for(_delivered(gw, 1), timeout=10)
        with caplog.at_level(logging.INFO):
            await outage.cut()
            legacy = await _send(gw, http, "0612345608")
            refused = await rest.post(
                "/sms/v1/messages", json={"recipient": {"to": "+33612345609"}, "body": {"text": "Hi"}}
            )
            await asyncio.sleep(OUTAGE_S)
            failed = {start: _records(caplog, start) for start in LOOPS}
            await outage.mend()
            for start in LOOPS:
                await wait_for(_logged(caplog, start.replace(" failed", " succeeded again")), timeout=15)
        assert (await _send(gw, http, "0612345610")).text.startswith("0 | ")
        await wait_for(_delivered(gw, 2), timeout=15)
    assert legacy.content.decode("iso-8859-15") == "31 | Erreur interne", legacy.text
    assert refused.status_code == 500 and refused.json()["errorCode"] == "INTERNAL_ERROR", refused.text
    for start, records in failed.items():
        _backs_off(records, OUTAGE_S, LOOPS[start])
    assert not _records(caplog, "Exception in ASGI application")


async def test_an_engine_and_a_notifier_started_while_the_store_fails_wait_for_it_rather_than_end(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Their first steps (taking back their node's claims, the first heartbeat) are tried again as the loops' cycles
    are: ended instead, `martinet serve` started them again at once, to fail again, a process a second (29 in
    15 s of a database gone, with 3,540 lines of bare tracebacks on standard error). Once the store is back they
    start, and a send is delivered."""
    async with running_gateway(database_url, with_engine=False, engine={"heartbeat": 0.2}) as gw, gw.client() as http:
        stop = asyncio.Event()
        built = engine(gw.settings, gw.db, with_notifier=False)
        callbacks = notifier(gw.settings, gw.db, owner="node-test:1", node="node-test")
        async with missing_tables(database_url, "messages", "callbacks", "engine_nodes") as rename:
            await rename()
            with caplog.at_level(logging.INFO):
                tasks = [asyncio.create_task(built.run(stop)), asyncio.create_task(callbacks.run(stop))]
                await asyncio.sleep(OUTAGE_S)
                assert not any(task.done() for task in tasks), [t.exception() for t in tasks if t.done()]
                assert not built.started.is_set()
                failed = {
                    start: _records(caplog, start)
                    for start in ("taking back this node's claims failed", "taking back this node's callbacks failed")
                }
        with caplog.at_level(logging.INFO):
            await asyncio.wait_for(built.started.wait(), timeout=15)
            assert (await _send(gw, http, "0612345611")).text.startswith("0 | ")
            await wait_for(_delivered(gw, 1), timeout=15)
            assert _records(caplog, "taking back this node's callbacks succeeded again")
        stop.set()
        await asyncio.gather(*tasks)
    for records in failed.values():
        _backs_off(records, OUTAGE_S)
