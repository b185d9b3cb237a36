"""The SMSC simulator against our own SMPP client, over loopback: binds, receipts, throttling,
retries, MO injection through the HTTP control endpoint, the test range."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from martinet.smpp import (
    TLV,
    CancelSm,
    CancelSmResp,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EsmClassFeature,
    MessageState,
    QuerySm,
    QuerySmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSmResp,
    Tag,
)
from martinet.smpp.aio import BindFailed
from martinet.smpp.receipt import parse_receipt_text
from martinet.smpp.session import SessionConfig, SessionState
from martinet.smsc import FinalStatus, Simulator, SimulatorConfig

from .support import RECEIPT, Inbox, bind, config, submit

Start = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start simulators with `await start(**config_changes)`; all are stopped after the test."""
    running: list[Simulator] = []

    async def start(**changes: Any) -> Simulator:
        simulator = Simulator(config(**changes))
        await simulator.start()
        running.append(simulator)
        return simulator

    yield start
    for simulator in running:
        await simulator.stop()


def receipt_fields(pdu: DeliverSm) -> dict[str, str]:
    match = RECEIPT.match(pdu.short_message.decode("ascii"))
    assert match, pdu.short_message
    return match.groupdict()


# --------------------------------------------------------------------------- binds


async def test_bind_with_good_and_bad_credentials(start: Start) -> None:
    smsc = await start()
    client = await bind(smsc.port)
    assert client.state is SessionState.BOUND_TRX and client.system_id == "MartinetSMSC"
    with pytest.raises(BindFailed) as wrong_password:
        await bind(smsc.port, password="nope")
    with pytest.raises(BindFailed) as unknown:
        await bind(smsc.port, system_id="ghost")
    # One answer for both mistakes: it does not confirm which accounts exist.
    assert wrong_password.value.status == unknown.value.status == CommandStatus.ESME_RBINDFAIL
    stats = smsc.stats()
    assert (stats["binds"], stats["bind_refusals"], stats["active_binds"]) == (1, 2, 1)
    await client.close()
    await asyncio.sleep(0.05)
    assert smsc.stats()["active_binds"] == 0


async def test_stop_unbinds_connected_esmes(start: Start) -> None:
    smsc = await start()
    client = await bind(smsc.port)
    await smsc.stop()
    await asyncio.wait_for(client.wait_closed(), 3)
    assert client.state is SessionState.CLOSED


# --------------------------------------------------------------------------- submit and receipts


async def test_submit_then_intermediate_and_final_receipt(start: Start) -> None:
    smsc = await start(outcomes={FinalStatus.DELIVRD: 1.0})
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    response = await client.request(submit(text=b"Your code is 123456, valid 10 minutes"))
    assert isinstance(response, SubmitSmResp) and response.command_status == CommandStatus.ESME_ROK
    message_id = response.message_id
    assert message_id and all(c in "0123456789abcdef" for c in message_id)
    intermediate, final = await inbox.wait_for(2)
    for receipt in (intermediate, final):
        assert receipt.esm_class == 0x04
        assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == message_id
        assert (receipt.source_addr, receipt.destination_addr) == ("33612345678", "Martinet")
        assert (receipt.source_addr_ton, receipt.dest_addr_ton) == (1, 5)
    assert intermediate.get_tlv(Tag.MESSAGE_STATE) == MessageState.ENROUTE
    assert final.get_tlv(Tag.MESSAGE_STATE) == MessageState.DELIVERED
    first, last = receipt_fields(intermediate), receipt_fields(final)
    assert (first["id"], first["stat"], first["dlvrd"]) == (message_id, "ENROUTE", "000")
    assert (last["id"], last["sub"], last["dlvrd"], last["stat"], last["err"]) == (
        message_id,
        "001",
        "001",
        "DELIVRD",
        "000",
    )
    assert last["text"] == "Your code is 123456,"  # the first 20 characters
    assert time.strftime("%y%m%d", time.gmtime()) in (last["submit"][:6], last["done"][:6])
    parsed = parse_receipt_text(final.short_message.decode())
    assert parsed is not None and parsed.state is MessageState.DELIVERED and parsed.message_id == message_id
    await asyncio.sleep(0.05)
    stats = smsc.stats()
    assert (stats["submitted"], stats["receipts_sent"], stats["receipts_acked"]) == (1, 2, 2)
    await client.close()


