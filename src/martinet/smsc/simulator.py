"""The SMSC simulator: an SMPP server that behaves like a carrier, on purpose and on demand.

It is the default upstream of a fresh install and the test peer of the whole suite, so it does
what a carrier does that a gateway must cope with: it checks credentials, throttles each account
(``ESME_RTHROTTLED`` beyond ``max_per_second``), answers after a latency, decides each message's
fate (weighted at random, or fixed by the test range), sends an intermediate receipt then a final
one in the standard form, re-sends receipts the ESME refuses or leaves unanswered, and delivers
mobile-originated messages (MO) injected through :meth:`Simulator.inject_mo` or the HTTP control
endpoint.

Nothing here blocks or spawns per-message tasks: submit_sm is answered from a future (resolved
at once, or by ``call_later`` when there is latency) and receipts are ``call_later`` callbacks,
so the simulator keeps up with the SMPP stack's own throughput.

Receipts and MO for an account go to one of its receiver/transceiver binds (round robin).  While
none is bound they wait, and they are sent when one binds; one refused (any error status, e.g.
``ESME_RX_T_APPN``) or unanswered is sent again after ``retry_delay``.

Message IDs and the way receipts repeat them follow the configured carrier habit (:mod:`.ids`);
with ``receipt_before_response`` the receipts of a submission overtake its response, as with
carriers whose receipt path is faster than their submit path.  Binds are checked by
:mod:`.binds`: one refusal status for every mistake, and slower answers to repeated failures.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Final, Self

from martinet.smpp.aio import Handler, SMPPConnection, SMPPServer
from martinet.smpp.concatenation import concatenation_of
from martinet.smpp.constants import CommandId, CommandStatus, EsmClassType, MessageState, Tag
from martinet.smpp.errors import PDUError, SMPPError
from martinet.smpp.pdu import (
    PDU,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    QuerySm,
    QuerySmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
    encode,
)
from martinet.smpp.receipt import STAT_BY_STATE, ReceiptText, format_receipt_date, format_receipt_text
from martinet.smpp.session import Role, Session, response_to
from martinet.smpp.times import format_absolute_time
from martinet.smpp.tlv import TLV

from .binds import Accounts, failure_delay
from .config import SUBMIT_REFUSED_STATUS, TEST_RANGE, Fate, FinalStatus, SimulatorConfig
from .control import start_control
from .ids import MessageIds, receipt_id
from .messages import message_text, mo_deliver_sms
from .throttle import TokenBucket

__all__ = ["Address", "Counters", "Simulator", "SubmittedMessage"]

log = logging.getLogger("martinet.smsc")

_RECEIPT_ESM_CLASS: Final = EsmClassType.SMSC_DELIVERY_RECEIPT
_EXCERPT: Final = 20
_GSM_NETWORK: Final = 3  # network_error_code: network type GSM, then a 2-octet cause


@dataclass(slots=True)
class Counters:
    """What the simulator has done since it started (``GET /stats``)."""

    binds: int = 0
    bind_refusals: int = 0
    submitted: int = 0
    throttled: int = 0
    refused: int = 0
    receipts_sent: int = 0
    receipts_acked: int = 0
    receipts_retried: int = 0
    mo_injected: int = 0
    mo_sent: int = 0
    mo_acked: int = 0
    mo_retried: int = 0


@dataclass(slots=True)
class Address:
    ton: int
    npi: int
    addr: str


@dataclass(slots=True)
class SubmittedMessage:
    """A submission the simulator accepted and remembers, for its receipts, query_sm and cancel_sm.

    Also what a benchmark reads (:attr:`Simulator.messages`): ``received_at`` (wall clock) against the
    gateway's acceptance gives the accept→carrier latency, ``received_monotonic_ms`` orders arrivals and
    measures rates without the wall clock's jumps. Read-only for anyone but the simulator.
    """

    message_id: str
    system_id: str
    source: Address
    destination: Address
    submitted_at: float  # wall clock, seconds since the epoch
    received_at: int  # wall clock, Unix milliseconds (the same instant as submitted_at)
    received_monotonic_ms: float  # the simulator's monotonic clock, milliseconds
    validity_period: str  # as submitted ("" = the SMSC's default; data_sm has none)
    final_at: float  # loop time of the final receipt
    final_wall: float
    fate: FinalStatus | Fate
    registered_delivery: int
    excerpt: str
    cancelled: bool = False
    serial: int = 0  # the ID counter's value, which receipts may write instead of message_id


@dataclass(slots=True)
class _Delivery:
    """A deliver_sm owed to an account: a receipt or an MO part, retried until acknowledged."""

    system_id: str
    pdu: DeliverSm
    is_receipt: bool
    attempts: int = 0


class Simulator:
    """An SMSC on a port; ``async with Simulator(config) as smsc: ...`` or start()/stop().

    ``rng`` (default: seeded from ``config.seed``) decides outcomes and ids; ``wall_clock`` gives
    the dates written in receipts (seconds since the epoch, written in UTC); ``monotonic`` (seconds)
    stamps each submission's arrival for :attr:`messages`.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.counters = Counters()
        self._rng = rng if rng is not None else random.Random(config.seed)
        self._wall_clock = wall_clock or time.time
        self._monotonic = monotonic
        self._accounts = Accounts(config.credentials)
        self._buckets: dict[str, TokenBucket] = {}
        self._receivers: dict[str, list[SMPPConnection]] = {}
        self._turn = 0
        self._parked: dict[str, deque[_Delivery]] = {}
        self._messages: OrderedDict[str, SubmittedMessage] = OrderedDict()
        # "one_id": the ID and the parts seen so far of each concatenated submission still coming in.
        self._long_ids: OrderedDict[tuple[str, str, str, int, int], tuple[str, int, int]] = OrderedDict()
        # Drawn whatever the ID format, so that the outcomes of a seed do not depend on it.
        id_key = self._rng.randrange(1 << 32, 1 << 36)
        start = config.message_id_start if config.message_id_start is not None else id_key
        self._ids = MessageIds(config.message_id_format, start=start, width=config.message_id_width, key=id_key)
        self._next_reference = self._rng.randrange(256)
        outcomes = [(o, w) for o, w in config.outcomes.items() if w > 0]
        self._outcomes = [o for o, _ in outcomes]
        self._cumulative = [sum(w for _, w in outcomes[: i + 1]) for i in range(len(outcomes))]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: SMPPServer | None = None
        self._control: asyncio.Server | None = None
        self._running = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen for SMPP (and HTTP control, if configured)."""
        loop = self._loop = asyncio.get_running_loop()
        config = self.config
        connections: set[SMPPConnection] = set()
        listener = await loop.create_server(functools.partial(self._accept, connections), config.host, config.port)
        self._server = SMPPServer(listener, connections)
        self._running = True
        if config.control_port is not None:
            try:
                self._control = await start_control(self, config.control_host, config.control_port)
            except BaseException:
                await self.stop()
                raise

    async def stop(self) -> None:
        """Stop listening and unbind every ESME; owed receipts and MO are dropped."""
        self._running = False
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The SMPP port actually bound (config port 0 picks one)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.port

    @property
    def control_port(self) -> int | None:
        if self._control is None:
            return None
        return int(self._control.sockets[0].getsockname()[1])

    @property
    def messages(self) -> Mapping[str, SubmittedMessage]:
        """The accepted submissions by message ID, oldest arrival first (the last ``max_tracked_messages``).

        A ``submit_multi`` records one entry per destination under the same ID, so only its last stays here;
        refused and throttled submissions are not recorded (``counters`` counts them).
        """
        return MappingProxyType(self._messages)

    def stats(self) -> dict[str, Any]:
        """Counters, plus live binds and owed deliveries."""
        stats: dict[str, Any] = asdict(self.counters)
        connections = self._server.connections if self._server is not None else frozenset()
        stats["active_binds"] = sum(1 for c in connections if c.session.bound)
        stats["waiting_deliveries"] = sum(len(q) for q in self._parked.values())
        return stats

    # ------------------------------------------------------------------ binds

    def _accept(self, connections: set[SMPPConnection]) -> SMPPConnection:
        """A new TCP connection: its own session, and its own count of failed binds."""
        loop = self._loop
        assert loop is not None
        failures = [0]
        connection = SMPPConnection(
            Session(Role.SMSC, self.config.session, now=loop.time()),
            authenticate=functools.partial(self._authenticate, failures),
            handler_factory=self._bound,
            system_id=self.config.system_id,
        )
        connections.add(connection)
        connection.add_close_callback(connections.discard)
        return connection

    def _authenticate(self, failures: list[int], system_id: str, password: str) -> int | asyncio.Future[int]:
        """ESME_ROK, or ESME_RBINDFAIL whatever was wrong: at once the first time on a connection,
        later and later after that (``bind_failure_delay``)."""
        if self._accounts.check(system_id, password):
            return CommandStatus.ESME_ROK
        self.counters.bind_refusals += 1
        failures[0] += 1
        delay = failure_delay(failures[0], self.config.bind_failure_delay)
        if delay <= 0 or self._loop is None:
            return CommandStatus.ESME_RBINDFAIL
        answer: asyncio.Future[int] = self._loop.create_future()
        self._loop.call_later(delay, _settle, answer, int(CommandStatus.ESME_RBINDFAIL))
        return answer

    def _bound(self, connection: SMPPConnection) -> Handler:
        system_id = connection.system_id or ""
        self.counters.binds += 1
        if connection.can_receive:
            self._receivers.setdefault(system_id, []).append(connection)
            connection.add_close_callback(functools.partial(self._unbound, system_id))
            parked = self._parked.pop(system_id, None)
            for delivery in parked or ():
                self._deliver(delivery)
        return functools.partial(self._handle, system_id)

    def _unbound(self, system_id: str, connection: SMPPConnection) -> None:
        receivers = self._receivers.get(system_id, [])
        if connection in receivers:
            receivers.remove(connection)

    # ------------------------------------------------------------------ requests

    def _handle(self, system_id: str, pdu: PDU) -> asyncio.Future[PDU]:
        loop = self._loop
        assert loop is not None
        after: list[SubmittedMessage] = []
        command_id = pdu.command_id
        if command_id == CommandId.SUBMIT_SM or command_id == CommandId.DATA_SM or command_id == CommandId.SUBMIT_MULTI:
            response = self._submission(system_id, pdu, loop.time(), after)
        elif isinstance(pdu, QuerySm):
            response = self._query(system_id, pdu, loop.time())
        elif isinstance(pdu, CancelSm):
            response = self._cancel(system_id, pdu, loop.time())
        else:
            response = response_to(pdu, CommandStatus.ESME_RINVCMDID)  # replace_sm: not simulated
        future: asyncio.Future[PDU] = loop.create_future()
        latency = self.config.latency
        if after and self.config.receipt_before_response and self._running:
            self._answer_after_receipts(future, response, after, loop.time() + latency)
        elif latency > 0:
            loop.call_later(latency, self._answer, future, response, after)
        else:
            self._answer(future, response, after)
        return future

    def _answer_after_receipts(
        self, future: asyncio.Future[PDU], response: PDU, messages: list[SubmittedMessage], not_before: float
    ) -> None:
        """Send the receipts of ``messages`` now, and the response only once they are written.

        Each receipt is written by its connection's flush, already scheduled on the loop when it is
        sent; the response is set on a later turn (``call_at``), so it leaves after them, on the same
        connection or on another.  A receipt held back by a full window is written only when the ESME
        answers an earlier deliver_sm: then the response waits for that receipt's own answer.
        """
        loop = self._loop
        assert loop is not None
        held: list[asyncio.Future[PDU]] = []
        for message in messages:
            for outcome in self._receipts_wanted(message):
                waiting = self._emit_receipt(message, outcome)
                if waiting is not None:
                    held.append(waiting)
        if not held:
            loop.call_at(not_before, self._answer, future, response, [])
            return
        gathered = asyncio.gather(*held, return_exceptions=True)
        gathered.add_done_callback(lambda _: loop.call_at(not_before, self._answer, future, response, []))

    def _answer(self, future: asyncio.Future[PDU], response: PDU, messages: list[SubmittedMessage]) -> None:
        if not future.done():
            future.set_result(response)
        if messages and self._running:
            self._schedule_receipts(messages)

    def _submission(self, system_id: str, pdu: PDU, now: float, accepted: list[SubmittedMessage]) -> PDU:
        config = self.config
        if config.max_per_second is not None:
            bucket = self._buckets.get(system_id)
            if bucket is None:
                bucket = self._buckets[system_id] = TokenBucket(config.max_per_second, config.final_burst, now)
            if not bucket.take(now):
                self.counters.throttled += 1
                return response_to(pdu, CommandStatus.ESME_RTHROTTLED)
        if isinstance(pdu, SubmitMulti):
            return self._submit_multi(system_id, pdu, now, accepted)
        assert isinstance(pdu, SubmitSm | DataSm)
        fate = self._fate(pdu.destination_addr)
        if fate is Fate.SUBMIT_REFUSED:
            self.counters.refused += 1
            return response_to(pdu, SUBMIT_REFUSED_STATUS)
        message_id, serial, reported = self._issue(system_id, pdu)
        self.counters.submitted += 1
        destination = Address(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)
        message = self._record(system_id, message_id, serial, pdu, destination, fate, now)
        if message.registered_delivery & 0x03 and reported:
            accepted.append(message)
        if isinstance(pdu, DataSm):
            return DataSmResp(message_id=message_id)
        return SubmitSmResp(message_id=message_id)

    def _issue(self, system_id: str, pdu: SubmitSm | DataSm) -> tuple[str, int, bool]:
        """The message ID and serial of a submission, and whether it gets receipts: every submission does,
        except the parts of a concatenated message that `long_message_receipts` leaves unreported."""
        habit = self.config.long_message_receipts
        part = None if habit == "each_part" else _concatenation(pdu)
        if part is None:
            return (*self._ids.issue(), True)
        reference, total, seq = part
        if habit == "first_part":
            return (*self._ids.issue(), seq == 1)
        if habit == "last_part":
            return (*self._ids.issue(), seq == total)
        key = (system_id, pdu.source_addr, pdu.destination_addr, reference, total)
        known = self._long_ids.pop(key, None)
        message_id, serial, seen = known if known is not None else (*self._ids.issue(), 0)
        if seen + 1 < total:
            self._long_ids[key] = (message_id, serial, seen + 1)
            if len(self._long_ids) > self.config.max_tracked_messages:
                self._long_ids.popitem(last=False)
        return message_id, serial, seen + 1 >= total  # one receipt, once the last part has come

    def _submit_multi(self, system_id: str, pdu: SubmitMulti, now: float, accepted: list[SubmittedMessage]) -> PDU:
        """One message_id for every destination; each SME address gets its own fate and receipts
        (distribution lists are not simulated and are ignored)."""
        targets = [
            Address(d.dest_addr_ton, d.dest_addr_npi, d.destination_addr)
            for d in pdu.dest_address
            if isinstance(d, SmeAddress)
        ]
        if not targets:
            return response_to(pdu, CommandStatus.ESME_RINVNUMDESTS)
        message_id, serial = self._ids.issue()
        self.counters.submitted += 1
        refused = []
        for target in targets:
            fate = self._fate(target.addr)
            if fate is Fate.SUBMIT_REFUSED:
                refused.append(UnsuccessSme(target.ton, target.npi, target.addr, SUBMIT_REFUSED_STATUS))
                continue
            message = self._record(system_id, message_id, serial, pdu, target, fate, now)
            if message.registered_delivery & 0x03:
                accepted.append(message)
        return SubmitMultiResp(message_id=message_id, unsuccess_sme=tuple(refused))

    def _record(
        self,
        system_id: str,
        message_id: str,
        serial: int,
        pdu: SubmitSm | DataSm | SubmitMulti,
        destination: Address,
        fate: FinalStatus | Fate,
        now: float,
    ) -> SubmittedMessage:
        config = self.config
        delay = 0.0 if config.receipt_before_response else config.latency + config.receipt_delay
        wall = self._wall_clock()
        monotonic_ms = self._monotonic() * 1000
        message = SubmittedMessage(
            message_id=message_id,
            system_id=system_id,
            source=Address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr),
            destination=destination,
            submitted_at=wall,
            received_at=int(wall * 1000),
            received_monotonic_ms=monotonic_ms,
            validity_period="" if isinstance(pdu, DataSm) else pdu.validity_period,
            final_at=now + delay,
            final_wall=wall + delay,
            fate=fate,
            registered_delivery=pdu.registered_delivery,
            # Decoding the text costs; only receipts need it.
            excerpt=_excerpt(message_text(pdu)) if pdu.registered_delivery & 0x03 else "",
            serial=serial,
        )
        messages = self._messages
        messages[message_id] = message
        if len(messages) > config.max_tracked_messages:
            messages.popitem(last=False)
        return message

    def _fate(self, destination: str) -> FinalStatus | Fate:
        prefix = self.config.test_prefix
        if len(destination) == len(prefix) + 4 and destination.startswith(prefix):
            fixed = TEST_RANGE.get(destination[-4:])
            if fixed is not None:
                return fixed
        outcomes = self._outcomes
        if len(outcomes) == 1:
            return outcomes[0]
        cumulative = self._cumulative
        return outcomes[bisect.bisect_right(cumulative, self._rng.random() * cumulative[-1])]

    def _state(self, message: SubmittedMessage, now: float) -> MessageState:
        if message.cancelled:
            return MessageState.DELETED
        if message.fate is Fate.RECEIPT_LOST and now >= message.final_at:
            return MessageState.DELIVERED
        if now < message.final_at or isinstance(message.fate, Fate):
            return self.config.intermediate_receipt or MessageState.ENROUTE
        return message.fate.state

    def _query(self, system_id: str, pdu: QuerySm, now: float) -> PDU:
        message = self._messages.get(pdu.message_id)
        if message is None or message.system_id != system_id:
            return response_to(pdu, CommandStatus.ESME_RQUERYFAIL)
        state = self._state(message, now)
        final = state not in (MessageState.ENROUTE, MessageState.ACCEPTED)
        error = int(message.fate.err) if final and isinstance(message.fate, FinalStatus) else 0
        final_date = format_absolute_time(_utc(int(message.final_wall))) if final else ""
        return QuerySmResp(message_id=pdu.message_id, final_date=final_date, message_state=state, error_code=error)

    def _cancel(self, system_id: str, pdu: CancelSm, now: float) -> PDU:
        message = self._messages.get(pdu.message_id)
        if message is None or message.system_id != system_id or self._state(message, now) not in _CANCELLABLE:
            return response_to(pdu, CommandStatus.ESME_RCANCELFAIL)
        message.cancelled = True
        return CancelSmResp()

    # ------------------------------------------------------------------ receipts

    def _receipts_wanted(self, message: SubmittedMessage) -> list[FinalStatus | None]:
        """The receipts a message gets, in order: None for the intermediate one, then its outcome."""
        failure_only = message.registered_delivery & 0x03 == 0x02
        wanted: list[FinalStatus | None] = []
        if self.config.intermediate_receipt is not None and not failure_only:
            wanted.append(None)
        fate = message.fate
        if isinstance(fate, FinalStatus) and not (failure_only and fate is FinalStatus.DELIVRD):
            wanted.append(fate)
        return wanted

    def _schedule_receipts(self, messages: list[SubmittedMessage]) -> None:
        loop = self._loop
        assert loop is not None
        intermediate_at = loop.time() + self.config.final_intermediate_delay
        for message in messages:
            wanted = self._receipts_wanted(message)
            if len(wanted) == 2 and intermediate_at >= message.final_at:
                # Timers due at the same moment may fire in any order: one callback keeps them in order.
                loop.call_at(message.final_at, self._emit_receipts, message, wanted)
                continue
            for outcome in wanted:
                when = intermediate_at if outcome is None else message.final_at
                loop.call_at(when, self._emit_receipt, message, outcome)

    def _emit_receipts(self, message: SubmittedMessage, outcomes: list[FinalStatus | None]) -> None:
        for outcome in outcomes:
            self._emit_receipt(message, outcome)

    def _emit_receipt(self, message: SubmittedMessage, outcome: FinalStatus | None) -> asyncio.Future[PDU] | None:
        """Send one receipt (None: the intermediate one); see :meth:`_deliver` for what it returns."""
        if not self._running or message.cancelled:
            return None
        if outcome is None:
            state = self.config.intermediate_receipt or MessageState.ENROUTE
            stat, err, delivered = STAT_BY_STATE[state], "000", 0
        else:
            state, stat, err = outcome.state, outcome.stat, outcome.err
            delivered = 1 if outcome is FinalStatus.DELIVRD else 0
        config = self.config
        text_id = receipt_id(config.receipt_text_id, message.message_id, message.serial)
        tlv_id = receipt_id(config.receipt_tlv_id, message.message_id, message.serial)
        text = format_receipt_text(
            ReceiptText(
                message_id=text_id or "",
                stat=stat,
                submitted=1,
                delivered=delivered,
                submit_date=format_receipt_date(_utc(message.submitted_at)),
                done_date=format_receipt_date(_utc(self._wall_clock())),
                err=err,
                text=message.excerpt,
            )
        )
        if text_id is None:
            text = _without_id(text)
        tlvs = [TLV(Tag.MESSAGE_STATE, int(state))]
        if tlv_id is not None:
            tlvs.insert(0, TLV(Tag.RECEIPTED_MESSAGE_ID, tlv_id))
        if err != "000":
            tlvs.append(TLV(Tag.NETWORK_ERROR_CODE, bytes((_GSM_NETWORK,)) + int(err).to_bytes(2, "big")))
        pdu = DeliverSm(
            source_addr_ton=message.destination.ton,
            source_addr_npi=message.destination.npi,
            source_addr=message.destination.addr,
            dest_addr_ton=message.source.ton,
            dest_addr_npi=message.source.npi,
            destination_addr=message.source.addr,
            esm_class=_RECEIPT_ESM_CLASS,
            short_message=text.encode("ascii", "replace"),
            tlvs=tuple(tlvs),
        )
        return self._deliver(_Delivery(message.system_id, pdu, is_receipt=True))

    # ------------------------------------------------------------------ MO

    def inject_mo(self, source: str, destination: str, text: str, *, system_id: str | None = None) -> int:
        """Deliver a mobile-originated message to ``system_id`` (default: the first account).

        Returns the number of deliver_sm parts; raises ValueError for an unknown account, an
        address SMPP cannot carry or a text beyond 255 parts.
        """
        if system_id is None:
            if not self.config.credentials:
                raise ValueError("no account is configured to receive MO")
            system_id = self.config.credentials[0].system_id
        if system_id not in self._accounts:
            raise ValueError(f"unknown system_id {system_id!r}")
        self._next_reference = (self._next_reference + 1) & 0xFF
        parts = mo_deliver_sms(source, destination, text, reference=self._next_reference)
        try:
            encode(parts[0])
        except PDUError as exc:
            raise ValueError(f"cannot deliver this MO: {exc}") from None
        self.counters.mo_injected += 1
        for part in parts:
            self._deliver(_Delivery(system_id, part, is_receipt=False))
        return len(parts)

    # ------------------------------------------------------------------ delivery to the ESME

    def _receiver(self, system_id: str) -> SMPPConnection | None:
        connections = self._receivers.get(system_id)
        if not connections:
            return None
        for _ in range(len(connections)):
            self._turn += 1
            connection = connections[self._turn % len(connections)]
            if connection.session.bound and connection.can_receive:
                return connection
        return None

    def _deliver(self, delivery: _Delivery) -> asyncio.Future[PDU] | None:
        """Send ``delivery`` to a receiver of its account, or park it until one binds.

        Returns the future of its answer when the deliver_sm waits behind a full window (it is not
        on the wire yet), None when it is written on the connection's next flush or parked.
        """
        if not self._running:
            return None
        connection = self._receiver(delivery.system_id)
        future = None
        if connection is not None:
            try:
                future = connection.send_request(delivery.pdu)
            except SMPPError as exc:
                log.info("smsc: cannot deliver to %s now: %s", delivery.system_id, exc)
        if future is None or connection is None:
            self._parked.setdefault(delivery.system_id, deque()).append(delivery)
            return None
        delivery.attempts += 1
        if delivery.is_receipt:
            self.counters.receipts_sent += 1
        else:
            self.counters.mo_sent += 1
        future.add_done_callback(functools.partial(self._delivered, delivery))
        return future if connection.session.queued else None

    def _delivered(self, delivery: _Delivery, future: asyncio.Future[PDU]) -> None:
        acknowledged = (
            not future.cancelled()
            and future.exception() is None
            and future.result().command_status == CommandStatus.ESME_ROK
        )
        counters = self.counters
        if acknowledged:
            if delivery.is_receipt:
                counters.receipts_acked += 1
            else:
                counters.mo_acked += 1
            return
        if delivery.is_receipt:
            counters.receipts_retried += 1
        else:
            counters.mo_retried += 1
        if self._running and self._loop is not None:
            self._loop.call_later(self.config.retry_delay, self._deliver, delivery)


_CANCELLABLE: Final = frozenset({MessageState.ENROUTE, MessageState.ACCEPTED})


def _concatenation(pdu: SubmitSm | DataSm) -> tuple[int, int, int] | None:
    body = pdu.short_message if isinstance(pdu, SubmitSm) and pdu.short_message else pdu.get_tlv(Tag.MESSAGE_PAYLOAD)
    return concatenation_of(pdu.esm_class, body if isinstance(body, bytes) else b"", pdu)


def _excerpt(text: str) -> str:
    """The receipt's ``text:`` field: the first 20 characters, printable ASCII only."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:_EXCERPT])


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _without_id(text: str) -> str:
    """The receipt text of an SMSC that names the message only in the TLV: no ``id:`` field."""
    assert text.startswith("id: "), text  # written with an empty message_id
    return text[len("id: ") :]


def _settle(future: asyncio.Future[int], status: int) -> None:
    if not future.done():
        future.set_result(status)
