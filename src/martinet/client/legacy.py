"""The smsmode HTTP API 1.6 (`/http/1.6/*.do`), for code that keeps smsmode's vocabulary (`smsID`, status codes).

smsmode answers every call with HTTP 200 and a line `code | description[ | value]` in ISO-8859-15; errors and
results share that shape, so each call reads its own answer knowing what a success looks like. Errors become the
same exception classes as the REST API's, with the smsmode code in `smsmode_code` and a REST-like `error_code`.

Requests are POSTed as UTF-8 forms with the charset declared: the gateway honours a declared charset, so any text
goes through unchanged, and the access token stays out of URLs (and so out of access logs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple
from urllib.parse import urlencode

import httpx

from martinet.client._http import AsyncHTTP, Repeat, Request, SyncHTTP
from martinet.client.contacts import batch_request
from martinet.client.errors import (
    AuthenticationError,
    InsufficientCreditError,
    InvalidRequestError,
    MartinetError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from martinet.domain.status import STATUS_CODES

PREFIX = "/http/1.6/"
ANSWER_CHARSET = "iso-8859-15"

#: The smsmode answer codes that are errors, with the exception and the REST `errorCode` they stand for.
ERRORS: dict[int, tuple[type[MartinetError], str]] = {
    31: (ServerError, "INTERNAL_ERROR"),
    32: (AuthenticationError, "UNAUTHORIZED"),
    33: (InsufficientCreditError, "INSUFFICIENT_CREDIT"),
    35: (InvalidRequestError, "INVALID_PARAMETER"),
    50: (RateLimitedError, "RATE_LIMITED"),
    61: (NotFoundError, "NOT_FOUND"),
}

_PARAMETER = re.compile(r":\s*([^\s(]+)")

LegacyValue = str | int | datetime | Sequence[str] | None


class DeliveryReport(NamedTuple):
    """One recipient of a send in `compteRendu.do`: its number (international, no `+`) and its status code."""

    number: str
    code: int


def fields(answer: str) -> list[str]:
    return [piece.strip() for piece in answer.strip().split("|")]


def error_of(answer: str) -> MartinetError | None:
    """The exception an answer stands for, or None when it is not an error answer."""
    parts = fields(answer)
    if not parts[0].isdigit() or int(parts[0]) not in ERRORS:
        return None
    code = int(parts[0])
    description = parts[1] if len(parts) > 1 else ""
    cls, error_code = ERRORS[code]
    field = None
    if code == 35:
        match = _PARAMETER.search(description)
        field = match.group(1) if match else None
    return cls(
        f"{code} | {description}" if description else str(code),
        error_code=error_code,
        title=description or None,
        detail=description or None,
        field=field,
        smsmode_code=code,
    )


def _unexpected(answer: str) -> MartinetError:
    return error_of(answer) or MartinetError(f"unexpected answer: {answer.strip()[:200]!r}")


def parse_send(answer: str) -> str:
    """`0 | Accepté | <smsID>` → the smsID."""
    parts = fields(answer)
    if parts[0] == "0" and len(parts) >= 3 and parts[-1]:
        return parts[-1]
    raise _unexpected(answer)


def parse_delivery_report(answer: str) -> list[DeliveryReport]:
    """`33612345678 11 | 33698765432 13` → one entry per recipient (an error is a bare code, no number)."""
    if not answer.strip():
        return []
    reports = []
    for piece in fields(answer):
        number, _, code = piece.rpartition(" ")
        if not number or not code.lstrip("-").isdigit():
            raise _unexpected(answer)
        reports.append(DeliveryReport(number.strip(), int(code)))
    return reports


def parse_status(answer: str) -> int:
    """`11 | Reçu` → 11. Error and status codes overlap (35 is both "reception error" and "invalid parameter"),
    so a known status code counts as a status unless its description is not that status's."""
    parts = fields(answer)
    if not parts[0].isdigit():
        raise _unexpected(answer)
    code = int(parts[0])
    known = STATUS_CODES.get(code)
    description = parts[1] if len(parts) > 1 else ""
    if known is not None and (code not in ERRORS or description in (known.fr, known.en)):
        return code
    raise _unexpected(answer)


def parse_balance(answer: str) -> Decimal:
    """`212.5` → Decimal("212.5")."""
    text = answer.strip()
    if "|" not in text:
        try:
            return Decimal(text)
        except InvalidOperation:
            pass
    raise _unexpected(answer)


def parse_cancel(answer: str) -> None:
    """`0 | SMS supprimé`."""
    if fields(answer)[0] != "0":
        raise _unexpected(answer)


def parse_done(answer: str) -> None:
    """`0 | <what was done>` (addContact.do's `0 | Contact ajouté`), else the error it is."""
    if fields(answer)[0] != "0":
        raise _unexpected(answer)


def _form_value(value: LegacyValue) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d%m%Y-%H:%M")  # date_envoi, read in the account's time zone
    if isinstance(value, str | int):
        return str(value)
    return ",".join(value or ())


def _request(name: str, api_key: str, params: dict[str, LegacyValue], repeat: Repeat = Repeat.SAFE) -> Request:
    pairs = [("accessToken", api_key)]
    pairs += [(key, _form_value(value)) for key, value in params.items() if value is not None]
    return Request(
        "POST",
        f"{PREFIX}{name}.do",
        content=urlencode(pairs, encoding="utf-8").encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "text/plain"},
        repeat=repeat,
    )


