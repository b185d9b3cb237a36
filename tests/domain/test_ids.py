"""Send IDs: smsmode's twelve letters and digits, the first five from the time so that the store's indexes grow at
their end, the other seven random; access tokens: 32 random letters and digits, each of the 62 equally likely."""

from __future__ import annotations

import string
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from martinet.domain.ids import _TO_DIGIT, _UNEVEN, SLOT_MS, TIME_DIGITS, _digits, _Pool, new_access_token, new_send_id

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


def test_every_digit_is_made_from_as_many_random_bytes_as_every_other() -> None:
    """Bytes are turned into digits by a table: each digit must come from the same number of byte values (four),
    and the byte values left over (248 to 255) from none, or some digits would be likelier than others."""
    made = Counter(_TO_DIGIT[byte] for byte in range(256) if byte not in _UNEVEN)
    assert {chr(digit) for digit in made} == ALPHANUMERIC
    assert set(made.values()) == {4}
    assert set(_UNEVEN) == set(range(248, 256))


def test_digits_are_drawn_across_refills_of_any_size() -> None:
    pool = _Pool(_digits, size=16)  # fewer than 16 digits a refill: every few draws cross one, some need two
    drawn = [pool.take(7) for _ in range(200)] + [pool.take(40)]
    assert [len(d) for d in drawn] == [7] * 200 + [40]
    assert set("".join(drawn)) <= ALPHANUMERIC
    assert len(set(drawn)) == len(drawn)


def test_an_access_token_is_32_letters_and_digits_and_never_repeats() -> None:
    tokens = {new_access_token() for _ in range(1_000)}
    assert len(tokens) == 1_000
    assert all(len(t) == 32 and set(t) <= ALPHANUMERIC for t in tokens)
