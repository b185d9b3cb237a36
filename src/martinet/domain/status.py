"""Message states and the smsmode status codes that report them.

The engine reasons in a small set of internal states (where a message is in its life); clients see smsmode's
numeric codes (what happened, in the vocabulary their code already parses). A message row keeps both: the state
drives the queue, the code is what `compteRendu.do` and callbacks report.
"""

from __future__ import annotations

import enum

from martinet.domain.valueclass import valueclass


class State(enum.StrEnum):
    """Where a message is in its life. The last five are final."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SUBMITTING = "submitting"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({State.DELIVERED, State.UNDELIVERED, State.FAILED, State.EXPIRED, State.CANCELLED})


class StatusClass(enum.StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    SOFT_FAILURE = "soft_failure"
    FAILURE = "failure"


@valueclass
class StatusCode:
    code: int
    fr: str
    en: str
    klass: StatusClass


def _codes(*rows: tuple[int, str, str, StatusClass]) -> dict[int, StatusCode]:
    return {code: StatusCode(code, fr, en, klass) for code, fr, en, klass in rows}


_P, _S, _SOFT, _F = StatusClass.PENDING, StatusClass.SUCCESS, StatusClass.SOFT_FAILURE, StatusClass.FAILURE

#: smsmode delivery statuses (the `statut` of reports and callbacks), with French and English descriptions.
STATUS_CODES: dict[int, StatusCode] = _codes(
    (0, "Envoyé", "Sent", _P),
    (1, "En cours", "In progress", _P),
    (2, "Erreur interne", "Internal error", _F),
    (10, "Programmé", "Scheduled", _P),
    (11, "Reçu", "Received", _S),
    (12, "Partiellement délivré", "Partially delivered", _P),
    (13, "Délivré opérateur", "Delivered to operator", _P),
    (14, "Délivré", "Delivered", _S),
    (16, "Écouté", "Listened", _S),
    (17, "Écouté partiellement", "Partly listened", _F),  # a voice call hung up before the end (Martinet's own)
    (21, "Non délivrable", "Not deliverable", _F),
    (22, "Rejeté", "Rejected", _F),
    (33, "Crédit insuffisant", "Insufficient credit", _F),
    (34, "Erreur de routage", "Routing error", _F),
    (35, "Erreur de réception", "Reception error", _F),
    (36, "Erreur de message", "Message error", _F),
    (37, "Expiré", "Expired", _F),
    (38, "Message trop long", "Message too long", _F),
    (50, "Non délivré", "Not delivered", _F),
    (3501, "Erreur opérateur temporaire", "Temporary operator error", _SOFT),
    (3502, "Abonné absent temporairement", "Subscriber temporarily absent", _SOFT),
    (3503, "Erreur terminal temporaire", "Temporary handset error", _SOFT),
    (3504, "Erreur de portabilité temporaire", "Temporary portability error", _SOFT),
    (3521, "Erreur opérateur", "Operator error", _F),
    (3522, "Abonné absent", "Subscriber absent", _F),
    (3523, "Erreur terminal", "Handset error", _F),
    (3524, "Anti-spam", "Anti-spam", _F),
    (3525, "Erreur de contenu", "Content error", _F),
    (3526, "Erreur de portabilité", "Portability error", _F),
    (3527, "Erreur d'itinérance", "Roaming error", _F),
    (3560, "Destination non routable", "Not routable", _F),
    (3599, "Autre erreur", "Other error", _F),
    (3998, "Destinataire invalide", "Invalid recipient", _F),
    (3999, "Destinataire en liste noire", "Recipient opted out", _F),
)

# Codes the engine uses by name, so that call sites read as intent rather than numbers.
SENT = 0
IN_PROGRESS = 1
INTERNAL_ERROR = 2
SCHEDULED = 10
RECEIVED = 11
PARTIALLY_DELIVERED = 12
DELIVERED_TO_OPERATOR = 13
NOT_DELIVERABLE = 21
REJECTED = 22
ROUTING_ERROR = 34
EXPIRED = 37
NOT_DELIVERED = 50
NOT_ROUTABLE = 3560
INVALID_RECIPIENT = 3998
OPTED_OUT = 3999

#: The code a message carries when it enters a state and nothing more specific is known.
DEFAULT_CODE: dict[State, int] = {
    State.SCHEDULED: SCHEDULED,
    State.QUEUED: IN_PROGRESS,
    State.SUBMITTING: IN_PROGRESS,
    State.SENT: SENT,
    State.DELIVERED: RECEIVED,
    State.UNDELIVERED: NOT_DELIVERABLE,
    State.FAILED: INTERNAL_ERROR,
    State.EXPIRED: EXPIRED,
    # smsmode has no code of its own for a recipient taken off a send before it left: "not delivered", final,
    # so that a send whose other recipients are final reads as finished (a pending 10 kept it waiting for ever).
    State.CANCELLED: NOT_DELIVERED,
}


def describe(code: int, language: str = "fr") -> str:
    """The human description of a status code in the account's language (French unless English)."""
    status = STATUS_CODES.get(code)
    if status is None:
        return "Statut inconnu" if language != "en" else "Unknown status"
    return status.en if language == "en" else status.fr


def send_status(codes: list[int]) -> int:
    """The status of a whole send (`smsStatus.do`) from the codes of its messages.

    smsmode reports one code per send; with several recipients we say: the common code when they all agree; while
    some are still pending, 12 (partially delivered) once some are received, else the least advanced pending code;
    once every recipient is final, the lowest failure code if any failed (12 is a pending code: a client waiting
    for a final one would wait for ever; `compteRendu.do` tells who got it), else the lowest success code. A
    send is thus finished exactly when every recipient is. A send without recipients (its groups emptied as it
    was accepted) reads as sent: there was nothing to wait for.
    """
    if not codes:
        return SENT
    distinct = set(codes)
    if len(distinct) == 1:
        return codes[0]
    pending = [c for c in distinct if STATUS_CODES.get(c, _UNKNOWN).klass is StatusClass.PENDING]
    success = [c for c in distinct if STATUS_CODES.get(c, _UNKNOWN).klass is StatusClass.SUCCESS]
    if pending:
        return PARTIALLY_DELIVERED if success else min(pending, key=_PENDING_ORDER.index)
    failures = [c for c in distinct if c not in success]
    return min(failures or success)


_UNKNOWN = StatusCode(-1, "", "", StatusClass.FAILURE)
_PENDING_ORDER = [SCHEDULED, IN_PROGRESS, SENT, DELIVERED_TO_OPERATOR, PARTIALLY_DELIVERED]


def aggregate(parts: list[tuple[State, int]]) -> tuple[State, int]:
    """A message's state and code from those of its parts.

    Receipts arrive per part, but clients ask about the message: it is delivered only when every part is,
    "partially delivered" (12) while some parts are and others are still on their way, and failed with the
    first failing part's code once every part is final and one of them did not arrive.
    """
    if len(parts) == 1:
        return parts[0]
    states = [state for state, _ in parts]
    if all(state is State.DELIVERED for state in states):
        return parts[0]
    if all(state in FINAL_STATES for state in states):
        return next((s, c) for s, c in parts if s is not State.DELIVERED)
    if any(state is State.DELIVERED for state in states):
        return State.SENT, PARTIALLY_DELIVERED
    pending = [(s, c) for s, c in parts if s not in FINAL_STATES]
    return min(pending, key=lambda part: _progress(part[1]))


def _progress(code: int) -> int:
    return _PENDING_ORDER.index(code) if code in _PENDING_ORDER else len(_PENDING_ORDER)
