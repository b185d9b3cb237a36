"""The SMPP 3.4 session as a state machine that takes bytes and time, and gives events and bytes.

Like the codec, and in the manner of ``h11``/``h2``, a :class:`Session` does no I/O and owns no
clock: every call that depends on time takes ``now`` (seconds, any monotonic origin), so tests
drive windows, timeouts and keep-alives by passing numbers instead of sleeping, and the fuzzer
feeds it arbitrary bytes without a socket.  An adapter (:mod:`martinet.smpp.aio`) moves bytes
between a transport and the session and turns events into futures and handler calls::

    session = Session(Role.ESME, SessionConfig(window=64))
    seq = session.send_request(BindTransceiver(system_id="acme", password="pw"), now)
    sock.send(session.data_to_send())
    for event in session.receive_data(sock.recv(65536), now):
        ...                                   # ResponseReceived, RequestReceived, ...
    for event in session.tick(now):           # call at session.next_deadline()
        ...

What the session does by itself, because every SMPP peer must and no application should have to:

* sequence numbers (1..0x7FFFFFFF, wrapping, never reusing one still outstanding);
* the window: at most ``config.window`` requests await a response; more are queued, already
  encoded, and sent as responses free slots;
* inbound flow control: at most ``config.max_inbound_pending`` requests from the peer await the
  application's answer; at that mark the session stops parsing and :attr:`Session.want_read`
  turns False (the adapter stops reading the socket), until answers bring the count down to
  half the limit (see :attr:`Session.want_read` for the timers while reading is paused);
* answers to ``enquire_link`` and ``unbind``, ``generic_nack``/``*_resp`` answers to malformed
  PDUs (the codec's :func:`error_response`) and ``ESME_RINVBNDSTS`` (``ESME_RALYBND`` for a
  second bind) to PDUs the session state does not allow (spec 2.3);
* response timeouts, ``enquire_link`` after ``enquire_link_interval`` of silence from the peer,
  and closing after ``dead_peer_timeout`` of silence; closing a connection that does not bind in
  ``bind_timeout``; an orderly unbind that drains outstanding requests first.

What it leaves to the application: every other inbound request comes out as
:class:`RequestReceived` (:class:`BindRequested` for a bind on the SMSC side) and is answered with
:meth:`Session.respond` whenever the application is ready -- that is what lets a gateway answer a
``deliver_sm`` only after it has made the message durable.

When the session ends it emits exactly one :class:`Closed` event (:class:`Unbound`,
:class:`PeerDead` or :class:`ConnectionClosed`) listing the requests that will never be answered,
and its state becomes ``CLOSED``; the adapter then flushes :meth:`data_to_send` and closes the
transport.  ``outbind`` is not supported: an ESME answers it with ``generic_nack``.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple

from .constants import RESPONSE_BIT, CommandId, CommandStatus
from .errors import PDUError, SMPPError
from .pdu import (
    PDU,
    PDU_CLASSES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Unbind,
    UnbindResp,
    encode,
    error_response,
)
from .reader import PDUReader
from .wire import DEFAULT_MAX_COMMAND_LENGTH

__all__ = [
    "MAX_SEQUENCE_NUMBER",
    "BindRequest",
    "BindRequested",
    "Closed",
    "ConnectionClosed",
    "Event",
    "PeerDead",
    "ProtocolError",
    "RequestReceived",
    "ResponseReceived",
    "ResponseTimedOut",
    "Role",
    "Session",
    "SessionConfig",
    "SessionState",
    "SessionStateError",
    "Unbound",
    "response_to",
]

#: Largest sequence number (spec 5.1.4: 0x00000001 to 0x7FFFFFFF).
MAX_SEQUENCE_NUMBER: Final = 0x7FFF_FFFF

BindRequest = BindTransmitter | BindReceiver | BindTransceiver


class Role(enum.Enum):
    """Which end of the link this session is: the ESME binds, the SMSC accepts binds."""

    ESME = "esme"
    SMSC = "smsc"


class SessionState(enum.Enum):
    """Session states of spec 2.3, plus UNBINDING (our unbind is draining or in flight)."""

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


class SessionStateError(SMPPError):
    """The application asked for something the session cannot do now (h11's LocalProtocolError):
    a request the state forbids, a response to a request that is not pending, a second bind."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Every timer and limit of a session, in seconds and PDUs; defaults suit a carrier link.

    ``window`` bounds unacknowledged requests we sent.  ``response_timeout`` starts when a
    request goes on the wire (not while it waits for a window slot).  ``enquire_link_interval``
    is the silence from the peer after which we probe it; ``dead_peer_timeout`` the silence
    after which we give up on it (so it must be longer).  ``bind_timeout`` closes a connection
    still unbound that long after it opened; ``unbind_timeout`` bounds an orderly unbind,
    draining included.

    ``max_inbound_pending`` bounds the requests from the peer that the application has not
    answered yet (``deliver_sm``, ``data_sm``, ``submit_sm``...).  At the limit the session
    stops parsing and asks the adapter to stop reading the socket, so a peer that pipelines
    thousands of requests without waiting for answers costs bounded memory; a well-behaved
    peer keeps to its own window, usually far below it.  The default leaves room for answers
    that wait on a batched durable write (a gateway acknowledges a receipt only once it is
    stored, one commit per batch): reading resumes at half the limit, so every commit that
    frees the bind lets some 500 more requests in -- thousands per second per bind with
    commits of tens of milliseconds -- for a few megabytes per bind at worst.
    """

    window: int = 64
    response_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    dead_peer_timeout: float = 90.0
    bind_timeout: float = 30.0
    unbind_timeout: float = 10.0
    max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH
    max_inbound_pending: int = 1000

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("window must be at least 1")
        if self.max_inbound_pending < 1:
            raise ValueError("max_inbound_pending must be at least 1")
        for name in (
            "response_timeout",
            "enquire_link_interval",
            "dead_peer_timeout",
            "bind_timeout",
            "unbind_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.dead_peer_timeout <= self.enquire_link_interval:
            raise ValueError("dead_peer_timeout must exceed enquire_link_interval, or a quiet peer is never probed")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of everything :meth:`Session.receive_data` and :meth:`Session.tick` return."""


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """The peer sent a request the state allows; answer it with :meth:`Session.respond`
    (except ``alert_notification``, which has no response)."""

    request: PDU


@dataclass(frozen=True, slots=True)
class BindRequested(Event):
    """SMSC role: an ESME asks to bind.  Answer with :meth:`Session.respond`: a ``*_resp`` with
    ESME_ROK binds the session, any other status leaves it open for another attempt."""

    request: BindRequest


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    """The answer (its ``*_resp``, or a ``generic_nack``) to a request we sent."""

    request: PDU
    response: PDU


@dataclass(frozen=True, slots=True)
class ResponseTimedOut(Event):
    """No answer within ``response_timeout``; the window slot is freed, a late answer is ignored."""

    request: PDU


@dataclass(frozen=True, slots=True)
class ProtocolError(Event):
    """The peer broke the protocol; the session already answered where the spec says so.

    ``error`` is the codec's error for malformed bytes (None for a state violation or an
    unexpected response).  ``fatal`` errors are followed by :class:`ConnectionClosed`.
    """

    description: str
    error: PDUError | None = None
    fatal: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(Event):
    """The session is over (state CLOSED); ``unanswered`` are requests we sent or queued that
    will never get a response.  Emitted once, as one of the subclasses."""

    unanswered: tuple[PDU, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbound(Closed):
    """Orderly end: our unbind was answered, or we answered the peer's (``by_peer``)."""

    by_peer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDead(Closed):
    """Nothing arrived from the peer for ``dead_peer_timeout``, enquire_link included."""

    silent_for: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Closed):
    """Any other end: transport lost, unrecoverable framing, bind or unbind timeout, local close."""

    reason: str


# --------------------------------------------------------------------------- state tables

_C = CommandId
_BINDS: Final = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})
_BIND_MODE: Final = {
    _C.BIND_TRANSMITTER: SessionState.BOUND_TX,
    _C.BIND_RECEIVER: SessionState.BOUND_RX,
    _C.BIND_TRANSCEIVER: SessionState.BOUND_TRX,
}
_ESME_TX: Final = frozenset(
    {_C.SUBMIT_SM, _C.SUBMIT_MULTI, _C.DATA_SM, _C.QUERY_SM, _C.CANCEL_SM, _C.REPLACE_SM, _C.ENQUIRE_LINK}
)
_SMSC_RX: Final = frozenset({_C.DELIVER_SM, _C.DATA_SM, _C.ALERT_NOTIFICATION, _C.ENQUIRE_LINK})
_KEEPALIVE: Final = frozenset({_C.ENQUIRE_LINK})
#: Requests each side may send in each state (spec table 2-1).  UNBIND is sent by unbind().
_ESME_SENDS: Final = {
    SessionState.OPEN: _BINDS,
    SessionState.BOUND_TX: _ESME_TX,
    SessionState.BOUND_RX: _KEEPALIVE,
    SessionState.BOUND_TRX: _ESME_TX,
}
_SMSC_SENDS: Final = {
    SessionState.OPEN: frozenset[CommandId](),
    SessionState.BOUND_TX: _KEEPALIVE,
    SessionState.BOUND_RX: _SMSC_RX,
    SessionState.BOUND_TRX: _SMSC_RX,
}
#: What we accept is what the other side may send, plus unbind once bound and enquire_link
#: in OPEN (harmless, and some ESMEs probe before binding).
_ESME_ACCEPTS: Final = {
    state: allowed | ({_C.UNBIND} if state is not SessionState.OPEN else {_C.ENQUIRE_LINK})
    for state, allowed in _SMSC_SENDS.items()
}
_SMSC_ACCEPTS: Final = {
    state: allowed | ({_C.UNBIND} if state is not SessionState.OPEN else {_C.ENQUIRE_LINK})
    for state, allowed in _ESME_SENDS.items()
}
#: Requests that have no response PDU.
_RESPONSELESS: Final = frozenset({_C.ALERT_NOTIFICATION, _C.OUTBIND})
_BOUND: Final = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})
_NOTHING: Final = frozenset[int]()


