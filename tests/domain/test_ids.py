"""Send IDs: smsmode's twelve letters and digits, the first five from the time so that the store's indexes grow at
their end, the other seven random."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from martinet.domain.ids import SLOT_MS, TIME_DIGITS, new_send_id

#: How long the time digits last before they come round (62^5 hundredths of a second: about 107 days).
ROUND_MS = 62**TIME_DIGITS * SLOT_MS
ALPHANUMERIC = set(string.ascii_letters + string.digits)
NOW = 1_780_000_000_000


def test_an_id_is_twelve_letters_and_digits() -> None:
    for at in (0, NOW, ROUND_MS - 1, ROUND_MS, 2**62):
        made = new_send_id(at)
        assert len(made) == 12 and set(made) <= ALPHANUMERIC


def test_ids_of_one_hundredth_share_their_time_and_differ_in_the_rest() -> None:
    # 2,000 draws among 62^7 tails: two alike once in about 10^6 runs
    made = [new_send_id(NOW - NOW % SLOT_MS + i % SLOT_MS) for i in range(2_000)]
    assert len({m[:TIME_DIGITS] for m in made}) == 1
    assert len({m[TIME_DIGITS:] for m in made}) == len(made)
    assert new_send_id(NOW - NOW % SLOT_MS + SLOT_MS)[:TIME_DIGITS] != made[0][:TIME_DIGITS]


@given(st.integers(0, ROUND_MS - 1), st.integers(0, ROUND_MS - 1), st.integers(0, 20))
def test_within_a_round_later_ids_sort_after_earlier_ones_byte_by_byte(a: int, b: int, rounds: int) -> None:
    """SQLite compares text byte by byte (PostgreSQL too under the "C" collation): a later hundredth's IDs then go
    after every ID of the hundredths before it in an index, whatever the random digits."""
    base = rounds * ROUND_MS
    first, second = new_send_id(base + a), new_send_id(base + b)
    if a // SLOT_MS < b // SLOT_MS:
        assert first.encode() < second.encode()
    elif a // SLOT_MS == b // SLOT_MS:
        assert first[:TIME_DIGITS] == second[:TIME_DIGITS]


def test_the_time_digits_come_round_after_107_days() -> None:
    assert new_send_id(NOW)[:TIME_DIGITS] == new_send_id(NOW + ROUND_MS)[:TIME_DIGITS]
    assert new_send_id(ROUND_MS - 1)[:TIME_DIGITS] == "zzzzz"
    assert new_send_id(ROUND_MS)[:TIME_DIGITS] == "00000"
