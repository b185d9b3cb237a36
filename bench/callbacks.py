"""Callbacks delivered per second to a local receiver.

    .venv/bin/python -m bench.callbacks [--recipients 10000] [--prefilled]

`martinet serve` on a fresh SQLite file with the sandbox carrier (instant reports: sent, delivered to the
operator, received — three status changes per message) and `callbacks.allow_private_networks = true`. A receiver
(aiohttp, in a process of its own) answers 200 to every GET and counts them, by event id. One `sendSMS.do` POST
with `recipients` numbers and `notification_url` pointing at the receiver queues 3 × `recipients` callbacks; the
figure is callbacks received per second between the first and the last one, and the receiver checks that no event
id arrived twice. That measures the whole chain (dispatch, reports, outbox, delivery) at once.

`--prefilled` measures the notifier alone: before the gateway starts, the database already holds a send of
`recipients` messages with their three status changes each and the 3 × `recipients` pending callbacks (written
with sqlite3 in one transaction), so the engine has only callbacks to deliver; the notifier's CPU per callback is
then counted from the first callback received on (its start, seconds of imports, is left out).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import sqlite3
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.harness import cpu_by_process, free_port, gateway, machine, wait_http


def _receiver(port: int) -> None:
    """The receiving end: counts callbacks by event id; `/stats` tells first, last, total and duplicates."""
    from aiohttp import web

    seen: set[str] = set()
    stats: dict[str, Any] = {"received": 0, "duplicates": 0, "first": None, "last": None}

    async def callback(request: web.Request) -> web.Response:
        now = time.time()
        event = request.headers.get("X-Martinet-Event-Id", "")
        if event in seen:
            stats["duplicates"] += 1
        seen.add(event)
        stats["received"] += 1
        stats["first"] = stats["first"] or now
        stats["last"] = now
        return web.Response(text="OK")

    async def report(_request: web.Request) -> web.Response:
        return web.json_response(stats)

    app = web.Application()
    app.router.add_get("/dlr", callback)
    app.router.add_get("/stats", report)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _prefill(database: Path, *, recipients: int, url: str) -> None:
    """A delivered send of `recipients` messages, its history (sent 0, sent 13, delivered 11) and its callbacks."""
    now = int(time.time() * 1000)
    with sqlite3.connect(database) as conn:
        account = conn.execute("SELECT id FROM accounts WHERE login = 'bench'").fetchone()[0]
        conn.execute(
            "INSERT INTO sends (id, account_id, created_at, text, encoding, segments, classe, lane, recipient_count,"
            " cost, notification_url) VALUES ('BENCHSEND0001', ?, ?, 'x', 'GSM-7', 1, 2, 'notification', ?, 0, ?)",
            (account, now, recipients, url),
        )
        conn.executemany(
            "INSERT INTO messages (id, send_id, account_id, msisdn, country, state, code, cost, updated_at, lane)"
            " VALUES (?, 'BENCHSEND0001', ?, ?, 'FR', 'delivered', 11, 1000, ?, 'notification')",
            [(i, account, f"336{10_000_000 + i:08d}", now) for i in range(1, recipients + 1)],
        )
        steps = (("sent", 0), ("sent", 13), ("delivered", 11))
        conn.executemany(
            "INSERT INTO status_history (id, message_id, at, state, code) VALUES (?, ?, ?, ?, ?)",
            [
                (3 * (i - 1) + k + 1, i, now, state, code)
                for i in range(1, recipients + 1)
                for k, (state, code) in enumerate(steps)
            ],
        )
        conn.executemany(
            "INSERT INTO callbacks (account_id, kind, history_id, order_key, url, state, attempts, created_at, next_at)"
            " VALUES (?, 'status', ?, ?, ?, 'pending', 0, ?, ?)",
            [
                (account, 3 * (i - 1) + k + 1, f"m:{i}", url, now, now)
                for i in range(1, recipients + 1)
                for k in range(3)
            ],
        )


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as reply:
        return dict(json.loads(reply.read()))


def run(recipients: int = 10_000, timeout: float = 120.0, prefilled: bool = False) -> dict[str, Any]:
    receiver_port = free_port()
    hook = f"http://127.0.0.1:{receiver_port}/dlr"
    receiver = multiprocessing.get_context("spawn").Process(target=_receiver, args=(receiver_port,), daemon=True)
    receiver.start()
    try:
        wait_http(f"http://127.0.0.1:{receiver_port}/stats")
        with gateway(
            sandbox_delays=(0, 0),
            extra_toml="[callbacks]\nallow_private_networks = true\n",
            prepare=functools.partial(_prefill, recipients=recipients, url=hook) if prefilled else None,
        ) as gw:
            began = time.time()
            if prefilled:
                # Measured from the first callback on: the notifier's start (imports take seconds of CPU) may end
                # before or after the gateway answers its health check, and is no part of the cost per callback.
                while not _stats(receiver_port)["received"] and time.time() < began + timeout:
                    time.sleep(0.01)
            cpu_before = cpu_by_process([gw.group], [])
            # The callbacks received before the CPU measured are left out of the figure per callback.
            received_before = _stats(receiver_port)["received"]
            if not prefilled:
                _send(gw.base, gw.token, recipients, hook)
            expected = 3 * recipients
            deadline = time.monotonic() + timeout
            stats = _stats(receiver_port)
            while stats["received"] < expected and time.monotonic() < deadline:
                time.sleep(0.5)
                stats = _stats(receiver_port)
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_by_process([gw.group], []).items()}
    finally:
        receiver.terminate()
        receiver.join(5)
    span = (stats["last"] or began) - (stats["first"] or began)
    return {
        "machine": machine(),
        "mode": "prefilled outbox (notifier alone)" if prefilled else "send → reports → callbacks",
        "recipients": recipients,
        "expected": expected,
        "received": stats["received"],
        "duplicates": stats["duplicates"],
        "first_after_s": round((stats["first"] or began) - began, 2),
        "span_s": round(span, 2),
        "per_second": round(stats["received"] / span, 1) if span > 0 else 0.0,
        # CPU of the gateway's processes while the callbacks went out, and the notifier's per callback.
        "cpu_s": {k: round(v, 2) for k, v in cpu.items() if v >= 0.01},
        "received_before_measure": received_before,
        "notifier_cpu_ms_per_callback": round(
            1000 * cpu.get("martinet notifier", 0.0) / max(1, stats["received"] - received_before), 3
        ),
    }


def _send(base: str, token: str, recipients: int, hook: str) -> None:
    numbers = ",".join(f"336{i:08d}" for i in range(10_000_000, 10_000_000 + recipients))
    body = urllib.parse.urlencode(
        {"accessToken": token, "numero": numbers, "message": "Votre colis arrive demain", "notification_url": hook}
    ).encode()
    with urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=body, timeout=60) as reply:
        answer = reply.read().decode("iso-8859-15")
    if not answer.startswith("0 | "):
        raise RuntimeError(f"the send was refused: {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callbacks")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--prefilled", action="store_true", help="measure the notifier alone on a filled outbox")
    args = parser.parse_args()
    print(json.dumps(run(args.recipients, prefilled=args.prefilled), indent=2))


if __name__ == "__main__":
    main()
