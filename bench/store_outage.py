"""Fault drill: the PostgreSQL server unreachable under load for a while, then back.

    .venv/bin/python -m bench.store_outage [--postgres URL] [--rate 100] [--outage 15] [--json FILE]

One `martinet serve` (engine node `node-a`, one HTTP worker, the notifier in its own process) on a fresh
PostgreSQL database, reached through a loopback relay (`bench/relay.py`) rather than directly; one carrier
(`bench/faults.py`'s simulator in its own process: an ENROUTE receipt 0.1 s after each submission, DELIVRD 0.5 s
after it, each submission answered 0.2 s after it is read). Under a light load of `sendSMS.do` (`rate` numbers a
second, ten per request, each number used once), after 5 s the relay is cut: every connection to the server is
reset and new ones are refused, as when the server is stopped, restarts, or the network between fails. It is
mended `outage` s later and the load goes on for 10 s. The checks read the database directly, not through the
relay.

Measured: what `sendSMS.do` answered while the server was gone (only `0` and `31` are clean: no bare `500`, no
unanswered request), numbers of refused requests found in the database, accepted sends missing messages, messages lost
(accepted and not final at the end) and sent twice (a destination the carrier received more than once), after the
relay is mended: first accepted send, `/readyz` 200 again, every message final; and the error lines and
tracebacks of the log by logger (each loop of the engine and the notifier logs one traceback per run of failures,
docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.faults import (
    DISK_CARRIER_LATENCY,
    Carrier,
    Database,
    Load,
    Node,
    _changes,
    _kind,
    _log_entries,
    _log_errors,
    _log_tracebacks,
    _rows_of,
    _watch_readyz,
    create_account,
    fresh_database,
    gateway_config,
    lost,
    non_final,
    twice,
    wait_final,
)
from bench.harness import machine
from bench.relay import Relay


class LoopThread:
    """An event loop in a thread of its own, for the relay: the drill's own code is synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def drill(postgres: str, rate: float, before: float, outage: float, after: float) -> dict[str, Any]:
    result: dict[str, Any] = {"drill": "store outage", "database": "postgresql", "rate": rate, "outage_s": outage}
    data = Path(tempfile.mkdtemp(prefix="martinet-outage-"))
    loops = LoopThread()
    carrier: Carrier | None = None
    node: Node | None = None
    try:
        with fresh_database("postgresql", data, postgres) as direct:
            target = urllib.parse.urlsplit(direct)
            relay = Relay(target.hostname or "127.0.0.1", target.port or 5432)
            loops.run(relay.start())
            relayed = target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl()
            carrier = Carrier(data, "carrier", 0.5, latency=DISK_CARRIER_LATENCY)
            node = Node(data, "node-a", gateway_config(data, "node-a", relayed, [carrier]))
            token = create_account(node.config)
            node.start()
            node.wait_healthy()
            carrier.wait_binds(1)
            database = Database(direct)
            per_request = 10
            load = Load([node.base], token, per_request=per_request, threads=4)
            readiness: list[tuple[float, int, str]] = []
            watching = threading.Event()
            watcher = threading.Thread(target=_watch_readyz, args=(node.admin, readiness, watching), daemon=True)
            began = time.monotonic()
            loading = load.in_background(rate, before + outage + after)
            watcher.start()
            time.sleep(max(0.0, began + before - time.monotonic()))
            cut_at = time.monotonic()
            loops.run(relay.cut())
            time.sleep(max(0.0, cut_at + outage - time.monotonic()))
            loops.run(relay.mend())
            mended_at = time.monotonic()
            loading.join()
            load_end = time.monotonic()
            all_final = wait_final(database, 90)
            watching.set()
            watcher.join()
            answers = sorted(load.answers)
            during = [(t, f, a) for t, f, a in answers if cut_at <= t <= mended_at]
            refused_firsts = [f for t, f, a in answers if not a.startswith("0 | ")]
            first_ok_after = next((t for t, _, a in answers if t > mended_at and a.startswith("0 | ")), None)
            ready_again = next((t for t, status, _ in readiness if t > mended_at and status == 200), None)
            states = database.states()
            logged = list(_log_entries(node))
            result.update(
                answers_while_gone=dict(collections.Counter(_kind(a) for _, _, a in during)),
                answers_after=dict(collections.Counter(_kind(a) for t, _, a in answers if t > mended_at)),
                refused_numbers_in_store=_rows_of(database, load, refused_firsts),
                sends_missing_messages=int(
                    database.rows(
                        "select count(*) from sends where recipient_count != "
                        "(select count(*) from messages where messages.send_id = sends.id)"
                    )[0][0]
                ),
                readyz=_changes(readiness, cut_at),
                accepted=len(load.accepted) * per_request,
                lost=lost(load, database),
                non_final=non_final(states),
                states=states,
                sent_twice=twice(carrier.destinations()),
                first_accepted_after_mend_s=first_ok_after - mended_at if first_ok_after is not None else None,
                ready_after_mend_s=ready_again - mended_at if ready_again is not None else None,
                all_final_after_load_s=all_final - load_end if all_final is not None else None,
                log_errors=_log_errors(logged),
                log_tracebacks=_log_tracebacks(logged),
                gateway_restarts=sum(1 for e in logged if "starting it again" in str(e.get("event", ""))),
            )
            database.close()
            load.close()
            node.stop()
            node = None
            loops.run(relay.cut())
    finally:
        if node is not None:
            node.stop()
        if carrier is not None:
            carrier.stop()
        loops.close()
        shutil.rmtree(data, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--rate", type=float, default=100, help="numbers a second (ten per request)")
    parser.add_argument("--outage", type=float, default=15, help="seconds the server stays unreachable")
    parser.add_argument("--json", help="write the figures there too")
    args = parser.parse_args()
    result = {"machine": machine(), **drill(args.postgres, args.rate, 5.0, args.outage, 10.0)}
    text = json.dumps(result, indent=1, default=str)
    print(text, flush=True)
    if args.json:
        Path(args.json).write_text(text + "\n")
    sys.exit(0 if result.get("lost") == 0 and result.get("sent_twice") == 0 else 1)


if __name__ == "__main__":
    main()
