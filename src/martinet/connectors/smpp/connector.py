"""The SMPP carrier connector: binds to a carrier's SMSC, submits parts, turns deliver_sm into receipts and MO.

Shape: a few long-lived binds (each reconnecting on its own with jittered exponential backoff), one token bucket
for the whole connector, and `submit` spreading parts over the binds that can transmit. The carrier's answer to
each part is classified (`status_map`): throttling slows the bucket down and retries the part after a pause,
until `throttle_deadline`; other errors go back to the engine as temporary or permanent refusals.

Inbound `deliver_sm`/`data_sm` are answered only after the engine's sink has made them durable (receipts) or the
reassembled message has been stored (MO): a crash before that leaves them with the SMSC, which delivers them
again. Parts of a concatenated MO are acknowledged as they arrive and kept in memory until the message is
complete; a crash in between loses those parts (docs/smpp.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Sequence

from martinet.clock import now_ms
from martinet.config import SmppConnectorConfig
from martinet.connectors.base import (
    Accepted,
    InboundSink,
    InFlight,
    OutboundMessage,
    ReceiptSink,
    Refused,
    SubmitResult,
)
from martinet.connectors.smpp.concat import LongMessageMode, MoMessage, Reassembler, Submission, submissions
from martinet.connectors.smpp.message_ids import IdFormat, candidates, normalise
from martinet.connectors.smpp.receipts import is_receipt, parse_receipt
from martinet.connectors.smpp.status_map import TIMEOUT, addressing, classify, destination_addressing
from martinet.connectors.smpp.throttle import TokenBucket
from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.domain.status import INTERNAL_ERROR
from martinet.smpp import PDU, CommandStatus
from martinet.smpp.aio import ConnectionClosedError, ResponseTimeout, SMPPConnection, connect
from martinet.smpp.errors import SMPPError
from martinet.smpp.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp, GenericNack, SubmitSm
from martinet.smpp.session import SessionConfig

log = logging.getLogger(__name__)

_TRANSMITS = ("transmitter", "transceiver")


class SmppConnector:
    def __init__(self, config: SmppConnectorConfig) -> None:
        self._config = config
        self._bucket = TokenBucket(config.throughput)
        self._id_format = IdFormat(config.message_id_format)
        self._mode = LongMessageMode(config.long_messages)
        self._session = SessionConfig(
            window=config.window,
            response_timeout=config.response_timeout,
            enquire_link_interval=config.enquire_link_interval,
            dead_peer_timeout=config.dead_peer_timeout,
        )
        self._transmitters: list[SMPPConnection] = []
        self._connections: set[SMPPConnection] = set()
        self._next = itertools.count()
        self._references = itertools.count(random.randrange(1 << 16))
        self._reassembler = Reassembler(gsm_packed=config.gsm_packed)
        self._tasks: list[asyncio.Task[None]] = []
        self._receipts: ReceiptSink | None = None
        self._inbound: InboundSink | None = None
        self._stopping = False
        self.bound = asyncio.Event()

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def transmitters(self) -> int:
        return len(self._transmitters)

    async def start(self, receipts: ReceiptSink, inbound: InboundSink) -> None:
        self._receipts, self._inbound = receipts, inbound
        modes: list[str] = []
        for _ in range(self._config.binds):
            modes += ["transceiver"] if self._config.bind_mode == "transceiver" else ["transmitter", "receiver"]
        self._tasks = [asyncio.create_task(self._keep_bound(mode), name=f"{self.name}-{mode}") for mode in modes]
        self._tasks.append(asyncio.create_task(self._expire_partial_replies(), name=f"{self.name}-mo-expiry"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in list(self._connections)), return_exceptions=True)

    async def resume(self, in_flight: Sequence[InFlight]) -> None:
        """Nothing to do: the SMSC keeps unacknowledged receipts and delivers them once we bind again."""

    async def submit(self, batch: Sequence[OutboundMessage]) -> list[SubmitResult]:
        if not self._transmitters:
            return [Refused(m.message_id, True, INTERNAL_ERROR, f"{self.name}: not bound") for m in batch]
        return list(await asyncio.gather(*(self._submit_message(m) for m in batch)))

    # ------------------------------------------------------------------ submitting

    async def _submit_message(self, message: OutboundMessage) -> SubmitResult:
        reference = next(self._references) & 0xFFFF
        if self._mode is LongMessageMode.UDH8:
            reference &= 0xFF
        pieces = submissions(
            message.parts, message.encoding, mode=self._mode, reference=reference, gsm_packed=self._config.gsm_packed
        )
        source_ton, source_npi, source = addressing(message.sender)
        dest_ton, dest_npi, destination = destination_addressing(message.msisdn)
        carrier_ids: list[str] = []
        deadline = asyncio.get_running_loop().time() + self._config.throttle_deadline
        for piece in pieces:
            pdu = _submit_sm(
                piece, source_ton, source_npi, source, dest_ton, dest_npi, destination, self._config.registered_delivery
            )
            result = await self._submit_part(message.message_id, pdu, deadline)
            if isinstance(result, Refused):
                if carrier_ids:  # some parts left already: the message cannot be taken back whole
                    return Refused(
                        message.message_id, False, result.code, f"{result.detail} after part {len(carrier_ids)}"
                    )
                return result
            carrier_ids.append(result)
        return Accepted(message.message_id, tuple(carrier_ids))

    async def _submit_part(self, message_id: int, pdu: SubmitSm, deadline: float) -> str | Refused:
        loop = asyncio.get_running_loop()
        while True:
            await self._bucket.take()
            connection = self._pick()
            if connection is None:
                return Refused(message_id, True, INTERNAL_ERROR, f"{self.name}: not bound")
            try:
                response = await connection.request(pdu)
            except ResponseTimeout:
                return Refused(message_id, True, TIMEOUT.code, f"{self.name}: {TIMEOUT.detail}")
            except (ConnectionClosedError, SMPPError) as exc:
                return Refused(message_id, True, INTERNAL_ERROR, f"{self.name}: {exc}")
            outcome = classify(response.command_status)
            if outcome.kind == "ok" and not isinstance(response, GenericNack):
                return normalise(getattr(response, "message_id", "") or "", self._id_format)
            if outcome.kind == "throttled":
                self._bucket.slow_down()
                if loop.time() + self._config.throttle_retry > deadline:
                    return Refused(message_id, True, outcome.code, f"{self.name}: throttled ({outcome.detail})")
                await asyncio.sleep(self._config.throttle_retry)
                continue
            return Refused(message_id, outcome.kind != "permanent", outcome.code, f"{self.name}: {outcome.detail}")

    def _pick(self) -> SMPPConnection | None:
        """Round robin over the binds that can transmit and are not closed."""
        live = [c for c in self._transmitters if not c.closed]
        if not live:
            return None
        return live[next(self._next) % len(live)]

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
            failures = 0
            self._connections.add(connection)
            if mode in _TRANSMITS:
                self._transmitters.append(connection)
            self.bound.set()
            log.info("%s: %s bound to %s:%d", self.name, mode, self._config.host, self._config.port)
            try:
                closed = await connection.wait_closed()
                log.warning("%s: %s bind closed: %s", self.name, mode, type(closed).__name__)
            finally:
                self._connections.discard(connection)
                with contextlib.suppress(ValueError):
                    self._transmitters.remove(connection)
                if not self._transmitters:
                    self.bound.clear()
            if not self._stopping:
                await asyncio.sleep(_backoff(1, self._config.reconnect_min, self._config.reconnect_max))

    # ------------------------------------------------------------------ inbound

    async def _on_request(self, pdu: PDU) -> PDU:
        if isinstance(pdu, DeliverSm):
            await self._inbound_pdu(pdu)
            return DeliverSmResp(sequence_number=pdu.sequence_number, message_id="")
        if isinstance(pdu, DataSm):
            await self._inbound_pdu(pdu)
            return DataSmResp(sequence_number=pdu.sequence_number, message_id="")
        return GenericNack(sequence_number=pdu.sequence_number, command_status=CommandStatus.ESME_RINVCMDID)

    async def _inbound_pdu(self, pdu: DeliverSm | DataSm) -> None:
        """Receipt or MO; returns once it is durable (the caller then acknowledges it)."""
        assert self._receipts is not None and self._inbound is not None
        if is_receipt(pdu):
            parsed = parse_receipt(pdu, lenient=True, dates=False)
            if parsed is None:  # flagged as a receipt but unreadable: not a reply either
                log.warning("%s: unreadable delivery receipt dropped (sequence %d)", self.name, pdu.sequence_number)
                return
            receipt = Receipt(
                self.name,
                normalise(parsed.message_id, self._id_format),
                parsed.state,
                parsed.code,
                now_ms(),
                parsed.raw[:500],
                alternatives=candidates(parsed.message_id, self._id_format),
            )
            await self._receipts([receipt])
            return
        complete = self._reassembler.add(pdu, now=asyncio.get_running_loop().time())
        if complete is not None:
            await self._inbound([self._inbound_message(complete)])

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
        data_coding=piece.data_coding,
        short_message=piece.short_message,
        tlvs=piece.tlvs,
    )


def _backoff(failures: int, low: float, high: float) -> float:
    """Exponential backoff with full jitter: spreads the reconnects of many binds after a carrier outage."""
    ceiling = min(high, low * (2 ** min(failures, 16)))
    return random.uniform(low, ceiling)
