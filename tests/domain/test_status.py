"""A whole send's status from its recipients' codes (`smsStatus.do`): final exactly when every recipient is."""

from __future__ import annotations

import pytest

from martinet.domain.status import STATUS_CODES, StatusClass, send_status


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([11], 11),
        ([11, 11, 11], 11),
        ([13, 13], 13),
        ([0, 13], 0),  # the least advanced pending code
        ([10, 13, 0], 10),
        ([11, 13], 12),  # some received, others on their way
        ([11, 0, 3998], 12),
        ([21, 13], 13),  # a failure while others are pending: still pending
        ([11, 3998], 3998),  # every one final, one failed: a final failure, never 12 for ever
        ([11, 21, 37], 21),
        ([11, 14], 11),  # every one received, in two ways
        ([34, 3998], 34),
        ([], 0),  # its groups emptied as it was accepted: nothing to wait for
    ],
)
def test_the_send_status(codes: list[int], expected: int) -> None:
    assert send_status(codes) == expected


def test_a_send_is_pending_exactly_while_a_recipient_is() -> None:
    for a in STATUS_CODES:
        for b in STATUS_CODES:
            pending = any(STATUS_CODES[c].klass is StatusClass.PENDING for c in (a, b))
            assert (STATUS_CODES[send_status([a, b])].klass is StatusClass.PENDING) == pending, (a, b)
