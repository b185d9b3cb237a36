"""A failure that repeats is logged in full once, then one line a while (`martinet.smpp.failures`)."""

from __future__ import annotations

import logging

import pytest

from martinet.smpp.failures import RepeatedFailures

pytestmark = pytest.mark.unit


#: The time the failures see, moved by the tests: a clock they read through `now[0]`.
now = [100.0]


@pytest.fixture(autouse=True)
def _clock_reset() -> None:
    now[0] = 100.0


def clock() -> float:
    return now[0]


def _failing(message: str) -> OSError:
    try:
        raise OSError(message)
    except OSError as exc:
        return exc


def test_the_first_failure_of_a_kind_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    failures = RepeatedFailures(logging.getLogger("test.smpp"), clock, interval=10.0)
    with caplog.at_level(logging.ERROR, logger="test.smpp"):
        failures.failed("deliver_sm", _failing("disk full"))
    [record] = caplog.records
    assert record.getMessage() == "smpp handler failed on deliver_sm: OSError('disk full')"
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert str(record.exc_info[1]) == "disk full"


def test_repeats_within_the_interval_are_counted_then_told_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    failures = RepeatedFailures(logging.getLogger("test.smpp"), clock, interval=10.0)
    with caplog.at_level(logging.ERROR, logger="test.smpp"):
        for _ in range(250):
            failures.failed("deliver_sm", _failing("disk full"))
            now[0] += 0.02  # 250 failures over 5 s
        assert len(caplog.records) == 1
        now[0] = 111.0
        failures.failed("deliver_sm", _failing("still full"))
    later = caplog.records[1]
    assert later.getMessage() == (
        "smpp handler failed on deliver_sm: OSError('still full') (and 249 more like it in the 11 s before)"
    )
    assert later.exc_info is None


def test_a_failure_after_a_quiet_interval_is_logged_in_full(caplog: pytest.LogCaptureFixture) -> None:
    failures = RepeatedFailures(logging.getLogger("test.smpp"), clock, interval=10.0)
    with caplog.at_level(logging.ERROR, logger="test.smpp"):
        failures.failed("deliver_sm", _failing("disk full"))
        now[0] += 3600.0
        failures.failed("deliver_sm", _failing("disk full again"))
    assert [r.getMessage() for r in caplog.records] == [
        "smpp handler failed on deliver_sm: OSError('disk full')",
        "smpp handler failed on deliver_sm: OSError('disk full again')",
    ]
    assert all(r.exc_info is not None for r in caplog.records)


def test_kinds_are_counted_apart(caplog: pytest.LogCaptureFixture) -> None:
    """Another command, or another exception type, is a kind of its own: its first failure is logged in full."""
    failures = RepeatedFailures(logging.getLogger("test.smpp"), clock, interval=10.0)
    with caplog.at_level(logging.ERROR, logger="test.smpp"):
        failures.failed("deliver_sm", _failing("disk full"))
        failures.failed("data_sm", _failing("disk full"))
        failures.failed("deliver_sm", ValueError("unreadable"))
        failures.failed("deliver_sm", _failing("disk full"))
    assert [r.getMessage() for r in caplog.records] == [
        "smpp handler failed on deliver_sm: OSError('disk full')",
        "smpp handler failed on data_sm: OSError('disk full')",
        "smpp handler failed on deliver_sm: ValueError('unreadable')",
    ]