@pytest.mark.parametrize(
    ("suffix", "stat", "state", "err"),
    [
        ("0001", "DELIVRD", MessageState.DELIVERED, "000"),
        ("0002", "UNDELIV", MessageState.UNDELIVERABLE, "001"),
        ("0003", "EXPIRED", MessageState.EXPIRED, "027"),
        ("0004", "REJECTD", MessageState.REJECTED, "013"),
    ],
)
async def test_test_range_outcomes(start: Start, suffix: str, stat: str, state: MessageState, err: str) -> None:
    smsc = await start(test_prefix="3375999")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    response = await client.request(submit(dest="3375999" + suffix))
    assert isinstance(response, SubmitSmResp) and response.message_id
    _, final = await inbox.wait_for(2)
    fields = receipt_fields(final)
    assert (fields["stat"], fields["err"]) == (stat, err)
    assert final.get_tlv(Tag.MESSAGE_STATE) == state
    network_error = final.get_tlv(Tag.NETWORK_ERROR_CODE)
    assert network_error == (None if err == "000" else bytes((3,)) + int(err).to_bytes(2, "big"))
    await client.close()


async def test_test_range_without_final_receipt_and_refused_submission(start: Start) -> None:
    smsc = await start(test_prefix="99900")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    kept = await client.request(submit(dest="999000005"))
    assert kept.command_status == CommandStatus.ESME_ROK
    (intermediate,) = await inbox.wait_for(1)
    assert receipt_fields(intermediate)["stat"] == "ENROUTE"
    await asyncio.sleep(0.2)  # four receipt delays: no final receipt comes
    assert len(inbox.items) == 1
    refused = await client.request(submit(dest="999000006"))
    assert refused.command_status == CommandStatus.ESME_RSUBMITFAIL
    assert smsc.stats()["refused"] == 1
    # Outside the range (wrong length, or an unlisted suffix) the random mix applies.
    assert (await client.request(submit(dest="9990000060"))).command_status == CommandStatus.ESME_ROK
    await client.close()


async def test_registered_delivery_decides_which_receipts(start: Start) -> None:
    smsc = await start(test_prefix="555")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    none = await client.request(submit(dest="5550001", registered_delivery=0))
    failure_only_ok = await client.request(submit(dest="5550001", registered_delivery=2))
    failure_only_ko = await client.request(submit(dest="5550002", registered_delivery=2))
    (receipt,) = await inbox.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(inbox.items) == 1
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == failure_only_ko.message_id  # type: ignore[attr-defined]
    assert receipt_fields(receipt)["stat"] == "UNDELIV"
    assert none.command_status == failure_only_ok.command_status == 0
    await client.close()


async def test_intermediate_receipt_can_be_accepted_or_off(start: Start) -> None:
    accepted = await start(intermediate_receipt=MessageState.ACCEPTED, test_prefix="777")
    inbox = Inbox()
    client = await bind(accepted.port, inbox)
    await client.request(submit(dest="7770001"))
    first, _ = await inbox.wait_for(2)
    assert receipt_fields(first)["stat"] == "ACCEPTD" and first.get_tlv(Tag.MESSAGE_STATE) == MessageState.ACCEPTED
    await client.close()
    silent = await start(intermediate_receipt=None, test_prefix="777")
    inbox = Inbox()
    client = await bind(silent.port, inbox)
    await client.request(submit(dest="7770001"))
    (only,) = await inbox.wait_for(1)
    await asyncio.sleep(0.1)
    assert receipt_fields(only)["stat"] == "DELIVRD" and len(inbox.items) == 1
    await client.close()


async def test_message_id_formats(start: Start) -> None:
    for style, alphabet in (("decimal", "0123456789"), ("HEX", "0123456789ABCDEF")):
        smsc = await start(message_id_format=style)
        client = await bind(smsc.port)
        response = await client.request(submit(registered_delivery=0))
        assert isinstance(response, SubmitSmResp) and response.message_id
        assert set(response.message_id) <= set(alphabet)
        await client.close()


