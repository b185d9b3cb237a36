"""The SMPP carrier connector: binds to a carrier's SMSC, submits parts, turns deliver_sm into receipts and MO.

Shape: a few long-lived binds (each reconnecting on its own with jittered exponential backoff), one send gate for
the whole connector (`throttle`: lane-aware token buckets, and the binds' windows), and `submit` spreading parts
over the binds that can transmit. A part waits in the gate, by lane priority, until it has a token and a window
slot, then goes on the wire at once: a one-time password overtakes the campaign parts handed over before it, and
the connector never sends faster than its throughput, which is what keeps a carrier limiting the account to the
same rate from ever answering ESME_RTHROTTLED (the argument is in `throttle`). The carrier's answer to each part
is classified (`status_map`): throttling slows the buckets down and retries the part after a pause, until
`throttle_deadline`; other errors go back to the engine as temporary or permanent refusals.

Inbound `deliver_sm`/`data_sm` are answered only after the engine's sink has made them durable (receipts) or the
reassembled message has been stored (MO): a crash before that leaves them with the SMSC, which delivers them
again. Parts of a concatenated MO are acknowledged as they arrive and kept in memory until the message is
complete; a crash in between loses those parts (docs/smpp.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Final

from martinet import metrics
from martinet.clock import now_ms
from martinet.config import SmppConnectorConfig
from martinet.connectors.base import (
    Accepted,
    InboundSink,
    InFlight,
    OutboundMessage,
    ReceiptSink,
    Refused,
    ResultListener,
    SubmitResult,
)
from martinet.connectors.smpp.concat import LongMessageMode, MoMessage, Reassembler, Submission, submissions
from martinet.connectors.smpp.id_learning import ReadingLearner
from martinet.connectors.smpp.message_ids import IdFormat, Reading, format_reading, normalise, readings
from martinet.connectors.smpp.receipts import MESSAGE_STATES, STATES, is_receipt, parse_receipt
from martinet.connectors.smpp.status_map import TIMEOUT, addressing, classify, destination_addressing
from martinet.connectors.smpp.throttle import LaneBuckets, SendGate
from martinet.domain.backoff import doubling
from martinet.domain.inbound import InboundMessage
from martinet.domain.lanes import Lane
from martinet.domain.receipts import Receipt
from martinet.domain.status import FINAL_STATES, INTERNAL_ERROR
from martinet.smpp import PDU, CommandStatus
from martinet.smpp.aio import AnswerAfter, ConnectionClosedError, ResponseTimeout, SMPPConnection, connect
from martinet.smpp.errors import SMPPError
from martinet.smpp.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp, GenericNack, QuerySm, QuerySmResp, SubmitSm
from martinet.smpp.session import SessionConfig
from martinet.smpp.times import unix_ms_to_absolute_time

log = logging.getLogger(__name__)

_TRANSMITS = ("transmitter", "transceiver")

QUEUE_SECONDS: Final = 0.25
"""How much traffic a rate-limited connector lets wait for tokens, in seconds of its rate (`capacity`)."""

UNLIMITED_WINDOWS: Final = 8
"""How many windows' worth of parts an unlimited connector lets wait or fly (`capacity`): enough that claiming
and recording stay batched at thousands per second; waiting parts are served by lane, so an OTP still passes them."""


class _Windows:
    """The binds that can transmit and how many of our parts each has on the wire: the gate's `Slots`.

    A part is counted from the moment the gate grants it a slot until its answer (or failure), so the gate never
    hands a bind more than `window` parts and nothing queues inside a session, where lanes are not seen. (A
    keep-alive shares the session's window, so at most one part may wait there behind an enquire_link.)
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._binds: list[SMPPConnection] = []
        self._parts: dict[SMPPConnection, int] = {}
        self._turn = 0
        self.in_flight = 0

    def add(self, connection: SMPPConnection) -> None:
        if connection not in self._parts:
            self._binds.append(connection)
            self._parts[connection] = 0

    def remove(self, connection: SMPPConnection) -> None:
        if connection in self._parts:
            self._binds.remove(connection)
            self.in_flight -= self._parts.pop(connection)

    def live(self) -> int:
        count = 0
        for connection in self._binds:
            if not connection.closed:
                count += 1
        return count

    def open(self) -> bool:
        """Asked for every part handed over and every waiting one served: a loop, not a generator."""
        for connection in self._binds:  # noqa: SIM110 (any() builds a generator per call)
            if not connection.closed:
                return True
        return False

    def reserve(self) -> SMPPConnection | None:
        """Round robin over the open binds with room in their window (called for every part: kept lean)."""
        binds, parts, window = self._binds, self._parts, self._window
        count = len(binds)
        for i in range(count):
            turn = (self._turn + i) % count
            connection = binds[turn]
            if parts[connection] < window and not connection.closed:
                self._turn = turn + 1
                parts[connection] += 1
                self.in_flight += 1
                return connection
        return None

    def release(self, slot: SMPPConnection) -> None:
        if slot in self._parts:  # else the bind is gone, and its count with it
            self._parts[slot] -= 1
            self.in_flight -= 1


class SmppConnector:
    """An SMPP carrier (see the module docstring).

    `otp_reserved_share` is the fraction of the throughput only one-time passwords may use (`lanes` in the
    configuration); `clock` (monotonic seconds) is what the token buckets are read with.
    """

    def __init__(
        self,
        config: SmppConnectorConfig,
        *,
        otp_reserved_share: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._windows = _Windows(config.window)
        self._gate = SendGate(
            LaneBuckets(config.throughput, reserved_share=otp_reserved_share, now=clock()), self._windows, clock=clock
        )
        self._queued = 0  # parts handed over and not on the wire: waiting for the gate, or to be sent again
        self._id_format = IdFormat(config.message_id_format)
        self._id_reading = format_reading(self._id_format)
        self._learner = ReadingLearner() if self._id_reading is None else None
        if self._id_reading is not None:
            metrics.receipt_id_reading(config.name, self._id_reading)
        self._mode = LongMessageMode(config.long_messages)
        self._session = SessionConfig(
            window=config.window,
            response_timeout=config.response_timeout,
            enquire_link_interval=config.enquire_link_interval,
            dead_peer_timeout=config.dead_peer_timeout,
            max_inbound_pending=config.inbound_window,
        )
        self._connections: set[SMPPConnection] = set()
        self._references = itertools.count(random.randrange(1 << 16))
        self._reassembler = Reassembler(gsm_packed=config.gsm_packed)
        self._tasks: list[asyncio.Task[None]] = []
        self._receipts: ReceiptSink | None = None
        self._inbound: InboundSink | None = None
        self._stopping = False
        self._throttled = metrics.THROTTLED.labels(config.name)
        # Set once the carrier refuses a validity_period (ESME_RINVEXPIRY: one shorter than its own maximum, or
        # none of its format): parts then go without one, the engine still expiring what waits too long.
        self._validity_refused = False
        self._refusals: collections.Counter[int] = collections.Counter()  # by command_status, for the console
        self._throttle_wait = metrics.THROTTLE_WAIT.labels(config.name)
        self.bound = asyncio.Event()

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def transmitters(self) -> int:
        """Binds open that can transmit."""
        return self._windows.live()

    @property
    def ready(self) -> bool:
        """At least one bind that can transmit is open."""
        return self._windows.open()

    @property
    def window_in_use(self) -> int:
        return self._windows.in_flight

    @property
    def refusals(self) -> Mapping[int, int]:
        return self._refusals

    @property
    def id_reading(self) -> str | None:
        """How the carrier writes message IDs in its receipts (`message_ids.Reading`): configured, or learned
        from traffic in auto mode; None while still learning."""
        return self._id_reading

    def capacity(self, lane: str) -> int:
        """How many more parts of `lane` can be handed over now without a queue forming here.

        Rate-limited, a quarter of a second of the lane's rate (the whole rate for OTP, the non-reserved share
        for the others) may wait for tokens: enough to keep sending until the dispatcher's next cycle, little
        enough that a campaign does not sit in memory. Parts on the wire do not count against it, so a carrier
        that answers slowly does not starve the connector; if its windows fill up, parts wait here and capacity
        drops to 0. Unlimited, the binds' windows set the bound: `UNLIMITED_WINDOWS` × `window` × open binds,
        minus the parts waiting or on the wire. OTP gets a figure too, though the dispatcher ignores it: a
        one-time password is claimed anyway and overtakes whatever waits. 0 when no bind can transmit.
        """
        binds = self._windows.live()
        if not binds:
            return 0
        rate = self._gate.buckets.rate_for(otp=lane == Lane.OTP)
        if rate == 0:
            depth = UNLIMITED_WINDOWS * self._config.window * binds
            return max(0, depth - self._windows.in_flight - self._queued)
        return max(0, max(1, math.ceil(rate * QUEUE_SECONDS)) - self._queued)

    def set_share(self, fraction: float) -> None:
        """Send at `fraction` (0 < fraction ≤ 1) of the configured throughput: engines sharing a database split
        each carrier's throughput between them, so that together they stay within what the carrier allows."""
        self._gate.set_share(fraction)

    async def start(self, receipts: ReceiptSink, inbound: InboundSink) -> None:
        self._receipts, self._inbound = receipts, inbound
        modes: list[str] = []
        for _ in range(self._config.binds):
            modes += ["transceiver"] if self._config.bind_mode == "transceiver" else ["transmitter", "receiver"]
        self._tasks = [asyncio.create_task(self._keep_bound(mode), name=f"{self.name}-{mode}") for mode in modes]
        self._tasks.append(asyncio.create_task(self._expire_partial_replies(), name=f"{self.name}-mo-expiry"))
        if self._learner is not None:
            self._tasks.append(asyncio.create_task(self._learn_id_reading(), name=f"{self.name}-id-reading"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in list(self._connections)), return_exceptions=True)

    async def resume(self, in_flight: Sequence[InFlight]) -> None:
        """Nothing to do: the SMSC keeps unacknowledged receipts and delivers them once we bind again."""

    async def submit(
        self, batch: Sequence[OutboundMessage], on_result: ResultListener | None = None
    ) -> list[SubmitResult]:
        if not self.ready:
            refused: list[SubmitResult] = [
                Refused(m.message_id, True, INTERNAL_ERROR, f"{self.name}: not bound") for m in batch
            ]
            if on_result is not None:
                for result in refused:
                    on_result(result)
            return refused
        return list(await asyncio.gather(*(self._submit_message(m, on_result) for m in batch)))

    # ------------------------------------------------------------------ submitting

    async def _submit_message(self, message: OutboundMessage, on_result: ResultListener | None) -> SubmitResult:
        """Submit every part of `message`; the window slot of its accepted parts (one, passed from part to part)
        is held until the listener's recording is done, so messages answered but not yet recorded count against
        the window: what a crash can send twice never exceeds `window` messages per bind (docs/engine.md, "After a
        crash")."""
        held: list[SMPPConnection] = []
        try:
            result = await self._submit_pieces(message, held)
            recording = on_result(result) if on_result is not None else None
            if recording is not None and held:
                await _settled(recording, self._config.response_timeout)
            return result
        finally:
            for connection in held:
                self._gate.release(connection)

    async def _submit_pieces(self, message: OutboundMessage, held: list[SMPPConnection]) -> SubmitResult:
        reference = next(self._references) & 0xFFFF
        if self._mode is LongMessageMode.UDH8:
            reference &= 0xFF
        pieces = submissions(
            message.parts, message.encoding, mode=self._mode, reference=reference, gsm_packed=self._config.gsm_packed
        )
        source_ton, source_npi, source = addressing(message.sender)
        dest_ton, dest_npi, destination = destination_addressing(message.msisdn)
        validity = ""
        if message.expires_at is not None and not self._validity_refused:
            validity = unix_ms_to_absolute_time(message.expires_at)
        carrier_ids: list[str] = []
        deadline = asyncio.get_running_loop().time() + self._config.throttle_deadline
        self._queued += len(pieces)
        started = 0
        try:
            for piece in pieces:
                pdu = _submit_sm(
                    piece,
                    source_ton,
                    source_npi,
                    source,
                    dest_ton,
                    dest_npi,
                    destination,
                    self._config.registered_delivery,
                    validity,
                )
                started += 1
                result = await self._submit_part(message.message_id, message.lane, pdu, deadline, held)
                if isinstance(result, Refused):
                    if carrier_ids:  # some parts left already: the message cannot be taken back whole
                        return Refused(
                            message.message_id, False, result.code, f"{result.detail} after part {len(carrier_ids)}"
                        )
                    return result
                carrier_ids.append(result)
                if self._learner is not None:
                    self._learner.submitted(result, message.msisdn, asyncio.get_running_loop().time())
        finally:
            self._queued -= len(pieces) - started  # the parts never tried; each tried one counted itself out
        return Accepted(message.message_id, _reported_ids(carrier_ids, self._config.long_message_receipts))

    async def _submit_part(
        self, message_id: int, lane: str, pdu: SubmitSm, deadline: float, held: list[SMPPConnection]
    ) -> str | Refused:
        """Send one part (counted in `_queued` until it is on the wire) and read the carrier's answer.

        The slot of the message's previous part (`held`) is passed on to this one: a message keeps one window
        slot from its first accepted part until its recording, so that messages sent part by part never hold
        every slot between them while each waits for another (docs/engine.md, "After a crash")."""
        loop = asyncio.get_running_loop()
        queued = True
        carried = held[-1] if held else None
        if carried is not None and carried.closed:  # its bind is gone: this part takes a slot like any other
            self._gate.release(held.pop())
            carried = None
        try:
            while True:
                waiting_since = loop.time()
                connection = await self._gate.acquire(lane, carried)
                self._throttle_wait.observe(loop.time() - waiting_since)
                if carried is not None:
                    held.pop()  # now `connection`, released or held again below like any part's slot
                    if connection is None:
                        self._gate.release(carried)
                    carried = None
                if connection is None:
                    return Refused(message_id, True, INTERNAL_ERROR, f"{self.name}: not bound")
                self._queued -= 1
                queued = False
                try:
                    response = await connection.request(pdu)
                except ResponseTimeout:
                    self._gate.release(connection)
                    return Refused(message_id, True, TIMEOUT.code, f"{self.name}: {TIMEOUT.detail}")
                except (ConnectionClosedError, SMPPError) as exc:
                    self._gate.release(connection)
                    return Refused(message_id, True, INTERNAL_ERROR, f"{self.name}: {exc}")
                except BaseException:
                    self._gate.release(connection)
                    raise
                outcome = classify(response.command_status)
                if outcome.kind == "ok" and not isinstance(response, GenericNack):
                    held.append(connection)  # released once the engine has recorded the message (`submit`)
                    return normalise(getattr(response, "message_id", "") or "", self._id_format)
                self._gate.release(connection)
                self._refusals[response.command_status] += 1
                if response.command_status == CommandStatus.ESME_RINVEXPIRY and pdu.validity_period:
                    if not self._validity_refused:
                        self._validity_refused = True
                        log.warning("%s: the carrier refuses validity_period; parts go without it", self.name)
                    pdu = replace(pdu, validity_period="")
                    self._queued += 1
                    queued = True
                    continue
                if outcome.kind == "throttled":
                    self._throttled.inc()
                    self._gate.slow_down()
                    if loop.time() + self._config.throttle_retry > deadline:
                        return Refused(message_id, True, outcome.code, f"{self.name}: throttled ({outcome.detail})")
                    self._queued += 1
                    queued = True
                    await asyncio.sleep(self._config.throttle_retry)
                    continue
                return Refused(message_id, outcome.kind != "permanent", outcome.code, f"{self.name}: {outcome.detail}")
        finally:
            if queued:
                self._queued -= 1

    # ------------------------------------------------------------------ querying

    async def query(self, carrier_ids: Sequence[str]) -> dict[str, Receipt]:
        """Ask the carrier (query_sm, when `query_sm` is enabled) the final status of parts whose receipt is
        overdue. The query names the part by its stored ID, the carrier's own writing with `as_is`. Each query
        takes a token and a window slot like a part of the marketing lane, so it never delays other traffic."""
        if not self._config.query_sm or not self.ready:
            return {}
        answers = await asyncio.gather(*(self._query_one(carrier_id) for carrier_id in carrier_ids))
        return {receipt.carrier_id: receipt for receipt in answers if receipt is not None}

    async def _query_one(self, carrier_id: str) -> Receipt | None:
        connection = await self._gate.acquire(Lane.MARKETING)
        if connection is None:
            return None
        try:
            response = await connection.request(QuerySm(message_id=carrier_id))
        except (ResponseTimeout, ConnectionClosedError, SMPPError):
            return None
        finally:
            self._gate.release(connection)
        if not isinstance(response, QuerySmResp) or response.command_status != CommandStatus.ESME_ROK:
            return None
        stat = MESSAGE_STATES.get(response.message_state, "UNKNOWN")
        state, code = STATES[stat]
        if state not in FINAL_STATES or stat == "UNKNOWN":
            return None
        detail = f"query_sm: stat:{stat} err:{response.error_code:03d}"
        return Receipt(self.name, carrier_id, state, code, now_ms(), detail)

    # ------------------------------------------------------------------ binds

    async def _keep_bound(self, mode: str) -> None:
        failures = 0
        while not self._stopping:
            try:
                connection = await connect(
                    self._config.host,
                    self._config.port,
                    system_id=self._config.system_id,
                    password=self._config.password,
                    system_type=self._config.system_type,
                    bind=mode,  # type: ignore[arg-type]
                    config=self._session,
                    handler=self._on_request,
                )
            except (OSError, SMPPError, TimeoutError) as exc:
                failures += 1
                delay = _backoff(failures, self._config.reconnect_min, self._config.reconnect_max)
                log.warning("%s: %s bind failed (%s); retrying in %.1fs", self.name, mode, exc, delay)
                await asyncio.sleep(delay)
                continue
            bound_at = asyncio.get_running_loop().time()
            self._connections.add(connection)
            if mode in _TRANSMITS:
                self._windows.add(connection)
                self._gate.wake()
            self.bound.set()
            log.info("%s: %s bound to %s:%d", self.name, mode, self._config.host, self._config.port)
            try:
                closed = await connection.wait_closed()
                log.warning("%s: %s bind closed: %s", self.name, mode, type(closed).__name__)
            finally:
                self._connections.discard(connection)
                self._windows.remove(connection)
                if not self._windows.open():
                    self.bound.clear()
                self._gate.wake()  # parts waiting go to another bind, or are refused if none is left
            # A bind that lasted starts the backoff over; one the carrier ends at once (a full account, a bind
            # it refuses after accepting it) counts as a failed bind, so that the next wait grows.
            if asyncio.get_running_loop().time() - bound_at >= STABLE_BIND_SECONDS:
                failures = 0
            failures += 1
            if not self._stopping:
                await asyncio.sleep(_backoff(failures, self._config.reconnect_min, self._config.reconnect_max))

    # ------------------------------------------------------------------ inbound

    def _on_request(self, pdu: PDU) -> PDU | AnswerAfter:
        """The answer to a carrier's request, once what it brought is durable.

        A plain function rather than a coroutine: a receipt (two per message) then costs no task of its own, only
        the recorder's future, from whose callback its answer leaves.
        """
        if isinstance(pdu, DeliverSm):
            answer: PDU = DeliverSmResp(sequence_number=pdu.sequence_number, message_id="")
        elif isinstance(pdu, DataSm):
            answer = DataSmResp(sequence_number=pdu.sequence_number, message_id="")
        else:
            return GenericNack(sequence_number=pdu.sequence_number, command_status=CommandStatus.ESME_RINVCMDID)
        durable = self._inbound_pdu(pdu)
        return answer if durable is None else AnswerAfter(asyncio.ensure_future(durable), answer)

    def _inbound_pdu(self, pdu: DeliverSm | DataSm) -> Awaitable[None] | None:
        """Hands a receipt or a reply to its sink; what to wait for before acknowledging it (None: nothing)."""
        assert self._receipts is not None and self._inbound is not None
        # Some SMSCs flag their receipts with another esm_class (0, an SME acknowledgement's 0x08, the messaging
        # mode's 0x02): a PDU is one too when it carries a receipted_message_id or a receipt's `id:` and `stat:`
        # (`parse_receipt`'s `lenient`), which a handset's reply does not.
        parsed = parse_receipt(pdu, lenient=True, dates=False)
        if parsed is None and is_receipt(pdu):  # flagged as a receipt but unreadable: not a reply either
            log.warning("%s: unreadable delivery receipt dropped (sequence %d)", self.name, pdu.sequence_number)
            return None
        if parsed is not None:
            handset = pdu.source_addr or None
            carrier_id, alternatives = self._receipt_ids(readings(parsed.message_id, self._id_format), handset)
            receipt = Receipt(
                self.name,
                carrier_id,
                parsed.state,
                parsed.code,
                now_ms(),
                parsed.raw[:500],
                alternatives=alternatives,
                handset=handset,
            )
            return self._receipts([receipt])
        complete = self._reassembler.add(pdu, now=asyncio.get_running_loop().time())
        if complete is None:
            return None
        return self._inbound([self._inbound_message(complete)])

    def _receipt_ids(self, forms: dict[Reading, str], handset: str | None) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The canonical ID a receipt names, and its other readings while the carrier's habit is being learned
        (an uncertain receipt, see `domain.receipts`)."""
        if len(forms) == 1:
            return next(iter(forms.values())), ()
        if self._id_reading is not None:
            return forms.get(self._id_reading, forms[Reading.LITERAL]), ()
        assert self._learner is not None
        self._learner.observe(forms, handset, asyncio.get_running_loop().time())
        learned = self._adopt_learned_reading()
        if learned is not None:
            return forms.get(learned, forms[Reading.LITERAL]), ()
        literal = forms[Reading.LITERAL]
        return literal, tuple((str(reading), form) for reading, form in forms.items() if reading is not Reading.LITERAL)

    def _adopt_learned_reading(self) -> Reading | None:
        """Use the reading the learner settled on (announced once); the connector's reading, if it has one."""
        if self._id_reading is None and self._learner is not None and self._learner.reading is not None:
            self._id_reading = self._learner.reading
            metrics.receipt_id_reading(self.name, self._id_reading)
            log.info(
                "%s: receipts write message IDs as %s (votes %s)", self.name, self._id_reading, self._learner.votes
            )
        return self._id_reading

    async def _learn_id_reading(self) -> None:
        """Weigh the receipts of a burst once their second has passed, even if no traffic follows."""
        assert self._learner is not None
        while self._adopt_learned_reading() is None:
            await asyncio.sleep(0.5)
            self._learner.judge(asyncio.get_running_loop().time())

    def _inbound_message(self, message: MoMessage) -> InboundMessage:
        return InboundMessage(
            connector=self.name,
            source=message.source,
            destination=message.destination,
            text=message.text,
            received_at=now_ms(),
            parts=message.received,
        )

    async def _expire_partial_replies(self) -> None:
        """Store what arrived of concatenated replies whose other parts never came, rather than drop it."""
        while True:
            await asyncio.sleep(30)
            expired = self._reassembler.expire(now=asyncio.get_running_loop().time())
            if expired and self._inbound is not None:
                with contextlib.suppress(Exception):
                    await self._inbound([self._inbound_message(m) for m in expired])


def _submit_sm(
    piece: Submission,
    source_ton: int,
    source_npi: int,
    source: str,
    dest_ton: int,
    dest_npi: int,
    destination: str,
    registered_delivery: int,
    validity_period: str,
) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        source_addr=source,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        destination_addr=destination,
        esm_class=piece.esm_class,
        registered_delivery=registered_delivery,
        validity_period=validity_period,
        data_coding=piece.data_coding,
        short_message=piece.short_message,
        tlvs=piece.tlvs,
    )


def _reported_ids(carrier_ids: list[str], habit: str) -> tuple[str, ...]:
    """The IDs to store for a message's parts: a carrier that reports only one part of a long message has every
    part stored under that part's ID, so that its receipt settles them all (store/receipts.py)."""
    if len(carrier_ids) < 2 or habit == "each_part":
        return tuple(carrier_ids)
    return (carrier_ids[0] if habit == "first_part" else carrier_ids[-1],) * len(carrier_ids)


async def _settled(recording: Awaitable[None], within: float) -> None:
    """Wait until `recording` is done, at most `within` seconds, without cancelling it or raising its error (a
    failed recording is the engine's to handle).

    What `wait_for(shield(recording))` did, with one future and one timer rather than a task, two futures and
    their callbacks: it runs for every message accepted.
    """
    future = asyncio.ensure_future(recording)
    if future.done():
        _retrieved(future)
        return
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: object = None) -> None:
        if future.done():
            _retrieved(future)
        if not waiter.done():
            waiter.set_result(None)

    timer = asyncio.get_running_loop().call_later(within, wake)
    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(wake)


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark a failed recording's error as seen here (as `shield` did): the engine logs it."""
    if not future.cancelled():
        future.exception()


#: Seconds a bind must last for the reconnection backoff to start over when it ends.
STABLE_BIND_SECONDS = 30.0


def _backoff(failures: int, low: float, high: float) -> float:
    """Exponential backoff with full jitter: spreads the reconnects of many binds after a carrier outage."""
    return random.uniform(low, doubling(failures + 1, low, high, most=16))
