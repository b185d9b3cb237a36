"""Long messages over SMPP: the parts of an outbound message as `submit_sm` contents, and inbound parts reassembled.

Outbound, the engine hands the parts `domain.text.analyze` cut (at most 153 septets / 67 UTF-16 units each when
there are several; 160 / 70 for a single part). How the handset learns they belong together is chosen per
connector, because carriers differ in what they accept:

| mode    | what is sent per part                                                                   |
|---------|-----------------------------------------------------------------------------------------|
| UDH8    | esm_class 0x40 (UDHI); short_message = `05 00 03 ref total seq` + text (ref: 8 bits)   |
| UDH16   | esm_class 0x40 (UDHI); short_message = `06 08 04 refhi reflo total seq` + text         |
| SAR     | esm_class 0; the text alone, with TLVs sar_msg_ref_num (16 bits), sar_total_segments, |
|         | sar_segment_seqnum: the SMSC builds the UDH                                             |
| PAYLOAD | one submit_sm for the whole text: empty short_message, message_payload TLV; the SMSC  |
|         | splits it (so the carrier gives one message ID for all parts)                           |

A message of a single part is sent plainly in short_message (no UDH, no SAR, no payload TLV) in every mode: it
needs no reassembly, and every SMSC accepts a plain short_message while not all accept message_payload.

Capacity of one part under each mode (the air interface carries 140 octets = 160 septets, header included):

| mode   | GSM packed       | GSM unpacked                                 | UCS-2                  |
|--------|------------------|----------------------------------------------|------------------------|
| UDH8   | 153 septets      | 153 (short_message = 6 + 153 = 159 octets)   | 67 units (134 octets)  |
| UDH16  | 152 septets      | 152 (7 + 152 = 159 octets)                   | 66 units (133 octets)  |
| SAR    | 153 septets      | 153                                          | 67 units               |

With UDH and packing, the header takes ceil(8 × UDH octets / 7) septets (fill bits align the text on a septet
boundary): 7 for UDH8, 8 for UDH16. Unpacked, SMPP carries one septet per octet and the SMSC packs them, header
included, so the air-interface capacity is the same, but short_message grows to 159 octets: allowed by SMPP
(254) and accepted by most SMSCs, refused by some that check sm_length ≤ 140 whatever the alphabet. For those,
`udh_octet_limit=140` caps short_message, leaving 134 septets (UDH8) or 133 (UDH16) per part.

When a part does not fit the chosen mode (UDH16 always loses one septet / one unit; a 140-octet limit loses
nineteen septets unpacked), the whole text is cut again at the mode's capacity, keeping ESC pairs and surrogate
pairs whole. The message then has more SMS than `analyze` counted (and than was billed); the connector reports
one carrier ID per submission, so the store sees the parts that really left. UDH8 (or SAR) with the default limit
never re-cuts; `capacity()` lets configuration checks warn about the other combinations.

Inbound, `Reassembler` collects the parts of a concatenated MO, announced by a UDH (8- or 16-bit reference) or by
SAR TLVs, and gives the whole text once every part is there. Parts are joined as octets (septets for GSM) before
decoding, so an escape or a surrogate pair split across two parts by a careless sender still reads right.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from martinet.connectors.smpp.coding import (
    DATA_CODING_GSM,
    DATA_CODING_UCS2,
    decode_text,
    encode_text,
    gsm_septets,
    is_gsm_coding,
    pack_septets,
    unpack_septets,
)
from martinet.domain.text import GSM_EXTENSION, Encoding
from martinet.domain.valueclass import valueclass
from martinet.smpp import TLV, DataSm, DeliverSm, EsmClassFeature, Tag
from martinet.smpp.concatenation import IEI_CONCAT_8, IEI_CONCAT_16, concatenation_of

__all__ = [
    "MAX_PARTS",
    "LongMessageMode",
    "MoMessage",
    "MoSegment",
    "Reassembler",
    "Submission",
    "capacity",
    "segment_of",
    "submissions",
]

UDHI: Final = int(EsmClassFeature.UDHI)
#: Concatenation counts parts in one octet (UDH and SAR alike).
MAX_PARTS: Final = 255
_AIR_OCTETS: Final = 140
_AIR_SEPTETS: Final = 160
_MAX_SHORT_MESSAGE: Final = 254
#: Characters costing two units: GSM-7's extension table (ESC + code), UCS-2's astral planes (a surrogate pair).
_EXTENSION: Final = re.compile("[" + "".join(re.escape(char) for char in sorted(GSM_EXTENSION)) + "]")
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


class LongMessageMode(enum.StrEnum):
    """How a connector marks the parts of a long message (see the module table)."""

    UDH8 = "udh8"
    UDH16 = "udh16"
    SAR = "sar"
    PAYLOAD = "payload"


@valueclass
class Submission:
    """The message-specific fields of one submit_sm; addresses and registered_delivery are the connector's."""

    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: tuple[TLV, ...]
    text: str
    """The text this submission carries (for logs and for counting what was really sent)."""