async def test_receipts_go_to_a_receiver_of_the_same_account_once_bound(start: Start) -> None:
    smsc = await start()
    transmitter = await bind(smsc.port, bind="transmitter")
    others = Inbox()
    other_receiver = await bind(smsc.port, others, system_id="other", password="pw2", bind="receiver")
    response = await transmitter.request(submit())
    await asyncio.sleep(0.15)
    assert smsc.stats()["waiting_deliveries"] == 2  # nobody of "acme" can receive yet
    inbox = Inbox()
    receiver = await bind(smsc.port, inbox, bind="receiver")
    receipts = await inbox.wait_for(2)
    assert {r.get_tlv(Tag.RECEIPTED_MESSAGE_ID) for r in receipts} == {response.message_id}  # type: ignore[attr-defined]
    assert others.items == []
    assert smsc.stats()["waiting_deliveries"] == 0
    await asyncio.gather(transmitter.close(), other_receiver.close(), receiver.close())


async def test_a_refused_receipt_is_sent_again_later(start: Start) -> None:
    smsc = await start(intermediate_receipt=None)
    attempts = 0

    def flaky(pdu: DeliverSm) -> DeliverSmResp:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database is locked")  # the adapter answers ESME_RX_T_APPN
        return DeliverSmResp()

    inbox = Inbox(respond=flaky)
    client = await bind(smsc.port, inbox)
    response = await client.request(submit())
    (receipt,) = await inbox.wait_for(1, timeout=3)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id  # type: ignore[attr-defined]
    assert attempts == 2
    await asyncio.sleep(0.05)
    stats = smsc.stats()
    assert (stats["receipts_sent"], stats["receipts_retried"], stats["receipts_acked"]) == (2, 1, 1)
    await client.close()


async def test_an_unanswered_receipt_is_sent_again_after_a_new_bind(start: Start) -> None:
    smsc = await start(intermediate_receipt=None)
    transmitter = await bind(smsc.port, bind="transmitter")
    hang: asyncio.Future[DeliverSmResp] = asyncio.get_running_loop().create_future()
    stuck = await bind(smsc.port, lambda pdu: hang, bind="receiver")
    response = await transmitter.request(submit())
    await asyncio.sleep(0.15)  # the receipt reached `stuck`, which never answers
    stuck.abort()
    inbox = Inbox()
    receiver = await bind(smsc.port, inbox, bind="receiver")
    (receipt,) = await inbox.wait_for(1, timeout=3)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id  # type: ignore[attr-defined]
    await asyncio.gather(transmitter.close(), receiver.close())
    hang.cancel()


# --------------------------------------------------------------------------- throughput and latency


async def test_throttling_beyond_max_per_second(start: Start) -> None:
    smsc = await start(max_per_second=20, burst=10)
    client = await bind(smsc.port)
    began = time.monotonic()
    responses = await asyncio.gather(*(client.request(submit(registered_delivery=0)) for _ in range(40)))
    elapsed = time.monotonic() - began
    statuses = [r.command_status for r in responses]
    accepted = statuses.count(CommandStatus.ESME_ROK)
    throttled = statuses.count(CommandStatus.ESME_RTHROTTLED)
    assert accepted + throttled == 40
    assert 10 <= accepted <= 10 + 20 * elapsed + 1  # the burst, plus what refilled meanwhile
    assert smsc.stats()["throttled"] == throttled
    await asyncio.sleep(0.25)  # ~5 tokens come back
    later = [await client.request(submit(registered_delivery=0)) for _ in range(3)]
    assert all(r.command_status == CommandStatus.ESME_ROK for r in later)
    await client.close()


