"""The smsmode answer format: `code | description[ | value]`, ISO-8859-15, HTTP 200 even for errors.

Client code tests the first number of the body, not the HTTP status, and some of it compares descriptions, so
the French texts follow smsmode's own wording. English is used when the account's language is English.
"""

from __future__ import annotations

from martinet.api import problems_fr

CONTENT_TYPE = "text/plain; charset=ISO-8859-15"

ACCEPTED = 0
INTERNAL_ERROR = 31
AUTHENTICATION_ERROR = 32
INSUFFICIENT_CREDIT = 33
INVALID_PARAMETER = 35
UNAVAILABLE = 50
UNKNOWN_SMS = 61

_TEXTS: dict[int, tuple[str, str]] = {
    ACCEPTED: ("Accepté", "Accepted"),
    INTERNAL_ERROR: ("Erreur interne", "Internal error"),
    AUTHENTICATION_ERROR: ("Erreur d'authentification", "Authentication error"),
    INSUFFICIENT_CREDIT: ("Crédits insuffisants", "Insufficient credits"),
    INVALID_PARAMETER: ("Paramètre manquant ou invalide", "Missing or invalid parameter"),
    UNAVAILABLE: ("Temporairement indisponible", "Temporarily unavailable"),
    UNKNOWN_SMS: ("SMS n'existant pas ou plus", "SMS does not exist"),
}


def text(code: int, language: str) -> str:
    french, english = _TEXTS[code]
    return english if language == "en" else french


def encode(body: str) -> bytes:
    """The wire form of an answer: ISO-8859-15, what smsmode clients decode (a character it lacks becomes `?`)."""
    return body.encode("iso-8859-15", errors="replace")


def status_answer(code: int, language: str, *extra: str) -> str:
    return " | ".join([str(code), text(code, language), *extra])


def invalid_parameter(name: str, problem: str, language: str) -> str:
    if language == "en":
        return f"{INVALID_PARAMETER} | Invalid parameter: {name} ({problem})"
    return f"{INVALID_PARAMETER} | Paramètre invalide : {name} ({problems_fr.french(problem)})"
