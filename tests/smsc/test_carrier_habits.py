"""The carrier habits the simulator reproduces, observed on the wire: message ID forms in the submit_sm_resp,
the forms receipts write them in (or leave out), and receipts that come at once or before the response."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from martinet.smpp import (
    CancelSm,
    DeliverSm,
    MessageState,
    QuerySm,
    QuerySmResp,
    SubmitSmResp,
    Tag,
)
from martinet.smpp.session import SessionConfig
from martinet.smsc import FinalStatus, Simulator, SimulatorConfig, SimulatorConfigError

from .support import RECEIPT, Inbox, Wire, bind, config, submit

Start = Callable[..., Awaitable[Simulator]]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    running: list[Simulator] = []

    async def start(**changes: Any) -> Simulator:
        simulator = Simulator(config(**changes))
        await simulator.start()
        running.append(simulator)
        return simulator

    yield start
    for simulator in running:
        await simulator.stop()


async def submit_ids(smsc: Simulator, count: int, **fields: Any) -> list[str]:
    client = await bind(smsc.port)
    ids = []
    for _ in range(count):
        response = await client.request(submit(**fields))
        assert isinstance(response, SubmitSmResp) and response.command_status == 0
        ids.append(response.message_id or "")
    await client.close()
    return ids


async def final_receipt(smsc: Simulator) -> tuple[str, DeliverSm]:
    """Submit one message and return its ID and its final receipt."""
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    response = await client.request(submit())
    assert isinstance(response, SubmitSmResp)
    (receipt,) = await inbox.wait_for(1)
    await client.close()
    return response.message_id or "", receipt


def text_id(receipt: DeliverSm) -> str:
    match = RECEIPT.match(receipt.short_message.decode("ascii"))
    assert match, receipt.short_message
    return match["id"]


# --------------------------------------------------------------------------- IDs in the submit_sm_resp


async def test_a_decimal_counter_from_1_like_a_restarted_smsc(start: Start) -> None:
    smsc = await start(message_id_format="decimal", message_id_start=1)
    assert await submit_ids(smsc, 3, registered_delivery=0) == ["1", "2", "3"]


async def test_upper_case_hex_zero_padded(start: Start) -> None:
    smsc = await start(message_id_format="HEX", message_id_start=16, message_id_width=8, intermediate_receipt=None)
    assert await submit_ids(smsc, 2, registered_delivery=0) == ["00000010", "00000011"]
    message_id, receipt = await final_receipt(smsc)
    assert message_id == "00000012"  # "same": receipts repeat it exactly, padding included
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == text_id(receipt) == "00000012"


async def test_padding_in_decimal_and_a_counter_that_outgrows_it(start: Start) -> None:
    smsc = await start(message_id_format="decimal", message_id_start=98, message_id_width=3)
    assert await submit_ids(smsc, 3, registered_delivery=0) == ["098", "099", "100"]
    wide = await start(message_id_format="hex", message_id_start=0xFFF, message_id_width=3)
    assert await submit_ids(wide, 2, registered_delivery=0) == ["fff", "1000"]


@pytest.mark.parametrize("style", ["uuid", "UUID"])
async def test_uuid_ids_in_lower_or_upper_case(start: Start, style: str) -> None:
    smsc = await start(message_id_format=style, intermediate_receipt=None)
    ids = await submit_ids(smsc, 3, registered_delivery=0)
    assert len(set(ids)) == 3
    for message_id in ids:
        assert UUID4.match(message_id.lower())
        assert message_id == (message_id.upper() if style == "UUID" else message_id.lower())
    message_id, receipt = await final_receipt(smsc)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == text_id(receipt) == message_id


async def test_a_seed_gives_the_same_ids_and_outcomes_every_run(start: Start) -> None:
    async def run(**changes: Any) -> list[tuple[str, str]]:
        smsc = await start(intermediate_receipt=None, receipt_delay=0.0, **changes)
        inbox = Inbox()
        client = await bind(smsc.port, inbox)
        ids = [(await client.request(submit())).message_id for _ in range(6)]  # type: ignore[attr-defined]
        receipts = await inbox.wait_for(6)
        await client.close()
        stats = {r.get_tlv(Tag.RECEIPTED_MESSAGE_ID): RECEIPT.match(r.short_message.decode())["stat"] for r in receipts}  # type: ignore[index]
        return [(i, stats[i]) for i in ids]

    for style in ("hex", "uuid"):
        first = await run(message_id_format=style, seed=11, outcomes={o: 1.0 for o in FinalStatus})
        assert await run(message_id_format=style, seed=11, outcomes={o: 1.0 for o in FinalStatus}) == first
        assert [i for i, _ in await run(message_id_format=style, seed=12)] != [i for i, _ in first]
    # The outcomes a seed draws do not depend on the ID format.
    hex_run = await run(message_id_format="hex", seed=11, outcomes={o: 1.0 for o in FinalStatus})
    uuid_run = await run(message_id_format="UUID", seed=11, outcomes={o: 1.0 for o in FinalStatus})
    assert [s for _, s in hex_run] == [s for _, s in uuid_run]


@pytest.mark.parametrize(
    "changes",
    [
        {"message_id_format": "HEX", "message_id_start": 255, "message_id_width": 10},
        {"message_id_format": "uuid"},
        {"message_id_format": "decimal", "message_id_start": 1, "receipt_text_id": "hex", "receipt_tlv_id": "none"},
    ],
)
async def test_query_and_cancel_find_the_message_by_its_response_id(start: Start, changes: dict[str, Any]) -> None:
    smsc = await start(receipt_delay=0.5, intermediate_receipt=None, **changes)
    client = await bind(smsc.port)
    first = await client.request(submit(registered_delivery=0))
    second = await client.request(submit(registered_delivery=0))
    assert isinstance(first, SubmitSmResp) and isinstance(second, SubmitSmResp)
    query = await client.request(QuerySm(message_id=first.message_id or "", source_addr="Martinet"))
    assert isinstance(query, QuerySmResp) and query.command_status == 0
    assert (query.message_id, query.message_state) == (first.message_id, MessageState.ENROUTE)
    cancel = await client.request(CancelSm(message_id=second.message_id or "", source_addr="Martinet"))
    assert cancel.command_status == 0
    cancelled = await client.request(QuerySm(message_id=second.message_id or "", source_addr="Martinet"))
    assert isinstance(cancelled, QuerySmResp) and cancelled.message_state == MessageState.DELETED
    await client.close()


# --------------------------------------------------------------------------- IDs in receipts


async def test_hex_in_the_response_and_decimal_in_the_receipt_text(start: Start) -> None:
    smsc = await start(message_id_format="hex", receipt_text_id="decimal", intermediate_receipt=None)
    message_id, receipt = await final_receipt(smsc)
    assert text_id(receipt) == str(int(message_id, 16))
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == message_id  # both present, disagreeing in form


async def test_upper_case_hex_in_the_tlv_for_a_decimal_response(start: Start) -> None:
    smsc = await start(
        message_id_format="decimal", message_id_start=1000, receipt_tlv_id="HEX", intermediate_receipt=None
    )
    message_id, receipt = await final_receipt(smsc)
    assert (message_id, receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID), text_id(receipt)) == ("1000", "3E8", "1000")


async def test_unpadded_hex_in_receipts_for_a_padded_response(start: Start) -> None:
    smsc = await start(
        message_id_format="hex",
        message_id_start=42,
        message_id_width=8,
        receipt_text_id="hex",
        receipt_tlv_id="decimal",
        intermediate_receipt=None,
    )
    message_id, receipt = await final_receipt(smsc)
    assert (message_id, text_id(receipt), receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID)) == ("0000002a", "2a", "42")


async def test_the_id_only_in_the_text(start: Start) -> None:
    smsc = await start(receipt_tlv_id="none", intermediate_receipt=None)
    message_id, receipt = await final_receipt(smsc)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) is None
    assert receipt.get_tlv(Tag.MESSAGE_STATE) is not None
    assert text_id(receipt) == message_id


async def test_the_id_only_in_the_tlv(start: Start) -> None:
    smsc = await start(receipt_text_id="none")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    response = await client.request(submit())
    assert isinstance(response, SubmitSmResp)
    for receipt in await inbox.wait_for(2):
        text = receipt.short_message.decode("ascii")
        assert text.startswith("sub:001 dlvrd:") and "id:" not in text
        assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id
    await client.close()


# --------------------------------------------------------------------------- receipt timing


async def test_receipts_before_the_response_on_a_transceiver(start: Start) -> None:
    smsc = await start(receipt_before_response=True, receipt_delay=5.0, outcomes={FinalStatus.DELIVRD: 1.0})
    wire = await Wire.open(smsc.port)
    assert (await wire.bind()).command_status == 0
    began = time.monotonic()
    await wire.send(submit())
    intermediate, final, response = [await wire.read() for _ in range(3)]
    assert time.monotonic() - began < 1.0  # receipt_delay does not apply
    assert isinstance(intermediate, DeliverSm) and isinstance(final, DeliverSm)
    assert isinstance(response, SubmitSmResp) and response.command_status == 0
    assert intermediate.get_tlv(Tag.MESSAGE_STATE) == MessageState.ENROUTE
    assert final.get_tlv(Tag.MESSAGE_STATE) == MessageState.DELIVERED
    assert intermediate.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == final.get_tlv(Tag.RECEIPTED_MESSAGE_ID)
    assert final.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id
    await wire.ack(intermediate)
    await wire.ack(final)
    # The message is final already: query_sm says so.
    await wire.send(QuerySm(message_id=response.message_id or "", source_addr="Martinet"))
    query = await wire.read()
    assert isinstance(query, QuerySmResp) and query.message_state == MessageState.DELIVERED
    wire.close()


async def test_receipts_before_the_response_on_a_receiver_of_the_same_account(start: Start) -> None:
    smsc = await start(receipt_before_response=True, intermediate_receipt=None, latency=0.05)
    receiver = await Wire.open(smsc.port)
    transmitter = await Wire.open(smsc.port)
    assert (await receiver.bind(kind="receiver")).command_status == 0
    assert (await transmitter.bind(kind="transmitter")).command_status == 0
    await transmitter.send(submit())
    response = await transmitter.read()
    assert isinstance(response, SubmitSmResp)
    assert receiver.has_data()  # written before the response was: already here, nothing awaited
    receipt = await receiver.read(timeout=0.1)
    assert isinstance(receipt, DeliverSm) and receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id
    receiver.close()
    transmitter.close()


async def test_receipts_before_the_response_wait_for_a_full_window(start: Start) -> None:
    """A receipt held behind a full window is not on the wire yet: the response waits for its answer."""
    smsc = await start(
        receipt_before_response=True,
        intermediate_receipt=None,
        session=SessionConfig(window=1, response_timeout=2.0, bind_timeout=2.0),
    )
    wire = await Wire.open(smsc.port)
    assert (await wire.bind()).command_status == 0
    smsc.inject_mo("33612345678", "36180", "occupies the window")
    mo = await wire.read()
    assert isinstance(mo, DeliverSm) and mo.esm_class == 0
    await wire.send(submit())
    await asyncio.sleep(0.1)
    assert not wire.has_data()  # neither the receipt (window full) nor the response
    await wire.ack(mo)
    receipt = await wire.read()
    assert isinstance(receipt, DeliverSm) and receipt.esm_class == 0x04
    await asyncio.sleep(0.05)
    assert not wire.has_data()  # until the ESME answers it, the receipt's delivery is not known to be done
    await wire.ack(receipt)
    response = await wire.read()
    assert isinstance(response, SubmitSmResp) and receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id
    wire.close()


async def test_receipt_delay_0_sends_receipts_right_after_the_response(start: Start) -> None:
    smsc = await start(receipt_delay=0.0, intermediate_delay=None, outcomes={FinalStatus.UNDELIV: 1.0})
    wire = await Wire.open(smsc.port)
    assert (await wire.bind()).command_status == 0
    began = time.monotonic()
    await wire.send(submit())
    response, intermediate, final = [await wire.read() for _ in range(3)]
    assert time.monotonic() - began < 0.5
    assert isinstance(response, SubmitSmResp) and response.command_status == 0
    assert isinstance(intermediate, DeliverSm) and intermediate.get_tlv(Tag.MESSAGE_STATE) == MessageState.ENROUTE
    assert isinstance(final, DeliverSm) and final.get_tlv(Tag.MESSAGE_STATE) == MessageState.UNDELIVERABLE
    wire.close()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"message_id_format": "guid"}, "message_id_format must be one of hex, HEX, decimal, uuid, UUID"),
        ({"message_id_format": "uuid", "message_id_start": 1}, "message_id_start applies to counter IDs"),
        ({"message_id_format": "UUID", "message_id_width": 8}, "message_id_width applies to counter IDs"),
        ({"message_id_start": -1}, "message_id_start must be between 0"),
        ({"message_id_width": 65}, "message_id_width must be between 0"),
        ({"receipt_text_id": "octal"}, "receipt_text_id must be one of same, decimal, hex, HEX, none"),
        ({"receipt_tlv_id": "Hex"}, "receipt_tlv_id must be one of"),
        ({"message_id_format": "uuid", "receipt_tlv_id": "decimal"}, "receipt_tlv_id: uuid message IDs have no"),
        ({"receipt_text_id": "none", "receipt_tlv_id": "none"}, "cannot both be none"),
        ({"bind_failure_delay": -1.0}, "bind_failure_delay must be a number of seconds"),
        ({"receipt_delay": 0.0, "intermediate_delay": 0.1}, r"intermediate_delay \(0.1 s\) must not exceed"),
    ],
)
def test_id_and_timing_options_are_validated(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SimulatorConfigError, match=message):
        SimulatorConfig(**changes)


def test_receipt_delay_0_alone_is_a_valid_configuration() -> None:
    assert SimulatorConfig(receipt_delay=0).final_intermediate_delay == 0
    assert SimulatorConfig().final_intermediate_delay == 0.1
    assert SimulatorConfig(intermediate_delay=0.5, receipt_delay=2).final_intermediate_delay == 0.5