async def test_each_submission_is_recorded_with_its_arrival_times(start: Start) -> None:
    """What a benchmark reads to measure accept→carrier latency: arrival (wall and monotonic), destination."""
    smsc = await start()
    client = await bind(smsc.port)
    wall_before, mono_before = time.time() * 1000, time.monotonic() * 1000
    first = await client.request(submit("33611111111", registered_delivery=0))
    second = await client.request(submit("33622222222", registered_delivery=0, validity_period="260314093005000+"))
    wall_after, mono_after = time.time() * 1000, time.monotonic() * 1000
    records = list(smsc.messages.values())
    assert [r.message_id for r in records] == [first.message_id, second.message_id]  # type: ignore[attr-defined]
    assert [r.destination.addr for r in records] == ["33611111111", "33622222222"]
    assert [r.validity_period for r in records] == ["", "260314093005000+"]
    for record in records:
        assert wall_before - 1 <= record.received_at <= wall_after + 1
        assert mono_before <= record.received_monotonic_ms <= mono_after
    assert records[0].received_monotonic_ms <= records[1].received_monotonic_ms
    with pytest.raises(TypeError):
        smsc.messages["x"] = records[0]  # type: ignore[index]
    await client.close()


async def test_each_account_has_its_own_throughput(start: Start) -> None:
    smsc = await start(max_per_second=1, burst=2)
    acme = await bind(smsc.port)
    other = await bind(smsc.port, system_id="other", password="pw2")
    acme_statuses = [(await acme.request(submit(registered_delivery=0))).command_status for _ in range(3)]
    other_statuses = [(await other.request(submit(registered_delivery=0))).command_status for _ in range(2)]
    assert acme_statuses == [0, 0, CommandStatus.ESME_RTHROTTLED]
    assert other_statuses == [0, 0]
    await asyncio.gather(acme.close(), other.close())


async def test_latency_delays_the_response_not_the_order(start: Start) -> None:
    smsc = await start(latency=0.2, intermediate_receipt=None)
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    began = time.monotonic()
    response = await client.request(submit())
    assert time.monotonic() - began >= 0.19
    assert response.command_status == 0
    (receipt,) = await inbox.wait_for(1)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == response.message_id  # type: ignore[attr-defined]
    await client.close()


# --------------------------------------------------------------------------- other submissions


async def test_long_messages_udh_sar_and_payload_are_each_accepted_and_receipted(start: Start) -> None:
    smsc = await start(intermediate_receipt=None)
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    udh = submit(text=bytes((5, 0, 3, 42, 2, 1)) + b"A" * 153, esm_class=EsmClassFeature.UDHI)
    sar = submit(
        text=b"B" * 153,
        tlvs=(TLV(Tag.SAR_MSG_REF_NUM, 7), TLV(Tag.SAR_TOTAL_SEGMENTS, 2), TLV(Tag.SAR_SEGMENT_SEQNUM, 1)),
    )
    payload = submit(text=b"", tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"C" * 400),))
    responses = [await client.request(pdu) for pdu in (udh, sar, payload)]
    assert all(r.command_status == 0 for r in responses)
    receipts = await inbox.wait_for(3)
    excerpts = {receipt_fields(r)["id"]: receipt_fields(r)["text"] for r in receipts}
    ids = [r.message_id for r in responses]  # type: ignore[attr-defined]
    assert [excerpts[i] for i in ids] == ["A" * 20, "B" * 20, "C" * 20]
    await client.close()


@pytest.mark.parametrize(
    ("habit", "same_ids", "reported"),
    [("each_part", False, [1, 2, 3]), ("first_part", False, [1]), ("last_part", False, [3]), ("one_id", True, [3])],
)
async def test_long_message_receipts_follow_the_carriers_habit(
    start: Start, habit: str, same_ids: bool, reported: list[int]
) -> None:
    """Three parts by UDH, then three by SAR, interleaved with a plain message: the plain one always has its own
    ID and receipt; the parts get the IDs and receipts of the habit (for one_id, once the last part came)."""
    smsc = await start(intermediate_receipt=None, long_message_receipts=habit)
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    for concat in ("udh", "sar"):
        ids = []
        for seq in (1, 2, 3):
            if concat == "udh":
                pdu = submit(text=bytes((5, 0, 3, 42, 3, seq)) + b"A" * 153, esm_class=EsmClassFeature.UDHI)
            else:
                sar = (TLV(Tag.SAR_MSG_REF_NUM, 7), TLV(Tag.SAR_TOTAL_SEGMENTS, 3), TLV(Tag.SAR_SEGMENT_SEQNUM, seq))
                pdu = submit(text=b"B" * 153, tlvs=sar)
            ids.append((await client.request(pdu)).message_id)  # type: ignore[attr-defined]
            if seq == 2:
                plain = (await client.request(submit(text=b"plain"))).message_id  # type: ignore[attr-defined]
        assert (len(set(ids)) == 1) is same_ids and plain not in ids
        await inbox.wait_for(len(reported) + 1)
        await asyncio.sleep(0.1)  # no receipt beyond those
        named = sorted(receipt_fields(r)["id"] for r in inbox.items)
        assert named == sorted([plain, *(ids[seq - 1] for seq in reported)]), (concat, named)
        inbox.items.clear()
    await client.close()


