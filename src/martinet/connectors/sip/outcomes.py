"""What a call's SIP outcome means for the message: its status, and whether another attempt may do better."""

from __future__ import annotations

from martinet.domain import voice
from martinet.domain.status import State
from martinet.domain.valueclass import valueclass
from martinet.sip.uac import CallResult

#: Answers after which calling again later may succeed (busy, no answer, unavailable). A 408 here is one the
#: trunk sent (the callee's network gave up); our own, when the trunk never answered, is `trunk_timeout`.
_BUSY = frozenset({486, 600})
_NO_ANSWER = frozenset({408, 480, 487})
_DECLINED = frozenset({603, 403})
_UNREACHABLE = frozenset({404, 410, 484, 485, 604})


@valueclass
class CallOutcome:
    """What one call did for its voice message: the status it reaches and whether to call again later."""

    state: State
    code: int
    retry: bool  # worth another attempt (busy, no answer)
    retry_code: int  # the soft code of the attempt's history row when it is retried

    @property
    def final(self) -> bool:
        return self.state is not State.SENT


def outcome(result: CallResult) -> CallOutcome:
    if result.trunk_timeout:
        # Not one answer from the trunk: it is down or unreachable, whoever was called. The operator's failure
        # (3501, then 3521), not the callee's absence, which only an answer of the trunk can tell.
        return CallOutcome(State.UNDELIVERED, voice.CALL_FAILED, True, voice.RETRY_OTHER)
    if result.no_codec:
        # Answered with no law we speak (a trunk set up for G.729 alone): nothing could be heard, and calling
        # again would ring the person again for the same silence. The trunk's configuration fails, not the
        # callee, who did pick up ("partly listened" would say otherwise).
        return CallOutcome(State.UNDELIVERED, voice.CALL_FAILED, False, 0)
    if result.answered:
        if result.complete:
            return CallOutcome(State.DELIVERED, voice.LISTENED, False, 0)
        return CallOutcome(State.UNDELIVERED, voice.PARTLY_LISTENED, False, 0)
    status = result.status
    if status in _BUSY:
        return CallOutcome(State.UNDELIVERED, voice.BUSY, True, voice.RETRY_BUSY)
    if status in _NO_ANSWER:
        return CallOutcome(State.UNDELIVERED, voice.NO_ANSWER, True, voice.RETRY_BUSY)
    if status in _DECLINED:
        return CallOutcome(State.UNDELIVERED, voice.DECLINED, False, 0)
    if status in _UNREACHABLE:
        return CallOutcome(State.UNDELIVERED, voice.NOT_REACHABLE, False, 0)
    # 5xx and the rest: the trunk's trouble, worth another try.
    return CallOutcome(State.UNDELIVERED, voice.CALL_FAILED, status >= 500, voice.RETRY_OTHER)


def describe(result: CallResult, attempt: int, attempts: int) -> str:
    """The history row's detail: the attempt and its SIP answer, and what was played."""
    if result.trunk_timeout:
        # Not "SIP 408", which would read as the trunk's own answer about the callee.
        return f"attempt {attempt}/{attempts}: {result.reason}"
    text = f"attempt {attempt}/{attempts}: SIP {result.status} {result.reason}".rstrip()
    if result.no_codec:
        return f"{text}, no G.711 in the answer (offered: {result.offered or 'no SDP'}), BYE sent"
    if result.answered and result.played is not None:
        ended = "hung up by the callee" if result.callee_hung_up else "BYE sent"
        text += f", {result.played.seconds:.1f} s played ({result.codec}), {ended}"
    return text
