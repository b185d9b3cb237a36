"""The dispatcher: claims due messages, hands them to connectors, records what they answered.

Routing is still simple: an account in test mode goes to the sandbox connector, every other one to the first
carrier connector (or the sandbox when there is none). Lanes, routes and failover build on this loop; what stays
is the cycle claim → submit → record, each step batched, with the lease protecting the gap between submit and
record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from martinet.connectors.base import Accepted, Connector, OutboundMessage, Refused, SubmitResult
from martinet.domain.status import INTERNAL_ERROR
from martinet.domain.text import Encoding, NonGsmPolicy, analyze
from martinet.store.queue import ClaimedMessage, QueueStore, SendContent, SubmitFailed, Submitted

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    node: str  # this machine's name among the engines sharing the database
    owner: str  # this process: f"{node}:{pid}"
    batch_size: int
    lease_ms: int
    retry_delay_ms: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class _Segmented:
    content: SendContent
    parts: tuple[str, ...]
    encoding: Encoding


class Dispatcher:
    def __init__(
        self,
        queue: QueueStore,
        carrier: Connector,
        sandbox: Connector | None,
        settings: DispatchSettings,
        now_ms: Callable[[], int],
        cache_size: int = 4096,
    ) -> None:
        self._queue = queue
        self._carrier = carrier
        self._sandbox = sandbox or carrier
        self._settings = settings
        self._now_ms = now_ms
        self._sends: OrderedDict[str, _Segmented] = OrderedDict()
        self._cache_size = cache_size

    async def run(self, stop: asyncio.Event, idle_wait: float) -> None:
        """Loop until `stop`. A cycle that did not fill a batch waits `idle_wait` before the next claim, so that
        under a steady trickle the queue is taken in batches rather than one transaction per message."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatch cycle failed")
                handled = 0
            if handled < self._settings.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_wait)

    async def run_once(self) -> int:
        """One claim → submit → record cycle; returns how many messages it handled."""
        claimed = await self._queue.claim(self._settings.owner, self._settings.batch_size, self._settings.lease_ms)
        if not claimed:
            return 0
        segmented = await self._segmented({m.send_id for m in claimed})
        groups: dict[int, tuple[Connector, list[OutboundMessage]]] = {}
        for message in claimed:
            send = segmented[message.send_id]
            connector = self._sandbox if send.content.sandbox else self._carrier
            groups.setdefault(id(connector), (connector, []))[1].append(self._outbound(message, send))
        answers = await asyncio.gather(*(self._submit(connector, batch) for connector, batch in groups.values()))
        await self._record(answers)
        return len(claimed)

    async def _submit(self, connector: Connector, batch: list[OutboundMessage]) -> tuple[str, Sequence[SubmitResult]]:
        try:
            return connector.name, await connector.submit(batch)
        except Exception as exc:
            log.exception("connector %s failed a batch", connector.name)
            return connector.name, [_temporary(m.message_id, f"connector error: {exc}") for m in batch]

    def _outbound(self, message: ClaimedMessage, send: _Segmented) -> OutboundMessage:
        return OutboundMessage(
            message_id=message.id,
            msisdn=message.msisdn,
            sender=send.content.sender,
            parts=send.parts,
            encoding=send.encoding,
            lane=send.content.lane,
        )

    async def _segmented(self, send_ids: set[str]) -> dict[str, _Segmented]:
        found: dict[str, _Segmented] = {}
        missing = []
        for send_id in send_ids:
            cached = self._sends.get(send_id)
            if cached is None:
                missing.append(send_id)
            else:
                self._sends.move_to_end(send_id)
                found[send_id] = cached
        if missing:
            for content in (await self._queue.send_contents(missing)).values():
                found[content.id] = self._remember(content)
        return found

    def _remember(self, content: SendContent) -> _Segmented:
        # The stored text is final (replaced, truncated, STOP added); only its split into parts is redone here.
        classe = 9 if content.encoding == Encoding.UCS2 else 2
        analysis = analyze(content.text, classe=classe, non_gsm=NonGsmPolicy.REPLACE)
        segmented = _Segmented(content, analysis.parts, analysis.encoding)
        self._sends[content.id] = segmented
        while len(self._sends) > self._cache_size:
            self._sends.popitem(last=False)
        return segmented

    async def _record(self, answers: Sequence[tuple[str, Sequence[SubmitResult]]]) -> None:
        submitted = [
            Submitted(r.message_id, name, r.carrier_ids)
            for name, results in answers
            for r in results
            if isinstance(r, Accepted)
        ]
        failed = [
            SubmitFailed(r.message_id, name, r.temporary, r.code, r.detail)
            for name, results in answers
            for r in results
            if isinstance(r, Refused)
        ]
        await self._queue.record(
            submitted,
            failed,
            retry_at=self._now_ms() + self._settings.retry_delay_ms,
            max_attempts=self._settings.max_attempts,
        )


def _temporary(message_id: int, detail: str) -> SubmitResult:
    return Refused(message_id, True, INTERNAL_ERROR, detail)
