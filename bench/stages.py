"""CPU per message of the engine's store stages, in one process on SQLite: recording submissions, applying two
receipts per message (an intermediate one and the final one), reading the receipt texts, then claiming the status
callbacks those changes queued (the notifier's claim, which builds each request) and marking them delivered.

The end-to-end bench (`bench.kannel`) sums every process's CPU, and on a shared machine its runs spread by a
quarter; this one times the stages alone with `time.process_time`, so a change to one of them shows.
`python -m bench.stages [--messages N] [--batch B] [--rounds R]`; prints JSON, milliseconds per message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time

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


async def _round(count: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{folder}/stages.db", sqlite_synchronous="off")  # CPU, not the disk
        await upgrade(db)
        try:
            ids = [m.id for m in await _claimed(db, count)]
            dispatch, receipts = DispatchStore(db, _clock), ReceiptStore(db, _clock)
            start = time.process_time()
            for i in range(0, count, batch):
                chunk = ids[i : i + batch]
                await dispatch.record(DispatchOutcome(submitted=[Submitted(m, "carrier", (f"c{m}",)) for m in chunk]))
            recorded = time.process_time()
            for state, code in ((State.SENT, 13), (State.DELIVERED, 11)):
                for i in range(0, count, batch):
                    chunk = ids[i : i + batch]
                    await receipts.apply([Receipt("carrier", f"c{m}", state, code, NOW, "DELIVRD") for m in chunk])
            applied = time.process_time()
            for _ in range(2 * count):
                receipt_fields(TEXT)
            parsed = time.process_time()
            claimed, marked = await _callbacks(CallbackStore(db, _clock), batch)
        finally:
            await db.dispose()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=900)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [asyncio.run(_round(args.messages, args.batch)) for _ in range(args.rounds)]
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}  # the least disturbed round
    print(json.dumps({"messages": args.messages, "batch": args.batch, "rounds": rounds, "best": best}, indent=2))


if __name__ == "__main__":
    main()
