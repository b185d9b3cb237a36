"""The delivery receipt text (SMPP 3.4 appendix B): written exactly, read leniently."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.smpp import MessageState
from martinet.smpp.receipt import (
    _STANDARD,
    ReceiptText,
    format_receipt_date,
    format_receipt_text,
    lenient_receipt_fields,
    parse_receipt_text,
    receipt_fields,
)

pytestmark = pytest.mark.unit


def test_format_follows_the_appendix_example() -> None:
    text = format_receipt_text(
        ReceiptText(
            message_id="0a1b2c",
            stat="DELIVRD",
            submitted=1,
            delivered=1,
            submit_date=format_receipt_date(datetime(2024, 1, 2, 3, 4, 5)),
            done_date="2401020305",
            err="000",
            text="Hello",
        )
    )
    assert text == (
        "id:0a1b2c sub:001 dlvrd:001 submit date:2401020304 done date:2401020305 stat:DELIVRD err:000 text:Hello"
    )
    assert parse_receipt_text(text) == ReceiptText(
        "0a1b2c", "DELIVRD", 1, 1, "2401020304", "2401020305", "000", "Hello"
    )


@pytest.mark.parametrize(
    ("raw", "message_id", "state", "text"),
    [
        # Kannel-style, seconds in dates, text with colons and spaces.
        (
            "id:1234567890 sub:001 dlvrd:001 submit date:240102030405 done date:240102030501 stat:DELIVRD err:000 "
            "text:Code: 12 34",
            "1234567890",
            MessageState.DELIVERED,
            "Code: 12 34",
        ),
        # Upper-case keys, underscores, missing fields, odd order.
        ("ID:ABC Stat:UNDELIV Err:001 Submit_date:2401020304", "ABC", MessageState.UNDELIVERABLE, ""),
        # Long-form words some SMSCs use.
        ("id:x stat:DELIVERED", "x", MessageState.DELIVERED, ""),
        ("id:x stat:WHATEVER text:", "x", MessageState.UNKNOWN, ""),
    ],
)
def test_lenient_parsing(raw: str, message_id: str, state: MessageState, text: str) -> None:
    receipt = parse_receipt_text(raw)
    assert receipt is not None
    assert (receipt.message_id, receipt.state, receipt.text) == (message_id, state, text)


@pytest.mark.parametrize("raw", ["", "hello world", "id: stat:DELIVRD", "stat:DELIVRD", "paid:12 stat:DELIVRD"])
def test_not_a_receipt(raw: str) -> None:
    assert parse_receipt_text(raw) is None


#: Values as carriers write them (read by the anchored match) or with spaces and colons (read by the scan).
_VALUE = st.one_of(
    st.text(alphabet=st.sampled_from("0123456789abcdefABZ_-.éidsubtextrr"), max_size=12),
    st.text(alphabet=st.sampled_from("0123456789abcdefABZ_-.é :\t\nidsubtextrr"), max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(
    st.tuples(_VALUE, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE),
    st.one_of(st.none(), st.text(max_size=20)),
)
def test_the_appendix_form_is_read_as_the_lenient_scan_reads_it(values: tuple[str, ...], excerpt: str | None) -> None:
    keys = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err")
    text = " ".join(f"{key}:{value}" for key, value in zip(keys, values, strict=True))
    if excerpt is not None:
        text += f" text:{excerpt}"
    assert receipt_fields(text) == lenient_receipt_fields(text)


def test_the_appendix_form_is_read_by_the_anchored_match() -> None:
    text = "id:0a1b2c sub:001 dlvrd:001 submit date:2401020304 done date:2401020305 stat:DELIVRD err:000 text:a b:c"
    assert _STANDARD.fullmatch(text) is not None
    assert receipt_fields(text) == {
        "id": "0a1b2c",
        "sub": "001",
        "dlvrd": "001",
        "submit date": "2401020304",
        "done date": "2401020305",
        "stat": "DELIVRD",
        "err": "000",
        "text": "a b:c",
    }
