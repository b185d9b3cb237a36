"""Building SIP requests, responses and SDP bodies (parsing is aiosipua's `SipMessage.parse`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiosipua import SipMessage, SipRequest, SipResponse
from aiosipua.sdp import parse_sdp

from martinet.voice.g711 import PAYLOAD_TYPES

__all__ = [
    "Offer",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "answer_sdp",
    "new_branch",
    "new_tag",
    "offer_sdp",
    "parse",
    "read_sdp",
    "request",
    "response",
]

BRANCH_MAGIC = "z9hG4bK"
MAX_FORWARDS = "70"
USER_AGENT = "Martinet"


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def parse(data: bytes) -> SipRequest | SipResponse:
    """A SIP message from the wire; raises ValueError for what is not one."""
    return SipMessage.parse(data)


def _lines(start: str, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    head = [start, *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode("utf-8") + body


def request(
    method: str,
    uri: str,
    *,
    via: str,
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    contact: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
    cseq_method: str | None = None,
) -> bytes:
    headers: list[tuple[str, str]] = [
        ("Via", via),
        ("Max-Forwards", MAX_FORWARDS),
        ("From", from_),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {cseq_method or method}"),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    headers.append(("User-Agent", USER_AGENT))
    headers.extend(extra)
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return _lines(f"{method} {uri} SIP/2.0", headers, body)


def response(
    to_request: SipRequest,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    contact: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    """A response copying Via, From, Call-ID and CSeq of `to_request`, with `to_tag` added to its To."""
    to = to_request.get_header("To") or ""
    if to_tag is not None and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    headers: list[tuple[str, str]] = [("Via", via) for via in to_request.get_header_values("Via")]
    headers += [
        ("From", to_request.get_header("From") or ""),
        ("To", to),
        ("Call-ID", to_request.get_header("Call-ID") or ""),
        ("CSeq", to_request.get_header("CSeq") or ""),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    headers.append(("Server", USER_AGENT))
    headers.extend(extra)
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return _lines(f"SIP/2.0 {status} {reason}", headers, body)


def _sdp(host: str, port: int, payload_types: Sequence[int], direction: str) -> bytes:
    session = secrets.randbelow(2**31)
    names = {number: name for name, number in PAYLOAD_TYPES.items()}
    lines = [
        "v=0",
        f"o=martinet {session} {session} IN IP4 {host}",
        "s=martinet",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in payload_types)}",
        *(f"a=rtpmap:{pt} {names[pt]}/8000" for pt in payload_types),
        "a=ptime:20",
        f"a={direction}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def offer_sdp(host: str, port: int, preferred: str) -> bytes:
    """An offer of both G.711 laws, `preferred` first ("PCMA" or "PCMU"); we only send."""
    first = PAYLOAD_TYPES[preferred]
    return _sdp(host, port, [first, *(pt for pt in PAYLOAD_TYPES.values() if pt != first)], "sendrecv")


def answer_sdp(host: str, port: int, payload_type: int) -> bytes:
    return _sdp(host, port, [payload_type], "sendrecv")


@dataclass(frozen=True, slots=True)
class Offer:
    """What an SDP body says of its audio stream: where to send RTP and the G.711 payload types, in order."""

    host: str
    port: int
    payload_types: tuple[int, ...]


def read_sdp(body: str) -> Offer | None:
    """The audio stream of an SDP offer or answer, keeping only the G.711 formats; None without one."""
    try:
        sdp = parse_sdp(body)
    except (ValueError, IndexError):
        return None
    audio = sdp.audio
    address = sdp.rtp_address
    if audio is None or address is None:
        return None
    formats = tuple(int(f) for f in audio.formats if f.isdigit() and int(f) in PAYLOAD_TYPES.values())
    return Offer(address[0], address[1], formats)


_RTPMAP = re.compile(r"^a=rtpmap:(\d+)\s+(\S+)", re.MULTILINE)
_AUDIO = re.compile(r"^m=audio\s+\d+\s+\S+\s*(.*)$", re.MULTILINE)


def audio_formats(body: str) -> str:
    """The audio formats an SDP body offers, by name where it maps them ("G729/8000"), for the history: a trunk
    answering without G.711 is a configuration to fix, and the operator needs to see what it offered."""
    media = _AUDIO.search(body)
    if media is None:
        return "no audio stream"
    names = {pt: name for pt, name in _RTPMAP.findall(body)}
    return ", ".join(names.get(pt, pt) for pt in media.group(1).split()) or "no format"
