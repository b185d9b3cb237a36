"""Message ID normalisation: a receipt finds its part whatever the SMSC did to the ID."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martinet.connectors.smpp.message_ids import IdFormat, candidates, normalise

AUTO, HEX, DECIMAL, AS_IS = IdFormat.AUTO, IdFormat.HEX, IdFormat.DECIMAL, IdFormat.AS_IS


@pytest.mark.parametrize(
    ("raw", "fmt", "canonical"),
    [
        ("0A1B", HEX, "a1b"),
        ("00000A1B", HEX, "a1b"),
        ("0a1b", HEX, "a1b"),
        (" 0x0A1B ", HEX, "a1b"),
        ("0000", HEX, "0"),
        ("not-hex", HEX, "not-hex"),
        ("002587", DECIMAL, "2587"),
        ("2587\x00", DECIMAL, "2587"),
        ("0", DECIMAL, "0"),
        ("A1B", DECIMAL, "A1B"),  # not decimal: kept as is
        (" Ab-01 ", AS_IS, "Ab-01"),
        ("00A1B", AS_IS, "00A1B"),
        ("0A1B", AUTO, "a1b"),
        ("000000002587", AUTO, "2587"),
        ("550E8400-E29B-41D4-A716-446655440000", AUTO, "550e8400-e29b-41d4-a716-446655440000"),
        ("aBcXyZ-42", AUTO, "aBcXyZ-42"),  # case may matter outside hex: left alone
        ("", AUTO, ""),
        ("   ", HEX, ""),
    ],
)
def test_normalise(raw: str, fmt: IdFormat, canonical: str) -> None:
    assert normalise(raw, fmt) == canonical


def test_format_accepts_any_case() -> None:
    assert IdFormat("hex") is HEX and IdFormat("as_is") is AS_IS and IdFormat("auto") is AUTO
    assert normalise("0A", "decimal") == "0A"
    with pytest.raises(ValueError):
        IdFormat("octal")


def test_explicit_formats_give_one_candidate() -> None:
    assert candidates("00000A1B", HEX) == ("a1b",)
    assert candidates("0042", DECIMAL) == ("42",)
    assert candidates(" X ", AS_IS) == ("X",)
    assert candidates("", AUTO) == ()


@pytest.mark.parametrize(
    ("resp_id", "receipt_id"),
    [
        ("0A1B", "2587"),  # hex in submit_sm_resp, decimal in the receipt (Kannel msg-id-type 2)
        ("2587", "A1B"),  # decimal in the response, hex in the receipt (msg-id-type 1)
        ("2587", "00000a1b"),
        ("4660", "1234"),  # hex receipt made only of digits
        ("1234", "4660"),
        ("0A1B", "0a1b"),  # case
        ("0A1B", "00000A1B"),  # leading zeros
        ("000123", "123"),
        ("123", "0000123"),
        ("3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),  # UUID, case only
        ("msg-77/b", "msg-77/b"),
    ],
)
def test_auto_finds_the_part(resp_id: str, receipt_id: str) -> None:
    stored = normalise(resp_id, AUTO)
    found = candidates(receipt_id, AUTO)
    assert stored in found
    assert found[0] == normalise(receipt_id, AUTO)  # the faithful reading is tried first


def test_auto_candidates_order() -> None:
    assert candidates("2587") == ("2587", "a1b", "9607")
    assert candidates("0A1B") == ("a1b", "2587")
    assert candidates("1") == ("1",)  # every reading is the same
    assert candidates("uuid-like-not-number") == ("uuid-like-not-number",)


def test_uuids_are_not_converted() -> None:
    assert candidates("550e8400-e29b-41d4-a716-446655440000") == ("550e8400-e29b-41d4-a716-446655440000",)


def test_huge_numbers_are_not_converted() -> None:
    big = "9" * 5000
    assert candidates(big) == (big,)


@given(st.integers(0, 2**64))
def test_auto_hex_and_decimal_writings_meet(number: int) -> None:
    for resp, receipt in (
        (format(number, "X"), str(number)),
        (str(number), format(number, "x")),
        (format(number, "016X"), format(number, "x")),
        (str(number).zfill(20), str(number)),
    ):
        assert normalise(resp, AUTO) in candidates(receipt, AUTO)


@given(st.text(max_size=80), st.sampled_from(list(IdFormat)))
def test_never_raises_and_is_idempotent(raw: str, fmt: IdFormat) -> None:
    once = normalise(raw, fmt)
    assert normalise(once, fmt) == once
    assert isinstance(candidates(raw, fmt), tuple)
