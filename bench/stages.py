"""CPU per message of the engine's store stages, in one process on SQLite: recording submissions, applying two
receipts per message (an intermediate one and the final one), reading the receipt texts, then claiming the status
callbacks those changes queued (the notifier's claim, which builds each request) and marking them delivered.

The end-to-end bench (`bench.kannel`) sums every process's CPU, and on a shared machine its runs spread by a
quarter; this one times the stages alone with `time.process_time`, so a change to one of them shows.
`python -m bench.stages [--messages N] [--batch B] [--rounds R]`; prints JSON, milliseconds per message.

`--statements` counts instead the SQL statements each stage has SQLite run per message (its trace callback on the
store's synchronous connections: an `executemany` counts once per row, as SQLite runs it), and the most frequent of
them: a stage that starts running a statement per message where it ran one per batch shows at once, whatever the
machine's speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, event

from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.smpp.receipt import receipt_fields
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.callbacks import DELIVERED, CallbackResult, CallbackStore
from martinet.store.claims import ClaimCursor, ClaimedMessage
from martinet.store.database import Database, open_database
from martinet.store.dispatch import DispatchOutcome, DispatchStore, Submitted
from martinet.store.migrate import upgrade
from martinet.store.receipts import ReceiptStore
from martinet.store.sqlite_library import quiet_memory_statistics

NOW = 1_700_000_000_000
CALLBACK_URL = "http://127.0.0.1:9/status"  # never called: the notifier's store side only
TEXT = "id:0a1b2c sub:001 dlvrd:001 submit date:2401020304 done date:2401020305 stat:DELIVRD err:000 text:Hello"


def _clock() -> int:
    return NOW


async def _claimed(db: Database, count: int) -> list[ClaimedMessage]:
    accounts = AccountStore(db, _clock)
    account = await accounts.create(
        "bench", password_hash=None, language="fr", timezone="UTC", lane="otp", non_gsm="replace"
    )
    await accounts.post(account.id, 1000 * count, "topup")
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        messages = [NewMessage(f"336{10_000_000 + i}", "FR", State.QUEUED, 1, 1000, NOW) for i in range(count)]
        send = NewSend(
            "BENCH0000001", account.id, NOW, None, "hi", "GSM-7", 1, 2, None, None, CALLBACK_URL, None, "otp",
            1000 * count, messages,
        )  # fmt: skip
        await writer.accept(send)
    finally:
        await writer.stop()
    store = DispatchStore(db, _clock)
    claimed: list[ClaimedMessage] = []
    while len(claimed) < count:
        batch, _ = await store.claim(
            "bench:1", lease_ms=60_000, budgets={"otp": 1000}, shared_budget=1000, cursor=ClaimCursor.new()
        )
        if not batch:
            raise RuntimeError(f"only {len(claimed)} of {count} messages could be claimed")
        claimed += batch
    return claimed


class Statements:
    """SQL statements SQLite ran on the connections of the engines `watch`ed, by their text with numbers blanked
    (`take` gives those counted since the last `take`)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def watch(self, engine: Engine) -> None:
        event.listen(engine, "connect", self._traced)

    def take(self) -> Counter[str]:
        counts, self._counts = self._counts, Counter()
        return counts

    def _traced(self, connection: Any, _record: object) -> None:
        connection.set_trace_callback(self._count)

    def _count(self, sql: str) -> None:
        self._counts[re.sub(r"\d+", "N", " ".join(sql.split()))[:100]] += 1


async def _round(count: int, batch: int, statements: Statements | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{folder}/stages.db", sqlite_synchronous="off")  # CPU, not the disk
        if statements is not None:
            for engine in (db.sync_writer, db.sync_reader):
                if engine is not None:
                    statements.watch(engine)
        await upgrade(db)
        stages: dict[str, Counter[str]] = {}

        def mark(stage: str | None = None) -> float:
            if statements is not None:
                counted = statements.take()
                if stage is not None:
                    stages[stage] = counted
            return time.process_time()

        try:
            ids = [m.id for m in await _claimed(db, count)]
            dispatch, receipts = DispatchStore(db, _clock), ReceiptStore(db, _clock)
            start = mark()
            for i in range(0, count, batch):
                chunk = ids[i : i + batch]
                await dispatch.record(DispatchOutcome(submitted=[Submitted(m, "carrier", (f"c{m}",)) for m in chunk]))
            recorded = mark("record_submitted")
            for state, code in ((State.SENT, 13), (State.DELIVERED, 11)):
                for i in range(0, count, batch):
                    chunk = ids[i : i + batch]
                    await receipts.apply([Receipt("carrier", f"c{m}", state, code, NOW, "DELIVRD") for m in chunk])
            applied = mark("apply_two_receipts")
            for _ in range(2 * count):
                receipt_fields(TEXT)
            parsed = time.process_time()
            claimed, marked = await _callbacks(CallbackStore(db, _clock), batch)
            mark("claim_and_mark_callbacks")
        finally:
            await db.dispose()
    if statements is not None:
        return {stage: _per_message(counted, count) for stage, counted in stages.items()}
    return {
        "record_submitted_ms": round(1000 * (recorded - start) / count, 4),
        "apply_two_receipts_ms": round(1000 * (applied - recorded) / count, 4),
        "read_two_receipt_texts_ms": round(1000 * (parsed - applied) / count, 4),
        "callbacks_per_message": round(marked[0] / count, 2),
        "claim_callbacks_ms": round(1000 * claimed / count, 4),
        "mark_callbacks_delivered_ms": round(1000 * marked[1] / count, 4),
    }


async def _callbacks(store: CallbackStore, batch: int) -> tuple[float, tuple[int, float]]:
    """Claim every queued callback and mark it delivered, batch by batch as the notifier does: the CPU seconds
    of the claims, and (how many, the CPU seconds of the marks)."""
    claiming = marking = 0.0
    total = 0
    while True:
        start = time.process_time()
        due = await store.claim("bench:1", lease_ms=60_000, limit=batch)
        claimed = time.process_time()
        if not due:
            break
        await store.record("bench:1", [CallbackResult(c.id, DELIVERED, True, status=200) for c in due])
        claiming, marking = claiming + claimed - start, marking + time.process_time() - claimed
        total += len(due)
    return claiming, (total, marking)


def _per_message(counted: Counter[str], count: int, shown: int = 8) -> dict[str, Any]:
    return {
        "statements_per_message": round(sum(counted.values()) / count, 2),
        "most_run": {sql: round(n / count, 2) for sql, n in counted.most_common(shown)},
    }


def statements_per_message(count: int, batch: int) -> dict[str, Any]:
    """`--statements`: each stage's SQL statements per message (one round: the counts do not vary)."""
    stages = asyncio.run(_round(count, batch, Statements()))
    return {"messages": count, "batch": batch, "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=900)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statements", action="store_true", help="count each stage's SQL statements per message")
    args = parser.parse_args()
    quiet_memory_statistics()  # SQLite set up as in the gateway's processes (`martinet.server`)
    if args.statements:
        print(json.dumps(statements_per_message(args.messages, args.batch), indent=2))
        return
    rounds = [asyncio.run(_round(args.messages, args.batch)) for _ in range(args.rounds)]
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}  # the least disturbed round
    print(json.dumps({"messages": args.messages, "batch": args.batch, "rounds": rounds, "best": best}, indent=2))


if __name__ == "__main__":
    main()
