"""The connector's send gate: lane-aware token buckets (sans I/O, on a made-up clock) and the priority queue.

The central property: whatever the lanes, slow-downs and share changes, what the buckets let out never makes a
carrier that limits the account to the same rate (the simulator's bucket, one second's worth deep) refuse a part.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.connectors.smpp.throttle import LaneBuckets, SendGate, lane_priority
from martinet.smsc.throttle import TokenBucket as CarrierBucket

pytestmark = pytest.mark.unit


def _send_when_allowed(buckets: LaneBuckets, *, otp: bool, now: float) -> float:
    """A greedy sender: wait exactly as long as the buckets say, take the token(s), return the time it left."""
    while (delay := buckets.delay(otp=otp, now=now)) > 0:
        now = max(now + delay, math.nextafter(now, math.inf))  # a real clock always moves on
    buckets.take(otp=otp, now=now)
    return now


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(1, 2000),
    reserved=st.floats(0, 0.9),
    events=st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.floats(0, 0.3), st.floats(0, 8)),
            st.sampled_from(["otp", "bulk", "bulk", "bulk", "slow", "share"]),
            st.floats(0.05, 1),
        ),
        max_size=400,
    ),
)
def test_never_faster_than_a_carrier_limiting_to_the_same_rate(
    rate: float, reserved: float, events: list[tuple[float, str, float]]
) -> None:
    now = 1_000.0
    ours = LaneBuckets(rate, reserved_share=reserved, now=now)
    carrier = CarrierBucket(rate, max(1.0, rate), now)  # the simulator's default burst: one second's worth
    for gap, kind, fraction in events:
        now += gap
        if kind == "slow":
            ours.slow_down(now)
        elif kind == "share":
            ours.set_share(fraction, now)
        else:
            now = _send_when_allowed(ours, otp=kind == "otp", now=now)
            assert carrier.take(now), f"the carrier would throttle at t={now}"


def test_the_burst_is_a_tenth_of_a_second_and_never_more_than_the_rate_allows() -> None:
    for rate, burst in [(200.0, 20), (1000.0, 100), (5.0, 1), (0.5, 1)]:
        buckets = LaneBuckets(rate, now=0.0)
        sent = 0
        while buckets.delay(otp=True, now=0.0) == 0:
            buckets.take(otp=True, now=0.0)
            sent += 1
        assert sent == burst


def test_lanes_below_otp_use_only_their_share_and_otp_finds_tokens_waiting() -> None:
    buckets = LaneBuckets(100, reserved_share=0.2, now=0.0)
    now, bulk = 0.0, 0
    while now < 10.0:  # a campaign saturating the connector for ten seconds
        now = _send_when_allowed(buckets, otp=False, now=now)
        bulk += 1
    assert bulk <= 8 + 80 * 10 + 1  # the shared bucket's depth, then 80/s
    assert bulk >= 80 * 10
    assert buckets.delay(otp=True, now=now) == 0  # the reserved share piled up for OTP
    otp = 0
    while buckets.delay(otp=True, now=now) == 0:
        buckets.take(otp=True, now=now)
        otp += 1
    assert otp >= 9  # nearly the whole depth (10) at once


def test_slow_down_halves_the_rate_until_restored_and_credits_each_period_at_its_rate() -> None:
    buckets = LaneBuckets(100, now=0.0)
    buckets.slow_down(0.0)  # tokens dropped, 50/s for 5 s
    assert buckets.rate == 50
    assert buckets.delay(otp=True, now=0.0) == pytest.approx(0.02)
    buckets = LaneBuckets(100, now=0.0)
    buckets.slow_down(0.0)
    # At 5.025 s: 5 s at 50/s (capped at the slow depth, 5), then 0.025 s at 100/s: 7.5 tokens, not 10.
    taken = 0
    while buckets.delay(otp=True, now=5.025) == 0:
        buckets.take(otp=True, now=5.025)
        taken += 1
    assert taken == 7
    assert buckets.rate == 100


def test_repeated_slow_downs_stop_at_five_percent() -> None:
    buckets = LaneBuckets(100, now=0.0)
    for _ in range(10):
        buckets.slow_down(0.0)
    assert buckets.rate == pytest.approx(5)


def test_share_scales_the_rate_and_the_depth() -> None:
    buckets = LaneBuckets(200, reserved_share=0.25, now=0.0)
    buckets.set_share(0.5, 0.0)
    assert (buckets.rate, buckets.rate_for(otp=False)) == (100, 75)
    taken = 0
    while buckets.delay(otp=True, now=0.0) == 0:
        buckets.take(otp=True, now=0.0)
        taken += 1
    assert taken == 10  # the depth follows the rate down
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ValueError):
            buckets.set_share(bad, 0.0)


def test_unlimited_never_waits() -> None:
    buckets = LaneBuckets(0, reserved_share=0.2, now=0.0)
    for _ in range(10_000):
        assert buckets.delay(otp=False, now=0.0) == 0
        buckets.take(otp=False, now=0.0)
    buckets.slow_down(0.0)
    assert buckets.delay(otp=False, now=0.0) == 0


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        LaneBuckets(-1, now=0.0)
    with pytest.raises(ValueError):
        LaneBuckets(10, reserved_share=1.0, now=0.0)


def test_lane_priorities() -> None:
    assert [lane_priority(lane) for lane in ("otp", "notification", "marketing", "someday")] == [0, 1, 2, 2]


# --------------------------------------------------------------------------- the gate


class FakeSlots:
    """`size` window slots on one pretend bind."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self.bound = True

    def open(self) -> bool:
        return self.bound

    def reserve(self) -> str | None:
        if self.used < self.size:
            self.used += 1
            return "bind"
        return None

    def release(self, slot: str) -> None:
        self.used -= 1


