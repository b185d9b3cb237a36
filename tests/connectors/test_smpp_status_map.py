"""submit_sm_resp statuses classified, and source/destination addressing."""

from __future__ import annotations

import pytest

from martinet.connectors.smpp.status_map import (
    CLASSIFICATION,
    TIMEOUT,
    StatusMeaning,
    addressing,
    classify,
    destination_addressing,
)
from martinet.domain.status import STATUS_CODES, StatusClass
from martinet.smpp import CommandStatus

pytestmark = pytest.mark.unit

S = CommandStatus


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (S.ESME_ROK, "ok", 0),
        (S.ESME_RTHROTTLED, "throttled", 3501),
        (S.ESME_RMSGQFUL, "throttled", 3501),
        (S.ESME_RSYSERR, "temporary", 3501),
        (S.ESME_RX_T_APPN, "temporary", 3501),
        (S.ESME_RUNKNOWNERR, "temporary", 3501),
        (S.ESME_RSUBMITFAIL, "temporary", 3501),
        (S.ESME_RINVBNDSTS, "temporary", 3501),
        (S.ESME_RINVDSTADR, "permanent", 3998),
        (S.ESME_RINVDSTTON, "permanent", 34),
        (S.ESME_RINVSRCADR, "permanent", 36),
        (S.ESME_RINVMSGLEN, "permanent", 38),
        (S.ESME_RX_P_APPN, "permanent", 21),
        (S.ESME_RX_R_APPN, "permanent", 22),
        (S.ESME_RINVESMCLASS, "permanent", 36),
        (S.ESME_RINVOPTPARAMVAL, "permanent", 36),
        (0x104, "permanent", 36),  # SMPP 5.0 ESME_RINVDCS
        (S.ESME_RINVCMDID, "permanent", 2),
    ],
)
def test_classify(status: int, kind: str, code: int) -> None:
    outcome = classify(status)
    assert (outcome.kind, outcome.code) == (kind, code)
    assert f"0x{status:02X}" in outcome.detail


def test_detail_names_the_status() -> None:
    assert classify(S.ESME_RTHROTTLED).detail == "ESME_RTHROTTLED (0x58): throttling error"
    assert classify(0x104).detail.startswith("ESME_RINVDCS")


def test_unknown_and_vendor_statuses_are_temporary() -> None:
    assert classify(0x0000_0400) == StatusMeaning(
        "temporary", 3501, "0x00000400: unknown command_status (vendor-specific)"
    )
    assert classify(0x0000_0099).kind == "temporary"
    assert classify(0xFFFF_FFFF).kind == "temporary"


def test_overrides_for_vendor_codes() -> None:
    blacklisted = StatusMeaning("permanent", 3999, "0x401: recipient blacklisted at the carrier")
    assert classify(0x401, {0x401: blacklisted}) is blacklisted
    assert classify(S.ESME_RSYSERR, {0x401: blacklisted}).kind == "temporary"


def test_every_status_of_the_spec_is_classified_with_a_known_code() -> None:
    for status in CommandStatus:
        assert status in CLASSIFICATION or classify(status).kind == "temporary"
    for outcome in (*CLASSIFICATION.values(), TIMEOUT):
        assert outcome.code in STATUS_CODES
        final = STATUS_CODES[outcome.code].klass in (StatusClass.FAILURE,)
        assert final == (outcome.kind == "permanent")


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("Martinet", (5, 0, "Martinet")),
        ("INFO2024", (5, 0, "INFO2024")),
        ("36180", (3, 0, "36180")),
        ("123456", (3, 0, "123456")),
        ("1", (3, 0, "1")),
        ("+33612345678", (1, 1, "33612345678")),
        ("0033612345678", (1, 1, "33612345678")),
        ("33612345678", (1, 1, "33612345678")),
        ("0612345678", (2, 1, "0612345678")),
        (" 36180 ", (3, 0, "36180")),
        (None, (0, 0, "")),
        ("", (0, 0, "")),
        ("+", (5, 0, "+")),
        ("٣٣٦١٢", (5, 0, "٣٣٦١٢")),  # non-ASCII digits are not a number the SMSC can read
    ],
)
def test_addressing(sender: str | None, expected: tuple[int, int, str]) -> None:
    assert addressing(sender) == expected


def test_destination_addressing() -> None:
    assert destination_addressing("+33612345678") == (1, 1, "33612345678")
    assert destination_addressing("33612345678") == (1, 1, "33612345678")
