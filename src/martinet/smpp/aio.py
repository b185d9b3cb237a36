"""The asyncio adapter around :class:`~martinet.smpp.session.Session`: sockets, futures, timers.

Everything about the protocol lives in the session; this module only moves bytes and time in and
turns events into futures and handler calls.  It is written for throughput, because one
connection must carry thousands of PDUs per second on a small machine:

* it is an ``asyncio.Protocol`` (no stream reader/writer layer) and writes once per loop
  iteration: requests issued by many coroutines in the same iteration leave in one ``write``;
* a request costs one future, not a task; an inbound request costs a task only when its handler
  is a coroutine -- a handler that returns a future (done, or resolved by ``call_later``) is
  answered from a callback, and one that returns an ``AnswerAfter`` from the callback of the
  future it waits for;
* timers are one ``TimerHandle`` re-armed at the session's next deadline, not a polling task;
* inbound flow control is the transport's: when the session holds ``max_inbound_pending``
  unanswered requests (:attr:`Session.want_read` is False) the adapter calls
  ``pause_reading()``, and once answers bring the count down to half it parses what was held
  back and calls ``resume_reading()``.  What sits unparsed is at most one read's worth of
  bytes, and what waits beyond it stays in the kernel and then in the peer, which TCP slows
  down: a peer pipelining requests without waiting for answers cannot grow our memory.

Inbound requests are answered only when the handler's awaitable completes, with what it returns;
so an ESME handler that stores a ``deliver_sm`` before returning acknowledges only durable
messages.  A handler that raises is answered ``ESME_RX_T_APPN`` (ESME role: a temporary error,
the SMSC retries) or ``ESME_RSYSERR`` (SMSC role); its failures are logged as ``failures`` says,
the first of a kind in full and then a line every ten seconds at most.

Entry points: :func:`connect` (ESME: connect and bind) and :func:`serve` (SMSC: accept binds
checked by an ``authenticate`` callback).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, NamedTuple, cast

from .constants import CommandId, CommandStatus
from .errors import SMPPError
from .failures import RepeatedFailures
from .pdu import (
    PDU,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    GenericNack,
)
from .session import (
    BindRequest,
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

__all__ = [
    "AnswerAfter",
    "Authenticator",
    "BindFailed",
    "ConnectionClosedError",
    "Handler",
    "HandlerFactory",
    "ResponseTimeout",
    "SMPPConnection",
    "SMPPServer",
    "connect",
    "serve",
]

log = logging.getLogger("martinet.smpp")


class AnswerAfter(NamedTuple):
    """A handler's answer that waits for something else: `answer` is sent once `after` has succeeded; if `after`
    fails or is cancelled, the request is answered as if the handler had failed.

    What an ESME returns for a receipt (its `deliver_sm_resp`, known at once, sent once the receipt is durable):
    the answer then leaves from `after`'s own callback, one step of the event loop sooner than through a future
    of the answer chained to it, while the carrier's window of unacknowledged receipts waits for it.
    """

    after: asyncio.Future[Any]
    answer: PDU


#: Answers an inbound request: with the response, or with an awaitable of it, sent when it completes (a future
#: is used as it is; a coroutine gets a task), or with an `AnswerAfter`.
Handler = Callable[[PDU], PDU | Awaitable[PDU] | AnswerAfter]
#: SMSC side: True or ESME_ROK accepts a bind, False refuses it with ESME_RINVPASWD, any other
#: command_status refuses it with that status (ESME_RINVSYSID for an unknown system_id).
Authenticator = Callable[[str, str], bool | int | Awaitable[bool | int]]
#: SMSC side: builds the request handler of a connection once its bind is accepted.
HandlerFactory = Callable[["SMPPConnection"], Handler]

BindMode = Literal["transmitter", "receiver", "transceiver"]
_BIND_CLASSES: Final[dict[str, type[BindRequest]]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}
#: Requests that have no response PDU: the handler's result is ignored.
_RESPONSELESS: Final = frozenset({CommandId.ALERT_NOTIFICATION, CommandId.OUTBIND})
_BIND_RESPONSES: Final = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class ConnectionClosedError(SMPPError):
    """The connection ended before the request was answered (or was closed when it was made)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResponseTimeout(SMPPError, TimeoutError):
    """No response within the session's ``response_timeout``; ``request`` is the PDU sent."""

    def __init__(self, request: PDU) -> None:
        super().__init__(f"no response to {request.command_name} #{request.sequence_number}")
        self.request = request


