"""Placing calls: the INVITE client transaction, the dialog, and the audio of one call at a time per `call`.

Written by hand (docs/voice.md says why): over UDP the INVITE is retransmitted until the trunk answers (RFC 3261
Timer A, given up at Timer B), every final answer is acknowledged (ACK for a refusal in the INVITE's own
transaction, a new one for 200), a call still ringing at the ringing timeout is cancelled (CANCEL, then the
487 acknowledged), a 401/407 is answered once with digest credentials (computed by aiosipua), a BYE from the
callee ends the audio at once, and the call ends with our BYE once the audio has been played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
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
CANCEL_WAIT = 4.0


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
    408 (no answer from the trunk) and 487 (ringing timeout, cancelled)."""

    status: int
    reason: str
    answered: bool = False
    played: Played | None = None
    callee_hung_up: bool = False
    rang: bool = False
    codec: str | None = None

    @property
    def complete(self) -> bool:
        return self.answered and self.played is not None and self.played.complete and not self.callee_hung_up


@dataclass
class _Call:
    call_id: str
    inbox: asyncio.Queue[SipResponse] = field(default_factory=asyncio.Queue)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)


class SipCaller:
    """Calls through one trunk over one transport, any number at once."""

    def __init__(self, settings: TrunkSettings) -> None:
        self._settings = settings
        self._trunk: Address = (settings.host, settings.port)
        self._domain = settings.domain or (
            settings.host if settings.port == 5060 else f"{settings.host}:{settings.port}"
        )
        self._transport: Transport | None = None
        self._calls: dict[str, _Call] = {}

    async def start(self) -> None:
        s = self._settings
        if s.transport == "tcp":
            self._transport = await TcpClientTransport.open(s.host, s.port, self._received, s.local_host)
        else:
            self._transport = await UdpTransport.open(s.local_host, 0, self._received)

    async def stop(self) -> None:
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    @property
    def ready(self) -> bool:
        return self._transport is not None

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
            transport.send(
                messages.response(message, 200, "OK", extra=[("Allow", "INVITE, ACK, BYE, CANCEL")]), address
            )
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
        """Call `number`, play `audio` (G.711 bytes of the negotiated law) once answered, and hang up."""
        transport = self._transport
        if transport is None:
            raise RuntimeError("the SIP caller is not started")
        s = self._settings
        rtp = await RtpStream.open(s.local_host)
        call = _Call(f"{secrets.token_hex(12)}@{s.local_host}")
        self._calls[call.call_id] = call
        try:
            return await self._call(transport, call, rtp, number, audio, keep_lateness, on_answer)
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
        contact = f"<sip:{s.caller_id}@{local_host}:{local_port}" + (
            ";transport=tcp>" if transport.name == "TCP" else ">"
        )
        offer = messages.offer_sdp(s.local_host, rtp.port, s.codec)
        cseq = 1
        branch = messages.new_branch()
        extra: list[tuple[str, str]] = []
        authenticated = False
        reliable = transport.name == "TCP"

        def via(b: str) -> str:
            return f"SIP/2.0/{transport.name} {local_host}:{local_port};branch={b};rport"

        def invite() -> bytes:
            return messages.request(
                "INVITE",
                uri,
                via=via(branch),
                from_=from_,
                to=to,
                call_id=call.call_id,
                cseq=cseq,
                contact=contact,
                extra=[("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"), *extra],
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

        sent_at = loop.time()
        transport.send(invite(), self._trunk)
        interval = T1
        next_resend = sent_at + interval
        rang = False
        provisional = False
        cancelled_at: float | None = None
        while True:
            now = loop.time()
            deadlines = [sent_at + TIMER_B] if not provisional else []
            if cancelled_at is None:
                deadlines.append(sent_at + s.ring_timeout)
            else:
                deadlines.append(cancelled_at + CANCEL_WAIT)
            if not reliable and not provisional:
                deadlines.append(next_resend)
            wait = max(0.0, min(deadlines) - now)
            try:
                answer = await asyncio.wait_for(call.inbox.get(), wait)
            except TimeoutError:
                now = loop.time()
                if cancelled_at is not None and now >= cancelled_at + CANCEL_WAIT:
                    return CallResult(487, "Request Terminated (ringing timeout)", rang=rang)
                if cancelled_at is None and now >= sent_at + s.ring_timeout:
                    if not provisional:
                        return CallResult(408, "Request Timeout (no answer from the trunk)")
                    cancelled_at = now
                    transport.send(
                        messages.request(
                            "CANCEL", uri, via=via(branch), from_=from_, to=to, call_id=call.call_id, cseq=cseq
                        ),
                        self._trunk,
                    )
                    continue
                if not provisional and now >= sent_at + TIMER_B:
                    return CallResult(408, "Request Timeout (no answer from the trunk)")
                if not reliable and not provisional and now >= next_resend:
                    transport.send(invite(), self._trunk)
                    interval = min(interval * 2, 4.0)
                    next_resend = now + interval
                continue
            cseq_header = (answer.get_header("CSeq") or "").split()
            if len(cseq_header) != 2 or cseq_header[1].upper() != "INVITE" or int(cseq_header[0]) != cseq:
                continue  # the 200 of a CANCEL, or an answer to an earlier INVITE
            status = answer.status_code
            if status < 200:
                provisional = True
                rang = rang or status in (180, 183)
                continue
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
            return await self._answered(
                transport, call, rtp, answer, uri, from_, cseq, via, audio, keep_lateness, on_answer, rang
            )

    async def _answered(
        self,
        transport: Transport,
        call: _Call,
        rtp: RtpStream,
        answer: SipResponse,
        uri: str,
        from_: str,
        cseq: int,
        via: Callable[[str], str],
        audio: Callable[[Law], bytes],
        keep_lateness: bool,
        on_answer: Callable[[], None] | None,
        rang: bool,
    ) -> CallResult:
        to = answer.get_header("To") or f"<{uri}>"
        contacts = answer.contact
        target = stringify_uri(contacts[0].uri) if contacts else uri

        def ack() -> None:
            transport.send(
                messages.request(
                    "ACK", target, via=via(messages.new_branch()), from_=from_, to=to, call_id=call.call_id, cseq=cseq
                ),
                self._trunk,
            )

        ack()
        if on_answer is not None:
            on_answer()
        offer = messages.read_sdp(answer.text) if answer.body else None
        chosen = next((pt for pt in (offer.payload_types if offer else ()) if pt in PAYLOAD_TYPES.values()), None)
        result = CallResult(200, answer.reason_phrase, answered=True, rang=rang)
        if offer is None or chosen is None:
            log.warning("call %s answered without a G.711 stream; hanging up", call.call_id)
            result.played = Played(0, 0.0, False)
        else:
            law: Law = "PCMA" if chosen == PAYLOAD_TYPES["PCMA"] else "PCMU"
            result.codec = law

            async def re_ack() -> None:  # a 200 retransmitted because our ACK was lost
                while True:
                    again = await call.inbox.get()
                    if again.status_code == 200 and (again.get_header("CSeq") or "").endswith("INVITE"):
                        ack()

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
            result.callee_hung_up = True
            return result
        await self._bye(transport, call, target, from_, to, cseq + 1, via)
        result.callee_hung_up = call.hung_up.is_set() and not (result.played and result.played.complete)
        return result

    async def _bye(
        self,
        transport: Transport,
        call: _Call,
        target: str,
        from_: str,
        to: str,
        cseq: int,
        via: Callable[[str], str],
    ) -> None:
        loop = asyncio.get_running_loop()
        bye = messages.request(
            "BYE", target, via=via(messages.new_branch()), from_=from_, to=to, call_id=call.call_id, cseq=cseq
        )
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
            if (answer.get_header("CSeq") or "").upper().endswith("BYE") and answer.status_code >= 200:
                return
        log.info("call %s: no answer to BYE", call.call_id)
