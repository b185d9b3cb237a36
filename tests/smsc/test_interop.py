"""Interoperability with smpplib, an independent SMPP implementation (pure Python, synchronous).

smpplib is the ESME against our simulator, over loopback: it binds, submits a long message split by
its own `smpplib.gsm.make_parts`, and reads our receipts with its own parser.  It runs in a thread
because the simulator runs in the test's event loop.  (smpp34 is in test_interop_smpp34.py.)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from martinet.smpp import MessageState
from martinet.smsc import Simulator

from .support import RECEIPT, config

LONG_TEXT = (
    "Martinet interop test: this message is long enough to need two SMS parts, so smpplib splits it "
    "with a concatenation header of its own making, and the simulator must accept and receipt each "
    "part on its own. The end."
)


def smpplib_session(port: int, text: str) -> dict[str, Any]:
    """A whole ESME session with smpplib, synchronous: bind, submit each part, read receipts, unbind."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    message_ids: list[str] = []
    receipts: list[dict[str, Any]] = []

    def sent(pdu: Any, **_: Any) -> None:
        message_ids.append(pdu.message_id.decode())

    def received(pdu: Any, **_: Any) -> None:
        receipts.append(
            {
                "esm_class": pdu.esm_class,
                "receipted_message_id": pdu.receipted_message_id.decode(),
                "message_state": pdu.message_state,
                "text": pdu.short_message.decode(),
            }
        )

    client.set_message_sent_handler(sent)
    client.set_message_received_handler(received)
    client.connect()
    try:
        client.bind_transceiver(system_id="acme", password="secret")
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Martinet",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="33759990001",
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
                registered_delivery=True,
            )
        deadline = time.monotonic() + 5
        while (len(message_ids) < len(parts) or len(receipts) < 2 * len(parts)) and time.monotonic() < deadline:
            client.read_once()
        unbind = client.unbind()
    finally:
        client.disconnect()
    return {
        "parts": parts,
        "esm_class": esm_class,
        "message_ids": message_ids,
        "receipts": receipts,
        "unbind_status": unbind.status,
    }


async def test_smpplib_esme_long_message_and_receipts() -> None:
    async with Simulator(config()) as smsc:
        result = await asyncio.to_thread(smpplib_session, smsc.port, LONG_TEXT)
        stats = smsc.stats()
    parts = result["parts"]
    assert len(parts) == 2 and result["esm_class"] == smpplib.consts.SMPP_GSMFEAT_UDHI
    ids = result["message_ids"]
    assert len(ids) == 2 and len(set(ids)) == 2
    receipts = result["receipts"]
    assert len(receipts) == 4
    assert all(r["esm_class"] == 0x04 for r in receipts)
    for message_id, part in zip(ids, parts, strict=True):
        mine = [r for r in receipts if r["receipted_message_id"] == message_id]
        assert [r["message_state"] for r in mine] == [MessageState.ENROUTE, MessageState.DELIVERED]
        final = RECEIPT.match(mine[-1]["text"])
        assert final is not None and final["id"] == message_id and final["stat"] == "DELIVRD"
        assert final["text"] == part[6:26].decode("ascii")  # UDH removed, first 20 characters
    assert result["unbind_status"] == 0
    assert (stats["submitted"], stats["receipts_acked"]) == (2, 4)


def smpplib_bind(port: int, password: str) -> int:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    try:
        client.bind_transmitter(system_id="acme", password=password)
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
    return 0


async def test_smpplib_sees_our_bind_refusal() -> None:
    async with Simulator(config()) as smsc:
        status = await asyncio.to_thread(smpplib_bind, smsc.port, "wrong")
        assert status == smpplib.consts.SMPP_ESME_RBINDFAIL
        assert await asyncio.to_thread(smpplib_bind, smsc.port, "secret") == 0