def _send_request(api_key: str, numero: str | Sequence[str], message: str, params: dict[str, LegacyValue]) -> Request:
    # sendSMS.do has no idempotency: repeating it after the gateway may have received it could send twice, so it
    # is retried only when the connection could not be made at all.
    return _request("sendSMS", api_key, {"numero": numero, "message": message, **params}, Repeat.UNSENT_ONLY)


def _voice_request(api_key: str, numero: str | Sequence[str], message: str, params: dict[str, LegacyValue]) -> Request:
    # Not repeated once sent either: a repeated sendVoiceMessage.do could ring the person twice.
    return _request("sendVoiceMessage", api_key, {"numero": numero, "message": message, **params}, Repeat.UNSENT_ONLY)


def _cancel_request(api_key: str, sms_id: str | None, numero: str | None) -> Request:
    if sms_id is None and numero is None:
        raise ValueError("give the smsID of the send to cancel, or a numero")
    # A repeated delete would answer 61 for a send the first one cancelled: not repeated once sent.
    return _request("deleteSMS", api_key, {"smsID": sms_id, "numero": numero}, Repeat.UNSENT_ONLY)


def _text(response: httpx.Response) -> str:
    return response.content.decode(response.charset_encoding or ANSWER_CHARSET, errors="replace")


class LegacyClient:
    """`client.legacy` of a `Client`: smsmode's calls, same key and connection pool."""

    def __init__(self, http: SyncHTTP, api_key: str) -> None:
        self._http = http
        self._key = api_key

    def send_sms(self, numero: str | Sequence[str], message: str, **params: LegacyValue) -> str:
        """`sendSMS.do`; `params` are smsmode's (`emetteur`, `classe_msg`, `date_envoi`, `refClient`, `stop`,
        `nbr_msg`, `notification_url`…). Returns the smsID."""
        return parse_send(_text(self._http.send(_send_request(self._key, numero, message, params))))

    def send_voice_message(self, numero: str | Sequence[str], message: str, **params: LegacyValue) -> str:
        """`sendVoiceMessage.do`: `message` read aloud in a call; `params`: `title`, `language`, `date_envoi`,
        `notification_url`… Returns the smsID; status 16 reports the message listened to."""
        return parse_send(_text(self._http.send(_voice_request(self._key, numero, message, params))))

    def delivery_report(self, sms_id: str) -> list[DeliveryReport]:
        """`compteRendu.do`: the status code of each recipient."""
        return parse_delivery_report(_text(self._http.send(_request("compteRendu", self._key, {"smsID": sms_id}))))

    def status(self, sms_id: str) -> int:
        """`smsStatus.do`: one status code for the whole send."""
        return parse_status(_text(self._http.send(_request("smsStatus", self._key, {"smsID": sms_id}))))

    def balance(self) -> Decimal:
        """`credit.do`."""
        return parse_balance(_text(self._http.send(_request("credit", self._key, {}))))

    def cancel(self, sms_id: str | None = None, *, numero: str | None = None) -> None:
        """`deleteSMS.do`: cancel a scheduled send (refunded); `NotFoundError` (61) when it left already."""
        parse_cancel(_text(self._http.send(_cancel_request(self._key, sms_id, numero))))

    def send_batch(self, csv_data: bytes, **params: str) -> str:
        """`sendSMSBatch.do`: a CSV file (`numero,message,emetteur[,refClient]`), one message per row; `params`
        as for `send_sms`. Returns the campaign's smsID."""
        return parse_send(_text(self._http.send(batch_request(self._key, csv_data, params))))

    def add_contact(self, nom: str, mobile: str, **params: LegacyValue) -> None:
        """`addContact.do`; `params`: `prenom`, `societe`, `other`, `date` (ddMMyyyy), `groupes`."""
        parse_done(_text(self._http.send(_request("addContact", self._key, {"nom": nom, "mobile": mobile, **params}))))


class AsyncLegacyClient:
    """`client.legacy` of an `AsyncClient`: see `LegacyClient`."""

    def __init__(self, http: AsyncHTTP, api_key: str) -> None:
        self._http = http
        self._key = api_key

    async def send_sms(self, numero: str | Sequence[str], message: str, **params: LegacyValue) -> str:
        """See `LegacyClient.send_sms`."""
        return parse_send(_text(await self._http.send(_send_request(self._key, numero, message, params))))

    async def send_voice_message(self, numero: str | Sequence[str], message: str, **params: LegacyValue) -> str:
        """See `LegacyClient.send_voice_message`."""
        return parse_send(_text(await self._http.send(_voice_request(self._key, numero, message, params))))

    async def delivery_report(self, sms_id: str) -> list[DeliveryReport]:
        response = await self._http.send(_request("compteRendu", self._key, {"smsID": sms_id}))
        return parse_delivery_report(_text(response))

    async def status(self, sms_id: str) -> int:
        return parse_status(_text(await self._http.send(_request("smsStatus", self._key, {"smsID": sms_id}))))

    async def balance(self) -> Decimal:
        return parse_balance(_text(await self._http.send(_request("credit", self._key, {}))))

    async def cancel(self, sms_id: str | None = None, *, numero: str | None = None) -> None:
        parse_cancel(_text(await self._http.send(_cancel_request(self._key, sms_id, numero))))

    async def send_batch(self, csv_data: bytes, **params: str) -> str:
        """See `LegacyClient.send_batch`."""
        return parse_send(_text(await self._http.send(batch_request(self._key, csv_data, params))))

    async def add_contact(self, nom: str, mobile: str, **params: LegacyValue) -> None:
        request = _request("addContact", self._key, {"nom": nom, "mobile": mobile, **params})
        parse_done(_text(await self._http.send(request)))
