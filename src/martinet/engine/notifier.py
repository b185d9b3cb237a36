"""Delivering status callbacks: the task that empties the `callbacks` outbox, in a process of its own under
`martinet serve` (`martinet.server.run_notifier`) or inside the engine (`callbacks.own_process = false`).

One loop claims due callbacks in batches (only the oldest pending one of each recipient, so a recipient's
reports arrive in order), starts one request per callback through one keep-alive HTTP client (a GET
with smsmode's parameters, or a POST of the JSON resource for a send of the REST door), and a
second loop writes the results in batches, one transaction each, unless the next claim takes them first into
its own transaction (results wait `RECORD_DELAY` for it). Requests are bounded overall and per host;
a host that answers 429 or 503 with `Retry-After` gets no request until then. Addresses are checked before
connecting (`GuardedResolver`), so a callback URL cannot reach the gateway's own network. Only the status of an
answer matters: at most `ANSWER_LIMIT` bytes of its body are read, so a receiver streaming without end costs a
bounded amount of memory whatever the concurrency. See docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import math
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from martinet import metrics
from martinet.domain.backoff import backoff
from martinet.domain.valueclass import valueclass
from martinet.domain.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    append_query,
    body_signature,
    forbidden_address,
    query_string,
    retry_after,
    signature,
)
from martinet.engine.callback_http import AnswerError, CallbackClient, Origin, split_url
from martinet.engine.cycles import CycleFailures, retried
from martinet.engine.waiting import first_of
from martinet.store.callbacks import DELIVERED, FAILED, PENDING, CallbackResult, CallbackStore, DueCallback

log = logging.getLogger(__name__)

#: Seconds between two looks at the outbox when the last one found nothing (a full batch looks again at once).
POLL_INTERVAL = 0.1
BATCH_SIZE = 200
#: Bytes of an answer's body read at most; a longer body is dropped with its connection (never buffered).
ANSWER_LIMIT = 64 * 1024
#: Seconds a name's addresses are kept before it is resolved again.
DNS_TTL = 10.0
#: Seconds a result may wait for a claim to be written with before it is written alone.
RECORD_DELAY = POLL_INTERVAL
#: Callback URLs whose checks and split are kept (`_Destination`); past it the cache starts again empty.
DESTINATIONS_KEPT = 4096


@valueclass
class NotifierSettings:
    owner: str
    node: str
    timeout: float = 10.0
    max_age_ms: int = 24 * 3600 * 1000
    concurrency_per_host: int = 32
    concurrency: int = 256
    retry_first: float = 5.0
    retry_max: float = 3600.0
    allow_private_networks: bool = False


class ForbiddenAddress(OSError):
    """A callback URL's host resolves to an address callbacks may not reach."""


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then keeps only public addresses (none: `ForbiddenAddress`).

    The connector connects to the addresses returned here, so the checked address is the one connected to:
    a name that resolves differently a moment later (DNS rebinding) cannot slip through.
    """

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if forbidden_address(r["host"]) is None]
        if not allowed:
            reasons = sorted({forbidden_address(r["host"]) or "" for r in found})
            raise ForbiddenAddress(f"{host} resolves only to refused addresses: {'; '.join(reasons)}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class _CachedResolve:
    """Addresses of a name, from `resolver` (the guarded one unless private networks are allowed), kept `DNS_TTL`
    seconds; an IP address written in the URL is connected to as it is (checked by `_literal_problem` first)."""

    def __init__(self, resolver: AbstractResolver, clock: Callable[[], float], *, guarded: bool) -> None:
        self._resolver = resolver
        self._clock = clock
        self._guarded = guarded
        self._known: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        if _is_address(host):
            problem = _literal_problem(host) if self._guarded else None
            if problem is not None:  # `_destination` refuses it first; checked again where the address is used
                raise ForbiddenAddress(f"{host}: {problem}")
            return [host]
        now = self._clock()
        known = self._known.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        found = [r["host"] for r in await self._resolver.resolve(host, port, socket.AF_UNSPEC)]
        self._known[(host, port)] = (now + DNS_TTL, found)
        return found


@valueclass
class _Destination:
    """What the requests to one callback URL share, worked out once: a URL usually receives thousands of
    callbacks, and splitting and checking it for each one cost more than building its request.

    `split` is its origin and request target in their ASCII forms (`split_url`), to which each callback's query is
    appended; None when `problem` refuses the URL for good.
    """

    host: str
    problem: str | None
    split: tuple[Origin, str] | None


def _destination(url: str, allow_private_networks: bool) -> _Destination:
    """The host is judged in its ASCII form, the one connected to: `１２７.０.０.１` (full-width digits) or
    `127。0。0。1` are written as names but are 127.0.0.1 once through IDNA, and are never given to the resolver."""
    try:
        split = split_url(url.partition("#")[0])  # `url_problem`'s rules, checked once for the URL
    except ValueError as exc:
        return _Destination(_host_key(url), str(exc), None)
    origin = split[0]
    problem = None if allow_private_networks else _literal_problem(origin.host)
    return _Destination(f"{origin.host.lower()}:{origin.port}", problem, None if problem else split)


@dataclass(slots=True)
class _Result:
    """One attempt's result: `ok`, or a failure that may be `permanent`; `pause_until` from Retry-After."""

    ok: bool
    status: int | None = None
    error: str | None = None
    permanent: bool = False
    pause_until: float | None = None