# --- Outbound ---


def _udh(mode: LongMessageMode, reference: int, total: int, seq: int) -> bytes:
    if mode is LongMessageMode.UDH8:
        return bytes((0x05, IEI_CONCAT_8, 0x03, reference & 0xFF, total, seq))
    return bytes((0x06, IEI_CONCAT_16, 0x04, (reference >> 8) & 0xFF, reference & 0xFF, total, seq))


def _udh_length(mode: LongMessageMode) -> int:
    return {LongMessageMode.UDH8: 6, LongMessageMode.UDH16: 7}.get(mode, 0)


def capacity(encoding: Encoding, mode: LongMessageMode, *, gsm_packed: bool, udh_octet_limit: int | None = None) -> int:
    """Septets (GSM-7) or UTF-16 units (UCS-2) one part of a concatenated message holds in `mode`.

    PAYLOAD has no per-part limit of its own (the SMSC cuts the text): it answers the SAR figure, which is what
    the carrier will put in each SMS. Raises ValueError for a `udh_octet_limit` too small to hold a header and
    one character of any cost.
    """
    size = _capacity(Encoding(encoding), LongMessageMode(mode), gsm_packed, udh_octet_limit)
    if size < 2:
        raise ValueError(f"udh_octet_limit {udh_octet_limit} leaves no room for text after the UDH")
    return size