async def test_data_sm_is_accepted_and_receipted(start: Start) -> None:
    smsc = await start(intermediate_receipt=None)
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    request = DataSm(
        source_addr="Martinet",
        destination_addr="33612345678",
        registered_delivery=1,
        tlvs=(TLV(Tag.MESSAGE_PAYLOAD, "Données € ok".encode("utf-16-be")),),
        data_coding=8,
    )
    response = await client.request(request)
    assert isinstance(response, DataSmResp) and response.message_id
    (receipt,) = await inbox.wait_for(1)
    assert receipt_fields(receipt)["text"] == "Donn?es ? ok"  # printable ASCII only
    await client.close()


async def test_submit_multi_receipts_each_destination(start: Start) -> None:
    smsc = await start(intermediate_receipt=None, test_prefix="444")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    request = SubmitMulti(
        source_addr="Martinet",
        dest_address=tuple(SmeAddress(1, 1, d) for d in ("4440001", "4440002", "4440006")),
        registered_delivery=1,
        short_message=b"to three",
    )
    response = await client.request(request)
    assert isinstance(response, SubmitMultiResp) and response.message_id
    (refused,) = response.unsuccess_sme
    assert (refused.destination_addr, refused.error_status_code) == ("4440006", CommandStatus.ESME_RSUBMITFAIL)
    receipts = await inbox.wait_for(2)
    assert {(r.source_addr, receipt_fields(r)["stat"]) for r in receipts} == {
        ("4440001", "DELIVRD"),
        ("4440002", "UNDELIV"),
    }
    await client.close()


async def test_query_and_cancel(start: Start) -> None:
    smsc = await start(receipt_delay=0.3, intermediate_receipt=None, test_prefix="888")
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    first = await client.request(submit(dest="8880002"))
    second = await client.request(submit(dest="8880001"))
    query = await client.request(QuerySm(message_id=first.message_id or "", source_addr="Martinet"))  # type: ignore[attr-defined]
    assert isinstance(query, QuerySmResp) and query.message_state == MessageState.ENROUTE and query.final_date == ""
    cancel = await client.request(CancelSm(message_id=second.message_id or "", source_addr="Martinet"))  # type: ignore[attr-defined]
    assert isinstance(cancel, CancelSmResp) and cancel.command_status == 0
    (receipt,) = await inbox.wait_for(1)
    assert receipt.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == first.message_id  # type: ignore[attr-defined]
    final = await client.request(QuerySm(message_id=first.message_id or "", source_addr="Martinet"))  # type: ignore[attr-defined]
    assert isinstance(final, QuerySmResp)
    assert (final.message_state, final.error_code, len(final.final_date)) == (MessageState.UNDELIVERABLE, 1, 16)
    cancelled = await client.request(QuerySm(message_id=second.message_id or "", source_addr="Martinet"))  # type: ignore[attr-defined]
    assert isinstance(cancelled, QuerySmResp) and cancelled.message_state == MessageState.DELETED
    again = await client.request(CancelSm(message_id=first.message_id or ""))  # type: ignore[attr-defined]
    assert again.command_status == CommandStatus.ESME_RCANCELFAIL
    unknown = await client.request(QuerySm(message_id="nope"))
    assert unknown.command_status == CommandStatus.ESME_RQUERYFAIL
    await asyncio.sleep(0.1)
    assert len(inbox.items) == 1  # the cancelled message never got its receipt
    await client.close()


# --------------------------------------------------------------------------- MO and control endpoint


