"""Interoperability with smpp34 (a Rust SMPP core with an asyncio bridge), both ways, over loopback:
its client against our simulator, and our client against its server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from martinet.smpp import DeliverSmResp, MessageState, SubmitSm, SubmitSmResp, Tag
from martinet.smpp.aio import connect
from martinet.smpp.receipt import parse_receipt_text
from martinet.smsc import Simulator
from tests.conftest import free_port

from .support import Inbox, config

smpp34 = pytest.importorskip("smpp34")


async def test_smpp34_client_against_our_simulator() -> None:
    async with Simulator(config()) as smsc:
        client = smpp34.Client(host="127.0.0.1", port=smsc.port, system_id="acme", password="secret", bind_type="TRX")
        session = await client.connect()
        try:
            response = await session.submit_sm(
                "33759990002", b"Hello from smpp34", source_addr="Rust", registered_delivery=1
            )
            assert response.is_success and response.message_id
            events = [await asyncio.wait_for(session.next(), 3) for _ in range(2)]
            await session.unbind()
        finally:
            await client.stop()
    for event in events:
        assert isinstance(event, smpp34.DeliverSmEvent) and event.esm_class == 0x04
        tlvs = {t.tag: t.value for t in event.tlvs}
        assert tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID] == response.message_id.encode() + b"\0"
    final = parse_receipt_text(events[1].short_message.decode())
    assert final is not None and final.stat == "UNDELIV" and final.message_id == response.message_id
    assert final.text == "Hello from smpp34"


async def test_our_client_against_smpp34_server() -> None:
    port = free_port()
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="Rust34")
    await server.start()
    outcome: dict[str, Any] = {}

    async def run_server() -> None:
        sessions: dict[str, Any] = {}
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                sessions[event.session_id] = event
            elif isinstance(event, smpp34.SubmitSmEvent):
                outcome["submitted"] = (event.source_addr, event.destination_addr, event.short_message)
                event.accept(message_id="rust-1")
                receipt = await sessions[event.session_id].deliver_sm(
                    event.source_addr,
                    b"id:rust-1 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:",
                    source_addr=event.destination_addr,
                    esm_class=0x04,
                    tlvs=[
                        smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"rust-1\0"),
                        smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes((MessageState.DELIVERED,))),
                    ],
                )
                outcome["receipt_status"] = receipt.command_status

    task = asyncio.create_task(run_server())
    inbox = Inbox(respond=lambda pdu: DeliverSmResp())
    try:
        client = await connect("127.0.0.1", port, system_id="acme", password="any", handler=inbox)
        assert client.system_id == "Rust34"
        response = await client.request(
            SubmitSm(source_addr="Martinet", destination_addr="33612345678", short_message=b"hi")
        )
        assert isinstance(response, SubmitSmResp) and response.message_id == "rust-1"
        (receipt,) = await inbox.wait_for(1)
        assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == "rust-1"
        assert receipt.get_tlv(Tag.MESSAGE_STATE) == MessageState.DELIVERED
        for _ in range(100):
            if "receipt_status" in outcome:
                break
            await asyncio.sleep(0.01)
        assert outcome == {"submitted": ("Martinet", "33612345678", b"hi"), "receipt_status": 0}
        await client.close()
        # smpp34 1.5.0's server drops the connection on unbind without an unbind_resp; either
        # ending is an orderly close for us.
        assert type(await client.wait_closed()).__name__ in ("Unbound", "ConnectionClosed")
    finally:
        task.cancel()
        await server.stop()
