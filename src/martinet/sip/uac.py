"""Placing calls: the INVITE client transaction, the dialog, and the audio of one call at a time per `call`.

Written by hand (docs/voice.md says why): over UDP the INVITE is retransmitted until the trunk answers (RFC 3261
Timer A, given up at Timer B), every final answer is acknowledged (ACK for a refusal in the INVITE's own
transaction, a new one for 200), a call still ringing at the ringing timeout is cancelled (CANCEL, then the
487 acknowledged), a 401/407 is answered once with digest credentials (computed by aiosipua), a BYE from the
callee ends the audio at once, and the call ends with our BYE once the audio has been played.

The dialog follows the trunk's route set (the 2xx's Record-Route, RFC 3261 §12.1.2) in its ACK and BYE, and
answers what a trunk may send inside it: a session-refresh re-INVITE or an UPDATE/INFO is accepted (200, with our
unchanged SDP) rather than refused, which a trunk would take for a dead call. A call whose task is cancelled (the
connector stopping) is not abandoned on the trunk: a ringing call is cancelled, an answered one hung up (BYE),
briefly waited for. A TCP trunk that is down makes calls fail and the caller not ready, never its `start`: the
connection is opened again in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiosipua.auth import SipDigestAuth, answer_challenge
from aiosipua.header_codec import stringify_uri

from martinet.sip import messages
from martinet.sip.messages import SipRequest, SipResponse
from martinet.sip.rtp import Played, RtpStream
from martinet.sip.transport import Address, TcpClientTransport, Transport, UdpTransport
from martinet.voice.g711 import PAYLOAD_TYPES, Law

log = logging.getLogger(__name__)

T1 = 0.5  # RFC 3261's round-trip estimate
TIMER_B = 64 * T1  # no answer at all to an INVITE: the trunk is unreachable
BYE_WAIT = 4.0  # how long a BYE is waited for its 200 (the call is over either way)
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"
CANCEL_WAIT = 4.0  # how long a CANCEL is waited for the INVITE's final answer (its 487)
ABANDON_WAIT = 2.0  # how long a call cancelled by its task (the engine stopping) waits for its CANCEL or BYE
RECONNECT_MIN = 1.0  # seconds before connecting again to a TCP trunk that could not be reached, doubling...
RECONNECT_MAX = 30.0  # ...up to this


@dataclass(frozen=True, slots=True)
class TrunkSettings:
    host: str
    port: int
    transport: str = "udp"  # or "tcp"
    domain: str | None = None
    username: str = ""
    password: str = ""
    caller_id: str = "martinet"
    local_host: str = "127.0.0.1"
    codec: Law = "PCMA"
    ring_timeout: float = 30.0


@dataclass
class CallResult:
    """How one call went. `status` is the INVITE's final SIP status (200 when answered); our own timeouts are
    408 (no answer from the trunk) and 487 (ringing timeout, cancelled).

    `trunk_timeout` tells our 408 (not a single answer from the trunk: it is down or unreachable, whoever was
    called) from a 408 the trunk sent (the callee's network gave up): the first is the operator's failure, the
    second the callee's absence. `no_codec` is an answer whose SDP offers no law we speak (`offered` says what it
    offered): nothing could be played, so the call was hung up at once; it is not a callee who hung up early."""

    status: int
    reason: str
    answered: bool = False
    played: Played | None = None
    callee_hung_up: bool = False
    rang: bool = False
    codec: str | None = None
    trunk_timeout: bool = False
    no_codec: bool = False
    offered: str = ""

    @property
    def complete(self) -> bool:
        return self.answered and self.played is not None and self.played.complete and not self.callee_hung_up


@dataclass
class _Call:
    call_id: str
    inbox: asyncio.Queue[SipResponse] = field(default_factory=asyncio.Queue)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    #: What to do on the trunk if the call's task is cancelled now: CANCEL while ringing, BYE once answered.
    abandon: Callable[[], Awaitable[None]] | None = None
    #: Once answered: our Contact and SDP answer, what a re-INVITE or UPDATE of the trunk is answered with.
    contact: str = ""
    sdp: bytes | None = None


class SipCaller:
    """Calls through one trunk over one transport, any number at once."""

    def __init__(self, settings: TrunkSettings) -> None:
        self._settings = settings
        self._trunk: Address = (settings.host, settings.port)
        self._domain = settings.domain or (
            settings.host if settings.port == 5060 else f"{settings.host}:{settings.port}"
        )
        self._transport: Transport | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._calls: dict[str, _Call] = {}

    async def start(self) -> None:
        """Open the transport. A TCP trunk that cannot be reached now is not an error here (it would stop the
        engine, SMS included): the caller is not ready until a background loop has connected."""
        s = self._settings
        if s.transport == "tcp":
            tcp = await TcpClientTransport.open(s.host, s.port, self._received, s.local_host)
            self._transport = tcp
            self._connecting = asyncio.create_task(self._keep_connected(tcp), name=f"sip-tcp-{s.host}:{s.port}")
        else:
            self._transport = await UdpTransport.open(s.local_host, 0, self._received)

    async def _keep_connected(self, tcp: TcpClientTransport) -> None:
        """Connect to the trunk whenever the connection is missing, backing off while it cannot be reached."""
        delay = RECONNECT_MIN
        while True:
            await tcp.lost.wait()
            try:
                await tcp.connect()
            except OSError as exc:
                log.warning(
                    "SIP trunk %s:%d unreachable over TCP (%s); trying again in %g s",
                    self._settings.host,
                    self._settings.port,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            delay = RECONNECT_MIN

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
            self._connecting = None
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    @property
    def ready(self) -> bool:
        """Started, and over TCP connected: calls through a trunk that is down would only fail."""
        transport = self._transport
        if isinstance(transport, TcpClientTransport):
            return transport.connected
        return transport is not None

    # ------------------------------------------------------------------ incoming

    def _received(self, message: SipRequest | SipResponse, address: Address) -> None:
        call = self._calls.get(message.call_id or "")
        if isinstance(message, SipResponse):
            if call is not None:
                call.inbox.put_nowait(message)
            return
        if message.method == "ACK":
            return
        transport = self._transport
        if transport is None:
            return
        if message.method in ("BYE", "CANCEL") and call is not None:
            call.hung_up.set()
            transport.send(messages.response(message, 200, "OK"), address)
        elif message.method == "OPTIONS":
            transport.send(messages.response(message, 200, "OK", extra=[("Allow", ALLOW)]), address)
        elif message.method in ("INVITE", "UPDATE") and call is not None and call.sdp is not None:
            # A session refresh (or a re-offer) in our dialog: the stream stays as it is, our answer says so.
            sdp = call.sdp if message.method == "INVITE" or message.body else b""
            transport.send(
                messages.response(
                    message,
                    200,
                    "OK",
                    contact=call.contact,
                    extra=[("Allow", ALLOW)],
                    body=sdp,
                    content_type="application/sdp" if sdp else None,
                ),
                address,
            )
        elif message.method == "INFO" and call is not None:
            transport.send(messages.response(message, 200, "OK"), address)
        elif message.method == "INVITE":
            transport.send(messages.response(message, 403, "Forbidden", to_tag=messages.new_tag()), address)
        else:
            transport.send(messages.response(message, 481, "Call/Transaction Does Not Exist"), address)

    # ------------------------------------------------------------------ a call

    async def call(
        self,
        number: str,
        audio: Callable[[Law], bytes],
        *,
        keep_lateness: bool = False,
        on_answer: Callable[[], None] | None = None,
    ) -> CallResult:
        """Call `number`, play `audio` (G.711 bytes of the negotiated law) once answered, and hang up.

        Raises OSError when a TCP trunk cannot be reached. Cancelled, the call is ended on the trunk first (CANCEL
        or BYE, waited for at most `ABANDON_WAIT`): a stopping engine must not leave a phone ringing or a line open
        until the trunk's own timers end it."""
        transport = self._transport
        if transport is None:
            raise RuntimeError("the SIP caller is not started")
        if isinstance(transport, TcpClientTransport):
            await transport.connect()  # before Via and Contact are written: they name this connection's address
        s = self._settings
        rtp = await RtpStream.open(s.local_host)
        call = _Call(f"{secrets.token_hex(12)}@{s.local_host}")
        self._calls[call.call_id] = call
        try:
            return await self._call(transport, call, rtp, number, audio, keep_lateness, on_answer)
        except asyncio.CancelledError:
            abandon, call.abandon = call.abandon, None
            if abandon is not None:
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(abandon(), ABANDON_WAIT)
            raise
        finally:
            self._calls.pop(call.call_id, None)
            rtp.close()

    async def _call(
        self,
        transport: Transport,
        call: _Call,
        rtp: RtpStream,
        number: str,
        audio: Callable[[Law], bytes],
        keep_lateness: bool,
        on_answer: Callable[[], None] | None,
    ) -> CallResult:
        s = self._settings
        loop = asyncio.get_running_loop()
        local_host, local_port = transport.local
        uri = f"sip:{number}@{self._domain}"
        from_ = f"<sip:{s.caller_id}@{self._domain}>;tag={messages.new_tag()}"
        to = f"<{uri}>"
        call.contact = f"<sip:{s.caller_id}@{local_host}:{local_port}" + (
            ";transport=tcp>" if transport.name == "TCP" else ">"
        )
        offer = messages.offer_sdp(s.local_host, rtp.port, s.codec)
        cseq = 1
        branch = messages.new_branch()
        extra: list[tuple[str, str]] = []
        authenticated = False
        reliable = transport.name == "TCP"
        rang = False

        def via(b: str) -> str:
            host, port = transport.local  # a TCP connection opened again has another address
            return f"SIP/2.0/{transport.name} {host}:{port};branch={b};rport"

        def invite() -> bytes:
            return messages.request(
                "INVITE",
                uri,
                via=via(branch),
                from_=from_,
                to=to,
                call_id=call.call_id,
                cseq=cseq,
                contact=call.contact,
                extra=[("Allow", ALLOW), *extra],
                body=offer,
                content_type="application/sdp",
            )

        def ack_refusal(answer: SipResponse) -> None:
            transport.send(
                messages.request(
                    "ACK",
                    uri,
                    via=via(branch),
                    from_=from_,
                    to=answer.get_header("To") or to,
                    call_id=call.call_id,
                    cseq=cseq,
                ),
                self._trunk,
            )

        async def cancel() -> CallResult:
            """CANCEL the ringing INVITE (retransmitted over UDP until its 200, as any non-INVITE request) and wait
            for the INVITE's final answer: a refusal (487) is acknowledged, a 200 that crossed our CANCEL is
            acknowledged and hung up at once (the trunk would otherwise keep the line open and charge it)."""
            request = messages.request(
                "CANCEL", uri, via=via(branch), from_=from_, to=to, call_id=call.call_id, cseq=cseq
            )
            transport.send(request, self._trunk)
            start = loop.time()
            interval = T1
            next_resend = start + interval
            confirmed = reliable  # over TCP the transport delivers it; over UDP until its 200 arrives
            while (left := start + CANCEL_WAIT - loop.time()) > 0:
                wait = left if confirmed else min(left, next_resend - loop.time())
                try:
                    answer = await asyncio.wait_for(call.inbox.get(), max(0.0, wait))
                except TimeoutError:
                    if not confirmed and loop.time() >= next_resend:
                        transport.send(request, self._trunk)
                        interval = min(interval * 2, 4.0)
                        next_resend = loop.time() + interval
                    continue
                method, seq = _cseq(answer)
                if method == "CANCEL" and seq == cseq:
                    confirmed = confirmed or answer.status_code >= 200
                    continue
                if method != "INVITE" or seq != cseq or answer.status_code < 200:
                    continue
                if answer.status_code >= 300:
                    ack_refusal(answer)
                    return CallResult(answer.status_code, answer.reason_phrase, rang=rang)
                dialog = self._dialog(transport, call, answer, uri, from_, cseq, via)
                dialog.ack()
                await dialog.bye()
                return CallResult(487, "Request Terminated (answered after the CANCEL, hung up)", rang=rang)
            return CallResult(487, "Request Terminated (ringing timeout)", rang=rang)

        async def abandon_ringing() -> None:
            await cancel()

        sent_at = loop.time()
        transport.send(invite(), self._trunk)
        interval = T1
        next_resend = sent_at + interval
        provisional = False
        while True:
            now = loop.time()
            deadlines = [sent_at + TIMER_B] if not provisional else []
            deadlines.append(sent_at + s.ring_timeout)
            if not reliable and not provisional:
                deadlines.append(next_resend)
            wait = max(0.0, min(deadlines) - now)
            try:
                answer = await asyncio.wait_for(call.inbox.get(), wait)
            except TimeoutError:
                now = loop.time()
                if now >= sent_at + s.ring_timeout:
                    if not provisional:
                        return _trunk_timeout(now - sent_at)
                    call.abandon = None
                    return await cancel()
                if not provisional and now >= sent_at + TIMER_B:
                    return _trunk_timeout(now - sent_at)
                if not reliable and not provisional and now >= next_resend:
                    transport.send(invite(), self._trunk)
                    interval = min(interval * 2, 4.0)
                    next_resend = now + interval
                continue
            method, seq = _cseq(answer)
            if method != "INVITE" or seq != cseq:
                continue  # the 200 of a CANCEL, or an answer to an earlier INVITE
            status = answer.status_code
            if status < 200:
                provisional = True
                call.abandon = abandon_ringing  # a CANCEL may only follow a provisional answer
                rang = rang or status in (180, 183)
                continue
            call.abandon = None
            if status in (401, 407) and not authenticated and s.username:
                ack_refusal(answer)
                header = answer_challenge(SipDigestAuth(s.username, s.password), answer, status, "INVITE", uri)
                if header is None:
                    return CallResult(status, answer.reason_phrase, rang=rang)
                authenticated = True
                extra = [header]
                cseq += 1
                branch = messages.new_branch()
                sent_at = loop.time()
                provisional = False
                interval = T1
                next_resend = sent_at + interval
                transport.send(invite(), self._trunk)
                continue
            if status >= 300:
                ack_refusal(answer)
                return CallResult(status, answer.reason_phrase, rang=rang)
            dialog = self._dialog(transport, call, answer, uri, from_, cseq, via)
            return await self._answered(call, rtp, answer, dialog, audio, keep_lateness, on_answer, rang)

    def _dialog(
        self,
        transport: Transport,
        call: _Call,
        answer: SipResponse,
        uri: str,
        from_: str,
        cseq: int,
        via: Callable[[str], str],
    ) -> _Dialog:
        """The dialog a 2xx created: its remote target (Contact) and route set (Record-Route, reversed, RFC 3261
        §12.1.2), which every request inside it (ACK, BYE) follows: a trunk's proxy that recorded its route
        expects to see them again, and may refuse or lose them otherwise."""
        to = answer.get_header("To") or f"<{uri}>"
        contacts = answer.contact
        target = stringify_uri(contacts[0].uri) if contacts else uri
        routes = route_set(answer)
        if routes and ";lr" not in routes[0]:  # a strict router (RFC 2543): it takes the request URI's place
            target, routes = routes[0].strip("<>"), [*routes[1:], f"<{target}>"]
        route_headers = [("Route", ", ".join(routes))] if routes else []

        def request(method: str, number: int) -> bytes:
            return messages.request(
                method,
                target,
                via=via(messages.new_branch()),
                from_=from_,
                to=to,
                call_id=call.call_id,
                cseq=number,
                extra=route_headers,
            )

        async def bye() -> None:
            await self._bye(transport, call, request("BYE", cseq + 1))

        return _Dialog(lambda: transport.send(request("ACK", cseq), self._trunk), bye)

    async def _answered(
        self,
        call: _Call,
        rtp: RtpStream,
        answer: SipResponse,
        dialog: _Dialog,
        audio: Callable[[Law], bytes],
        keep_lateness: bool,
        on_answer: Callable[[], None] | None,
        rang: bool,
    ) -> CallResult:
        dialog.ack()
        call.abandon = dialog.bye
        if on_answer is not None:
            on_answer()
        offer = messages.read_sdp(answer.text) if answer.body else None
        chosen = next((pt for pt in (offer.payload_types if offer else ()) if pt in PAYLOAD_TYPES.values()), None)
        result = CallResult(200, answer.reason_phrase, answered=True, rang=rang)
        if offer is None or chosen is None:
            # Nothing we could send would be heard: hang up at once (BYE below) rather than leave the line open.
            result.no_codec = True
            result.offered = messages.audio_formats(answer.text) if answer.body else ""
            log.warning(
                "call %s answered without a G.711 stream (%s); hanging up", call.call_id, result.offered or "no SDP"
            )
        else:
            law: Law = "PCMA" if chosen == PAYLOAD_TYPES["PCMA"] else "PCMU"
            result.codec = law
            call.sdp = messages.answer_sdp(self._settings.local_host, rtp.port, chosen)

            async def re_ack() -> None:  # a 200 retransmitted because our ACK was lost
                while True:
                    again = await call.inbox.get()
                    if again.status_code == 200 and _cseq(again)[0] == "INVITE":
                        dialog.ack()

            watcher = asyncio.create_task(re_ack())
            try:
                result.played = await rtp.play(
                    audio(law), (offer.host, offer.port), chosen, call.hung_up, keep_lateness=keep_lateness
                )
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await asyncio.sleep(0.05)  # what the other side sent back in the last packets' time
            result.played.heard = rtp.heard
        if call.hung_up.is_set():
            call.abandon = None
            result.callee_hung_up = True
            return result
        call.abandon = None
        await dialog.bye()
        result.callee_hung_up = call.hung_up.is_set() and not (result.played and result.played.complete)
        return result

    async def _bye(self, transport: Transport, call: _Call, bye: bytes) -> None:
        loop = asyncio.get_running_loop()
        transport.send(bye, self._trunk)
        deadline = loop.time() + BYE_WAIT
        interval = T1
        while (left := deadline - loop.time()) > 0:
            try:
                answer = await asyncio.wait_for(call.inbox.get(), min(left, interval))
            except TimeoutError:
                if transport.name == "UDP":
                    transport.send(bye, self._trunk)
                interval = min(interval * 2, 4.0)
                continue
            if _cseq(answer)[0] == "BYE" and answer.status_code >= 200:
                return
        log.info("call %s: no answer to BYE", call.call_id)