async def test_mo_injection_through_the_control_endpoint(start: Start) -> None:
    smsc = await start(control_port=0)
    inbox = Inbox()
    client = await bind(smsc.port, inbox)
    text = "Bonjour ! " * 20  # 200 GSM characters: two parts
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{smsc.control_port}") as http:
        answer = await http.post("/inject", json={"from": "33612345678", "to": "36180", "text": text})
        assert answer.status_code == 200 and answer.json() == {"parts": 2, "system_id": "acme"}
        first, second = await inbox.wait_for(2)
        for number, part in enumerate((first, second), start=1):
            assert part.esm_class == EsmClassFeature.UDHI and part.data_coding == 0
            assert (part.source_addr, part.destination_addr) == ("33612345678", "36180")
            assert part.short_message[:3] == b"\x05\x00\x03" and part.short_message[4:6] == bytes((2, number))
        assert first.short_message[3] == second.short_message[3]  # one reference
        assert (first.short_message[6:] + second.short_message[6:]).decode("gsm23.038") == text
        emoji = await http.post(
            "/inject", json={"from": "33611111111", "to": "36180", "text": "Merci 👍", "system_id": "acme"}
        )
        assert emoji.json()["parts"] == 1
        (_, _, unicode_part) = await inbox.wait_for(3)
        assert unicode_part.data_coding == 8 and unicode_part.esm_class == 0
        assert unicode_part.short_message.decode("utf-16-be") == "Merci 👍"
        stats = (await http.get("/stats")).json()
        assert (stats["mo_injected"], stats["mo_sent"]) == (2, 3)
        assert (await http.get("/health")).json() == {"status": "ok"}
    await client.close()


async def test_control_endpoint_errors(start: Start) -> None:
    smsc = await start(control_port=0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{smsc.control_port}") as http:
        bad_json = await http.post("/inject", content=b"{nope", headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]
        missing = await http.post("/inject", json={"from": "1", "text": "x"})
        assert missing.status_code == 400 and '"to"' in missing.json()["error"]
        ghost = await http.post("/inject", json={"from": "1", "to": "2", "text": "x", "system_id": "ghost"})
        assert ghost.status_code == 400 and "ghost" in ghost.json()["error"]
        too_long = await http.post("/inject", json={"from": "1" * 30, "to": "2", "text": "x"})
        assert too_long.status_code == 400
        assert (await http.get("/nowhere")).status_code == 404
        wrong_method = await http.get("/inject")
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


async def test_mo_waits_for_a_receiver(start: Start) -> None:
    smsc = await start()
    assert smsc.inject_mo("33612345678", "36180", "STOP") == 1
    assert smsc.stats()["waiting_deliveries"] == 1
    inbox = Inbox()
    client = await bind(smsc.port, inbox, system_id="acme")
    (mo,) = await inbox.wait_for(1)
    assert mo.short_message == b"STOP" and mo.esm_class == 0
    await asyncio.sleep(0.05)
    assert smsc.stats()["mo_acked"] == 1
    await client.close()


# --------------------------------------------------------------------------- keep-alive


async def test_enquire_link_keeps_an_idle_bind_alive(start: Start) -> None:
    quick = SessionConfig(enquire_link_interval=0.1, dead_peer_timeout=0.5, response_timeout=1.0, bind_timeout=2)
    smsc = await start(session=quick)
    client = await bind(smsc.port, session=quick)
    await asyncio.sleep(1.2)  # more than twice the dead-peer timeout, silent but for enquire_link
    assert client.state is SessionState.BOUND_TRX and smsc.stats()["active_binds"] == 1
    assert (await client.request(submit(registered_delivery=0))).command_status == 0
    await client.close()


def test_config_is_validated() -> None:
    from martinet.smsc import SimulatorConfigError

    with pytest.raises(SimulatorConfigError):
        SimulatorConfig(max_per_second=0)
    with pytest.raises(SimulatorConfigError, match="must not exceed receipt_delay"):
        SimulatorConfig(intermediate_delay=2, receipt_delay=1)
    with pytest.raises(SimulatorConfigError, match="message_id_format"):
        SimulatorConfig(message_id_format="octal")
