"""Text ↔ SMPP `short_message` octets: GSM 03.38 (packed or not), UCS-2, and what handsets and SMSCs send back.

Outbound, the engine has already chosen the encoding (`domain.text.analyze`), so only two `data_coding` values
are ever written:

| encoding | data_coding | octets                                                                      |
|----------|-------------|-----------------------------------------------------------------------------|
| GSM-7    | 0x00        | unpacked: one septet per octet (the usual SMPP form; the SMSC packs for air) |
|          |             | packed: septets packed 8 in 7 octets, as on the air interface (03.38 §6.1.2) |
| UCS-2    | 0x08        | UTF-16-BE (an emoji is a surrogate pair: two units, four octets)            |

Packing or not is per connector because SMPP leaves it to the SMSC: most expect one septet per octet with
data_coding 0, some expect the packed form. An extension character (^ { } [ ] ~ \\ | € and form feed) is the
escape 0x1B followed by its code in both forms.

Inbound (MO and receipts), `decode_text` reads what arrives and never raises: a handset or an SMSC may send
anything, and an exception would lose the message.

| data_coding             | read as                                                                        |
|-------------------------|--------------------------------------------------------------------------------|
| 0x00                    | GSM 03.38 default alphabet with the default extension table; unpacked unless  |
|                         | the connector says packed. Unpacked, an octet above 0x7F is no septet: the    |
|                         | SMSC's default alphabet is Latin-1 (many are), and the whole text is read so  |
| 0x01                    | IA5 / ASCII (octets above 0x7F become U+FFFD)                                  |
| 0x03                    | Latin-1 (ISO-8859-1)                                                           |
| 0x06 / 0x07             | ISO-8859-5 (Cyrillic) / ISO-8859-8 (Hebrew)                                    |
| 0x08                    | UTF-16-BE: surrogate pairs give the character (UCS-2 phones send UTF-16 in     |
|                         | practice); a lone surrogate or an odd trailing octet becomes U+FFFD            |
| 0x02 / 0x04             | 8-bit binary: not text, so given as lower-case hex ("48 69" → "4869"). Hex     |
|                         | keeps every octet (a replacement character would destroy them) and stays      |
|                         | printable for whoever reads the reply.                                         |
| GSM 03.38 DCS groups    | 0x10-0x7F general coding (uncompressed: alphabet from bits 3-2; compressed →   |
|                         | binary), 0xC0-0xDF message waiting with GSM 7-bit, 0xE0-0xEF message waiting  |
|                         | with UCS-2, 0xF0-0xFF data coding/message class (bit 2: 0 GSM, 1 binary)       |
| anything else           | Latin-1: every octet maps to a character, so nothing is lost or raised         |

Packed GSM ends ambiguously: seven spare bits in the last octet read as an extra "@" (septet 0). 03.38 §6.1.2.3.1
answers with a CR in those bits, which the receiver drops; so `encode_text` adds it and `decode_text` removes a
final CR that ends exactly on an octet boundary. A text whose own last character is a CR on that boundary gets a
second CR, as the specification prescribes (a double CR displays like one); that is the one case where a packed
round trip is not the identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from gsmcodecs.charmaps import GSMCHARMAPS

from martinet.domain.text import Encoding

__all__ = [
    "DATA_CODING_GSM",
    "DATA_CODING_UCS2",
    "ESCAPE",
    "decode_text",
    "encode_text",
    "gsm_septets",
    "is_gsm_coding",
    "pack_septets",
    "septets_to_text",
    "unpack_septets",
]

DATA_CODING_GSM: Final = 0x00
DATA_CODING_UCS2: Final = 0x08
#: Escape to the extension table (03.38 §6.2.1.1).
ESCAPE: Final = 0x1B
_CR: Final = 0x0D
_REPLACEMENT: Final = "\ufffd"


def _tables() -> tuple[Mapping[str, int], Mapping[str, int], Mapping[int, str], Mapping[int, str]]:
    """The default alphabet and its extension table, both ways, from gsmcodecs (3GPP TS 23.038).

    gsmcodecs maps the extension code 0x1B (reserved for a further table) to a space; a space is sent from
    the basic table, so it is left out of the encode map. Decoding keeps it: 03.38 says a receiver shows a
    space for it until such a table exists.
    """
    default = GSMCHARMAPS[0]
    basic_encode = {chr(cp): septet for cp, septet in default["locking"]["encode"].items()}
    extension_encode = {
        chr(cp): code for cp, code in default["singleShift"]["encode"].items() if chr(cp) not in basic_encode
    }
    basic_decode = {septet: chr(cp) for septet, cp in default["locking"]["decode"].items() if septet != ESCAPE}
    extension_decode = {code: chr(cp) for code, cp in default["singleShift"]["decode"].items()}
    return (
        MappingProxyType(basic_encode),
        MappingProxyType(extension_encode),
        MappingProxyType(basic_decode),
        MappingProxyType(extension_decode),
    )


_BASIC_ENCODE, _EXTENSION_ENCODE, _BASIC_DECODE, _EXTENSION_DECODE = _tables()
#: Octet → character for unpacked decoding; an extension code unknown to the table falls back to the basic
#: character (03.38 §6.2.1.1: "display the character of the default alphabet").
_BASIC_CHARS: Final = tuple(_BASIC_DECODE.get(septet, " ") for septet in range(128))
_EXTENSION_CHARS: Final = tuple(_EXTENSION_DECODE.get(code, _BASIC_CHARS[code]) for code in range(128))
#: Every character GSM can carry, and the `str.translate` table writing each as its septet(s): a text made of
#: them is encoded in C rather than character by character (every GSM-7 part goes through `gsm_septets`).
_GSM_CHARS: Final = frozenset(_BASIC_ENCODE) | frozenset(_EXTENSION_ENCODE)
_SEPTETS: Final = {
    **{ord(char): chr(septet) for char, septet in _BASIC_ENCODE.items()},
    **{ord(char): chr(ESCAPE) + chr(code) for char, code in _EXTENSION_ENCODE.items()},
}


# --- GSM septets ---


def gsm_septets(text: str) -> bytes:
    """`text` as GSM default-alphabet septets, one per octet, extension characters as ESC + code.

    Raises ValueError on a character outside GSM 03.38: the engine only hands GSM-7 parts that
    `domain.text.analyze` made entirely GSM, so such a character is a bug upstream, and sending "?" silently
    would hide it.
    """
    if _GSM_CHARS.issuperset(text):
        return text.translate(_SEPTETS).encode("latin-1")
    out = bytearray()
    for position, char in enumerate(text):
        septet = _BASIC_ENCODE.get(char)
        if septet is not None:
            out.append(septet)
            continue
        code = _EXTENSION_ENCODE.get(char)
        if code is None:
            raise ValueError(f"{char!r} at position {position} is not in the GSM 03.38 alphabet")
        out += bytes((ESCAPE, code))
    return bytes(out)


def septets_to_text(septets: bytes) -> str:
    """Septets (one per octet) back to text; never raises.

    An octet above 0x7F cannot be a septet and becomes U+FFFD; a trailing lone ESC (nothing to escape) is
    dropped; ESC before an unknown code gives that code's basic character, as 03.38 asks of receivers.
    """
    chars: list[str] = []
    escaped = False
    for octet in septets:
        if octet > 0x7F:
            chars.append(_REPLACEMENT)
            escaped = False
        elif escaped:
            chars.append(_EXTENSION_CHARS[octet])
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC_CHARS[octet])
    return "".join(chars)


def pack_septets(septets: bytes) -> bytes:
    """Pack septets 8 into 7 octets, least significant bits first (03.38 §6.1.2.1.1).

    When the last octet would keep 7 spare bits, they hold a CR (§6.1.2.3.1) so that a receiver counting
    septets from octets does not read a trailing "@"; a message whose last septet is itself a CR ending on an
    octet boundary gets a second CR, since the receiver drops one CR found there.
    """
    count = len(septets)
    if count % 8 == 7 or (count % 8 == 0 and count and septets[-1] == _CR):
        septets += bytes((_CR,))
        count += 1
    value = 0
    for index, septet in enumerate(septets):
        value |= (septet & 0x7F) << (7 * index)
    return value.to_bytes((7 * count + 7) // 8, "little")


def unpack_septets(octets: bytes) -> bytes:
    """The septets packed in `octets`, one per octet; the inverse of `pack_septets`.

    The septet count is not sent with SMPP (sm_length counts octets), so it is the largest that fits; a final
    CR that ends exactly on an octet boundary is the padding of `pack_septets` and is removed.
    """
    count = len(octets) * 8 // 7
    value = int.from_bytes(octets, "little")
    septets = bytes((value >> (7 * index)) & 0x7F for index in range(count))
    if count and count % 8 == 0 and septets[-1] == _CR:
        septets = septets[:-1]
    return septets


# --- Public API ---


def encode_text(text: str, encoding: Encoding, *, gsm_packed: bool) -> tuple[int, bytes]:
    """(data_coding, octets) for one part of `text` in `encoding`.

    GSM-7 is data_coding 0x00 (the SMSC default alphabet, which SMPP leaves to the SMSC and which is GSM 03.38
    on every mobile network we target), unpacked or packed as the connector is configured; UCS-2 is 0x08,
    written as UTF-16-BE so that characters beyond the BMP travel as surrogate pairs, as `analyze` counted
    them. Raises ValueError if a GSM-7 text holds a character GSM cannot carry.
    """
    if (encoding if isinstance(encoding, Encoding) else Encoding(encoding)) is Encoding.UCS2:  # no lookup per part
        return DATA_CODING_UCS2, text.encode("utf-16-be", "surrogatepass")
    septets = gsm_septets(text)
    return DATA_CODING_GSM, pack_septets(septets) if gsm_packed else septets


def _general_alphabet(data_coding: int) -> str:
    """Alphabet of a GSM 03.38 (TS 23.038 §4) data coding scheme at or above 0x10: gsm, ucs2, binary or other."""
    group = data_coding >> 4
    if group <= 0x7:  # general data coding (0x00-0x3F) or marked for automatic deletion (0x40-0x7F)
        if data_coding & 0x20:  # compressed: we do not implement 03.42 compression
            return "binary"
        return ("gsm", "binary", "ucs2", "other")[(data_coding >> 2) & 0x03]
    if group in (0xC, 0xD):  # message waiting indication, GSM 7-bit
        return "gsm"
    if group == 0xE:  # message waiting indication, UCS-2
        return "ucs2"
    if group == 0xF:  # data coding / message class
        return "binary" if data_coding & 0x04 else "gsm"
    return "other"  # 0x80-0xBF: reserved


_SMPP_CODECS: Final[Mapping[int, str]] = MappingProxyType(
    {0x01: "ascii", 0x03: "latin-1", 0x06: "iso8859-5", 0x07: "iso8859-8"}
)


def _alphabet(data_coding: int) -> str:
    """gsm, ucs2, binary, or the Python codec of an SMPP-specific 8-bit alphabet."""
    if data_coding >= 0x10:
        alphabet = _general_alphabet(data_coding)
        return "latin-1" if alphabet == "other" else alphabet
    if data_coding == DATA_CODING_GSM:
        return "gsm"
    if data_coding == DATA_CODING_UCS2:
        return "ucs2"
    if data_coding in (0x02, 0x04):
        return "binary"
    return _SMPP_CODECS.get(data_coding, "latin-1")


def is_gsm_coding(data_coding: int) -> bool:
    """Whether `data_coding` means the GSM 7-bit default alphabet (the only one that may be packed)."""
    return _alphabet(data_coding) == "gsm"


def decode_text(data_coding: int, payload: bytes, *, gsm_packed: bool = False) -> str:
    """The text of an inbound `short_message` (or `message_payload`), without its UDH; never raises.

    See the module table for each data_coding. Decoding errors become U+FFFD rather than exceptions: a reply
    with one odd character is still worth handing on.
    """
    alphabet = _alphabet(data_coding)
    if alphabet == "gsm":
        if gsm_packed:
            return septets_to_text(unpack_septets(payload))
        if data_coding == DATA_CODING_GSM and payload and max(payload) > 0x7F:
            return payload.decode("latin-1")  # no septet is above 0x7F: an SMSC whose default alphabet is Latin-1
        return septets_to_text(payload)
    if alphabet == "ucs2":
        return payload.decode("utf-16-be", "replace")
    if alphabet == "binary":
        return payload.hex()
    return payload.decode(alphabet, "replace")
