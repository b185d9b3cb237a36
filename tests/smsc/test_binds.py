"""Refused binds over real SMPP: one answer whatever was wrong, and slower answers to a peer that keeps guessing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import smpplib.client
import smpplib.exceptions

from martinet.smpp import BindTransceiverResp, CommandStatus
from martinet.smpp.pdu import encode
from martinet.smsc import Credential, Simulator
from martinet.smsc.binds import MAX_DELAY_FACTOR, Accounts, failure_delay

from .support import Wire, config


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    async with Simulator(config(bind_failure_delay=0.2)) as simulator:
        yield simulator


async def test_unknown_system_id_and_wrong_password_get_the_same_answer(smsc: Simulator) -> None:
    answers = []
    for system_id, password in (("ghost", "secret"), ("acme", "wrong"), ("ghost", "")):
        wire = await Wire.open(smsc.port)
        answer = await wire.bind(system_id, password)
        wire.close()
        assert isinstance(answer, BindTransceiverResp)
        answers.append(encode(answer))
    assert answers[0] == answers[1] == answers[2]  # byte for byte, sequence number included
    assert answers[0] == encode(BindTransceiverResp(sequence_number=1, command_status=CommandStatus.ESME_RBINDFAIL))
    assert smsc.stats()["bind_refusals"] == 3


def smpplib_refusal(port: int, system_id: str, password: str) -> int:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    try:
        client.bind_transmitter(system_id=system_id, password=password)
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
    return 0


async def test_smpplib_sees_bindfail_for_both_mistakes(smsc: Simulator) -> None:
    statuses = [
        await asyncio.to_thread(smpplib_refusal, smsc.port, system_id, password)
        for system_id, password in (("ghost", "secret"), ("acme", "nope"))
    ]
    assert statuses == [CommandStatus.ESME_RBINDFAIL] * 2


async def test_repeated_failures_on_one_connection_are_answered_later_and_later(smsc: Simulator) -> None:
    wire = await Wire.open(smsc.port)
    took = []
    for attempt in range(4):
        began = time.monotonic()
        # Alternating mistakes: the schedule counts failures, whatever they were.
        answer = await wire.bind("acme" if attempt % 2 else "ghost", "wrong")
        took.append(time.monotonic() - began)
        assert answer.command_status == CommandStatus.ESME_RBINDFAIL
    assert took[0] < 0.15  # the first mistake costs nothing (less than one delay)
    assert 0.2 <= took[1] < took[2] < took[3]
    assert took[2] >= 0.4 and took[3] >= 0.8
    began = time.monotonic()
    assert (await wire.bind("acme", "secret")).command_status == CommandStatus.ESME_ROK
    assert time.monotonic() - began < 0.15  # the right password is never held back
    wire.close()
    fresh = await Wire.open(smsc.port)  # the count belongs to the connection
    began = time.monotonic()
    assert (await fresh.bind("acme", "wrong")).command_status == CommandStatus.ESME_RBINDFAIL
    assert time.monotonic() - began < 0.15
    fresh.close()


async def test_a_delay_of_0_answers_every_failure_at_once() -> None:
    async with Simulator(config(bind_failure_delay=0.0)) as smsc:
        wire = await Wire.open(smsc.port)
        began = time.monotonic()
        for _ in range(4):
            assert (await wire.bind("acme", "wrong")).command_status == CommandStatus.ESME_RBINDFAIL
        assert time.monotonic() - began < 0.25  # not even one delay of the default schedule's 1 s
        wire.close()


def test_the_delay_doubles_up_to_a_bound() -> None:
    assert [failure_delay(n, 1.0) for n in range(1, 8)] == [0, 1, 2, 4, 8, 16, 16]
    assert failure_delay(50, 0.5) == 0.5 * MAX_DELAY_FACTOR
    assert failure_delay(3, 0.0) == 0


def test_accounts_check_pairs_and_keep_no_password() -> None:
    accounts = Accounts([Credential("acme", "secret"), Credential("other", "")])
    assert accounts.check("acme", "secret") and accounts.check("other", "")
    assert not accounts.check("acme", "Secret") and not accounts.check("acme", "")
    assert not accounts.check("ghost", "secret") and not accounts.check("", "")
    assert "acme" in accounts and "ghost" not in accounts
    kept = [getattr(accounts, name) for name in Accounts.__slots__]
    assert "secret" not in repr(kept) and b"secret" not in b"".join(v for v in kept if isinstance(v, bytes))
