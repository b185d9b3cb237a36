"""The SIP trunk simulator: answers, rings, refuses or ignores calls by number range, and records what it hears.

Each call's number (the user part of the request URI) picks the first rule whose prefix it starts with:

* `answer` — rings for `ring_delay` seconds, answers (200 with an SDP answer choosing the first G.711 law
  offered), records the RTP it receives until the caller's BYE, or hangs up itself after `hangup_after` seconds;
* `ring` — rings until the caller gives up (CANCEL, answered 487);
* `reject` — answers `code` (486 busy, 480 unavailable, 603 declined, 404...) after `ring_delay`;
* `silent` — never answers, not even 100 Trying (an unreachable trunk: the caller's INVITE times out).

With `username`, every INVITE must carry digest credentials (401 challenge first). Recordings are WAV files (8 kHz,
16-bit) in `recordings`, named after the number and the call; `calls` keeps every call's outcome in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiosipua.headers import parse_auth

from martinet.sip import messages, rtp
from martinet.sip.messages import SipRequest, SipResponse
from martinet.sip.transport import Address, TcpServerTransport, Transport, UdpTransport
from martinet.voice.g711 import PAYLOAD_TYPES, Law, decode
from martinet.voice.synthesis import Audio

log = logging.getLogger(__name__)

Behaviour = Literal["answer", "ring", "reject", "silent"]


@dataclass(frozen=True, slots=True)
class Rule:
    prefix: str
    behaviour: Behaviour = "answer"
    code: int = 486
    ring_delay: float = 0.0
    hangup_after: float | None = None


#: The demo's ranges: numbers under +33 1 99 99 9 behave badly on purpose, one way each (docs/voice.md).
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("331999991", "reject", 486),
    Rule("331999992", "reject", 480),
    Rule("331999993", "reject", 603),
    Rule("331999994", "ring"),
    Rule("331999995", "silent"),
    Rule("331999996", "answer", hangup_after=1.0),
    Rule("", "answer", ring_delay=0.5),
)

_REASONS = {
    180: "Ringing",
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}


@dataclass
class TrunkCall:
    call_id: str
    number: str
    behaviour: Behaviour
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None  # when the call ended (BYE, CANCEL, or the trunk's hang-up)
    status: int | None = None  # the final answer given to the INVITE
    ended_by: str | None = None  # "caller" (BYE), "trunk" (our BYE), "cancel"
    law: Law | None = None
    audio_seconds: float = 0.0
    packets: int = 0
    recording: Path | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Dialog:
    call: TrunkCall
    invite: SipRequest
    address: Address
    to_tag: str
    last: bytes | None = None
    stream: rtp.RtpStream | None = None
    task: asyncio.Task[None] | None = None


class TrunkSimulator:
    def __init__(
        self,
        rules: tuple[Rule, ...] = DEFAULT_RULES,
        *,
        host: str = "127.0.0.1",
        port: int = 5070,
        transport: Literal["udp", "tcp"] = "udp",
        recordings: Path | None = None,
        username: str = "",
        password: str = "",
        realm: str = "martinet-trunk",
        algorithm: Literal["MD5", "SHA-256"] = "MD5",
    ) -> None:
        self._rules = rules
        self._host, self._port, self._kind = host, port, transport
        self._recordings = recordings
        self._credentials = (username, password) if username else None
        self._realm = realm
        self._algorithm = algorithm
        self._transport: Transport | None = None
        self._dialogs: dict[str, _Dialog] = {}
        self._nonces: set[str] = set()
        self.calls: list[TrunkCall] = []

    async def start(self) -> None:
        if self._kind == "tcp":
            self._transport = await TcpServerTransport.open(self._host, self._port, self._received)
        else:
            self._transport = await UdpTransport.open(self._host, self._port, self._received)
        if self._recordings is not None:
            self._recordings.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        for dialog in list(self._dialogs.values()):
            if dialog.task is not None:
                dialog.task.cancel()
            if dialog.stream is not None:
                dialog.stream.close()
        if self._transport is not None:
            await self._transport.close()

    @property
    def address(self) -> Address:
        assert self._transport is not None
        return self._transport.local

    def rule(self, number: str) -> Rule:
        return next((r for r in self._rules if number.startswith(r.prefix)), Rule(""))

    # ------------------------------------------------------------------ SIP

    def _send(self, data: bytes, address: Address) -> None:
        if self._transport is not None:
            self._transport.send(data, address)

    def _received(self, message: SipRequest | SipResponse, address: Address) -> None:
        if isinstance(message, SipResponse):
            return  # the 200 to our BYE: nothing more to do
        call_id = message.call_id or ""
        dialog = self._dialogs.get(call_id)
        if message.method == "INVITE":
            if dialog is not None:
                if dialog.last is not None:
                    self._send(dialog.last, address)  # a retransmission: the same answer
                return
            self._invite(message, address)
        elif message.method == "ACK":
            return
        elif message.method == "CANCEL":
            self._send(messages.response(message, 200, "OK"), address)
            if dialog is not None and dialog.call.status is None:
                self._final(dialog, 487)
                dialog.call.ended_by = "cancel"
                self._end(dialog)
        elif message.method == "BYE":
            self._send(messages.response(message, 200, "OK"), address)
            if dialog is not None:
                dialog.call.ended_by = "caller"
                self._end(dialog)
        elif message.method == "OPTIONS":
            self._send(messages.response(message, 200, "OK"), address)
        else:
            self._send(messages.response(message, 405, "Method Not Allowed"), address)

    def _invite(self, invite: SipRequest, address: Address) -> None:
        if self._credentials is not None and not self._authorized(invite):
            nonce = secrets.token_hex(16)
            self._nonces.add(nonce)
            challenge = f'Digest realm="{self._realm}", nonce="{nonce}", algorithm={self._algorithm}, qop="auth"'
            self._send(
                messages.response(
                    invite, 401, "Unauthorized", to_tag=messages.new_tag(), extra=[("WWW-Authenticate", challenge)]
                ),
                address,
            )
            return
        number = invite.uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0].lstrip("+")
        rule = self.rule(number)
        call = TrunkCall(invite.call_id or "", number, rule.behaviour)
        self.calls.append(call)
        dialog = _Dialog(call, invite, address, messages.new_tag())
        self._dialogs[call.call_id] = dialog
        if rule.behaviour == "silent":
            return
        self._send(messages.response(invite, 100, "Trying"), address)
        dialog.task = asyncio.create_task(self._play_rule(dialog, rule))

    def _authorized(self, invite: SipRequest) -> bool:
        assert self._credentials is not None
        header = invite.get_header("Authorization")
        if not header:
            return False
        try:
            params = parse_auth(header).params
        except (ValueError, IndexError):
            return False
        username, password = self._credentials
        nonce = params.get("nonce", "")
        if params.get("username") != username or nonce not in self._nonces:
            return False

        name = "sha256" if self._algorithm == "SHA-256" else "md5"

        def digest(text: str) -> str:
            return hashlib.new(name, text.encode(), usedforsecurity=False).hexdigest()

        ha1 = digest(f"{username}:{self._realm}:{password}")
        ha2 = digest(f"INVITE:{params.get('uri', '')}")
        if params.get("qop"):
            expected = digest(
                f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:{params.get('qop')}:{ha2}"
            )
        else:
            expected = digest(f"{ha1}:{nonce}:{ha2}")
        return secrets.compare_digest(expected, params.get("response", ""))

    def _final(self, dialog: _Dialog, status: int, body: bytes = b"") -> None:
        dialog.call.status = status
        contact = f"<sip:trunk@{self.address[0]}:{self.address[1]}>"
        dialog.last = messages.response(
            dialog.invite,
            status,
            _REASONS.get(status, "Error"),
            to_tag=dialog.to_tag,
            contact=contact if status == 200 else None,
            body=body,
            content_type="application/sdp" if body else None,
        )
        self._send(dialog.last, dialog.address)

    async def _play_rule(self, dialog: _Dialog, rule: Rule) -> None:
        invite, address = dialog.invite, dialog.address
        dialog.last = messages.response(invite, 180, "Ringing", to_tag=dialog.to_tag)
        self._send(dialog.last, address)
        if rule.behaviour == "ring":
            return
        if rule.ring_delay:
            await asyncio.sleep(rule.ring_delay)
        if dialog.call.status is not None:
            return  # cancelled meanwhile
        if rule.behaviour == "reject":
            self._final(dialog, rule.code)
            dialog.call.done.set()
            self._dialogs.pop(dialog.call.call_id, None)
            return
        offer = messages.read_sdp(invite.text) if invite.body else None
        chosen = next(iter(offer.payload_types), None) if offer is not None else None
        if offer is None or chosen is None:
            self._final(dialog, 488)
            dialog.call.done.set()
            return
        dialog.call.law = "PCMA" if chosen == PAYLOAD_TYPES["PCMA"] else "PCMU"
        dialog.stream = await rtp.RtpStream.open(self._host, record=True)
        self._final(dialog, 200, messages.answer_sdp(self._host, dialog.stream.port, chosen))
        if rule.hangup_after is not None:
            await asyncio.sleep(rule.hangup_after)
            if not dialog.call.done.is_set():
                self._hang_up(dialog)

    def _hang_up(self, dialog: _Dialog) -> None:
        """Our BYE: the called person hangs up."""
        invite = dialog.invite
        local = self.address
        target = dialog.address
        to = invite.get_header("From") or ""
        from_ = f"{invite.get_header('To') or ''};tag={dialog.to_tag}"
        bye = messages.request(
            "BYE",
            (invite.get_header("Contact") or "<sip:caller>").strip("<>").split(">")[0],
            via=f"SIP/2.0/{self._kind.upper()} {local[0]}:{local[1]};branch={messages.new_branch()}",
            from_=from_,
            to=to,
            call_id=dialog.call.call_id,
            cseq=1,
        )
        self._send(bye, target)
        dialog.call.ended_by = "trunk"
        self._end(dialog)

    def _end(self, dialog: _Dialog) -> None:
        dialog.call.ended_at = time.time()
        self._dialogs.pop(dialog.call.call_id, None)
        if dialog.task is not None and dialog.task is not asyncio.current_task():
            dialog.task.cancel()
        # The last packets may still be in the socket's buffer when the BYE is read: collect them a moment later.
        asyncio.get_running_loop().call_later(0.1, self._record, dialog)

    def _record(self, dialog: _Dialog) -> None:
        call = dialog.call
        if dialog.stream is not None:
            payloads = [p for p in map(rtp.payload, dialog.stream.received) if p is not None]
            dialog.stream.close()
            audio = b"".join(data for _, data in payloads)
            call.packets = len(payloads)
            call.audio_seconds = len(audio) / 8000
            if self._recordings is not None and call.law is not None and audio:
                path = self._recordings / f"{call.number}-{call.call_id.split('@')[0][:12]}.wav"
                Audio(decode(audio, call.law)).write_wav(path)
                call.recording = path
        call.done.set()


async def run(simulator: TrunkSimulator, stop: asyncio.Event) -> None:
    await simulator.start()
    log.info("SIP trunk simulator listening on %s:%s", *simulator.address)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await simulator.stop()
