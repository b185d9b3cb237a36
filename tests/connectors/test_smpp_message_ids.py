"""Message ID normalisation: a receipt finds its part whatever the SMSC did to the ID."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martinet.connectors.smpp.message_ids import IdFormat, Reading, normalise, readings

pytestmark = pytest.mark.unit

AUTO, HEX, DECIMAL, AS_IS = IdFormat.AUTO, IdFormat.HEX, IdFormat.DECIMAL, IdFormat.AS_IS
LITERAL = Reading.LITERAL


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


def test_explicit_formats_give_one_reading() -> None:
    assert readings("00000A1B", HEX) == {LITERAL: "a1b"}
    assert readings("0042", DECIMAL) == {LITERAL: "42"}
    assert readings(" X ", AS_IS) == {LITERAL: "X"}
    assert readings("", AUTO) == {}


def test_explicit_cross_formats_convert_the_receipt() -> None:
    # Kannel's msg-id-type case: hex in submit_sm_resp, the same number in decimal in the receipt.
    assert normalise("00000010", IdFormat.HEX_DECIMAL) == "10"
    assert readings("16", IdFormat.HEX_DECIMAL) == {Reading.DECIMAL: "10"}
    assert normalise("0026", IdFormat.DECIMAL_HEX) == "26"
    assert readings("0000001A", IdFormat.DECIMAL_HEX) == {Reading.HEX: "26"}
    # A receipt that does not fit is looked up as the response would write it.
    assert readings("msg-1", IdFormat.HEX_DECIMAL) == {LITERAL: "msg-1"}


@pytest.mark.parametrize(
    ("resp_id", "receipt_id", "reading"),
    [
        ("0A1B", "2587", Reading.DECIMAL),  # hex in submit_sm_resp, decimal in the receipt (Kannel msg-id-type)
        ("00000010", "16", Reading.DECIMAL),
        ("2587", "A1B", Reading.HEX),  # decimal in the response, hex in the receipt
        ("2587", "00000a1b", Reading.HEX),
        ("4660", "1234", Reading.HEX),  # hex receipt made only of digits
        ("1234", "4660", Reading.DECIMAL),
        ("0A1B", "0a1b", LITERAL),  # case
        ("0A1B", "00000A1B", LITERAL),  # leading zeros
        ("000123", "123", LITERAL),
        ("272", "272", LITERAL),
        ("3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", LITERAL),  # UUID
        ("msg-77/b", "msg-77/b", LITERAL),
    ],
)
def test_auto_reads_the_receipt_every_way_a_carrier_may_mean_it(
    resp_id: str, receipt_id: str, reading: Reading
) -> None:
    found = readings(receipt_id, AUTO)
    assert found[reading] == normalise(resp_id, AUTO)
    assert next(iter(found)) is LITERAL and found[LITERAL] == normalise(receipt_id, AUTO)


def test_auto_readings_of_a_number() -> None:
    # 272 may be the part 272, the part the response called 0x110, or the part it called 626 (0x272).
    assert readings("272") == {LITERAL: "272", Reading.DECIMAL: "110", Reading.HEX: "626"}
    assert readings("0A1B") == {LITERAL: "a1b", Reading.HEX: "2587"}
    assert readings("7") == {LITERAL: "7"}  # every reading agrees: one form
    assert readings("x" * 100) == {LITERAL: "x" * 100}
    assert readings("1" * 100) == {LITERAL: "1" * 100}  # too long to be a number anyone converts


@given(st.integers(0, 2**64))
def test_auto_hex_and_decimal_writings_meet(number: int) -> None:
    for resp, receipt, reading in (
        (format(number, "X"), str(number), Reading.DECIMAL),
        (str(number), format(number, "x"), Reading.HEX),
        (format(number, "016X"), format(number, "x"), LITERAL),
        (str(number).zfill(20), str(number), LITERAL),
    ):
        assert readings(receipt, AUTO).get(reading, readings(receipt, AUTO)[LITERAL]) == normalise(resp, AUTO)


@given(st.text(max_size=80), st.sampled_from(list(IdFormat)))
def test_never_raises_and_is_idempotent(raw: str, fmt: IdFormat) -> None:
    once = normalise(raw, fmt)
    assert normalise(once, fmt) == once
    found = readings(raw, fmt)
    assert len(set(found.values())) == len(found)
    assert len(found) <= (3 if fmt is AUTO else 1)
