"""The REST door's accept counters (`martinet_accepts_total{door="rest"}`), all kept here.

A send (`POST /sms/v1/messages`, not a dry run) is counted once: by the door when it refuses the request before
the handler runs (the key, the body's type or size), else by the send handler with the service's verdict. A
problem counts as the result its code names, any other as `invalid`.
"""

from __future__ import annotations

from martinet import metrics

COUNTERS = metrics.DoorCounters("rest")

#: Problems that are not `invalid`, as the accept counters name them.
_RESULT_OF_PROBLEM = {
    "UNAUTHORIZED": "unauthorized",
    "TOO_MANY_AUTH_FAILURES": "unauthorized",
    "NETWORK_NOT_ALLOWED": "unauthorized",
    "LANE_NOT_ALLOWED": "unauthorized",
    "RATE_LIMITED": "rate_limited",
    "INSUFFICIENT_CREDIT": "no_credit",
    "INTERNAL_ERROR": "error",
}
#: The problems the door itself answers before a send's handler runs (the handler counts the others).
_REFUSED_AT_THE_DOOR = frozenset(
    {"UNAUTHORIZED", "TOO_MANY_AUTH_FAILURES", "NETWORK_NOT_ALLOWED", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE"}
)


def refused_at_the_door(code: str) -> None:
    """A send the door refused with this problem code; ignored for a code its handler counts."""
    if code in _REFUSED_AT_THE_DOOR:
        COUNTERS.answered(_RESULT_OF_PROBLEM.get(code, "invalid"))


def refused(code: str) -> None:
    """A send its handler refused with this problem code."""
    COUNTERS.answered(_RESULT_OF_PROBLEM.get(code, "invalid"))


def failed() -> None:
    COUNTERS.answered("error")


def accepted(recipients: int) -> None:
    COUNTERS.accepted(recipients)


def replayed() -> None:
    """An earlier request's answer replayed for its Idempotency-Key."""
    COUNTERS.answered("duplicate")