class BindFailed(SMPPError):
    """The SMSC refused the bind; ``status`` is its command_status (e.g. ESME_RINVPASWD)."""

    def __init__(self, status: int) -> None:
        try:
            name = CommandStatus(status).name
        except ValueError:
            name = f"0x{status:08X}"
        super().__init__(f"bind refused: {name}")
        self.status = status


class SMPPConnection(asyncio.Protocol):
    """One SMPP connection (either role) driven by a :class:`Session`.

    Built by :func:`connect` and :func:`serve`; the constructor is public for other transports
    (``loop.create_connection(lambda: SMPPConnection(...), ...)``).
    """

    def __init__(
        self,
        session: Session,
        *,
        handler: Handler | None = None,
        authenticate: Authenticator | None = None,
        handler_factory: HandlerFactory | None = None,
        system_id: str = "Martinet",
    ) -> None:
        self._session = session
        self._handler = handler
        self._authenticate = authenticate
        self._handler_factory = handler_factory
        self._own_system_id = system_id
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._waiters: dict[int, asyncio.Future[PDU]] = {}
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._closed: asyncio.Future[Closed] = self._loop.create_future()
        self._close_reason: Closed | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reading = True  # the transport is being read (mirrors session.want_read)
        self._close_callbacks: list[Callable[[SMPPConnection], None]] = []
        self._peer: tuple[str, int] | None = None
        self._failure_status = CommandStatus.ESME_RX_T_APPN if session.role is Role.ESME else CommandStatus.ESME_RSYSERR
        self._failures = RepeatedFailures(log, self._loop.time)

    # ------------------------------------------------------------------ public API

    @property
    def session(self) -> Session:
        return self._session

    @property
    def state(self) -> SessionState:
        return self._session.state

    @property
    def system_id(self) -> str | None:
        """The peer's system_id once bound."""
        return self._session.system_id

    @property
    def can_receive(self) -> bool:
        """SMSC side: the ESME bound as receiver or transceiver, so deliver_sm may go to it."""
        return self._session.can_receive

    @property
    def peer(self) -> tuple[str, int] | None:
        return self._peer

    @property
    def closed(self) -> bool:
        return self._closed.done()

    @property
    def reading_paused(self) -> bool:
        """Reading from the socket is paused: too many inbound requests await their answers."""
        return not self._reading

    def set_handler(self, handler: Handler | None) -> None:
        """Replace the inbound request handler (requests already dispatched are unaffected)."""
        self._handler = handler

    def add_close_callback(self, callback: Callable[[SMPPConnection], None]) -> None:
        """Call ``callback(connection)`` once the session has ended (immediately if it has)."""
        if self._closed.done():
            self._loop.call_soon(callback, self)
        else:
            self._close_callbacks.append(callback)

    def send_request(self, pdu: PDU) -> asyncio.Future[PDU]:
        """Send (or queue, if the window is full) a request; the future gets its response.

        The response may carry an error status or be a ``generic_nack``: it is returned, not
        raised.  The future fails with :class:`ResponseTimeout` or :class:`ConnectionClosedError`.
        """
        if self._close_reason is not None:
            raise ConnectionClosedError(_describe(self._close_reason))
        if pdu.command_id in _RESPONSELESS:
            raise SessionStateError(f"{pdu.command_name} has no response: use notify()")
        seq = self._session.send_request(pdu, self._loop.time())
        future: asyncio.Future[PDU] = self._loop.create_future()
        self._waiters[seq] = future
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def notify(self, pdu: PDU) -> None:
        """Send a request that has no response (``alert_notification``)."""
        if self._close_reason is not None:
            raise ConnectionClosedError(_describe(self._close_reason))
        if pdu.command_id not in _RESPONSELESS:
            raise SessionStateError(f"{pdu.command_name} expects a response: use send_request()")
        self._session.send_request(pdu, self._loop.time())
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def request(self, pdu: PDU) -> PDU:
        """Send a request and wait for its response (see :meth:`send_request`)."""
        if self._writable is not None:
            await asyncio.shield(self._writable)
        return await self.send_request(pdu)

    async def close(self) -> None:
        """Orderly end: unbind (outstanding requests finish first), then close the transport.

        Bounded by the session's ``unbind_timeout``; an unbound connection just closes.
        """
        session = self._session
        if session.bound:
            session.unbind(self._loop.time())
            self._flush()
        elif session.state is not SessionState.UNBINDING:
            self._dispatch(session.close("closed locally"))
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self._closed), session.config.unbind_timeout + 1.0)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once, without unbind."""
        self._dispatch(self._session.close("aborted locally"))
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self) -> Closed:
        """Wait until the session ends; returns the :class:`Closed` event that ended it."""
        return await asyncio.shield(self._closed)

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._peer = (str(peer[0]), int(peer[1]))
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        events = self._session.receive_data(data, self._loop.time())
        if events:
            self._dispatch(events)
        self._flush()

    def eof_received(self) -> bool:
        return False  # half-closed SMPP is meaningless: let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reason = "connection lost" if exc is None else f"connection lost: {exc}"
        self._dispatch(self._session.close(reason))
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        # The window bounds what we send, but a slow reader can still fill the kernel buffer;
        # request() then waits here instead of growing the transport's buffer.
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # ------------------------------------------------------------------ internals

    def _flush(self) -> None:
        self._flush_scheduled = False
        session = self._session
        if session.want_read and (session.buffered or not self._reading):
            # Answers brought the session under its limit: what it held back is parsed (and its
            # timers catch up) before the socket is read again.  Here rather than in _answer, so
            # that what the answering code sets up (the handler installed after a bind) is in
            # place first.
            events = session.receive_buffered(self._loop.time())
            if events:
                self._dispatch(events)
        data = session.data_to_send()
        transport = self._transport
        if transport is None:
            return
        if data:
            transport.write(data)
        if session.state is SessionState.CLOSED:
            transport.close()  # after the buffered bytes (an unbind_resp, a nack) are written
            return
        want = session.want_read
        if want is not self._reading and not transport.is_closing():
            self._reading = want
            if want:
                transport.resume_reading()
            else:
                transport.pause_reading()
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self._session.next_deadline()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if deadline >= self._timer_when:
                return  # the armed timer fires first; tick() re-arms from there
            timer.cancel()
        self._timer_when = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        events = self._session.tick(self._loop.time())
        if events:
            self._dispatch(events)
        self._flush()

    def _dispatch(self, events: list[Event]) -> None:
        waiters = self._waiters
        for event in events:
            kind = type(event)
            if kind is ResponseReceived:
                assert isinstance(event, ResponseReceived)
                future = waiters.pop(event.response.sequence_number, None)
                if future is not None and not future.done():
                    future.set_result(event.response)
            elif kind is RequestReceived:
                assert isinstance(event, RequestReceived)
                self._on_request(event.request)
            elif kind is ResponseTimedOut:
                assert isinstance(event, ResponseTimedOut)
                future = waiters.pop(event.request.sequence_number, None)
                if future is not None and not future.done():
                    future.set_exception(ResponseTimeout(event.request))
            elif kind is BindRequested:
                assert isinstance(event, BindRequested)
                self._on_bind_requested(event.request)
            elif isinstance(event, Closed):
                self._on_closed(event)
            elif isinstance(event, ProtocolError):
                log.warning("smpp protocol error from %s: %s", self._peer, event.description)

    def _on_request(self, request: PDU) -> None:
        handler = self._handler
        if handler is None:
            if request.command_id not in _RESPONSELESS:
                self._answer(request, response_to(request, self._failure_status))
            return
        try:
            result = handler(request)
            if isinstance(result, AnswerAfter):
                result.after.add_done_callback(functools.partial(self._handled_after, request, result.answer))
                return
            if isinstance(result, PDU):  # tolerate a plain function returning the response
                future: asyncio.Future[PDU] = self._loop.create_future()
                future.set_result(result)
            else:
                future = asyncio.ensure_future(result, loop=self._loop)
        except Exception as exc:
            future = self._loop.create_future()
            future.set_exception(exc)
        if future.done():
            self._handled(request, future)
        else:
            future.add_done_callback(functools.partial(self._handled, request))

    def _handled(self, request: PDU, future: asyncio.Future[PDU]) -> None:
        if self._answered_otherwise(request, future):
            return
        response = future.result()
        if not isinstance(response, PDU):
            log.error("smpp handler returned %r for %s, not a PDU", response, request.command_name)
            response = response_to(request, self._failure_status)
        self._respond(request, response)

    def _handled_after(self, request: PDU, answer: PDU, after: asyncio.Future[Any]) -> None:
        if not self._answered_otherwise(request, after):
            self._respond(request, answer)

    def _answered_otherwise(self, request: PDU, future: asyncio.Future[Any]) -> bool:
        """Whether the handling of `request` has no answer of its own to send, dealt with here: a failure is
        answered with the failure status; a request that takes no answer only has its outcome retrieved."""
        if request.command_id in _RESPONSELESS:
            if not future.cancelled():
                future.exception()  # retrieve it: nothing to answer
            return True
        if future.cancelled():
            self._respond(request, response_to(request, self._failure_status))
            return True
        if (exc := future.exception()) is not None:
            self._failures.failed(request.command_name, exc)
            self._respond(request, response_to(request, self._failure_status))
            return True
        return False

    def _respond(self, request: PDU, response: PDU) -> None:
        self._answer(request, response)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _answer(self, request: PDU, response: PDU) -> None:
        try:
            self._session.respond(request, response)
        except SMPPError as exc:  # a wrong response class, or a value the codec refuses
            log.error("smpp handler answered %s badly: %s", request.command_name, exc)
            with contextlib.suppress(SMPPError):  # already answered, or no longer pending
                self._session.respond(request, response_to(request, CommandStatus.ESME_RSYSERR))

    def _on_bind_requested(self, request: BindRequest) -> None:
        authenticate = self._authenticate
        if authenticate is None:
            self._answer(request, response_to(request, CommandStatus.ESME_RBINDFAIL))
            return
        verdict = authenticate(request.system_id, request.password)
        if inspect.isawaitable(verdict):
            task = asyncio.ensure_future(verdict)
            task.add_done_callback(functools.partial(self._bind_decided, request))
        else:
            self._decide_bind(request, verdict)

    def _bind_decided(self, request: BindRequest, future: asyncio.Future[bool | int]) -> None:
        if future.cancelled() or future.exception() is not None:
            if not future.cancelled():
                log.error("smpp authenticate failed", exc_info=future.exception())
            self._answer(request, response_to(request, CommandStatus.ESME_RBINDFAIL))
        else:
            self._decide_bind(request, future.result())
        self._flush()

    def _decide_bind(self, request: BindRequest, verdict: bool | int) -> None:
        if verdict is True or (verdict is not False and verdict == CommandStatus.ESME_ROK):
            status = int(CommandStatus.ESME_ROK)
        elif verdict is False:
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = int(verdict)
        response_cls = _BIND_RESPONSES[type(request)]
        if status != CommandStatus.ESME_ROK:
            log.info("smpp bind refused for system_id %r: 0x%08X", request.system_id, status)
            self._answer(request, response_cls(command_status=status))
            return
        self._answer(request, response_cls(system_id=self._own_system_id))
        if self._session.bound and self._handler_factory is not None:
            # Installed before any further byte is read: nothing can slip in unhandled.
            self._handler = self._handler_factory(self)

    def _on_closed(self, event: Closed) -> None:
        if self._close_reason is not None:
            return
        self._close_reason = event
        if not isinstance(event, Unbound):
            log.info("smpp session with %s ended: %s", self._peer, _describe(event))
        error = ConnectionClosedError(_describe(event))
        waiters, self._waiters = self._waiters, {}
        for future in waiters.values():
            if not future.done():
                future.set_exception(error)
        if not self._closed.done():
            self._closed.set_result(event)
        for callback in self._close_callbacks:
            self._loop.call_soon(callback, self)
        self._close_callbacks.clear()
        if self._transport is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)


def _describe(event: Closed) -> str:
    if isinstance(event, Unbound):
        return "unbound by the peer" if event.by_peer else "unbound"
    if isinstance(event, PeerDead):
        return f"peer silent for {event.silent_for:.1f} s"
    if isinstance(event, ConnectionClosed):
        return event.reason
    return "closed"


# --------------------------------------------------------------------------- ESME side


async def connect(
    host: str,
    port: int,
    *,
    system_id: str,
    password: str,
    bind: BindMode = "transceiver",
    config: SessionConfig | None = None,
    handler: Handler | None = None,
    system_type: str = "",
    addr_ton: int = 0,
    addr_npi: int = 0,
    address_range: str = "",
) -> SMPPConnection:
    """Connect to an SMSC and bind; raises :class:`BindFailed` if it refuses.

    ``handler`` answers inbound requests (deliver_sm, data_sm); without one they are answered
    ESME_RX_T_APPN, so the SMSC keeps them for later.  Connection errors propagate as
    ``OSError``; a bind left unanswered raises :class:`ResponseTimeout`.
    """
    loop = asyncio.get_running_loop()
    session = Session(Role.ESME, config, now=loop.time())
    _, connection = await loop.create_connection(lambda: SMPPConnection(session, handler=handler), host, port)
    bind_pdu = _BIND_CLASSES[bind](
        system_id=system_id,
        password=password,
        system_type=system_type,
        addr_ton=addr_ton,
        addr_npi=addr_npi,
        address_range=address_range,
    )
    try:
        response = await connection.request(bind_pdu)
    except BaseException:
        connection.abort()
        raise
    if response.command_status != CommandStatus.ESME_ROK or isinstance(response, GenericNack):
        connection.abort()
        raise BindFailed(response.command_status or CommandStatus.ESME_RBINDFAIL)
    return connection


# --------------------------------------------------------------------------- SMSC side


class SMPPServer:
    """A listening SMSC endpoint and its live connections.

    Wraps ``asyncio.Server`` because closing that only stops listening (before Python 3.13 it
    leaves accepted connections open): :meth:`close` also unbinds every ESME, in order.
    """

    def __init__(self, server: asyncio.Server, connections: set[SMPPConnection]) -> None:
        self.server = server
        self._connections = connections

    @property
    def connections(self) -> frozenset[SMPPConnection]:
        return frozenset(self._connections)

    @property
    def port(self) -> int:
        """The bound port (useful after listening on port 0)."""
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        if self._connections:
            await asyncio.gather(*(c.close() for c in list(self._connections)), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.server.wait_closed()


async def serve(
    host: str,
    port: int,
    authenticate: Authenticator,
    handler_factory: HandlerFactory,
    config: SessionConfig | None = None,
    *,
    system_id: str = "Martinet",
) -> SMPPServer:
    """Listen for ESMEs: each bind is checked by ``authenticate(system_id, password)``, and a
    bound connection's requests go to ``handler_factory(connection)``.

    ``system_id`` is ours, sent in bind responses.  Refused binds are answered ESME_RINVPASWD
    (or the status ``authenticate`` returned) and the connection stays open for another try,
    until ``config.bind_timeout``.
    """
    loop = asyncio.get_running_loop()
    connections: set[SMPPConnection] = set()

    def factory() -> SMPPConnection:
        session = Session(Role.SMSC, config, now=loop.time())
        connection = SMPPConnection(
            session, authenticate=authenticate, handler_factory=handler_factory, system_id=system_id
        )
        connections.add(connection)
        connection.add_close_callback(connections.discard)
        return connection

    server = await loop.create_server(factory, host, port)
    return SMPPServer(server, connections)
