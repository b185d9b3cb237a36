"""`martinet serve` with the callbacks notifier in a process of its own (`callbacks.own_process`).

Callbacks must reach a client's server from that process, and a notifier killed outright while requests are in
flight must lose none: the supervisor starts it again, the new one takes back what the dead one had claimed
(`CallbackStore.release_leases`) and every event id arrives, repeated at most (delivery is at least once).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.cli.support import ACCEPTED
from tests.served import Served, served

CALLBACKS = """
[callbacks]
allow_private_networks = true
own_process = true
retry_first = 0.2
"""
SENDS = 20


class Receiver:
    """A client's server on loopback: records every callback's event id and status, answering slowly enough
    that some are still in flight when the notifier is killed."""

    def __init__(self, delay: float) -> None:
        self.events: list[tuple[str, str, str]] = []  # event id, smsID, statut
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                time.sleep(delay)
                with owner._lock:
                    owner.events.append(
                        (self.headers.get("X-Martinet-Event-Id", ""), query["smsID"][0], query["statut"][0])
                    )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/dlr"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.events)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(delay=0.05) as running:
        yield running


def notifier_pids(gateway: Served) -> list[int]:
    """The pids of the notifier processes started so far, from their first log line."""
    pids = []
    for line in gateway.lines():
        if "callbacks notifier started" in line:
            pids.append(int(json.loads(line)["pid"]))
    return pids


def send_all(gateway: Served, url: str) -> set[str]:
    ids = set()
    with httpx.Client(base_url=gateway.base, timeout=10) as http:
        for i in range(SENDS):
            reply = http.post(
                "/http/1.6/sendSMS.do",
                data={
                    "accessToken": gateway.token,
                    "numero": f"06123456{i:02d}",
                    "message": f"hello {i}",
                    "notification_url": url,
                },
            )
            text = reply.content.decode("iso-8859-15")
            assert ACCEPTED.fullmatch(text), text
            ids.add(text.rsplit(" | ", 1)[1])
    return ids


def outbox(tmp_path: Path, name: str) -> dict[str, str]:
    """Every queued status callback: event id → state."""
    with sqlite3.connect(tmp_path / f"{name}.db") as db:
        rows = db.execute("SELECT history_id, state FROM callbacks WHERE kind = 'status'").fetchall()
    return {f"h{history}": state for history, state in rows}


def wait_for(condition: object, what: str, gateway: Served, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}:\n" + "\n".join(gateway.lines()[-40:])
        time.sleep(0.1)


def finals(events: list[tuple[str, str, str]]) -> set[str]:
    return {sms for _event, sms, statut in events if statut == "11"}


@pytest.mark.slow
def test_callbacks_come_from_the_notifier_process(tmp_path: Path, receiver: Receiver) -> None:
    with served(tmp_path, "own", CALLBACKS) as gateway:
        wait_for(lambda: notifier_pids(gateway), "no notifier process started", gateway)
        sends = send_all(gateway, receiver.url)
        wait_for(lambda: finals(receiver.snapshot()) == sends, "final callbacks missing", gateway)
        # The notifier records a delivery after the receiver answered it: wait for those writes too.
        wait_for(lambda: set(outbox(tmp_path, "own").values()) == {"delivered"}, "deliveries not recorded", gateway)
        assert len(notifier_pids(gateway)) == 1
        queued = outbox(tmp_path, "own")
    received = Counter(event for event, _sms, _statut in receiver.snapshot())
    assert set(received) == set(queued)
    assert set(queued.values()) == {"delivered"}
    assert {sms for _e, sms, _s in receiver.snapshot()} == sends


@pytest.mark.slow
def test_a_killed_notifier_loses_no_callback(tmp_path: Path, receiver: Receiver) -> None:
    with served(tmp_path, "killed", CALLBACKS) as gateway:
        wait_for(lambda: notifier_pids(gateway), "no notifier process started", gateway)
        (first,) = notifier_pids(gateway)
        sends = send_all(gateway, receiver.url)
        wait_for(lambda: len(receiver.snapshot()) >= 5, "no callback before the kill", gateway)
        os.kill(first, signal.SIGKILL)
        killed_after = len(receiver.snapshot())
        wait_for(lambda: len(notifier_pids(gateway)) == 2, "the notifier was not started again", gateway)

        def all_delivered() -> bool:
            queued = outbox(tmp_path, "killed")
            return finals(receiver.snapshot()) == sends and set(queued.values()) == {"delivered"}

        wait_for(all_delivered, "callbacks lost after the notifier was killed", gateway)
        time.sleep(0.5)  # late repeats, if any
        queued = outbox(tmp_path, "killed")
        events = receiver.snapshot()
    assert killed_after < 3 * SENDS, "every callback was delivered before the kill; the test proves nothing"
    received = Counter(event for event, _sms, _statut in events)
    assert set(received) == set(queued), "an event id never arrived, or one arrived that was never queued"
    # At least once: only what the dead notifier had claimed may come again, so no more than its whole claim.
    repeated = sum(n - 1 for n in received.values())
    assert repeated <= len(received)
    assert {sms for _e, sms, _s in events} == sends
