"""Claiming by lane and account, and recording what the dispatcher decided: retries, holds, expiry."""

from __future__ import annotations

import itertools
from collections import Counter

from sqlalchemy import select, update

from martinet.domain.status import State
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.claims import ClaimCursor, ClaimedMessage, most_claimed
from martinet.store.database import Database
from martinet.store.dispatch import DispatchOutcome, DispatchStore, Expired, Held, Retry, SubmitFailed
from martinet.store.scheduler import ScheduleStore
from martinet.store.schema import accounts, ledger, messages, status_history

NOW = 1_700_000_000_000
_ids = itertools.count(1)


def _clock() -> int:
    return NOW


async def _account(db: Database, login: str, weight: int = 1) -> int:
    store = AccountStore(db, _clock)
    account = await store.create(
        login, password_hash=None, language="fr", timezone="UTC", lane="marketing", non_gsm="replace"
    )
    await store.post(account.id, 10_000_000, "topup")
    if weight != 1:
        async with db.write() as conn:
            await conn.execute(update(accounts).where(accounts.c.id == account.id).values(weight=weight))
    return account.id


async def _enqueue(
    db: Database, account_id: int, lane: str, count: int, *, expires_at: int | None = None, due_at: int = NOW
) -> str:
    send_id = f"S{next(_ids):011d}"
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        accepted = await writer.accept(
            NewSend(
                send_id,
                account_id,
                NOW,
                None,
                "hi",
                "GSM-7",
                1,
                2,
                None,
                None,
                None,
                None,
                lane,
                count * 10,
                [NewMessage(f"3361{i:07d}", "FR", State.QUEUED, 1, 10, due_at) for i in range(count)],
                expires_at=expires_at,
            )
        )
        assert accepted
    finally:
        await writer.stop()
    return send_id


async def _claim(
    queue: DispatchStore, budget: int, shared: int | None = None, cursor: ClaimCursor | None = None
) -> list[ClaimedMessage]:
    claimed, _contents = await queue.claim(
        "node-a:1",
        lease_ms=60_000,
        budgets={"otp": budget, "notification": budget, "marketing": budget},
        shared_budget=budget if shared is None else shared,
        cursor=cursor or ClaimCursor.new(),
    )
    return claimed


async def test_one_time_passwords_are_claimed_before_older_campaign_messages(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 50)
    await _enqueue(db, account, "notification", 5)
    await _enqueue(db, account, "otp", 3)
    claimed = await _claim(DispatchStore(db, _clock), 10, shared=7)  # the lower lanes share 7 slots
    assert [m.lane for m in claimed] == ["otp"] * 3 + ["notification"] * 5 + ["marketing"] * 2


async def test_otp_is_claimed_even_when_the_connectors_have_no_room(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 20)
    await _enqueue(db, account, "otp", 2)
    claimed = await _claim(DispatchStore(db, _clock), 10, shared=0)
    assert Counter(m.lane for m in claimed) == {"otp": 2}


async def test_a_small_customer_is_not_starved_by_a_big_campaign(db: Database) -> None:
    big = await _account(db, "big")
    small = await _account(db, "small")
    await _enqueue(db, big, "marketing", 500)
    await _enqueue(db, small, "marketing", 10)
    claimed = await _claim(DispatchStore(db, _clock), 100)
    per_account = Counter(m.account_id for m in claimed)
    assert per_account == {small: 10, big: 90}  # the small one's share was 50; the rest went to the big one


async def test_weights_share_a_lane_between_busy_accounts(db: Database) -> None:
    heavy = await _account(db, "heavy", weight=3)
    light = await _account(db, "light")
    await _enqueue(db, heavy, "marketing", 200)
    await _enqueue(db, light, "marketing", 200)
    claimed = await _claim(DispatchStore(db, _clock), 100)
    assert Counter(m.account_id for m in claimed) == {heavy: 75, light: 25}


async def test_with_fewer_slots_than_accounts_every_account_gets_its_turn(db: Database) -> None:
    ids = [await _account(db, f"acct{i}") for i in range(3)]
    for account in ids:
        await _enqueue(db, account, "marketing", 5)
    queue, cursor = DispatchStore(db, _clock), ClaimCursor.new()
    served: Counter[int] = Counter()
    for _ in range(3):
        served.update(m.account_id for m in await _claim(queue, 1, cursor=cursor))
    assert served == dict.fromkeys(ids, 1)


async def test_messages_not_yet_due_are_left_alone(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "otp", 2, due_at=NOW + 5_000)
    assert await _claim(DispatchStore(db, _clock), 10) == []
    assert len(await _claim(DispatchStore(db, lambda: NOW + 5_000), 10)) == 2


async def test_retry_held_and_expired_outcomes(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 3, expires_at=NOW + 60_000)
    queue = DispatchStore(db, _clock)
    first, second, third = await _claim(queue, 10)
    balance_before = await _balance(db, account)
    await queue.record(
        DispatchOutcome(
            retry=[Retry(first.id, NOW + 5_000, "no connector took the message")],
            held=[Held(second.id, NOW + 3_600_000, "FR marketing closed", NOW + 3_660_000)],
            expired=[Expired(third.id, "validity ended before submission")],
        )
    )
    async with db.reader.connect() as conn:
        rows = {r.id: r for r in (await conn.execute(select(messages))).all()}
        history = (
            await conn.execute(
                select(status_history.c.message_id, status_history.c.state, status_history.c.code).order_by(
                    status_history.c.id
                )
            )
        ).all()
        refunds = (await conn.execute(select(ledger.c.amount).where(ledger.c.reason == "refund"))).scalars().all()
    assert (rows[first.id].state, rows[first.id].due_at, rows[first.id].lease_owner) == ("queued", NOW + 5_000, None)
    assert (rows[second.id].state, rows[second.id].code, rows[second.id].due_at) == ("scheduled", 10, NOW + 3_600_000)
    assert rows[second.id].expires_at == NOW + 3_660_000  # validity pushed back by the time held
    assert (rows[third.id].state, rows[third.id].code, rows[third.id].cost) == ("expired", 37, 0)
    assert (second.id, "scheduled", 10) in history and (third.id, "expired", 37) in history
    assert refunds == [10]
    assert await _balance(db, account) == balance_before + 10


