from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from martinet.client import (
    AuthenticationError,
    DeliveryReport,
    InsufficientCreditError,
    InvalidRequestError,
    MartinetError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from martinet.client.legacy import (
    _text,
    parse_balance,
    parse_cancel,
    parse_delivery_report,
    parse_send,
    parse_status,
)

pytestmark = pytest.mark.unit


def test_send_answer() -> None:
    assert parse_send("0 | Accepté | Xk3p9QaZ2mTb") == "Xk3p9QaZ2mTb"
    assert parse_send("0 | Accepted | Xk3p9QaZ2mTb\n") == "Xk3p9QaZ2mTb"


@pytest.mark.parametrize(
    ("answer", "cls", "code", "error_code"),
    [
        ("32 | Erreur d'authentification", AuthenticationError, 32, "UNAUTHORIZED"),
        ("33 | Crédits insuffisants", InsufficientCreditError, 33, "INSUFFICIENT_CREDIT"),
        ("50 | Temporairement indisponible", RateLimitedError, 50, "RATE_LIMITED"),
        ("31 | Erreur interne", ServerError, 31, "INTERNAL_ERROR"),
        ("61 | SMS n'existant pas ou plus", NotFoundError, 61, "NOT_FOUND"),
    ],
)
def test_send_errors(answer: str, cls: type[MartinetError], code: int, error_code: str) -> None:
    with pytest.raises(cls) as caught:
        parse_send(answer)
    assert caught.value.smsmode_code == code
    assert caught.value.error_code == error_code
    assert caught.value.status is None
    assert caught.value.detail == answer.split(" | ")[1]


def test_invalid_parameter_names_the_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_send("35 | Paramètre invalide : emetteur (plus de 11 caractères)")
    assert caught.value.field == "emetteur" and caught.value.smsmode_code == 35
    with pytest.raises(InvalidRequestError) as english:
        parse_send("35 | Invalid parameter: numero (no valid recipient)")
    assert english.value.field == "numero"


def test_garbage_is_a_martinet_error() -> None:
    with pytest.raises(MartinetError, match="unexpected answer"):
        parse_send("<html>hello</html>")


def test_delivery_report() -> None:
    assert parse_delivery_report("33612345678 11") == [DeliveryReport("33612345678", 11)]
    reports = parse_delivery_report("33612345678 11 | 33698765432 13 | 06 12 3998")
    assert reports == [("33612345678", 11), ("33698765432", 13), ("06 12", 3998)]
    assert reports[1].number == "33698765432" and reports[1].code == 13
    with pytest.raises(NotFoundError):
        parse_delivery_report("61 | SMS n'existant pas ou plus")
    with pytest.raises(AuthenticationError):
        parse_delivery_report("32 | Erreur d'authentification")


def test_status_codes_that_look_like_errors() -> None:
    assert parse_status("11 | Reçu") == 11
    assert parse_status("35 | Erreur de réception") == 35  # a status, not "invalid parameter"
    assert parse_status("33 | Insufficient credit") == 33
    assert parse_status("3998 | Destinataire invalide") == 3998
    with pytest.raises(InvalidRequestError) as caught:
        parse_status("35 | Paramètre invalide : smsID (manquant)")
    assert caught.value.field == "smsID"
    with pytest.raises(NotFoundError):
        parse_status("61 | SMS n'existant pas ou plus")


def test_balance_and_cancel() -> None:
    assert parse_balance("1000") == Decimal(1000)
    assert parse_balance("212.5\n") == Decimal("212.5")
    with pytest.raises(AuthenticationError):
        parse_balance("32 | Erreur d'authentification")
    parse_cancel("0 | SMS supprimé")
    with pytest.raises(NotFoundError):
        parse_cancel("61 | SMS n'existant pas ou plus")


def test_answers_are_read_as_iso_8859_15() -> None:
    raw = "0 | Accepté | abc €".encode("iso-8859-15")
    labelled = httpx.Response(200, content=raw, headers={"Content-Type": "text/plain; charset=ISO-8859-15"})
    unlabelled = httpx.Response(200, content=raw, headers={"Content-Type": "text/plain"})
    assert _text(labelled) == _text(unlabelled) == "0 | Accepté | abc €"