def response_to(request: PDU, command_status: int = CommandStatus.ESME_ROK) -> PDU:
    """The empty-bodied response matching ``request`` (``generic_nack`` if it has none).

    The usual way to refuse a request: ``session.respond(req, response_to(req, ESME_RTHROTTLED))``.
    """
    cls = PDU_CLASSES.get(request.command_id | RESPONSE_BIT, GenericNack)
    return cls(sequence_number=request.sequence_number, command_status=command_status)


class _Pending(NamedTuple):
    request: PDU
    deadline: float


# --------------------------------------------------------------------------- the session


class Session:
    """One SMPP connection's protocol state, for either role; see the module docstring."""

    __slots__ = (
        "_accepts",
        "_bind_seq",
        "_config",
        "_enquire_deadline",
        "_enquire_seq",
        "_inbound",
        "_last_received",
        "_mode",
        "_next_seq",
        "_opened_at",
        "_out",
        "_outstanding",
        "_paused",
        "_paused_at",
        "_queue",
        "_reader",
        "_resume_at",
        "_role",
        "_sends",
        "_state",
        "_system_id",
        "_unbind_seq",
        "_unbind_started",
        "_window",
    )

    def __init__(
        self,
        role: Role,
        config: SessionConfig | None = None,
        *,
        now: float = 0.0,
        first_sequence_number: int = 1,
    ) -> None:
        if not 1 <= first_sequence_number <= MAX_SEQUENCE_NUMBER:
            raise ValueError(f"first_sequence_number must be within 1..{MAX_SEQUENCE_NUMBER}")
        self._role = role
        self._config = config = config or SessionConfig()
        self._window = config.window
        # An ESME reads its carrier's PDUs as they were meant where the meaning is not in doubt (`decode`'s
        # `lenient`): refusing a receipt for a malformed optional parameter loses it, dropping a response for
        # an ID without its NUL sends the message twice. The simulator, an SMSC, holds ESMEs to the spec.
        self._reader = PDUReader(max_command_length=config.max_command_length, lenient=role is Role.ESME)
        self._state = SessionState.OPEN
        self._mode = SessionState.OPEN  # bind mode, kept while UNBINDING
        self._sends: frozenset[int] = _NOTHING
        self._accepts: frozenset[int] = _NOTHING
        self._next_seq = first_sequence_number
        self._outstanding: dict[int, _Pending] = {}  # insertion order == send order == deadline order
        self._queue: deque[tuple[PDU, bytes]] = deque()
        self._inbound: dict[int, PDU] = {}  # requests received, not yet answered
        self._paused = False  # max_inbound_pending reached: parse nothing until answers go out
        self._paused_at: float | None = None  # when parsing stopped; cleared once the timers caught up
        self._resume_at = config.max_inbound_pending // 2  # low-water mark: no pause/resume per answer
        self._out: list[bytes] = []
        self._opened_at = now
        self._last_received = now
        self._enquire_seq: int | None = None
        self._enquire_deadline = 0.0
        self._bind_seq: int | None = None
        self._unbind_seq: int | None = None
        self._unbind_started: float | None = None
        self._system_id: str | None = None
        self._set_state(SessionState.OPEN)

    # ------------------------------------------------------------------ introspection

    @property
    def role(self) -> Role:
        return self._role

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def bound(self) -> bool:
        """True in BOUND_TX/RX/TRX (not while unbinding)."""
        return self._state in _BOUND

    @property
    def mode(self) -> SessionState:
        """The bind mode (BOUND_TX/RX/TRX) once bound, kept while unbinding; OPEN before."""
        return self._mode

    @property
    def can_receive(self) -> bool:
        """SMSC role: whether deliver_sm may be sent to this bind (receiver or transceiver)."""
        return self._state in (SessionState.BOUND_RX, SessionState.BOUND_TRX)

    @property
    def system_id(self) -> str | None:
        """The ESME's system_id (SMSC role) or the SMSC's (ESME role), once bound."""
        return self._system_id

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered (the window in use)."""
        return len(self._outstanding)

    @property
    def queued(self) -> int:
        """Requests waiting for a window slot."""
        return len(self._queue)

    @property
    def pending_inbound(self) -> int:
        """Requests received and not yet answered by the application."""
        return len(self._inbound)

    @property
    def want_read(self) -> bool:
        """Whether the adapter should read the transport.

        False from the moment ``config.max_inbound_pending`` requests await the application's
        answers until :meth:`respond` has brought them down to half that.  Meanwhile the session
        parses nothing: bytes fed to :meth:`receive_data` are only buffered, and
        :meth:`receive_buffered` parses them once this turns True again.  So the peer's
        responses, ``enquire_link`` and ``unbind`` wait unread too, and its silence is our
        doing: the dead-peer and ``enquire_link`` timers and the response timeouts stand still
        while reading is paused and go on from where they were afterwards, so that a slow
        application never gets a live peer declared dead or its answers declared late.  The
        bind and unbind timeouts keep running: they bound procedures of our own.
        """
        return not self._paused

    @property
    def buffered(self) -> int:
        """Octets received and not parsed yet: a partial PDU, or what arrived past the limit."""
        return self._reader.buffered

    # ------------------------------------------------------------------ sending

    def send_request(self, pdu: PDU, now: float) -> int:
        """Assign a sequence number to ``pdu`` (stamped on it) and send or queue it.

        The PDU is encoded here, so an invalid one raises :class:`PDUError` at once and a queued
        one goes out exactly as it was; do not reuse the object while it is in flight.
        ``alert_notification`` has no response: it is sent at once and not tracked.  Raises
        :class:`SessionStateError` for a response, or a request the state does not allow.
        """
        command_id = pdu.command_id
        if command_id not in self._sends:
            raise SessionStateError(self._refusal(pdu))
        if command_id in _BINDS and self._bind_seq is not None:
            raise SessionStateError("a bind is already in progress")
        seq = self._allocate()
        pdu.sequence_number = seq
        data = encode(pdu)
        if command_id in _BINDS:
            self._bind_seq = seq
        elif command_id in _RESPONSELESS:
            self._out.append(data)  # alert_notification: nothing will answer it, nothing to track
            return seq
        if len(self._outstanding) < self._window and not self._queue:
            self._outstanding[seq] = _Pending(pdu, now + self._config.response_timeout)
            self._out.append(data)
        else:
            self._queue.append((pdu, data))
        return seq

    def respond(self, request: PDU, response: PDU) -> None:
        """Answer a request delivered by :class:`RequestReceived` or :class:`BindRequested`.

        ``response`` must be the request's ``*_resp`` or a ``generic_nack``; its sequence
        number is set here.  After the session closed, responses are discarded: nobody is
        left to read them.  Answering a bind request with ESME_ROK binds the session.
        """
        if self._state is SessionState.CLOSED:
            return
        seq = request.sequence_number
        pending = self._inbound.get(seq)
        if pending is not request:
            raise SessionStateError(f"{request.command_name} #{seq} is not awaiting a response")
        if response.command_id != request.command_id | RESPONSE_BIT and type(response) is not GenericNack:
            raise SessionStateError(f"{response.command_name} cannot answer {request.command_name}")
        response.sequence_number = seq
        data = encode(response)  # may raise PDUError: the request stays pending, answer it again
        del self._inbound[seq]
        self._out.append(data)
        if self._paused and len(self._inbound) <= self._resume_at:
            self._paused = False
        if request.command_id in _BINDS and response.command_status == CommandStatus.ESME_ROK:
            self._system_id = getattr(request, "system_id", "")
            self._set_state(_BIND_MODE[CommandId(request.command_id)])
        elif self._state is SessionState.UNBINDING:
            self._maybe_send_unbind()

    def unbind(self, now: float) -> None:
        """Start an orderly unbind: refuse new requests, let outstanding and queued ones finish
        and the application answer the requests it holds, then send ``unbind``; :class:`Unbound`
        follows its response, :class:`ConnectionClosed` if it all takes longer than
        ``unbind_timeout``."""
        if self._state is SessionState.UNBINDING:
            return
        if self._state not in _BOUND:
            raise SessionStateError(f"cannot unbind in state {self._state.value}")
        self._unbind_started = now
        self._state = SessionState.UNBINDING
        self._sends = _NOTHING
        self._maybe_send_unbind()

    def close(self, reason: str = "closed locally") -> list[Event]:
        """End the session without ceremony (transport lost, application shutdown)."""
        if self._state is SessionState.CLOSED:
            return []
        return [ConnectionClosed(reason=reason, unanswered=self._shut())]

    def data_to_send(self) -> bytes:
        """Bytes to write to the transport, accumulated since the last call."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the transport; returns the resulting events in order.

        Parsing stops when ``max_inbound_pending`` requests await answers (:attr:`want_read`
        turns False); the rest stays buffered for :meth:`receive_buffered`.
        """
        if self._state is SessionState.CLOSED or not data:
            return []
        self._catch_up(now)
        self._last_received = now
        self._reader.receive_data(data)
        return self._parse(now)

    def receive_buffered(self, now: float) -> list[Event]:
        """Parse what was held back while :attr:`want_read` was False.

        Call it when ``want_read`` turns True again, before reading more from the transport: the
        held-back PDUs come first, and this may pause again if they reach the limit.
        """
        if self._state is SessionState.CLOSED:
            return []
        self._catch_up(now)
        return self._parse(now)

    def _parse(self, now: float) -> list[Event]:
        events: list[Event] = []
        reader, inbound = self._reader, self._inbound
        limit = self._config.max_inbound_pending
        while not self._paused:
            try:
                item = reader.next_pdu()
            except PDUError as error:
                self._on_malformed(error, events)
            else:
                if item is None:
                    break
                if item.command_id & RESPONSE_BIT:
                    self._on_response(item, events, now)
                else:
                    self._on_request(item, events)
                    if len(inbound) >= limit:
                        self._paused = True
                        self._paused_at = now
            if events and isinstance(events[-1], Closed):
                break
        return events

    def _on_response(self, response: PDU, events: list[Event], now: float) -> None:
        seq = response.sequence_number
        pending = self._outstanding.get(seq)
        if pending is None:
            if seq == self._enquire_seq:
                self._enquire_seq = None
            elif seq == self._unbind_seq:
                events.append(Unbound(by_peer=False, unanswered=self._shut()))
            else:
                events.append(ProtocolError(f"{response.command_name} #{seq} answers no outstanding request"))
            return
        request = pending.request
        if response.command_id != request.command_id | RESPONSE_BIT and type(response) is not GenericNack:
            events.append(ProtocolError(f"{response.command_name} #{seq} cannot answer {request.command_name}"))
            return
        del self._outstanding[seq]
        if seq == self._bind_seq:
            self._bind_seq = None
            if response.command_status == CommandStatus.ESME_ROK and type(response) is not GenericNack:
                self._system_id = getattr(response, "system_id", None) or ""
                self._set_state(_BIND_MODE[CommandId(request.command_id)])
        events.append(ResponseReceived(request, response))
        if self._queue:
            self._fill_window(now)
        elif self._state is SessionState.UNBINDING:
            self._maybe_send_unbind()

    def _on_request(self, request: PDU, events: list[Event]) -> None:
        command_id = request.command_id
        seq = request.sequence_number
        if command_id not in self._accepts:
            self._refuse(request, events)
            return
        if command_id == CommandId.ENQUIRE_LINK:
            self._out.append(encode(EnquireLinkResp(sequence_number=seq)))
            return
        if command_id == CommandId.UNBIND:
            self._out.append(encode(UnbindResp(sequence_number=seq)))
            events.append(Unbound(by_peer=True, unanswered=self._shut()))
            return
        if command_id not in _RESPONSELESS:
            if seq in self._inbound:
                events.append(ProtocolError(f"{request.command_name} reuses pending sequence_number {seq}"))
                return
            self._inbound[seq] = request
        if command_id in _BINDS:
            if self._inbound.keys() - {seq}:
                # Only one bind at a time: a second one while the first awaits its answer.
                del self._inbound[seq]
                self._refuse(request, events)
                return
            assert isinstance(request, BindTransmitter | BindReceiver | BindTransceiver)
            events.append(BindRequested(request))
        else:
            events.append(RequestReceived(request))

    def _refuse(self, request: PDU, events: list[Event]) -> None:
        """Answer a request the state forbids (spec 2.3: ESME_RINVBNDSTS; a bind once bound:
        ESME_RALYBND).  Requests without a response of their own get a generic_nack."""
        bound_again = request.command_id in _BINDS and self._state is not SessionState.OPEN
        status = CommandStatus.ESME_RALYBND if bound_again else CommandStatus.ESME_RINVBNDSTS
        self._out.append(encode(response_to(request, status)))
        events.append(ProtocolError(f"{self._refusal(request)}; answered {status.name}"))

    def _on_malformed(self, error: PDUError, events: list[Event]) -> None:
        answer = error_response(error)
        if answer is not None:
            self._out.append(encode(answer))
        events.append(ProtocolError(str(error), error, error.fatal))
        if error.fatal:
            events.append(ConnectionClosed(reason=f"unrecoverable framing error: {error}", unanswered=self._shut()))

    # ------------------------------------------------------------------ time

    def tick(self, now: float) -> list[Event]:
        """Apply timers: response timeouts, bind/unbind timeouts, enquire_link, dead peer.

        Call it at :meth:`next_deadline` (calling it more often is harmless).
        """
        state = self._state
        if state is SessionState.CLOSED:
            return []
        self._catch_up(now)
        events: list[Event] = []
        config = self._config
        silent_for = now - self._last_received
        if not self._paused and silent_for >= config.dead_peer_timeout:
            return [PeerDead(silent_for=silent_for, unanswered=self._shut())]
        if state is SessionState.OPEN and now - self._opened_at >= config.bind_timeout:
            reason = f"not bound within {config.bind_timeout:g} s"
            return [ConnectionClosed(reason=reason, unanswered=self._shut())]
        if self._unbind_started is not None and now - self._unbind_started >= config.unbind_timeout:
            reason = f"unbind not completed within {config.unbind_timeout:g} s"
            return [ConnectionClosed(reason=reason, unanswered=self._shut())]
        if self._paused:
            return events  # the peer's answers may be waiting unread: see want_read
        outstanding = self._outstanding
        if outstanding:
            expired = []
            for seq, pending in outstanding.items():
                if pending.deadline > now:
                    break
                expired.append(seq)
            for seq in expired:
                request = outstanding.pop(seq).request
                if seq == self._bind_seq:
                    self._bind_seq = None
                events.append(ResponseTimedOut(request))
            if expired:
                self._fill_window(now)
        if self._enquire_seq is not None and now >= self._enquire_deadline:
            self._enquire_seq = None  # unanswered: the dead-peer timer decides
        if (
            self._enquire_seq is None
            and state in _BOUND
            and silent_for >= config.enquire_link_interval
            and now >= self._enquire_deadline
        ):
            seq = self._allocate()
            self._enquire_seq = seq
            self._enquire_deadline = now + min(config.response_timeout, config.enquire_link_interval)
            self._out.append(encode(EnquireLink(sequence_number=seq)))
        return events

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has work to do.

        None once closed, and while reading is paused with no bind or unbind under way: the
        timers that judge the peer stand still then (see :attr:`want_read`).
        """
        if self._state is SessionState.CLOSED:
            return None
        config = self._config
        if self._paused:
            local = []
            if self._state is SessionState.OPEN:
                local.append(self._opened_at + config.bind_timeout)
            if self._unbind_started is not None:
                local.append(self._unbind_started + config.unbind_timeout)
            return min(local, default=None)
        deadline = self._last_received + config.dead_peer_timeout
        if self._state is SessionState.OPEN:
            deadline = min(deadline, self._opened_at + config.bind_timeout)
        if self._unbind_started is not None:
            deadline = min(deadline, self._unbind_started + config.unbind_timeout)
        if self._outstanding:
            deadline = min(deadline, next(iter(self._outstanding.values())).deadline)
        if self._enquire_seq is not None:
            deadline = min(deadline, self._enquire_deadline)
        elif self._state in _BOUND:
            probe = max(self._last_received + config.enquire_link_interval, self._enquire_deadline)
            deadline = min(deadline, probe)
        return deadline

    # ------------------------------------------------------------------ internals

    def _set_state(self, state: SessionState) -> None:
        self._state = state
        if state in _BOUND or state is SessionState.OPEN:
            self._mode = state
        esme = self._role is Role.ESME
        self._sends = (_ESME_SENDS if esme else _SMSC_SENDS).get(state, _NOTHING)
        self._accepts = (_ESME_ACCEPTS if esme else _SMSC_ACCEPTS).get(self._mode, _NOTHING)

    def _refusal(self, pdu: PDU) -> str:
        if pdu.is_response:
            return f"{pdu.command_name} is a response: use respond()"
        if pdu.command_id == CommandId.UNBIND and self._state in _BOUND:
            return "use unbind() to unbind"
        side = "an ESME" if self._role is Role.ESME else "an SMSC"
        return f"{pdu.command_name} is not allowed from {side} in state {self._state.value}"

    def _allocate(self) -> int:
        seq = self._next_seq
        while True:
            self._next_seq = 1 if seq >= MAX_SEQUENCE_NUMBER else seq + 1
            if seq not in self._outstanding and seq != self._enquire_seq:
                return seq
            seq = self._next_seq  # still in flight after a full wrap: skip it

    def _fill_window(self, now: float) -> None:
        queue, outstanding, out = self._queue, self._outstanding, self._out
        deadline = now + self._config.response_timeout
        while queue and len(outstanding) < self._window:
            pdu, data = queue.popleft()
            outstanding[pdu.sequence_number] = _Pending(pdu, deadline)
            out.append(data)
        if self._state is SessionState.UNBINDING:
            self._maybe_send_unbind()

    def _catch_up(self, now: float) -> None:
        """After a pause, push the timers that judge the peer back by the time spent paused.

        A response deadline counts only the time we were reading since its request went out:
        one sent during the pause gets the full ``response_timeout`` from now.  Shifting every
        deadline by a monotonic function keeps them in send order, which :meth:`tick` relies on.
        """
        paused_at = self._paused_at
        if paused_at is None or self._paused:
            return
        self._paused_at = None
        lost = now - paused_at
        if lost <= 0:
            return
        self._last_received = min(self._last_received + lost, now)
        if self._enquire_seq is not None:
            self._enquire_deadline += lost
        if self._outstanding:
            cap = paused_at + self._config.response_timeout
            self._outstanding = {
                seq: _Pending(p.request, min(p.deadline, cap) + lost) for seq, p in self._outstanding.items()
            }

    def _maybe_send_unbind(self) -> None:
        if self._unbind_seq is None and not self._outstanding and not self._queue and not self._inbound:
            self._unbind_seq = self._allocate()
            self._out.append(encode(Unbind(sequence_number=self._unbind_seq)))

    def _shut(self) -> tuple[PDU, ...]:
        """Enter CLOSED and return the requests that will never be answered."""
        unanswered = tuple(p.request for p in self._outstanding.values()) + tuple(p for p, _ in self._queue)
        self._outstanding.clear()
        self._queue.clear()
        self._inbound.clear()
        self._paused = False
        self._paused_at = None
        self._enquire_seq = self._bind_seq = self._unbind_seq = None
        self._unbind_started = None
        self._state = SessionState.CLOSED
        self._sends = self._accepts = _NOTHING
        return unanswered
