"""The SIP connector: each voice message becomes a phone call through the trunk.

A message is taken at once (its "carrier ID" is a call reference of ours) and called in the background, at most
`max_calls` at a time; every attempt and its outcome reach the message as receipts, through the engine's receipt
sink like an SMSC's: "calling" (1) when an attempt starts, a soft code when it failed and another follows after
`retry_delay`, and the final status (16 listened, 17 partly listened, or a failure, docs/voice.md).

Synthesis is done here, in the engine, off the event loop and cached (`martinet.voice.synthesis.Speech`).
Messages other than voice are refused permanently (36): routing never sends them here. After a restart the
engine hands back calls that were in progress; a call cannot be resumed, and calling again could ring the
person twice, so they are reported with an unknown outcome (3599).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Sequence

from martinet.config import SipConnectorConfig
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
from martinet.connectors.sip.outcomes import describe, outcome
from martinet.domain import voice
from martinet.domain.receipts import UNKNOWN_OUTCOME, Receipt
from martinet.domain.status import EXPIRED, State
from martinet.sip.uac import CallResult, SipCaller, TrunkSettings
from martinet.voice.synthesis import Audio, Speech, SynthesisError

log = logging.getLogger(__name__)

MESSAGE_ERROR = 36
INTERNAL_ERROR = 2


class SipConnector:
    def __init__(self, config: SipConnectorConfig, speech: Speech, *, repeat: int = 2) -> None:
        self._config = config
        self._speech = speech
        self._repeat = repeat
        self._caller = SipCaller(
            TrunkSettings(
                host=config.host,
                port=config.port,
                transport=config.transport,
                domain=config.domain,
                username=config.username,
                password=config.password,
                caller_id=config.caller_id,
                local_host=config.local_host,
                codec=config.codec,
                ring_timeout=config.ring_timeout,
            )
        )
        self._slots = asyncio.Semaphore(config.max_calls)
        self._sink: ReceiptSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._prefix = f"{int(time.time() * 1000):x}"
        self._started = False
        self.results: list[CallResult] = []  # every attempt's outcome, for benchmarks and diagnostics

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def ready(self) -> bool:
        return self._started and self._caller.ready

    def capacity(self, lane: str) -> int:
        """Calls it can start now: the concurrent-call limit less the calls in progress or waiting."""
        return max(0, self._config.max_calls - len(self._tasks)) if self.ready else 0

    def set_share(self, fraction: float) -> None:
        """Nothing to share: the limit is on calls in progress, per engine."""
        if not 0 < fraction <= 1:
            raise ValueError("the share of a connector's throughput must be in (0, 1]")

    async def start(self, receipts: ReceiptSink, inbound: InboundSink) -> None:
        self._sink = receipts
        await self._caller.start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._caller.stop()

    async def submit(
        self, batch: Sequence[OutboundMessage], on_result: ResultListener | None = None
    ) -> list[SubmitResult]:
        results: list[SubmitResult] = []
        for message in batch:
            result: SubmitResult
            if message.voice is None:
                result = Refused(message.message_id, False, MESSAGE_ERROR, f"{self.name}: carries voice messages only")
            else:
                carrier_id = f"{self._prefix}-{next(self._ids)}"
                result = Accepted(message.message_id, (carrier_id,))
            results.append(result)
            recording = on_result(result) if on_result is not None else None
            if isinstance(result, Accepted):
                # The call starts once its submission is durable, so its first status never waits for it.
                call = self._deliver(result.carrier_ids[0], message, recording)
                task = asyncio.create_task(call, name=f"call-{result.carrier_ids[0]}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return results

    async def resume(self, in_flight: Sequence[InFlight]) -> None:
        if in_flight:
            await self._emit(
                [p.carrier_id for p in in_flight],
                State.UNDELIVERED,
                UNKNOWN_OUTCOME,
                "the engine restarted during the call",
            )

    # ------------------------------------------------------------------ calls

    async def _deliver(self, carrier_id: str, message: OutboundMessage, recording: Awaitable[None] | None) -> None:
        assert message.voice is not None
        spoken = message.voice
        if recording is not None:
            try:
                await recording
            except Exception:
                # Not durable: the message returns to the queue when its lease ends and is called then, once.
                log.warning("the submission of %s was not recorded; not calling now", carrier_id)
                return
        try:
            audio = await self._speech.audio(
                voice.script(spoken.title, message.parts[0] if message.parts else "", self._repeat), spoken.language
            )
        except SynthesisError as exc:
            log.error("synthesis failed for %s: %s", carrier_id, exc)
            await self._emit([carrier_id], State.UNDELIVERED, MESSAGE_ERROR, f"speech synthesis failed: {exc}")
            return
        attempts = self._config.attempts
        for attempt in range(1, attempts + 1):
            if message.expires_at is not None and time.time() * 1000 >= message.expires_at:
                await self._emit([carrier_id], State.EXPIRED, EXPIRED, f"validity ended before attempt {attempt}")
                return
            async with self._slots:
                await self._emit([carrier_id], State.SENT, voice.CALLING, f"attempt {attempt}/{attempts}: calling")
                result = await self._attempt(message.msisdn, audio)
            self.results.append(result)
            verdict = outcome(result)
            detail = describe(result, attempt, attempts)
            if verdict.retry and attempt < attempts:
                await self._emit(
                    [carrier_id],
                    State.SENT,
                    verdict.retry_code,
                    f"{detail}; next attempt in {self._config.retry_delay:g} s",
                )
                await asyncio.sleep(self._config.retry_delay)
                continue
            await self._emit([carrier_id], verdict.state, verdict.code, detail)
            return

    async def _attempt(self, msisdn: str, audio: Audio) -> CallResult:
        try:
            return await self._caller.call(msisdn, audio.g711)
        except OSError as exc:
            return CallResult(503, f"transport error: {exc}")

    async def _emit(self, carrier_ids: list[str], state: State, code: int, detail: str) -> None:
        assert self._sink is not None
        now = int(time.time() * 1000)
        receipts = [Receipt(self.name, cid, state, code, now, detail) for cid in carrier_ids]
        while True:
            try:
                await self._sink(receipts)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording a call's status failed; trying again")
                await asyncio.sleep(1.0)
