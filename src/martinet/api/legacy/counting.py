"""The smsmode door's accept counters (`martinet_accepts_total{door="smsmode"}`), all kept here.

Every send endpoint (`sendSMS.do`, `sendVoiceMessage.do`, `sendSMSBatch.do`) counts alike: a refusal before the
endpoint runs (authentication, body size; for `sendSMSBatch.do`, its parameters and its file as they are read)
as the door names it, a parameter the rules refuse as `invalid`, a failure as `error`, and the service's verdict
(accepted with its recipients, rate-limited, short of credit) where the endpoint answers it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from martinet import metrics
from martinet.api.legacy import answers
from martinet.services.accept import InvalidParameter, NotEnoughCredit, SendRequest, SendService
from martinet.services.rate_limits import RateLimited

COUNTERS = metrics.DoorCounters("smsmode")

_SENDS: set[object] = set()
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Awaitable[str]])


def send_endpoint(endpoint: _Endpoint) -> _Endpoint:
    """Marks a send endpoint: its refused parameters and its failures are counted, and so are the refusals the
    door makes before calling it."""

    @functools.wraps(endpoint)
    async def counted(*args: object, **kwargs: object) -> str:
        try:
            return await endpoint(*args, **kwargs)
        except InvalidParameter:
            COUNTERS.answered("invalid")
            raise
        except Exception:
            COUNTERS.answered("error")
            raise

    _SENDS.add(counted)
    return counted  # type: ignore[return-value]


def is_send(endpoint: object) -> bool:
    return endpoint in _SENDS


def refused(result: str) -> None:
    """A send refused by the door before its endpoint ran (`unauthorized`, `invalid`)."""
    COUNTERS.answered(result)


def failed() -> None:
    """A send the gateway failed to answer before its endpoint ran (the store unreachable while the credentials
    were looked up)."""
    COUNTERS.answered("error")


async def accept(sends: SendService, request: SendRequest, language: str) -> str:
    """The send accepted, or refused for its rate or credit, counted and answered in smsmode text."""
    try:
        accepted = await sends.accept(request)
    except RateLimited:
        COUNTERS.answered("rate_limited")
        return answers.status_answer(answers.UNAVAILABLE, language)
    except NotEnoughCredit:
        COUNTERS.answered("no_credit")
        return answers.status_answer(answers.INSUFFICIENT_CREDIT, language)
    COUNTERS.accepted(accepted.recipients)
    return answers.status_answer(answers.ACCEPTED, language, accepted.send_id)
