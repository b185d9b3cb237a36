"""The SMPP session state machine without sockets or clocks: bytes and numbers in, events out.

Two sessions (an ESME and an SMSC) are wired back to back by `Link`, which moves each side's
`data_to_send()` into the other's `receive_data()`; time is whatever number a test passes.
Rogue peers are simulated by feeding hand-encoded bytes straight into one session.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martinet.smpp import (
    PDU,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    PDUError,
    PDUReader,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode,
    encode,
)
from martinet.smpp.session import (
    MAX_SEQUENCE_NUMBER,
    BindRequested,
    Closed,
    ConnectionClosed,
    Event,
    PeerDead,
    ProtocolError,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Role,
    Session,
    SessionConfig,
    SessionState,
    SessionStateError,
    Unbound,
    response_to,
)

pytestmark = pytest.mark.unit

CONFIG = SessionConfig(
    window=64,
    response_timeout=10.0,
    enquire_link_interval=30.0,
    dead_peer_timeout=90.0,
    bind_timeout=20.0,
    unbind_timeout=5.0,
)


def pdus(data: bytes) -> list[PDU]:
    """Split what a session sent into PDUs (asserting it is well-formed)."""
    out = PDUReader().feed(data)
    assert all(not isinstance(p, PDUError) for p in out), out
    return [p for p in out if not isinstance(p, PDUError)]


def submit(dest: str = "33612345678") -> SubmitSm:
    return SubmitSm(source_addr="Martinet", destination_addr=dest, short_message=b"hello")


class Link:
    """An ESME session and an SMSC session connected by a perfect wire."""

    def __init__(self, config: SessionConfig = CONFIG, **esme_kwargs: int) -> None:
        self.esme = Session(Role.ESME, config, **esme_kwargs)
        self.smsc = Session(Role.SMSC, config)
        self.now = 0.0

    def to_smsc(self) -> list[Event]:
        return self.smsc.receive_data(self.esme.data_to_send(), self.now)

    def to_esme(self) -> list[Event]:
        return self.esme.receive_data(self.smsc.data_to_send(), self.now)

    def bind(self, pdu: PDU | None = None) -> None:
        request = pdu or BindTransceiver(system_id="acme", password="secret")
        self.esme.send_request(request, self.now)
        (event,) = self.to_smsc()
        assert isinstance(event, BindRequested)
        answer = {BindTransmitter: BindTransmitterResp, BindReceiver: BindReceiverResp}.get(
            type(request), BindTransceiverResp
        )
        self.smsc.respond(event.request, answer(system_id="SMSC"))
        (reply,) = self.to_esme()
        assert isinstance(reply, ResponseReceived)


# --------------------------------------------------------------------------- bind


def test_bind_transceiver_binds_both_ends() -> None:
    link = Link()
    assert link.esme.state is SessionState.OPEN and link.smsc.state is SessionState.OPEN
    seq = link.esme.send_request(BindTransceiver(system_id="acme", password="secret"), 0.0)
    assert seq == 1
    (event,) = link.to_smsc()
    assert isinstance(event, BindRequested)
    assert (event.request.system_id, event.request.password) == ("acme", "secret")
    link.smsc.respond(event.request, BindTransceiverResp(system_id="SMSC"))
    assert link.smsc.state is SessionState.BOUND_TRX and link.smsc.system_id == "acme"
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived)
    assert isinstance(reply.response, BindTransceiverResp) and reply.response.sequence_number == 1
    assert link.esme.state is SessionState.BOUND_TRX and link.esme.system_id == "SMSC"


@pytest.mark.parametrize(
    ("bind", "state"),
    [(BindTransmitter, SessionState.BOUND_TX), (BindReceiver, SessionState.BOUND_RX)],
)
def test_bind_modes(bind: type[BindTransmitter] | type[BindReceiver], state: SessionState) -> None:
    link = Link()
    link.bind(bind(system_id="acme", password="pw"))
    assert link.esme.state is state and link.smsc.state is state
    assert link.smsc.can_receive is (state is SessionState.BOUND_RX)


def test_refused_bind_leaves_the_session_open_for_another_try() -> None:
    link = Link()
    link.esme.send_request(BindTransceiver(system_id="acme", password="wrong"), 0.0)
    (event,) = link.to_smsc()
    assert isinstance(event, BindRequested)
    link.smsc.respond(event.request, BindTransceiverResp(command_status=CommandStatus.ESME_RINVPASWD))
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived)
    assert reply.response.command_status == CommandStatus.ESME_RINVPASWD
    assert link.esme.state is SessionState.OPEN and link.smsc.state is SessionState.OPEN
    link.bind()
    assert link.esme.state is SessionState.BOUND_TRX


def test_a_second_bind_is_answered_already_bound() -> None:
    link = Link()
    link.bind()
    rogue = encode(BindTransmitter(sequence_number=7, system_id="acme", password="secret"))
    events = link.smsc.receive_data(rogue, 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    (answer,) = pdus(link.smsc.data_to_send())
    assert isinstance(answer, BindTransmitterResp)
    assert (answer.sequence_number, answer.command_status) == (7, CommandStatus.ESME_RALYBND)


def test_a_bind_while_another_is_pending_is_refused() -> None:
    smsc = Session(Role.SMSC, CONFIG)
    first = smsc.receive_data(encode(BindTransceiver(sequence_number=1, system_id="a")), 0.0)
    assert isinstance(first[0], BindRequested)
    second = smsc.receive_data(encode(BindTransceiver(sequence_number=2, system_id="a")), 0.0)
    assert isinstance(second[0], ProtocolError)
    (answer,) = pdus(smsc.data_to_send())
    assert answer.sequence_number == 2 and answer.command_status == CommandStatus.ESME_RINVBNDSTS


def test_esme_cannot_start_two_binds() -> None:
    esme = Session(Role.ESME, CONFIG)
    esme.send_request(BindTransceiver(system_id="a"), 0.0)
    with pytest.raises(SessionStateError, match="already in progress"):
        esme.send_request(BindTransceiver(system_id="a"), 0.0)


def test_generic_nack_to_a_bind_does_not_bind() -> None:
    esme = Session(Role.ESME, CONFIG)
    esme.send_request(BindTransceiver(system_id="a"), 0.0)
    nack = GenericNack(sequence_number=1, command_status=CommandStatus.ESME_RINVCMDID)
    (event,) = esme.receive_data(encode(nack), 0.0)
    assert isinstance(event, ResponseReceived) and isinstance(event.response, GenericNack)
    assert esme.state is SessionState.OPEN


def test_unbound_smsc_closes_after_bind_timeout() -> None:
    smsc = Session(Role.SMSC, CONFIG, now=100.0)
    assert smsc.next_deadline() == 120.0
    assert smsc.tick(119.9) == []
    (event,) = smsc.tick(120.0)
    assert isinstance(event, ConnectionClosed) and "not bound" in event.reason
    assert smsc.state is SessionState.CLOSED and smsc.next_deadline() is None


# --------------------------------------------------------------------------- state rules


def test_submit_before_bind_is_answered_invalid_bind_status() -> None:
    smsc = Session(Role.SMSC, CONFIG)
    events = smsc.receive_data(encode(SubmitSm(sequence_number=5, destination_addr="1")), 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    assert "submit_sm is not allowed" in events[0].description  # type: ignore[attr-defined]
    (answer,) = pdus(smsc.data_to_send())
    assert isinstance(answer, SubmitSmResp)
    assert (answer.sequence_number, answer.command_status) == (5, CommandStatus.ESME_RINVBNDSTS)


def test_deliver_sm_to_a_transmitter_bind_is_refused() -> None:
    link = Link()
    link.bind(BindTransmitter(system_id="acme", password="pw"))
    with pytest.raises(SessionStateError, match="deliver_sm is not allowed from an SMSC in state bound_tx"):
        link.smsc.send_request(DeliverSm(), 0.0)
    events = link.esme.receive_data(encode(DeliverSm(sequence_number=9)), 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    (answer,) = pdus(link.esme.data_to_send())
    assert isinstance(answer, DeliverSmResp) and answer.command_status == CommandStatus.ESME_RINVBNDSTS


def test_receiver_bind_cannot_submit() -> None:
    link = Link()
    link.bind(BindReceiver(system_id="acme", password="pw"))
    with pytest.raises(SessionStateError):
        link.esme.send_request(submit(), 0.0)
    link.smsc.receive_data(encode(SubmitSm(sequence_number=3)), 0.0)
    (answer,) = pdus(link.smsc.data_to_send())
    assert answer.command_status == CommandStatus.ESME_RINVBNDSTS


def test_smsc_cannot_submit_and_esme_cannot_deliver() -> None:
    link = Link()
    link.bind()
    with pytest.raises(SessionStateError):
        link.smsc.send_request(submit(), 0.0)
    with pytest.raises(SessionStateError):
        link.esme.send_request(DeliverSm(), 0.0)
    with pytest.raises(SessionStateError, match="use respond"):
        link.esme.send_request(SubmitSmResp(), 0.0)
    with pytest.raises(SessionStateError, match="use unbind"):
        link.esme.send_request(Unbind(), 0.0)


def test_outbind_and_alert_notification_without_a_response_class_get_generic_nack() -> None:
    esme = Session(Role.ESME, CONFIG)
    from martinet.smpp import Outbind

    esme.receive_data(encode(Outbind(sequence_number=4, system_id="x")), 0.0)
    (answer,) = pdus(esme.data_to_send())
    assert isinstance(answer, GenericNack)
    assert (answer.sequence_number, answer.command_status) == (4, CommandStatus.ESME_RINVBNDSTS)


def test_alert_notification_is_delivered_without_a_pending_response() -> None:
    from martinet.smpp import AlertNotification

    link = Link()
    link.bind()
    link.smsc.send_request(AlertNotification(source_addr="1", esme_addr="2"), 0.0)
    assert link.smsc.outstanding == 0  # nothing will answer it
    (event,) = link.to_esme()
    assert isinstance(event, RequestReceived) and isinstance(event.request, AlertNotification)
    assert link.esme.pending_inbound == 0


# --------------------------------------------------------------------------- requests and responses


def test_request_and_response_round_trip() -> None:
    link = Link()
    link.bind()
    request = submit()
    seq = link.esme.send_request(request, 1.0)
    assert request.sequence_number == seq == 2
    (event,) = link.to_smsc()
    assert isinstance(event, RequestReceived) and event.request == request
    assert link.smsc.pending_inbound == 1
    link.smsc.respond(event.request, SubmitSmResp(message_id="abc"))
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived)
    assert reply.request is request
    assert isinstance(reply.response, SubmitSmResp) and reply.response.message_id == "abc"
    assert link.esme.outstanding == 0 and link.smsc.pending_inbound == 0


def test_respond_checks_what_it_answers() -> None:
    link = Link()
    link.bind()
    link.esme.send_request(submit(), 0.0)
    (event,) = link.to_smsc()
    assert isinstance(event, RequestReceived)
    with pytest.raises(SessionStateError, match="cannot answer"):
        link.smsc.respond(event.request, DeliverSmResp())
    with pytest.raises(PDUError):  # the codec refuses it; the request stays pending
        link.smsc.respond(event.request, SubmitSmResp(message_id="x" * 70))
    link.smsc.respond(event.request, response_to(event.request, CommandStatus.ESME_RTHROTTLED))
    with pytest.raises(SessionStateError, match="not awaiting"):
        link.smsc.respond(event.request, SubmitSmResp())
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived)
    assert reply.response.command_status == CommandStatus.ESME_RTHROTTLED


def test_generic_nack_answers_an_outstanding_request() -> None:
    link = Link()
    link.bind()
    link.esme.send_request(submit(), 0.0)
    link.to_smsc()
    (event,) = link.esme.receive_data(encode(GenericNack(sequence_number=2, command_status=3)), 0.0)
    assert isinstance(event, ResponseReceived) and isinstance(event.response, GenericNack)


def test_unexpected_and_mismatched_responses_are_protocol_errors() -> None:
    link = Link()
    link.bind()
    link.esme.send_request(submit(), 0.0)
    (stray,) = link.esme.receive_data(encode(SubmitSmResp(sequence_number=99, message_id="x")), 0.0)
    assert isinstance(stray, ProtocolError) and "no outstanding request" in stray.description
    (wrong,) = link.esme.receive_data(encode(DeliverSmResp(sequence_number=2)), 0.0)
    assert isinstance(wrong, ProtocolError) and "cannot answer" in wrong.description
    assert link.esme.outstanding == 1  # the real answer may still come


def test_response_to_builds_the_matching_response() -> None:
    assert type(response_to(submit())) is SubmitSmResp
    nack = response_to(EnquireLink(sequence_number=3), CommandStatus.ESME_RSYSERR)
    assert type(nack) is EnquireLinkResp and nack.sequence_number == 3
    from martinet.smpp import AlertNotification

    assert type(response_to(AlertNotification())) is GenericNack


# --------------------------------------------------------------------------- window


def test_the_65th_request_waits_for_a_window_slot() -> None:
    link = Link()
    link.bind()
    seqs = [link.esme.send_request(submit(), 1.0) for _ in range(65)]
    assert seqs == list(range(2, 67))
    assert (link.esme.outstanding, link.esme.queued) == (64, 1)
    sent = pdus(link.esme.data_to_send())
    assert [p.sequence_number for p in sent] == seqs[:64]
    events = link.smsc.receive_data(b"".join(encode(p) for p in sent), 1.0)
    assert len(events) == 64
    first = events[0]
    assert isinstance(first, RequestReceived)
    link.smsc.respond(first.request, SubmitSmResp(message_id="1"))
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived) and reply.request.sequence_number == seqs[0]
    (released,) = pdus(link.esme.data_to_send())
    assert released.sequence_number == seqs[64]
    assert (link.esme.outstanding, link.esme.queued) == (64, 0)


def test_a_queued_request_is_sent_exactly_as_it_was_queued() -> None:
    link = Link(SessionConfig(window=1))
    link.bind()
    first, second = submit("1"), submit("2")
    link.esme.send_request(first, 0.0)
    link.esme.send_request(second, 0.0)
    second.destination_addr = "changed after queueing"
    link.to_smsc()
    esme_events = link.esme.receive_data(encode(SubmitSmResp(sequence_number=first.sequence_number)), 0.0)
    assert isinstance(esme_events[0], ResponseReceived)
    (released,) = pdus(link.esme.data_to_send())
    assert isinstance(released, SubmitSm) and released.destination_addr == "2"


def test_invalid_request_raises_at_once_and_is_not_queued() -> None:
    link = Link()
    link.bind()
    with pytest.raises(PDUError):
        link.esme.send_request(SubmitSm(destination_addr="x" * 30), 0.0)
    assert link.esme.outstanding == 0 and link.esme.data_to_send() == b""


# --------------------------------------------------------------------------- timers


def test_response_timeout_frees_the_slot_and_a_late_answer_is_ignored() -> None:
    link = Link(SessionConfig(window=1, response_timeout=10.0))
    link.bind()
    first, second = submit("1"), submit("2")
    link.esme.send_request(first, 1.0)
    link.esme.send_request(second, 1.0)
    link.esme.data_to_send()
    assert link.esme.next_deadline() == 11.0
    assert link.esme.tick(10.0) == []
    (event,) = link.esme.tick(11.0)
    assert isinstance(event, ResponseTimedOut) and event.request is first
    (released,) = pdus(link.esme.data_to_send())
    assert released.sequence_number == second.sequence_number
    assert link.esme.next_deadline() == 21.0  # the second's clock started when it was sent
    (late,) = link.esme.receive_data(encode(SubmitSmResp(sequence_number=first.sequence_number)), 12.0)
    assert isinstance(late, ProtocolError)


def test_enquire_link_after_idle_interval_and_answer_is_automatic() -> None:
    link = Link()
    link.bind()
    link.now = 29.0
    assert link.esme.tick(29.0) == []
    assert link.esme.data_to_send() == b""
    assert link.esme.next_deadline() == 30.0
    assert link.esme.tick(30.0) == []
    (probe,) = pdus(link.esme.data_to_send())
    assert isinstance(probe, EnquireLink)
    link.now = 30.5
    assert link.smsc.receive_data(encode(probe), 30.5) == []  # answered, no event for the application
    (answer,) = pdus(link.smsc.data_to_send())
    assert isinstance(answer, EnquireLinkResp) and answer.sequence_number == probe.sequence_number
    assert link.esme.receive_data(encode(answer), 30.5) == []
    assert link.esme.next_deadline() == 60.5
    assert link.esme.tick(59.0) == [] and link.esme.data_to_send() == b""


def test_enquire_link_probe_does_not_take_a_window_slot() -> None:
    link = Link(SessionConfig(window=1, response_timeout=100.0, enquire_link_interval=30.0, dead_peer_timeout=300.0))
    link.bind()
    link.esme.send_request(submit(), 0.0)
    link.esme.data_to_send()
    link.esme.tick(30.0)
    (probe,) = pdus(link.esme.data_to_send())
    assert isinstance(probe, EnquireLink) and link.esme.outstanding == 1


def test_silent_peer_is_declared_dead() -> None:
    link = Link()
    link.bind()
    request = submit()
    link.esme.send_request(request, 0.0)
    (timed_out,) = link.esme.tick(30.0)  # the submit_sm times out, and the link is probed
    assert isinstance(timed_out, ResponseTimedOut)
    assert link.esme.tick(60.0) == []  # probes again: the first went unanswered
    probes = [p for p in pdus(link.esme.data_to_send()) if isinstance(p, EnquireLink)]
    assert len(probes) == 2
    events = link.esme.tick(90.0)
    assert [type(e) for e in events] == [PeerDead]
    dead = events[0]
    assert isinstance(dead, PeerDead) and dead.silent_for == 90.0
    assert link.esme.state is SessionState.CLOSED


def test_dead_peer_lists_unanswered_requests() -> None:
    link = Link(SessionConfig(response_timeout=1000.0, enquire_link_interval=30.0, dead_peer_timeout=90.0))
    link.bind()
    request = submit()
    link.esme.send_request(request, 0.0)
    (dead,) = link.esme.tick(95.0)
    assert isinstance(dead, PeerDead) and dead.unanswered == (request,)
    assert link.esme.tick(200.0) == [] and link.esme.receive_data(b"x" * 20, 200.0) == []
    with pytest.raises(SessionStateError):
        link.esme.send_request(submit(), 200.0)


def test_any_traffic_from_the_peer_keeps_the_link_alive() -> None:
    link = Link()
    link.bind()
    for now in (25.0, 50.0, 75.0, 100.0):
        link.esme.receive_data(encode(EnquireLink(sequence_number=int(now))), now)
        assert link.esme.tick(now) == []
    assert link.esme.state is SessionState.BOUND_TRX
    assert [type(p) for p in pdus(link.esme.data_to_send())] == [EnquireLinkResp] * 4


# --------------------------------------------------------------------------- unbind


def test_orderly_unbind_waits_for_outstanding_requests() -> None:
    link = Link()
    link.bind()
    request = submit()
    link.esme.send_request(request, 0.0)
    (event,) = link.to_smsc()
    link.esme.unbind(1.0)
    assert link.esme.state is SessionState.UNBINDING
    assert link.esme.data_to_send() == b""  # unbind waits for the submit_sm_resp
    with pytest.raises(SessionStateError):
        link.esme.send_request(submit(), 1.0)
    assert isinstance(event, RequestReceived)
    link.smsc.respond(event.request, SubmitSmResp(message_id="m1"))
    (reply,) = link.to_esme()
    assert isinstance(reply, ResponseReceived)
    (unbind,) = pdus(link.esme.data_to_send())
    assert isinstance(unbind, Unbind)
    (peer_side,) = link.smsc.receive_data(encode(unbind), 2.0)
    assert isinstance(peer_side, Unbound) and peer_side.by_peer
    assert link.smsc.state is SessionState.CLOSED
    (answer,) = pdus(link.smsc.data_to_send())
    assert isinstance(answer, UnbindResp) and answer.sequence_number == unbind.sequence_number
    (done,) = link.esme.receive_data(encode(answer), 2.0)
    assert isinstance(done, Unbound) and not done.by_peer and done.unanswered == ()
    assert link.esme.state is SessionState.CLOSED


def test_deliveries_are_still_answered_while_unbinding() -> None:
    link = Link()
    link.bind()
    link.esme.send_request(submit(), 0.0)
    link.to_smsc()
    link.esme.unbind(0.0)
    (event,) = link.esme.receive_data(encode(DeliverSm(sequence_number=40)), 0.5)
    assert isinstance(event, RequestReceived)
    link.esme.respond(event.request, DeliverSmResp())
    (answer,) = pdus(link.esme.data_to_send())
    assert isinstance(answer, DeliverSmResp) and answer.command_status == 0


def test_unbind_waits_for_the_application_to_answer_what_it_holds() -> None:
    link = Link()
    link.bind()
    (event,) = link.esme.receive_data(encode(DeliverSm(sequence_number=41)), 0.0)
    assert isinstance(event, RequestReceived)
    link.esme.unbind(0.5)
    assert link.esme.data_to_send() == b""  # the deliver_sm is still being made durable
    link.esme.respond(event.request, DeliverSmResp())
    answer, unbind = pdus(link.esme.data_to_send())
    assert isinstance(answer, DeliverSmResp) and isinstance(unbind, Unbind)


def test_unbind_gives_up_after_unbind_timeout() -> None:
    link = Link()
    link.bind()
    link.esme.unbind(10.0)
    assert link.esme.next_deadline() == 15.0
    (event,) = link.esme.tick(15.0)
    assert isinstance(event, ConnectionClosed) and "unbind" in event.reason


def test_peer_unbind_closes_and_reports_unanswered_requests() -> None:
    link = Link()
    link.bind()
    request = submit()
    link.esme.send_request(request, 0.0)
    link.to_smsc()
    (event,) = link.esme.receive_data(encode(Unbind(sequence_number=77)), 1.0)
    assert isinstance(event, Unbound) and event.by_peer and event.unanswered == (request,)
    (answer,) = pdus(link.esme.data_to_send())
    assert isinstance(answer, UnbindResp) and answer.sequence_number == 77
    link.esme.respond(request, SubmitSmResp())  # after close: discarded, no error


def test_unbind_requires_a_bound_session() -> None:
    with pytest.raises(SessionStateError):
        Session(Role.ESME, CONFIG).unbind(0.0)


def test_unbind_in_open_state_is_refused_by_the_peer() -> None:
    smsc = Session(Role.SMSC, CONFIG)
    smsc.receive_data(encode(Unbind(sequence_number=1)), 0.0)
    (answer,) = pdus(smsc.data_to_send())
    assert isinstance(answer, UnbindResp) and answer.command_status == CommandStatus.ESME_RINVBNDSTS
    assert smsc.state is SessionState.OPEN


def test_close_reports_everything_unanswered() -> None:
    link = Link(SessionConfig(window=1))
    link.bind()
    first, second = submit("1"), submit("2")
    link.esme.send_request(first, 0.0)
    link.esme.send_request(second, 0.0)
    (event,) = link.esme.close("transport lost")
    assert isinstance(event, ConnectionClosed) and event.unanswered == (first, second)
    assert link.esme.close() == []


# --------------------------------------------------------------------------- malformed input


def test_unknown_command_id_gets_generic_nack_and_the_stream_goes_on() -> None:
    smsc = Session(Role.SMSC, CONFIG)
    unknown = struct.pack(">IIII", 16, 0x0000_0099, 0, 12)
    enquire = encode(EnquireLink(sequence_number=13))
    events = smsc.receive_data(unknown + enquire, 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    error = events[0]
    assert isinstance(error, ProtocolError) and not error.fatal and error.error is not None
    nack, answer = pdus(smsc.data_to_send())
    assert isinstance(nack, GenericNack)
    assert (nack.sequence_number, nack.command_status) == (12, CommandStatus.ESME_RINVCMDID)
    assert isinstance(answer, EnquireLinkResp) and answer.sequence_number == 13
    assert smsc.state is SessionState.OPEN


def test_malformed_request_body_gets_its_own_response_with_the_error() -> None:
    link = Link()
    link.bind()
    good = encode(SubmitSm(sequence_number=21, destination_addr="1", short_message=b"abc"))
    bad = bytearray(good)
    bad[-4] = 200  # sm_length far beyond the body
    events = link.smsc.receive_data(bytes(bad), 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    (answer,) = pdus(link.smsc.data_to_send())
    assert isinstance(answer, SubmitSmResp) and answer.sequence_number == 21
    assert answer.command_status != CommandStatus.ESME_ROK


def test_broken_framing_is_nacked_then_closes_the_session() -> None:
    smsc = Session(Role.SMSC, CONFIG)
    events = smsc.receive_data(struct.pack(">IIII", 8, 4, 0, 3), 0.0)
    assert [type(e) for e in events] == [ProtocolError, ConnectionClosed]
    assert isinstance(events[0], ProtocolError) and events[0].fatal
    (nack,) = pdus(smsc.data_to_send())
    assert isinstance(nack, GenericNack) and nack.command_status == CommandStatus.ESME_RINVCMDLEN
    assert smsc.state is SessionState.CLOSED


def test_bytes_split_anywhere_give_the_same_events() -> None:
    stream = b"".join(encode(EnquireLink(sequence_number=n)) for n in range(1, 6))
    whole = Session(Role.SMSC, CONFIG)
    whole.receive_data(stream, 0.0)
    split = Session(Role.SMSC, CONFIG)
    for i in range(len(stream)):
        split.receive_data(stream[i : i + 1], 0.0)
    assert whole.data_to_send() == split.data_to_send()


# --------------------------------------------------------------------------- sequence numbers


def test_sequence_numbers_wrap_to_one() -> None:
    link = Link(first_sequence_number=MAX_SEQUENCE_NUMBER - 1)
    link.bind()  # uses 0x7FFFFFFE
    seqs = [link.esme.send_request(submit(), 0.0) for _ in range(3)]
    assert seqs == [MAX_SEQUENCE_NUMBER, 1, 2]
    sent = pdus(link.esme.data_to_send())
    assert [p.sequence_number for p in sent] == seqs


def test_a_sequence_number_still_in_flight_is_skipped_after_a_wrap() -> None:
    link = Link(first_sequence_number=MAX_SEQUENCE_NUMBER)
    link.bind()  # bind used 0x7FFFFFFF
    held = link.esme.send_request(submit(), 0.0)
    assert held == 1
    # Force the next allocation back onto 1 while it is still outstanding.
    link.esme._next_seq = 1
    assert link.esme.send_request(submit(), 0.0) == 2


def test_first_sequence_number_is_validated() -> None:
    with pytest.raises(ValueError):
        Session(Role.ESME, CONFIG, first_sequence_number=0)


def test_peer_reusing_a_pending_sequence_number_is_reported() -> None:
    link = Link()
    link.bind()
    link.smsc.receive_data(encode(SubmitSm(sequence_number=50)), 0.0)
    (event,) = link.smsc.receive_data(encode(QuerySm(sequence_number=50, message_id="x")), 0.0)
    assert isinstance(event, ProtocolError) and "reuses" in event.description


# --------------------------------------------------------------------------- inbound flow control

FLOW = SessionConfig(
    window=8,
    response_timeout=10.0,
    enquire_link_interval=30.0,
    dead_peer_timeout=90.0,
    bind_timeout=20.0,
    unbind_timeout=5.0,
    max_inbound_pending=4,
)


def delivers(first: int, count: int) -> bytes:
    return b"".join(encode(DeliverSm(sequence_number=seq, short_message=b"r")) for seq in range(first, first + count))


def requests(events: list[Event]) -> list[PDU]:
    assert all(isinstance(e, RequestReceived) for e in events), events
    return [e.request for e in events if isinstance(e, RequestReceived)]


def test_parsing_stops_at_the_limit_and_resumes_at_half() -> None:
    link = Link(FLOW)
    link.bind()
    esme = link.esme
    held = requests(esme.receive_data(delivers(1, 10), 1.0))
    assert [r.sequence_number for r in held] == [1, 2, 3, 4]
    assert esme.pending_inbound == 4 and not esme.want_read
    assert esme.buffered == len(delivers(5, 6))  # the rest waits unparsed
    assert esme.receive_data(delivers(11, 1), 1.0) == []  # fed anyway: only buffered
    assert esme.receive_buffered(1.0) == []
    esme.respond(held[0], DeliverSmResp())
    assert esme.pending_inbound == 3 and not esme.want_read  # above the low-water mark (2)
    esme.respond(held[1], DeliverSmResp())
    assert esme.pending_inbound == 2 and esme.want_read
    more = requests(esme.receive_buffered(2.0))
    assert [r.sequence_number for r in more] == [5, 6] and not esme.want_read
    for request in held[2:] + more:
        esme.respond(request, DeliverSmResp())
    assert esme.want_read
    rest = requests(esme.receive_buffered(3.0))
    assert [r.sequence_number for r in rest] == [7, 8, 9, 10] and not esme.want_read
    for request in rest:
        esme.respond(request, DeliverSmResp())
    (last,) = requests(esme.receive_buffered(3.0))
    assert last.sequence_number == 11 and esme.want_read and esme.buffered == 0
    answers = pdus(esme.data_to_send())
    assert [a.sequence_number for a in answers] == list(range(1, 11))


def test_only_requests_awaiting_the_application_count() -> None:
    """Enquire_link is answered by the session, alert_notification has no answer: neither takes a slot."""
    link = Link(FLOW)
    link.bind()
    data = encode(DeliverSm(sequence_number=1)) + b"".join(
        encode(EnquireLink(sequence_number=seq)) for seq in range(100, 110)
    )
    events = link.esme.receive_data(data + delivers(2, 3), 0.0)
    assert [e.request.sequence_number for e in events if isinstance(e, RequestReceived)] == [1, 2, 3, 4]
    assert link.esme.pending_inbound == 4
    assert [type(p) for p in pdus(link.esme.data_to_send())] == [EnquireLinkResp] * 10


def test_a_limit_of_one_takes_requests_one_at_a_time_binds_included() -> None:
    config = SessionConfig(max_inbound_pending=1)
    smsc = Session(Role.SMSC, config)
    data = encode(BindTransceiver(sequence_number=1, system_id="acme")) + encode(EnquireLink(sequence_number=2))
    (bind,) = smsc.receive_data(data, 0.0)
    assert isinstance(bind, BindRequested) and not smsc.want_read
    smsc.respond(bind.request, BindTransceiverResp(system_id="s"))
    assert smsc.want_read and smsc.bound
    assert smsc.receive_buffered(0.0) == []  # the enquire_link, answered
    smsc.receive_data(encode(SubmitSm(sequence_number=3)) + encode(SubmitSm(sequence_number=4)), 0.0)
    assert smsc.pending_inbound == 1 and not smsc.want_read
    assert [type(p) for p in pdus(smsc.data_to_send())] == [BindTransceiverResp, EnquireLinkResp]


def test_the_peer_is_not_judged_while_we_do_not_read() -> None:
    link = Link(FLOW)
    link.bind()
    esme = link.esme
    held = requests(esme.receive_data(delivers(1, 4), 10.0))
    assert not esme.want_read
    assert esme.next_deadline() is None  # no timer runs against the peer
    assert esme.tick(500.0) == []
    assert esme.data_to_send() == b""  # no enquire_link either: its answer could not be read
    for request in held[:2]:
        esme.respond(request, DeliverSmResp())
    assert esme.receive_buffered(1000.0) == []
    # Silence counts again from the resume, as if the 990 s paused had not passed.
    assert esme.next_deadline() == 1030.0
    assert esme.tick(1029.0) == []
    esme.tick(1030.0)
    assert [type(p) for p in pdus(esme.data_to_send())] == [DeliverSmResp, DeliverSmResp, EnquireLink]
    assert esme.tick(1089.0) == []
    (dead,) = esme.tick(1090.0)
    assert isinstance(dead, PeerDead) and dead.silent_for == 90.0


def test_response_timeouts_stand_still_while_reading_is_paused() -> None:
    link = Link(FLOW)
    link.bind()
    esme = link.esme
    before = submit()
    esme.send_request(before, 0.0)  # due at 10
    held = requests(esme.receive_data(delivers(1, 4), 6.0))  # paused at 6: 4 s left
    during = submit()
    esme.send_request(during, 50.0)  # sent while paused: its 10 s start at the resume
    assert esme.tick(60.0) == []
    for request in held[:2]:
        esme.respond(request, DeliverSmResp())
    esme.receive_buffered(100.0)
    assert esme.next_deadline() == 104.0
    assert esme.tick(103.9) == []
    assert [e.request for e in esme.tick(104.0) if isinstance(e, ResponseTimedOut)] == [before]
    assert esme.tick(109.9) == []
    assert [e.request for e in esme.tick(110.0) if isinstance(e, ResponseTimedOut)] == [during]


def test_a_response_that_arrived_before_the_pause_ended_is_not_late() -> None:
    link = Link(FLOW)
    link.bind()
    esme = link.esme
    request = submit()
    esme.send_request(request, 0.0)
    answer = encode(SubmitSmResp(sequence_number=request.sequence_number, message_id="m1"))
    held = requests(esme.receive_data(delivers(1, 4) + answer, 1.0))
    assert esme.tick(30.0) == []  # the answer is buffered, unread: no timeout
    for pending in held:
        esme.respond(pending, DeliverSmResp())
    (event,) = esme.receive_buffered(30.0)
    assert isinstance(event, ResponseReceived) and event.request is request


def test_local_timeouts_still_run_while_paused() -> None:
    smsc = Session(Role.SMSC, SessionConfig(max_inbound_pending=1, bind_timeout=5.0))
    smsc.receive_data(encode(BindTransceiver(sequence_number=1, system_id="slow")), 0.0)
    assert not smsc.want_read and smsc.next_deadline() == 5.0
    (closed,) = smsc.tick(5.0)
    assert isinstance(closed, ConnectionClosed) and "bound" in closed.reason
    assert smsc.want_read  # nothing left to hold back

    link = Link(FLOW)
    link.bind()
    link.esme.receive_data(delivers(1, 4), 0.0)
    link.esme.unbind(1.0)
    assert link.esme.next_deadline() == 6.0
    (closed,) = link.esme.tick(6.0)
    assert isinstance(closed, ConnectionClosed) and "unbind" in closed.reason


@given(
    total=st.integers(1, 60),
    limit=st.integers(1, 8),
    cuts=st.lists(st.integers(0, 4000), max_size=10),
    answers=st.lists(st.integers(0, 9), min_size=1, max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_requests_come_out_once_in_order_and_never_past_the_limit(
    total: int, limit: int, cuts: list[int], answers: list[int]
) -> None:
    """However the bytes are split and however slowly the application answers."""
    session = Session(Role.ESME, SessionConfig(max_inbound_pending=limit))
    session.send_request(BindTransceiver(system_id="a"), 0.0)
    session.receive_data(encode(BindTransceiverResp(sequence_number=1, system_id="s")), 0.0)
    data = delivers(1, total)
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    seen: list[int] = []
    held: list[PDU] = []
    step = 0
    while len(seen) < total:
        if chunks and session.want_read:
            events = session.receive_data(chunks.pop(0), 0.0) or session.receive_buffered(0.0)
        else:
            events = session.receive_buffered(0.0)
        arrived = requests(events)
        seen += [r.sequence_number for r in arrived]
        held += arrived
        assert session.pending_inbound == len(held) <= limit
        assert session.want_read or len(held) > limit // 2
        # Answer some of what is held (at least one when nothing else can make progress).
        count = answers[step % len(answers)] or (0 if chunks and session.want_read else 1)
        for request in held[:count]:
            session.respond(request, DeliverSmResp())
        del held[:count]
        step += 1
        assert step < 10_000
    assert seen == list(range(1, total + 1))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"response_timeout": 0},
        {"enquire_link_interval": 60.0, "dead_peer_timeout": 60.0},
        {"unbind_timeout": -1},
        {"max_inbound_pending": 0},
    ],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SessionConfig(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fuzzing

_valid_frames = st.sampled_from(
    [
        encode(EnquireLink(sequence_number=3)),
        encode(SubmitSm(sequence_number=4, destination_addr="336", short_message=b"hi")),
        encode(DeliverSm(sequence_number=5)),
        encode(SubmitSmResp(sequence_number=2, message_id="x")),
        encode(Unbind(sequence_number=6)),
        encode(BindTransceiver(sequence_number=7, system_id="a")),
        encode(GenericNack(sequence_number=2)),
        struct.pack(">IIII", 16, 0x0000_0077, 0, 8),
    ]
)
_chunks = st.lists(st.one_of(st.binary(max_size=40), _valid_frames), max_size=12)


@given(chunks=_chunks, role=st.sampled_from(list(Role)), bound=st.booleans(), times=st.lists(st.floats(0, 500)))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_arbitrary_bytes_only_ever_give_events(
    chunks: list[bytes], role: Role, bound: bool, times: list[float]
) -> None:
    """Whatever arrives, the session returns events and well-formed bytes; it never raises."""
    session = Session(role, CONFIG)
    if bound:
        if role is Role.ESME:
            session.send_request(BindTransceiver(system_id="a"), 0.0)
            session.receive_data(encode(BindTransceiverResp(sequence_number=1, system_id="s")), 0.0)
            session.send_request(submit(), 0.0)
        else:
            (event,) = session.receive_data(encode(BindTransceiver(sequence_number=1, system_id="a")), 0.0)
            assert isinstance(event, BindRequested)
            session.respond(event.request, BindTransceiverResp(system_id="s"))
        assert session.bound
    now = 0.0
    closed = 0
    for index, chunk in enumerate(chunks):
        now += times[index] if index < len(times) else 0.1
        for event in session.receive_data(chunk, now) + session.tick(now):
            assert isinstance(event, Event)
            closed += isinstance(event, Closed)
            if isinstance(event, RequestReceived | BindRequested):
                session.respond(event.request, response_to(event.request))
    assert closed <= 1
    for item in PDUReader().feed(session.data_to_send()):
        assert not isinstance(item, PDUError)
        assert decode(encode(item)) == item
    assert (session.state is SessionState.CLOSED) == bool(closed)


# --------------------------------------------------------------------------- what carriers get wrong


def _frame(command_id: int, sequence_number: int, body: bytes, status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence_number) + body


def test_an_esme_reads_a_message_id_without_its_nul() -> None:
    """Some SMSCs leave the NUL out of submit_sm_resp's message_id. Dropped, the answer would time out and the
    message be submitted again: the handset would get it twice. The codec itself still refuses it."""
    link = Link()
    link.bind()
    link.esme.send_request(submit(), 0.0)
    link.to_smsc()
    sloppy = _frame(0x80000004, 2, b"5F3A21")
    with pytest.raises(PDUError):
        decode(sloppy)
    (event,) = link.esme.receive_data(sloppy, 0.0)
    assert isinstance(event, ResponseReceived) and event.response == SubmitSmResp(
        sequence_number=2, message_id="5F3A21"
    )
    assert link.esme.outstanding == 0


def test_an_esme_keeps_a_receipt_whose_optional_parameter_breaks_its_spec() -> None:
    """A receipted_message_id without its NUL, a 2-octet network_error_code: the receipt is delivered to the
    application (refused, the SMSC would send it again and again and the status never arrive). The SMSC side
    still refuses such a PDU from an ESME."""
    link = Link()
    link.bind()
    body = DeliverSm(sequence_number=5, source_addr="33612345678", destination_addr="36180", esm_class=4)
    good = encode(body)
    tlvs = struct.pack(">HH", 0x001E, 4) + b"AB12" + struct.pack(">HH", 0x0423, 2) + b"\x03\x01"
    sloppy = struct.pack(">I", len(good) + len(tlvs)) + good[4:] + tlvs
    (event,) = link.esme.receive_data(sloppy, 0.0)
    assert isinstance(event, RequestReceived)
    pdu = event.request
    assert isinstance(pdu, DeliverSm)
    assert pdu.get_tlv(0x001E) == "AB12" and pdu.get_tlv(0x0423) == b"\x03\x01"
    (refused,) = Session(Role.SMSC, CONFIG).receive_data(sloppy, 0.0)
    assert isinstance(refused, ProtocolError) and "receipted_message_id" in refused.description