async def test_every_outcome_but_a_submission_sets_exactly_its_columns(db: Database) -> None:
    """Failed, retried, held and expired messages in one record: each row's queue columns, code and error, the
    history rows and the refunds, down to the NULLs (a batch of two per outcome, so the statements run for many)."""
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 8, expires_at=NOW + 60_000)
    claimed = [m.id for m in await _claim(DispatchStore(db, _clock), 10)]
    balance_before = await _balance(db, account)
    later = NOW + 7
    await DispatchStore(db, lambda: later).record(
        DispatchOutcome(
            failed=[SubmitFailed(m, "carrier", False, 34, f"refused {m}") for m in claimed[0:2]],
            retry=[Retry(m, NOW + 5_000 + m, f"busy {m}") for m in claimed[2:4]],
            held=[Held(claimed[4], NOW + 3_600_000, "closed", NOW + 3_660_000), Held(claimed[5], NOW + 9, "x", None)],
            expired=[Expired(m, f"too late {m}") for m in claimed[6:8]],
        )
    )
    columns = (
        messages.c.id,
        messages.c.state,
        messages.c.code,
        messages.c.due_at,
        messages.c.expires_at,
        messages.c.lease_owner,
        messages.c.lease_until,
        messages.c.updated_at,
        messages.c.error,
        messages.c.cost,
    )
    async with db.reader.connect() as conn:
        rows = {r.id: tuple(r)[1:] for r in (await conn.execute(select(*columns))).all()}
        history = (
            await conn.execute(
                select(
                    status_history.c.message_id,
                    status_history.c.at,
                    status_history.c.state,
                    status_history.c.code,
                    status_history.c.detail,
                ).where(status_history.c.at == later)
            )
        ).all()
    a, b, c, d, e, f, g, h = claimed
    assert rows == {
        a: ("failed", 34, None, NOW + 60_000, None, None, later, f"refused {a}", 0),
        b: ("failed", 34, None, NOW + 60_000, None, None, later, f"refused {b}", 0),
        c: ("queued", 1, NOW + 5_000 + c, NOW + 60_000, None, None, later, f"busy {c}", 10),
        d: ("queued", 1, NOW + 5_000 + d, NOW + 60_000, None, None, later, f"busy {d}", 10),
        e: ("scheduled", 10, NOW + 3_600_000, NOW + 3_660_000, None, None, later, None, 10),
        f: ("scheduled", 10, NOW + 9, None, None, None, later, None, 10),
        g: ("expired", 37, None, NOW + 60_000, None, None, later, f"too late {g}", 0),
        h: ("expired", 37, None, NOW + 60_000, None, None, later, f"too late {h}", 0),
    }
    assert sorted(history) == sorted(
        [(m, later, "failed", 34, f"refused {m}") for m in (a, b)]
        + [(e, later, "scheduled", 10, "closed"), (f, later, "scheduled", 10, "x")]
        + [(m, later, "expired", 37, f"too late {m}") for m in (g, h)]
    )
    assert await _balance(db, account) == balance_before + 40


async def test_held_messages_are_released_in_the_order_they_were_accepted(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 30)
    queue = DispatchStore(db, _clock)
    claimed = await _claim(queue, 30)
    await queue.record(DispatchOutcome(held=[Held(m.id, NOW + 1_000, "closed", None) for m in reversed(claimed)]))
    assert await ScheduleStore(db, lambda: NOW + 1_000).release_scheduled() == 30
    again = await _claim(DispatchStore(db, lambda: NOW + 1_000), 30)
    assert [m.id for m in again] == sorted(m.id for m in claimed)


async def _balance(db: Database, account_id: int) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(accounts.c.balance).where(accounts.c.id == account_id)) or 0)


async def test_overdue_messages_expire_without_being_claimed(db: Database) -> None:
    account = await _account(db, "acme")
    await _enqueue(db, account, "marketing", 3, expires_at=NOW + 10_000)
    await _enqueue(db, account, "marketing", 2)  # no end of validity
    assert await ScheduleStore(db, lambda: NOW + 9_999).expire_overdue() == 0
    assert await ScheduleStore(db, lambda: NOW + 10_000).expire_overdue() == 3
    async with db.reader.connect() as conn:
        states = Counter((await conn.execute(select(messages.c.state))).scalars())
    assert states == {"expired": 3, "queued": 2}
    assert await _balance(db, account) == 10_000_000 - 20


def test_the_most_a_claim_can_take_is_otps_budget_and_the_other_lanes_within_the_shared_one() -> None:
    lanes = {"otp": 500, "notification": 500, "marketing": 500}
    assert most_claimed(lanes, shared_budget=64) == 564
    assert most_claimed(lanes, shared_budget=0) == 500  # the connectors are full: OTPs only
    assert most_claimed({"notification": 500, "marketing": 500}, shared_budget=5000) == 1000
    assert most_claimed({"otp": 500}, shared_budget=64) == 500