def _capacity(encoding: Encoding, mode: LongMessageMode, gsm_packed: bool, udh_octet_limit: int | None) -> int:
    header = _udh_length(mode)
    limit = min(_MAX_SHORT_MESSAGE, udh_octet_limit or _MAX_SHORT_MESSAGE) if header else _MAX_SHORT_MESSAGE
    if encoding is Encoding.UCS2:
        return (min(_AIR_OCTETS, limit) - (header or 6)) // 2
    header_septets = (8 * (header or 6) + 6) // 7
    septets = _AIR_SEPTETS - header_septets
    if header and gsm_packed:
        # ceil(7 × (header septets + text septets) / 8) ≤ limit
        return min(septets, (8 * limit) // 7 - header_septets)
    if header:
        return min(septets, limit - header)
    return septets


def _cost(char: str, encoding: Encoding) -> int:
    if encoding is Encoding.UCS2:
        return 2 if ord(char) > 0xFFFF else 1
    return 2 if char in GSM_EXTENSION else 1


def _text_cost(text: str, encoding: Encoding) -> int:
    """`_cost` summed over `text`, counted in C (runs for every part submitted): UTF-16 code units for UCS-2,
    septets (an extension character takes two) for GSM-7."""
    if encoding is Encoding.UCS2:
        return len(text) + len(_ASTRAL.findall(text))
    return len(text) + len(_EXTENSION.findall(text))


def _recut(text: str, encoding: Encoding, size: int) -> tuple[str, ...]:
    """`text` cut greedily into pieces of at most `size` units, never inside an ESC or surrogate pair.

    Cutting between code points is enough: Python strings hold astral characters and extension characters whole.
    """
    pieces: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(text):
        cost = _cost(char, encoding)
        if used + cost > size:
            pieces.append(text[start:index])
            start, used = index, 0
        used += cost
    pieces.append(text[start:])
    return tuple(pieces)


def _single_fits(text: str, encoding: Encoding) -> bool:
    return _text_cost(text, encoding) <= (_AIR_SEPTETS if encoding is Encoding.GSM7 else _AIR_OCTETS // 2)


def submissions(
    parts: Sequence[str],
    encoding: Encoding,
    *,
    mode: LongMessageMode,
    reference: int,
    gsm_packed: bool,
    udh_octet_limit: int | None = None,
) -> list[Submission]:
    """The submit_sm contents for a message already cut into `parts` (see the module docstring).

    `reference` identifies the message among those in flight to the same handset; it is masked to 8 bits for
    UDH8 and 16 bits for UDH16/SAR, so a connector may pass a running counter. Parts that do not fit `mode` are
    cut again (more submissions than parts). Raises ValueError if the message would need more than 255 parts,
    or if a GSM-7 part holds a character GSM cannot carry.
    """
    # Members are taken as they are (an enum lookup per submission showed in profiles); strings converted.
    encoding = encoding if isinstance(encoding, Encoding) else Encoding(encoding)
    mode = mode if isinstance(mode, LongMessageMode) else LongMessageMode(mode)
    texts = tuple(parts) or ("",)
    if len(texts) == 1 and _single_fits(texts[0], encoding):
        data_coding, octets = encode_text(texts[0], encoding, gsm_packed=gsm_packed)
        return [Submission(0, data_coding, octets, (), texts[0])]
    if mode is LongMessageMode.PAYLOAD:
        whole = "".join(texts)
        data_coding, octets = encode_text(whole, encoding, gsm_packed=gsm_packed)
        return [Submission(0, data_coding, b"", (TLV(Tag.MESSAGE_PAYLOAD, octets),), whole)]
    size = capacity(encoding, mode, gsm_packed=gsm_packed, udh_octet_limit=udh_octet_limit)
    if any(_text_cost(text, encoding) > size for text in texts):
        texts = _recut("".join(texts), encoding, size)
    total = len(texts)
    if total > MAX_PARTS:
        raise ValueError(f"{total} parts in {mode} mode; concatenation allows at most {MAX_PARTS}")
    if mode is LongMessageMode.SAR:
        return [_sar_part(text, encoding, reference, total, seq, gsm_packed) for seq, text in enumerate(texts, 1)]
    return [_udh_part(text, encoding, mode, reference, total, seq, gsm_packed) for seq, text in enumerate(texts, 1)]


def _sar_part(text: str, encoding: Encoding, reference: int, total: int, seq: int, gsm_packed: bool) -> Submission:
    data_coding, octets = encode_text(text, encoding, gsm_packed=gsm_packed)
    tlvs = (
        TLV(Tag.SAR_MSG_REF_NUM, reference & 0xFFFF),
        TLV(Tag.SAR_TOTAL_SEGMENTS, total),
        TLV(Tag.SAR_SEGMENT_SEQNUM, seq),
    )
    return Submission(0, data_coding, octets, tlvs, text)


def _udh_part(
    text: str, encoding: Encoding, mode: LongMessageMode, reference: int, total: int, seq: int, gsm_packed: bool
) -> Submission:
    header = _udh(mode, reference, total, seq)
    if encoding is Encoding.GSM7 and gsm_packed:
        # Pack placeholder septets covering the header and its fill bits, then lay the header over them.
        header_septets = (8 * len(header) + 6) // 7
        packed = pack_septets(bytes(header_septets) + gsm_septets(text))
        return Submission(UDHI, DATA_CODING_GSM, header + packed[len(header) :], (), text)
    data_coding, octets = encode_text(text, encoding, gsm_packed=False)
    return Submission(UDHI, data_coding, header + octets, (), text)


# --- Inbound ---


@valueclass
class MoSegment:
    """One inbound deliver_sm/data_sm as the reassembler needs it.

    `body` is ready for `decode_text(data_coding, body)` with unpacked GSM: the UDH is removed and packed GSM is
    already unpacked (septets of different parts can then simply be joined). `reference` is None for a message
    that is not part of a concatenated one (or whose concatenation data is unusable).
    """

    source: str
    destination: str
    data_coding: int
    body: bytes
    reference: int | None = None
    total: int = 1
    seq: int = 1


@valueclass
class MoMessage:
    """A whole inbound message, or (complete=False) what arrived of one before it was evicted."""

    source: str
    destination: str
    text: str
    parts: int
    """Parts the message was announced with (1 for a plain message)."""
    complete: bool = True
    received: int = 1
    """Parts that actually arrived."""


def _body(pdu: DeliverSm | DataSm) -> bytes:
    if isinstance(pdu, DeliverSm) and pdu.short_message:
        return pdu.short_message
    payload = pdu.get_tlv(Tag.MESSAGE_PAYLOAD)
    return payload if isinstance(payload, bytes) else b""


def segment_of(pdu: DeliverSm | DataSm, *, gsm_packed: bool = False) -> MoSegment:
    """Read the concatenation data and the text octets of an inbound PDU; never raises.

    The UDH wins over SAR TLVs when both are present (it is what the handset itself wrote). A UDH whose declared
    length overruns the message is not trusted: the whole body is kept as text rather than losing it. Parts
    numbered outside 1..total, or announcing fewer than two parts, are treated as a plain message.
    """
    body = _body(pdu)
    packed_gsm = gsm_packed and is_gsm_coding(pdu.data_coding)
    concat = concatenation_of(pdu.esm_class, body, pdu)
    if pdu.esm_class & UDHI and body and body[0] + 1 <= len(body):
        header_length = body[0] + 1
        if packed_gsm:
            body = unpack_septets(body)[(8 * header_length + 6) // 7 :]
            packed_gsm = False
        else:
            body = body[header_length:]
    if packed_gsm:
        body = unpack_septets(body)
    reference: int | None = None
    total = seq = 1
    if concat is not None:
        reference, total, seq = concat
    return MoSegment(pdu.source_addr, pdu.destination_addr, pdu.data_coding, body, reference, total, seq)


_Key = tuple[str, str, int]


@dataclass(slots=True)
class _Pending:
    created: float
    total: int
    segments: dict[int, MoSegment] = field(default_factory=dict)


def _decode_segments(segments: Sequence[MoSegment]) -> str:
    """Join then decode when the parts agree on data_coding (and UCS-2 parts are whole units); else part by part."""
    codings = {segment.data_coding for segment in segments}
    if len(codings) == 1:
        coding = segments[0].data_coding
        if coding != DATA_CODING_UCS2 or all(len(segment.body) % 2 == 0 for segment in segments):
            return decode_text(coding, b"".join(segment.body for segment in segments))
    return "".join(decode_text(segment.data_coding, segment.body) for segment in segments)


class Reassembler:
    """Collects the parts of concatenated MO messages, keyed by (source, destination, reference).

    Pure: time is passed in (`now`, seconds on any monotonic clock). A message whose parts have not all come
    within `max_age` of its first part is evicted, as is the oldest pending message when more than `max_pending`
    are waiting (a bound on memory against a peer that sends first parts only). Evicted messages are not thrown
    away silently: `expire()` returns what arrived of them (complete=False), for the connector to hand on or log;
    if it is never called, only the latest `max_pending` are kept.

    Duplicates: a part that arrives twice (an SMSC retrying after a lost deliver_sm_resp) is ignored, also after
    its message was completed: completed messages are remembered for `max_age`, and a part identical to one of
    theirs is dropped instead of starting a phantom message. A part announcing a different total than the pending
    message with the same key, or carrying other content for a part number already completed, means the
    reference was reused (8-bit references wrap quickly): the old message is evicted and a new one started.
    """

    def __init__(self, *, max_age: float = 600.0, max_pending: int = 10_000, gsm_packed: bool = False) -> None:
        if max_age <= 0 or max_pending <= 0:
            raise ValueError("max_age and max_pending must be positive")
        self._max_age = max_age
        self._max_pending = max_pending
        self._gsm_packed = gsm_packed
        self._pending: dict[_Key, _Pending] = {}
        self._completed: dict[_Key, _Pending] = {}
        self._evicted: deque[MoMessage] = deque(maxlen=max_pending)

    def __len__(self) -> int:
        """Messages waiting for parts."""
        return len(self._pending)

    def add(self, part: DeliverSm | DataSm | MoSegment, *, now: float) -> MoMessage | None:
        """Take one inbound part; the whole message once its last part is in, else None."""
        segment = part if isinstance(part, MoSegment) else segment_of(part, gsm_packed=self._gsm_packed)
        self._forget_aged(now)
        if segment.reference is None:
            return MoMessage(segment.source, segment.destination, _decode_segments([segment]), 1)
        key = (segment.source, segment.destination, segment.reference)
        if self._is_repeat(key, segment):
            return None
        pending = self._pending.get(key)
        if pending is not None and pending.total != segment.total:
            self._evict(key)
            pending = None
        if pending is None:
            while len(self._pending) >= self._max_pending:
                self._evict(next(iter(self._pending)))
            pending = self._pending[key] = _Pending(now, segment.total)
        pending.segments.setdefault(segment.seq, segment)
        if len(pending.segments) < pending.total:
            return None
        del self._pending[key]
        self._remember(key, pending, now)
        ordered = [pending.segments[seq] for seq in range(1, pending.total + 1)]
        text = _decode_segments(ordered)
        return MoMessage(segment.source, segment.destination, text, pending.total, True, pending.total)

    def expire(self, *, now: float) -> list[MoMessage]:
        """Evict messages older than `max_age` and return every message evicted since the last call."""
        self._forget_aged(now)
        evicted = list(self._evicted)
        self._evicted.clear()
        return evicted

    def _is_repeat(self, key: _Key, segment: MoSegment) -> bool:
        done = self._completed.get(key)
        if done is None:
            return False
        earlier = done.segments.get(segment.seq)
        if done.total == segment.total and earlier is not None and earlier.body == segment.body:
            return True
        del self._completed[key]  # same key, other content: a new message reusing the reference
        return False

    def _remember(self, key: _Key, message: _Pending, now: float) -> None:
        self._completed.pop(key, None)
        while len(self._completed) >= self._max_pending:
            del self._completed[next(iter(self._completed))]
        message.created = now
        self._completed[key] = message

    def _forget_aged(self, now: float) -> None:
        # Both dicts are filled in time order (first part, completion), so the aged entries are at the front.
        while self._pending:
            key = next(iter(self._pending))
            if now - self._pending[key].created < self._max_age:
                break
            self._evict(key)
        while self._completed:
            key = next(iter(self._completed))
            if now - self._completed[key].created < self._max_age:
                break
            del self._completed[key]

    def _evict(self, key: _Key) -> None:
        pending = self._pending.pop(key)
        ordered = [pending.segments[seq] for seq in sorted(pending.segments)]
        source, destination, _ = key
        text = _decode_segments(ordered)
        self._evicted.append(MoMessage(source, destination, text, pending.total, False, len(ordered)))