async def test_waiters_are_served_by_lane_then_in_order() -> None:
    slots = FakeSlots(1)
    gate = SendGate(LaneBuckets(0, now=0.0), slots)
    assert await gate.acquire("marketing") == "bind"  # the only slot
    order: list[str] = []

    async def send(name: str, lane: str) -> None:
        assert await gate.acquire(lane) == "bind"
        order.append(name)
        gate.release("bind")

    tasks = []
    for name, lane in [("m1", "marketing"), ("n1", "notification"), ("m2", "marketing"), ("o1", "otp")]:
        tasks.append(asyncio.create_task(send(name, lane)))
        await asyncio.sleep(0)
    tasks.append(asyncio.create_task(send("o2", "otp")))
    await asyncio.sleep(0)
    gate.release("bind")
    await asyncio.gather(*tasks)
    assert order == ["o1", "o2", "n1", "m1", "m2"]
    assert slots.used == 0


async def test_otp_overtakes_bulk_waiting_for_tokens() -> None:
    gate = SendGate(LaneBuckets(20, reserved_share=0.5, now=asyncio.get_running_loop().time()), FakeSlots(100))
    for _ in range(2):  # drain the burst (depth 2 total, 1 shared)
        await gate.acquire("otp")
    order: list[str] = []

    async def send(name: str, lane: str) -> None:
        await gate.acquire(lane)
        order.append(name)

    bulk = [asyncio.create_task(send(f"m{i}", "marketing")) for i in range(3)]
    await asyncio.sleep(0)
    otp = asyncio.create_task(send("otp", "otp"))
    await asyncio.gather(*bulk, otp)
    assert order[0] == "otp"


async def test_waiters_are_refused_when_no_bind_is_left_and_a_cancelled_one_gives_its_slot_back() -> None:
    slots = FakeSlots(1)
    gate = SendGate(LaneBuckets(0, now=0.0), slots)
    await gate.acquire("otp")
    waiting = asyncio.create_task(gate.acquire("marketing"))
    cancelled = asyncio.create_task(gate.acquire("notification"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    slots.bound = False
    gate.wake()
    assert await waiting is None
    assert await gate.acquire("otp") is None
    slots.bound = True
    gate.release("bind")
    assert slots.used == 0


async def test_a_part_bringing_its_slot_waits_for_a_token_only_ahead_of_parts_waiting_for_a_slot() -> None:
    """The next part of a long message brings the slot its previous part kept: with every slot kept by such
    messages, they still go on (one token a part), and an OTP waiting for a slot gets the first one freed."""
    loop = asyncio.get_running_loop()
    slots = FakeSlots(2)
    gate = SendGate(LaneBuckets(50, now=loop.time()), slots)
    first = [await gate.acquire("marketing") for _ in range(2)]  # two long messages' first parts: every slot
    assert first == ["bind", "bind"]
    otp = asyncio.create_task(gate.acquire("otp"))
    await asyncio.sleep(0)
    assert not otp.done()  # no slot free
    for _ in range(3):  # their next parts, in the slots they bring
        assert await asyncio.wait_for(gate.acquire("marketing", "bind"), 1) == "bind"
        assert await asyncio.wait_for(gate.acquire("marketing", "bind"), 1) == "bind"
    assert slots.used == 2 and not otp.done()
    gate.release("bind")  # one message recorded
    assert await asyncio.wait_for(otp, 1) == "bind"
    cancelled = asyncio.create_task(gate.acquire("marketing", "bind"))
    await asyncio.sleep(0)
    cancelled.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cancelled
    assert slots.used == 2  # a part cancelled while bringing its slot leaves it with its message
