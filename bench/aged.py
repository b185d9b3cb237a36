"""Accept rate of `sendSMS.do` on a store that has lived, against the same on a fresh one.

    .venv/bin/python -m bench.aged [--sends 1000000] [--days 7] [--seconds 10] [--ids time|random]

`serve --no-engine` (one HTTP worker, SQLite `synchronous=full`), wrk with 64 connections for `seconds`, one
recipient per request, as `bench/accept.py` measures it; first on a fresh file, then on a file already holding
`sends` delivered sends of one message each, made over the past `days` days. The old sends are written with
sqlite3 before the gateway starts. Their IDs are made as the gateway makes them (`--ids time`: `new_send_id` at
each send's time) or wholly at random (`--ids random`, as Martinet drew them before they began with the time);
run with the code of that time, `--ids random` gives the rate the older IDs reached on a store of that size.

Also given: the pages of the two indexes holding send IDs (the sends' key, `ix_messages_send`), and the CPU
the HTTP worker spent per accepted send.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import string
import time
from pathlib import Path
from typing import Any

from bench.accept import body
from bench.harness import cpu_by_process, gateway, machine, wrk
from martinet.domain import ids


def _random_id(drawn: random.Random, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(drawn.choices(alphabet, k=12))


def _prefill(database: Path, *, sends: int, days: float, style: str) -> None:
    """`sends` delivered sends of one message each, evenly over the `days` before now."""
    now = int(time.time() * 1000)
    step = days * 86_400_000 / max(sends, 1)
    drawn = random.Random(11)
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        account = conn.execute("SELECT id FROM accounts WHERE login = 'bench'").fetchone()[0]
        chunk = 50_000
        for first in range(0, sends, chunk):
            made = [int(now - (sends - i) * step) for i in range(first, min(first + chunk, sends))]
            keys = [ids.new_send_id(at) if style == "time" else _random_id(drawn) for at in made]
            conn.executemany(
                "INSERT INTO sends (id, account_id, created_at, text, encoding, segments, classe, lane,"
                " recipient_count, cost) VALUES (?, ?, ?, 'Votre code de connexion est 482913', 'GSM-7', 1, 2,"
                " 'notification', 1, 1000)",
                [(key, account, at) for key, at in zip(keys, made, strict=True)],
            )
            conn.executemany(
                "INSERT INTO messages (send_id, account_id, msisdn, country, state, code, cost, updated_at, lane)"
                " VALUES (?, ?, ?, 'FR', 'delivered', 11, 1000, ?, 'notification')",
                [(key, account, f"336{drawn.randrange(10**8):08d}", at) for key, at in zip(keys, made, strict=True)],
            )
            conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _index_pages(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT name, count(*) FROM dbstat WHERE name IN ('sqlite_autoindex_sends_1', 'ix_messages_send')"
            " GROUP BY name"
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def _count_sends(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM sends").fetchone()[0])


def measure(*, sends: int, days: float, seconds: int, style: str) -> dict[str, Any]:
    """One gateway, the store prefilled with `sends` sends (none: fresh): its accept rate and the HTTP worker's
    CPU per send accepted."""
    prepare = None
    prefill_s = 0.0
    if sends:

        def prepare(database: Path) -> None:
            nonlocal prefill_s
            began = time.monotonic()
            _prefill(database, sends=sends, days=days, style=style)
            prefill_s = time.monotonic() - began

    with gateway(engine=False, prepare=prepare) as gw:
        database = gw.data / "martinet.db"
        pages = _index_pages(database)
        held = _count_sends(database)
        url = f"{gw.base}/http/1.6/sendSMS.do"
        payload = body(gw.token)
        wrk(url, payload, seconds=2)  # warm-up
        sends_before, cpu_before = _count_sends(database), cpu_by_process([gw.group], [])
        result = wrk(url, payload, seconds=seconds)
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_by_process([gw.group], []).items()}
        accepted = _count_sends(database) - sends_before
    worker = sum(cpu.values())  # with `--no-engine`, the HTTP worker is the one process that works
    return {
        "sends_before": held,
        "prefill_s": round(prefill_s, 1),
        "index_pages": pages,
        "accepted_per_second": round(result.requests_per_second),
        "latency_p50_ms": result.latency_p50_ms,
        "http_worker_cpu_ms_per_send": round(worker * 1000 / accepted, 3) if accepted else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.aged", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--ids", choices=["time", "random"], default="time")
    args = parser.parse_args()
    figures = {
        "machine": machine(),
        "ids": args.ids,
        "fresh": measure(sends=0, days=args.days, seconds=args.seconds, style=args.ids),
        "aged": measure(sends=args.sends, days=args.days, seconds=args.seconds, style=args.ids),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
