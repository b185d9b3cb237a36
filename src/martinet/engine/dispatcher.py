"""The dispatcher: claims due messages lane by lane, routes them, hands them to connectors, records the answers.

A cycle claims one-time passwords without limit and the lower lanes only as far as the connectors can take them
now (`Connector.capacity`), so what waits in memory stays small and a new OTP never queues behind a campaign's
parts. Claimed messages are checked (validity, marketing quiet hours), given the ordered connectors of their
route, and handed over in one task per connector; the cycle does not wait for the carriers' answers, so the next
claim — and the next OTP — does not either.

Failover happens here: a message a connector refuses temporarily (not bound, throttled past its deadline, a
temporary error) goes to the next connector of its route in the same task; a connector whose breaker is open,
or which is not bound, is skipped. A message no connector took waits and is tried again with exponential
backoff until its validity ends, then expires (status 37, refunded). Permanent refusals are final.

A message that expects replies leaves from a reply number of its connector that its account holds for that
phone (`martinet.store.conversations`), taken just before the hand-over; a connector with no such number left
passes the message on down its route like a refusal, and when that is why no connector took it, it fails
(status 34): waiting would not free a number before the other accounts' conversations end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from martinet import metrics
from martinet.batching import GroupCommitter
from martinet.connectors.base import Accepted, Connector, OutboundMessage, Refused, SubmitResult
from martinet.domain.backoff import doubling, jittered
from martinet.domain.inbound import digits
from martinet.domain.lanes import Lane
from martinet.domain.quiet_hours import QuietHours
from martinet.domain.routing import Destination, Router
from martinet.domain.status import INTERNAL_ERROR, ROUTING_ERROR
from martinet.domain.text import Encoding, NonGsmPolicy, analyze
from martinet.domain.valueclass import valueclass
from martinet.domain.voice import VOICE, Spoken
from martinet.engine.breaker import CircuitBreaker
from martinet.engine.cycles import CycleFailures
from martinet.engine.waiting import first_of
from martinet.store.claims import LANE_ORDER, ClaimCursor, ClaimedMessage
from martinet.store.conversations import ConversationStore
from martinet.store.database import cannot_write_now
from martinet.store.dispatch import (
    DispatchOutcome,
    DispatchStore,
    Expired,
    Held,
    Retry,
    SendContent,
    SubmitFailed,
    Submitted,
)

log = logging.getLogger(__name__)

#: Tries at writing a dispatch outcome that the database refused for what it holds rather than for its own
#: condition (`cannot_write_now`): such a refusal would only come again.
RECORD_ATTEMPTS = 5
#: Seconds between two tries at writing an outcome: this times the tries so far, at most `RECORD_PAUSE_MAX`.
RECORD_PAUSE = 0.5
RECORD_PAUSE_MAX = 2.0
#: A try at writing an outcome starts at least this long before its messages' lease ends (ms, or a quarter of
#: the lease if that is shorter), so that it is written before another engine may take them back.
RECORD_MARGIN_MS = 5_000

#: The shortest wait for a final receipt, whatever the validity left (a message sent just before it expires).
MIN_RECEIPT_WAIT_MS = 60_000


@valueclass
class DispatchSettings:
    node: str  # this machine's name among the engines sharing the database
    owner: str  # this process: f"{node}:{pid}"
    batch_size: int
    lease_ms: int
    retry_delay_ms: int
    retry_max_ms: int
    # Per connector, how long after submission a part's final receipt is overdue (ms); `default_receipt_deadline_ms`
    # for the others. Never beyond an SMS's validity (see `_receipt_due`).
    receipt_deadline_ms: Mapping[str, int] = field(default_factory=dict)
    default_receipt_deadline_ms: int = 4 * 3600 * 1000


@valueclass
class _Segmented:
    content: SendContent
    parts: tuple[str, ...]
    encoding: Encoding


@dataclass(slots=True)
class _Job:
    """One claimed message on its way through the connectors of its route."""

    message: ClaimedMessage
    outbound: OutboundMessage
    chain: tuple[str, ...]
    replies: bool = False  # classe_msg=4: sent from a reply number of the connector
    lease_until: int | None = None  # when the claim's lease ends, by this process's clock (Unix ms)
    position: int = 0
    refusals: list[str] = field(default_factory=list)
    numberless: int = 0  # connectors of the chain that had no reply number left for this phone


class Dispatcher:
    def __init__(
        self,
        store: DispatchStore,
        connectors: Mapping[str, Connector],
        breakers: Mapping[str, CircuitBreaker],
        router: Router,
        quiet_hours: QuietHours,
        settings: DispatchSettings,
        now_ms: Callable[[], int],
        *,
        sandbox: str | None,
        reply_numbers: Mapping[str, Sequence[str]] | None = None,
        conversations: ConversationStore | None = None,
        rng: random.Random | None = None,
        cache_size: int = 4096,
        voice_connectors: Collection[str] = (),
        sender_for: Callable[[str | None, str | None], str | None] | None = None,
    ) -> None:
        """`sender_for(country, sender)`: the sender a message to that country leaves with (the country rules'
        fallback number where its own is not delivered); None keeps every send's own sender."""
        self._store = store
        self._sender_for = sender_for
        self._connectors = connectors
        self._breakers = breakers
        for name, breaker in breakers.items():
            if breaker.name is None:
                breaker.report_as(name)
        self._counters = {name: metrics.PartCounters(name) for name in connectors}
        self._router = router
        self._quiet = quiet_hours
        self._settings = settings
        self._now_ms = now_ms
        self._sandbox = sandbox
        self._reply_numbers = {name: tuple(numbers) for name, numbers in (reply_numbers or {}).items() if numbers}
        if self._reply_numbers and conversations is None:
            raise ValueError("reply numbers are handed out through a ConversationStore")
        self._conversations = conversations
        self._rng = rng or random.Random()
        # Connectors that place calls (SIP): voice messages go to them only, SMS never (docs/voice.md).
        self._voice = tuple(name for name in connectors if name in set(voice_connectors))
        self._sends: OrderedDict[str, _Segmented] = OrderedDict()
        self._cache_size = cache_size
        self._cursor = ClaimCursor.new()
        self._tasks: set[asyncio.Future[None]] = set()  # hand-overs under way, and outcomes being recorded
        self._handing_over = 0  # non-OTP messages claimed but not yet given to their connector
        self._recorder: GroupCommitter[DispatchOutcome, None] = GroupCommitter(
            self._record, weight=len, max_weight=5000, name="dispatch-recorder"
        )
        self.wake = asyncio.Event()  # the lower lanes' loop
        self.wake_otp = asyncio.Event()  # the one-time passwords' loop

    async def run(self, stop: asyncio.Event, idle_wait: float) -> None:
        """Loop until `stop`, in two loops: one claims one-time passwords only, the other the lower lanes.

        A one-time password is thus never waiting for a campaign's cycle (claim, contents, hand-over) to end
        before it is claimed. Each loop sleeps when a cycle found nothing it could take, until woken (new work
        announced, a connector freed capacity, the scheduler released messages) or `idle_wait` passed.
        """
        self.start()
        try:
            async with asyncio.TaskGroup() as loops:
                loops.create_task(self._loop(stop, (Lane.OTP,), self.wake_otp, idle_wait))
                loops.create_task(self._loop(stop, (Lane.NOTIFICATION, Lane.MARKETING), self.wake, idle_wait))
        finally:
            await self.stop()

    def announce(self, lanes: str = "") -> None:
        """New work was queued in `lanes` (comma-separated; empty: unknown, wake everything)."""
        if not lanes or Lane.OTP in lanes.split(","):
            self.wake_otp.set()
        if lanes != Lane.OTP:
            self.wake.set()

    async def _loop(
        self,
        stop: asyncio.Event,
        lanes: tuple[Lane, ...],
        wake: asyncio.Event,
        idle_wait: float,
    ) -> None:
        cursor = ClaimCursor.new()
        # Woken by nothing but a stop after a failure: a claim that fails (a full disk) fails at every wake-up.
        failures = CycleFailures("dispatch cycle", log)
        while not stop.is_set():
            wake.clear()
            try:
                handled = await self.run_once(lanes, cursor)
            except Exception as exc:
                await first_of(stop, within=failures.failed(exc))
                continue
            failures.succeeded()
            if handled < self._settings.batch_size:
                await first_of(stop, wake, within=idle_wait)

    def start(self) -> None:
        self._recorder.start()

    async def stop(self) -> None:
        await self.settle()
        await self._recorder.stop()

    async def settle(self, grace: float = 30.0) -> None:
        """Let handed-over batches finish and their outcomes be recorded; what does not finish within `grace`
        is cancelled and stays claimed until its lease brings it back to the queue."""
        deadline = asyncio.get_running_loop().time() + grace
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        for task in list(self._tasks):
            task.cancel()

    async def run_once(self, lanes: Sequence[Lane] = LANE_ORDER, cursor: ClaimCursor | None = None) -> int:
        """One claim → route → hand over cycle over `lanes`; returns how many messages it claimed."""
        batch = self._settings.batch_size
        shared = self._shared_capacity()
        if shared == 0 and Lane.OTP not in lanes:
            return 0  # the connectors are full (or down): nothing to claim, not even a transaction to open
        lease_until = self._now_ms() + self._settings.lease_ms  # the store's starts a little later
        claimed, contents = await self._store.claim(
            self._settings.owner,
            lease_ms=self._settings.lease_ms,
            budgets=dict.fromkeys(lanes, batch),
            shared_budget=shared,
            cursor=cursor or self._cursor,
            known=self._sends.keys(),
            urgent=tuple(lanes) == (Lane.OTP,),
        )
        if not claimed:
            return 0
        for content in contents.values():
            self._remember(content)
        segmented = await self._segmented({m.send_id for m in claimed})
        now = self._now_ms()
        outcome = DispatchOutcome(lease_until=lease_until)
        jobs: dict[str, list[_Job]] = {}
        for message in claimed:
            send = segmented[message.send_id]
            if message.expires_at is not None and message.expires_at <= now:
                outcome.expired.append(Expired(message.id, "validity ended before submission"))
                continue
            if message.lane == Lane.MARKETING:
                opening = self._quiet.next_opening(message.country, now)
                if opening is not None:
                    outcome.held.append(self._held(message, opening, now))
                    continue
            job = _Job(
                message,
                self._outbound(message, send),
                self._chain(message, send.content),
                replies=send.content.classe == 4,
                lease_until=lease_until,
            )
            self._place(job, jobs, outcome, now)
        if len(outcome):
            self._recorder_submit(outcome)
        for name, group in jobs.items():
            self._handing_over += sum(1 for j in group if j.message.lane != Lane.OTP)
            task = asyncio.create_task(self._deliver(name, group), name=f"deliver-{name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    def _held(self, message: ClaimedMessage, opening: int, now: int) -> Held:
        expires_at = None if message.expires_at is None else message.expires_at + (opening - now)
        return Held(message.id, opening, self._quiet.describe(message.country, now), expires_at)

    # ------------------------------------------------------------------ routing

    def _chain(self, message: ClaimedMessage, content: SendContent) -> tuple[str, ...]:
        if content.sandbox and self._sandbox is not None:
            return (self._sandbox,)
        chain = self._router.candidates(
            Destination(message.msisdn, message.country), message.lane, content.account, self._rng
        )
        if content.channel == VOICE:  # the route's trunks, else every trunk in configured order
            return tuple(name for name in chain if name in self._voice) or self._voice
        return tuple(name for name in chain if name not in self._voice) if self._voice else chain

    def _place(self, job: _Job, jobs: dict[str, list[_Job]], outcome: DispatchOutcome, now: int) -> None:
        """Give `job` to the next connector of its chain that can take it, or schedule a retry."""
        while job.position < len(job.chain):
            name = job.chain[job.position]
            job.position += 1
            connector = self._connectors.get(name)
            if connector is None:
                job.refusals.append(f"{name}: not configured")
            elif not connector.ready:
                job.refusals.append(f"{name}: not bound")
            elif not self._breakers[name].allows():
                job.refusals.append(f"{name}: resting after repeated failures")
            else:
                jobs.setdefault(name, []).append(job)
                return
        if job.numberless and job.numberless == len(job.refusals):
            failure = SubmitFailed(job.message.id, job.chain[-1], False, ROUTING_ERROR, _summary(job))
            outcome.failed.append(failure)
            return
        outcome.retry.append(Retry(job.message.id, self._retry_at(job.message, now), _summary(job)))

    async def _reply_numbers_for(self, connector: str, jobs: list[_Job]) -> list[_Job]:
        """Give the jobs that expect replies the reply number they leave from on `connector`; returns those for
        which it has none left (others' conversations hold them all for that phone).

        With no reply numbers configured, the carrier's default reply-capable sender is used, and replies are
        linked as docs/compatibility.md says for numbers that hold no conversation.
        """
        asking = [j for j in jobs if j.replies]
        if not asking:
            return []
        pool = self._reply_numbers.get(connector)
        if not pool or self._conversations is None:
            for job in asking:
                job.outbound = dataclasses.replace(job.outbound, sender=None)
            return []
        wanted = [(j.message.account_id, digits(j.message.msisdn)) for j in asking]
        taken = await self._conversations.take(pool, wanted)
        numberless = []
        for job, pair in zip(asking, wanted, strict=True):
            number = taken[pair]
            if number is None:
                numberless.append(job)
            else:
                job.outbound = dataclasses.replace(job.outbound, sender=number)
        return numberless

    def _retry_at(self, message: ClaimedMessage, now: int) -> int:
        """Exponential backoff with jitter from the message's attempts, never past the end of its validity (it
        is claimed once more at that moment, and expires)."""
        delay = doubling(message.attempts, self._settings.retry_delay_ms, self._settings.retry_max_ms, most=20)
        due = now + int(jittered(delay, self._rng))
        if message.expires_at is not None:
            due = min(due, message.expires_at)
        return due

    def _shared_capacity(self) -> int:
        """Parts the lanes below OTP may claim now: what the ready connectors can take without queueing."""
        free = sum(c.capacity(Lane.MARKETING) for c in self._connectors.values() if c.ready)
        return max(0, free - self._handing_over)

    # ------------------------------------------------------------------ handing over

    async def _deliver(self, name: str, group: list[_Job]) -> None:
        """Submit `group` to connector `name`, moving temporary refusals down their chains; record the lot."""
        self._handing_over -= sum(1 for j in group if j.message.lane != Lane.OTP)
        outcome = DispatchOutcome(lease_until=group[0].lease_until)  # a group comes from one claim
        pending = {name: group}
        try:
            while pending:
                rounds = await asyncio.gather(*(self._submit(n, jobs) for n, jobs in pending.items()))
                now = self._now_ms()
                pending = {}
                for connector_name, jobs, results in rounds:
                    self._sort(connector_name, jobs, results, pending, outcome, now)
        finally:
            if len(outcome):
                self._recorder_submit(outcome)
            self.wake.set()  # the connector has room again

    async def _submit(self, name: str, jobs: list[_Job]) -> tuple[str, list[_Job], Sequence[_Answer]]:
        """Hand `jobs` to connector `name`; returns them (those without a reply number last) and the answers.

        Each message the carrier accepts is recorded as soon as its answer is in (`_record_accepted`), not when
        the whole batch is done: what a crash can send twice is then what was on the wire, not a batch's worth.
        """
        connector = self._connectors[name]
        try:
            numberless = await self._reply_numbers_for(name, jobs)
        except Exception as exc:
            log.exception("taking reply numbers on %s failed", name, extra=_ids(name, jobs))
            return name, jobs, [Refused(j.message.id, True, INTERNAL_ERROR, f"{name}: {exc}") for j in jobs]
        skipped = {id(j) for j in numberless}
        ready = [j for j in jobs if id(j) not in skipped]
        batch = [j.outbound for j in ready]
        answers: list[_Answer] = [_NoReplyNumber(j.message.id, name) for j in numberless]
        by_id = {j.message.id: j for j in ready}
        answered: dict[int, _Answer] = {}

        def on_result(result: SubmitResult) -> asyncio.Future[None] | None:
            job = by_id.get(result.message_id)
            if job is None or result.message_id in answered:
                return None
            answer, recording = self._record_accepted(name, job, result)
            answered[result.message_id] = answer
            return recording

        try:
            submitted: list[_Answer] = list(await connector.submit(batch, on_result)) if batch else []
        except Exception as exc:
            log.exception("connector %s failed a batch", name, extra=_ids(name, ready))
            submitted = [
                answered.get(m.message_id) or Refused(m.message_id, True, INTERNAL_ERROR, f"{name}: {exc}")
                for m in batch
            ]
        submitted = [answered.get(r.message_id, r) for r in submitted]
        return name, ready + numberless, [*submitted, *answers]

    def _record_accepted(
        self, name: str, job: _Job, result: SubmitResult
    ) -> tuple[_Answer, asyncio.Future[None] | None]:
        """Queue an accepted message's submission for recording at once (returning the recording, which the
        connector may wait for); other results are sorted later."""
        if not isinstance(result, Accepted):
            return result, None
        reply_from = job.outbound.sender if job.replies else None
        submitted = Submitted(job.message.id, name, result.carrier_ids, reply_from, self._receipt_due(name, job))
        return _Recorded(result), self._recorder_submit(
            DispatchOutcome(submitted=[submitted], lease_until=job.lease_until)
        )

    def _receipt_due(self, name: str, job: _Job) -> int:
        """When the part's final receipt is overdue: the connector's deadline, but not after the end of the
        message's validity (the carrier gives up then, and says so), and never less than a minute away.

        A voice message is not capped by its validity: the validity only says whether another call may start
        (the SIP connector reports 37 itself before an attempt), a call ringing, playing or waiting for its next
        attempt when it ends still reaches its real outcome, which a 3599 concluded at the validity would
        precede as a second final status."""
        now = self._now_ms()
        settings = self._settings
        due = now + settings.receipt_deadline_ms.get(name, settings.default_receipt_deadline_ms)
        if job.message.expires_at is not None and job.outbound.voice is None:
            due = min(due, max(job.message.expires_at, now + MIN_RECEIPT_WAIT_MS))
        return due

    def _sort(
        self,
        name: str,
        jobs: list[_Job],
        results: Sequence[_Answer],
        pending: dict[str, list[_Job]],
        outcome: DispatchOutcome,
        now: int,
    ) -> None:
        breaker = self._breakers[name]
        counters = self._counters[name]
        moved = 0
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, _NoReplyNumber):  # not the carrier's doing: no breaker, no counters
                job.numberless += 1
                job.refusals.append(result.detail)
                self._place(job, pending, outcome, now)
            elif isinstance(result, _Recorded):  # accepted, and already on its way to the store
                counters.accepted(len(job.outbound.parts))
                breaker.succeeded()
            elif isinstance(result, Accepted):
                counters.accepted(len(job.outbound.parts))
                breaker.succeeded()
                reply_from = job.outbound.sender if job.replies else None
                due = self._receipt_due(name, job)
                outcome.submitted.append(Submitted(job.message.id, name, result.carrier_ids, reply_from, due))
            elif not result.temporary:
                counters.refused(len(job.outbound.parts), temporary=False, error=False)
                breaker.succeeded()  # the carrier works; the destination is what it refused
                outcome.failed.append(SubmitFailed(job.message.id, name, False, result.code, result.detail))
            else:
                counters.refused(len(job.outbound.parts), temporary=True, error=result.code == INTERNAL_ERROR)
                breaker.failed()
                job.refusals.append(result.detail)
                moved += 1
                self._place(job, pending, outcome, now)
        if moved:
            log.warning(
                "%s refused %d of %d messages temporarily; they move down their routes",
                name,
                moved,
                len(jobs),
                extra=_ids(name, [j for j in jobs if j.refusals]),
            )

    # ------------------------------------------------------------------ recording

    def _recorder_submit(self, outcome: DispatchOutcome) -> asyncio.Future[None]:
        future = self._recorder.enqueue(outcome)
        self._tasks.add(future)
        future.add_done_callback(_log_failure)
        future.add_done_callback(self._tasks.discard)
        return future

    async def _record(self, outcomes: list[DispatchOutcome]) -> list[None]:
        """Write what the carriers answered, trying again for as long as the claims' lease keeps the messages.

        A submission the carrier accepted is a fact: given up on, its message stays claimed until the lease ends
        and is then sent again. So while the database cannot take writes (a full disk, a failover), the outcome
        is held and tried again until shortly before the lease ends; only then is it left to the lease (at least
        once). A try after the first one, or one that starts late, writes only what this engine still holds.
        """
        merged = DispatchOutcome.merged(outcomes)
        tries = 0
        while True:
            late = self._record_deadline(merged) <= self._now_ms()
            try:
                left_out = await self._store.record(merged, owner=self._settings.owner if tries or late else None)
                break
            except Exception as exc:
                tries += 1
                pause = min(RECORD_PAUSE * tries, RECORD_PAUSE_MAX)
                if not self._may_try_again(merged, exc, tries, pause):
                    raise  # the messages stay claimed; their lease brings them back (at-least-once)
                log.warning("recording a dispatch outcome failed (try %d); trying again", tries, exc_info=tries == 1)
                await asyncio.sleep(pause)
        if left_out:
            log.warning(
                "%d messages were taken back from this engine before their outcome was recorded; those a carrier "
                "had accepted may be sent again",
                len(left_out),
                extra={"message_ids": left_out[:20]},
            )
        return [None] * len(outcomes)

    def _record_deadline(self, outcome: DispatchOutcome) -> int:
        """The last moment a try at writing `outcome` may start while its messages are surely still claimed."""
        if outcome.lease_until is None:
            return 0
        return outcome.lease_until - min(RECORD_MARGIN_MS, self._settings.lease_ms // 4)

    def _may_try_again(self, outcome: DispatchOutcome, exc: Exception, tries: int, pause: float) -> bool:
        if not cannot_write_now(exc) or outcome.lease_until is None:
            return tries < RECORD_ATTEMPTS
        return self._now_ms() + int(pause * 1000) < self._record_deadline(outcome)

    # ------------------------------------------------------------------ content

    def _outbound(self, message: ClaimedMessage, send: _Segmented) -> OutboundMessage:
        parts, encoding = send.parts, send.encoding
        if message.text is not None:  # personalised: its own final text, split like a send's
            own = analyze(message.text, classe=send.content.classe, non_gsm=NonGsmPolicy.UCS2)
            parts, encoding = own.parts, own.encoding
        return OutboundMessage(
            message_id=message.id,
            msisdn=message.msisdn,
            sender=(
                message.sender or send.content.sender
                if self._sender_for is None
                else self._sender_for(message.country, message.sender or send.content.sender)
            ),
            parts=parts,
            encoding=encoding,
            lane=message.lane,
            expires_at=message.expires_at,
            voice=(
                Spoken(send.content.voice_title or "", send.content.voice_language or "fr-FR")
                if send.content.channel == VOICE
                else None
            ),
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
            for content in (await self._store.send_contents(missing)).values():
                found[content.id] = self._remember(content)
        return found

    def _remember(self, content: SendContent) -> _Segmented:
        # The stored text is final (replaced, truncated, STOP added); only its split into parts is redone here.
        if content.channel == VOICE:  # one call reads the whole text
            segmented = _Segmented(content, (content.text,), Encoding(content.encoding))
        else:
            classe = 9 if content.encoding == Encoding.UCS2 else 2
            analysis = analyze(content.text, classe=classe, non_gsm=NonGsmPolicy.REPLACE)
            segmented = _Segmented(content, analysis.parts, analysis.encoding)
        self._sends[content.id] = segmented
        while len(self._sends) > self._cache_size:
            self._sends.popitem(last=False)
        return segmented


@valueclass
class _Recorded:
    """An accepted message whose submission was queued for recording the moment its answer came in."""

    accepted: Accepted

    @property
    def message_id(self) -> int:
        return self.accepted.message_id


@valueclass
class _NoReplyNumber:
    """A connector's answer for a message expecting replies when its reply numbers are all other accounts'
    conversations with that phone: the message was not handed to the carrier."""

    message_id: int
    connector: str

    @property
    def detail(self) -> str:
        return f"{self.connector}: no reply number left for this phone (each one is in another account's conversation)"


#: What became of a message handed to a connector: the carrier's answer, or no reply number to send it from.
_Answer = SubmitResult | _Recorded | _NoReplyNumber


def _summary(job: _Job) -> str:
    if not job.chain:
        return "no route to this destination"
    return "no connector took the message: " + "; ".join(job.refusals[-len(job.chain) :])


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error(
            "recording a dispatch outcome failed; its messages go back to the queue when their lease ends",
            exc_info=future.exception(),
        )


def _ids(connector: str, jobs: Sequence[_Job], sample: int = 20) -> dict[str, object]:
    """Log fields naming the messages and sends of a batch (the first `sample` of each: a line stays short)."""
    return {
        "connector": connector,
        "message_ids": [j.message.id for j in jobs[:sample]],
        "send_ids": sorted({j.message.send_id for j in jobs})[:sample],
    }
