"""Sender ID (`emetteur`) rules.

Carriers accept alphanumeric senders of at most 11 characters (the GSM TP-OA limit for alphanumeric addresses);
spaces and accents are dropped or mangled by many networks, so smsmode refuses them up front and so do we.
"""

from __future__ import annotations

import re

_ALNUM = re.compile(r"[A-Za-z0-9]{1,11}")
_PHONE_LIKE = re.compile(r"\+?0*\d{8,}")


def sender_problem(sender: str) -> str | None:
    """Why `sender` cannot be used as a sender ID, or None when it can.

    All-digit strings of eight digits or more read as phone numbers: a custom sender must not impersonate one
    (short codes such as `36180` stay allowed).
    """
    if not sender:
        return "empty"
    if len(sender) > 11:
        return "longer than 11 characters"
    if not _ALNUM.fullmatch(sender):
        return "only letters and digits, without spaces or accents"
    if _PHONE_LIKE.fullmatch(sender):
        return "a phone number cannot be a sender ID"
    return None