class Notifier:
    def __init__(
        self, store: CallbackStore, settings: NotifierSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._paused: dict[str, float] = {}  # host → unix seconds until which it gets no request
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._destinations: dict[str, _Destination] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._results: list[CallbackResult] = []
        # Requests ended since the last flush, by (kind, outcome): the shared metric is written once per batch.
        self._counted: dict[tuple[str, str], int] = {}
        self._have_results = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._closing = False
        self._stopping = asyncio.Event()
        per_host_rounds = math.ceil(settings.concurrency / settings.concurrency_per_host)
        # Long enough for a callback that waits its host's turn behind every other one in flight.
        self._lease_ms = int(max(300.0, (per_host_rounds + 1) * settings.timeout + 60) * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        released = await retried(
            "taking back this node's callbacks", log, stop, lambda: self._store.release_leases(self._settings.node)
        )
        if released is None:
            return  # stopped before the store answered
        if released:
            log.info("took back %d callbacks claimed by an earlier run of this node", released)
        resolver: AbstractResolver = DefaultResolver() if self._settings.allow_private_networks else GuardedResolver()
        client = CallbackClient(
            _CachedResolve(resolver, self._clock, guarded=not self._settings.allow_private_networks),
            timeout=self._settings.timeout,
            answer_limit=ANSWER_LIMIT,
            user_agent="Martinet-Callbacks/1",
        )
        writer = asyncio.create_task(self._write_results())
        try:
            await self._claim_loop(client, stop)
        finally:
            await self._finish(writer)
            await client.close()
            await resolver.close()

    async def _claim_loop(self, client: CallbackClient, stop: asyncio.Event) -> None:
        failures = CycleFailures("claiming callbacks", log)
        while not stop.is_set():
            room = min(BATCH_SIZE, self._settings.concurrency - len(self._in_flight))
            # While requests are in flight, claim only once half a batch of room is free: claims stay batched
            # (one transaction for many callbacks) instead of one per finished request.
            if room <= 0 or (self._in_flight and room < min(BATCH_SIZE, self._settings.concurrency) // 2):
                self._slot_free.clear()
                await first_of(stop, self._slot_free, within=POLL_INTERVAL)
                continue
            # The results waiting to be written go with the claim: one transaction instead of two.
            outcomes = self._take_results()
            try:
                claimed = await self._store.claim(self._settings.owner, self._lease_ms, room, outcomes)
            except Exception as exc:
                self._give_back(outcomes)
                # Woken by nothing but a stop: a request that ends meanwhile would only bring a claim that fails.
                await first_of(stop, within=failures.failed(exc))
                continue
            except BaseException:
                self._give_back(outcomes)
                raise
            failures.succeeded()
            for callback in claimed:
                self._start(client, callback)
            if len(claimed) < room:
                await first_of(stop, within=POLL_INTERVAL)
            else:
                await asyncio.sleep(0)

    def _destination(self, url: str) -> _Destination:
        found = self._destinations.get(url)
        if found is None:
            if len(self._destinations) >= DESTINATIONS_KEPT:
                self._destinations.clear()  # bounded; refilled from the URLs of the moment
            found = self._destinations[url] = _destination(url, self._settings.allow_private_networks)
        return found

    def _start(self, client: CallbackClient, callback: DueCallback) -> None:
        destination = self._destination(callback.url)
        host = destination.host
        now = self._clock()
        until = self._paused.get(host)
        if until is not None and until > now:
            self._add(CallbackResult(callback.id, PENDING, attempted=False, next_at=int(until * 1000)))
            return
        task = asyncio.create_task(self._deliver(client, callback, destination))
        self._in_flight[callback.id] = task
        task.add_done_callback(functools.partial(self._done, callback.id))

    def _done(self, callback_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(callback_id, None)
        self._slot_free.set()

    async def _deliver(self, client: CallbackClient, callback: DueCallback, destination: _Destination) -> None:
        host = destination.host
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self._settings.concurrency_per_host)
        async with semaphore:
            until = self._paused.get(host)
            if until is not None and until > self._clock():  # paused while this one waited its turn
                self._add(CallbackResult(callback.id, PENDING, attempted=False, next_at=int(until * 1000)))
                return
            try:
                result = await self._request(client, callback, destination)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never lose the outcome of a claimed callback
                log.exception("callback %d: unexpected error", callback.id, extra=_ids(callback))
                result = _Result(ok=False, error=f"internal error: {exc}")
        if result.pause_until is not None:
            self._paused[host] = max(self._paused.get(host, 0.0), result.pause_until)
        outcome = self._outcome(callback, result)
        counted = (callback.kind, _OUTCOME_LABEL[outcome.state])
        self._counted[counted] = self._counted.get(counted, 0) + 1
        self._add(outcome)

    async def _request(self, client: CallbackClient, callback: DueCallback, destination: _Destination) -> _Result:
        if destination.split is None:
            return _Result(ok=False, error=destination.problem or "", permanent=True)
        origin, base_target = destination.split
        target = append_query(base_target, query_string(callback.params))
        now = int(self._clock())
        if callback.body is None:  # smsmode's GET: what it reports is in the URL, so the URL is signed
            signed = signature(callback.secret, target, now)
            headers = [(EVENT_HEADER, callback.event), (SIGNATURE_HEADER, signed)]
            method = "GET"
        else:
            headers = [
                (EVENT_HEADER, callback.event),
                (SIGNATURE_HEADER, body_signature(callback.secret, callback.body, now)),
                ("Content-Type", "application/json"),
            ]
            method = "POST"
        try:
            answer = await client.request_to(method, origin, target, headers, callback.body)
        except ForbiddenAddress as exc:
            return _Result(ok=False, error=str(exc), permanent=True)
        except TimeoutError:
            return _Result(ok=False, error=f"no answer within {self._settings.timeout:g} s")
        except AnswerError as exc:
            return _Result(ok=False, error=str(exc))
        except ssl.SSLError as exc:  # before ValueError: a refused certificate is both
            return _Result(ok=False, error=f"TLS failed: {exc}")
        except ValueError as exc:
            return _Result(ok=False, error=f"invalid request: {exc}")
        except OSError as exc:
            return _Result(ok=False, error=f"cannot connect: {exc}")
        if 200 <= answer.status < 300:
            return _Result(ok=True, status=answer.status)
        pause = None
        if answer.status in (429, 503):
            moment = self._clock()
            pause = retry_after(answer.retry_after, moment)
            if pause is not None:  # honoured, but never past the age at which a callback is given up
                pause = min(pause, moment + self._settings.max_age_ms / 1000)
        return _Result(ok=False, status=answer.status, error=f"HTTP {answer.status}", pause_until=pause)

    def _outcome(self, callback: DueCallback, result: _Result) -> CallbackResult:
        if result.ok:
            return CallbackResult(callback.id, DELIVERED, attempted=True, status=result.status)
        now = self._clock()
        expired = now * 1000 >= callback.created_at + self._settings.max_age_ms
        if result.permanent or expired:
            if not result.permanent:
                log.warning(
                    "callback %d failed for good after %d tries",
                    callback.id,
                    callback.attempts + 1,
                    extra=_ids(callback),
                )
            error = result.error if result.permanent else f"gave up after max age: {result.error}"
            return CallbackResult(callback.id, FAILED, attempted=True, status=result.status, error=error)
        delay = backoff(callback.attempts + 1, self._settings.retry_first, self._settings.retry_max)
        next_at = now + delay
        if result.pause_until is not None:
            next_at = max(next_at, result.pause_until)
        return CallbackResult(
            callback.id, PENDING, attempted=True, next_at=int(next_at * 1000), status=result.status, error=result.error
        )

    def _add(self, outcome: CallbackResult) -> None:
        self._results.append(outcome)
        self._have_results.set()

    async def _write_results(self) -> None:
        while not self._closing:
            await first_of(self._have_results, within=POLL_INTERVAL)
            self._have_results.clear()
            if self._results and not self._closing:
                # Results wait up to RECORD_DELAY for the claim loop to take them into its own transaction; those
                # left are written here. Each write transaction costs the notifier CPU and a commit (an fsync on
                # SQLite, under the lock the engine writes with); a crash in between only delivers them again.
                await first_of(self._stopping, within=RECORD_DELAY)
            await self._flush()

    def _give_back(self, outcomes: list[CallbackResult]) -> None:
        """Results a failed claim was to write: the writer writes them alone. Should that transaction have
        committed after all (a cancellation as it ended), writing them again touches only callbacks this owner
        holds again, if any: at worst one is delivered once more, never lost."""
        if outcomes:
            self._results[:0] = outcomes
            self._have_results.set()

    def _take_results(self) -> list[CallbackResult]:
        """The results not written yet, to write now; their requests are counted in the metrics here, once per
        batch (the metric is shared between processes, so each increment takes a lock)."""
        counted, self._counted = self._counted, {}
        for (kind, outcome), count in counted.items():
            metrics.callback_done(kind, outcome, count)
        batch, self._results = self._results, []
        return batch

    async def _flush(self) -> None:
        batch = self._take_results()
        if not batch:
            return
        try:
            await self._store.record(self._settings.owner, batch)
        except Exception:
            log.exception("recording %d callback results failed; their leases will run out", len(batch))

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        """Let requests in flight end (within the timeout), record every result, give back the rest."""
        abandoned: list[int] = []
        if self._in_flight:
            ids = {task: cid for cid, task in self._in_flight.items()}
            _done, pending = await asyncio.wait(list(ids), timeout=self._settings.timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            abandoned = [ids[task] for task in pending]
        self._closing = True
        self._stopping.set()
        self._have_results.set()
        await writer
        await self._flush()
        if abandoned:
            with contextlib.suppress(Exception):
                await self._store.release(self._settings.owner, abandoned)


#: `martinet_callbacks_total`'s outcome for each state a request leaves its callback in.
_OUTCOME_LABEL = {DELIVERED: "delivered", PENDING: "retry", FAILED: "failed"}


def _host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    except ValueError:
        return url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _literal_problem(host: str) -> str | None:
    """For a host that is an IP address in its ASCII form (never given to the resolver)."""
    return forbidden_address(host.split("%", 1)[0]) if _is_address(host) else None


def _ids(callback: DueCallback) -> dict[str, object]:
    """Log fields naming a callback: its id, its event, its host (never the whole URL: it may hold credentials)."""
    try:
        host = urlsplit(callback.url).hostname or ""
    except ValueError:
        host = ""
    return {"callback_id": callback.id, "event_id": callback.event, "host": host}