def _trunk_timeout(waited: float) -> CallResult:
    """Not one answer, not even `100 Trying`: the trunk is down or unreachable (RFC 3261 Timer B, or the ringing
    timeout reached first); told apart from a 408 the trunk sent, which is about the callee."""
    return CallResult(408, f"no SIP answer from the trunk within {waited:.0f} s", trunk_timeout=True)


@dataclass(frozen=True, slots=True)
class _Dialog:
    """Requests inside an answered call: `ack` its 2xx (again when retransmitted), `bye` to end it."""

    ack: Callable[[], None]
    bye: Callable[[], Awaitable[None]]


def _cseq(answer: SipResponse) -> tuple[str, int]:
    """The method and number of a response's CSeq, ("", 0) when it has none that reads."""
    parts = (answer.get_header("CSeq") or "").split()
    if len(parts) != 2 or not parts[0].isdigit():
        return "", 0
    return parts[1].upper(), int(parts[0])


_ROUTE = re.compile(r"<[^>]*>[^,]*|[^,<]+")


def route_set(answer: SipResponse) -> list[str]:
    """A 2xx's Record-Route entries in the order our requests list them (reversed, RFC 3261 §12.1.2)."""
    entries = [
        entry.strip()
        for value in answer.get_header_values("Record-Route")
        for entry in _ROUTE.findall(value)
        if entry.strip()
    ]
    return entries[::-1]
