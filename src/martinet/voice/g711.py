"""G.711 (ITU-T): 16-bit linear PCM to the 8-bit A-law and µ-law samples of telephone networks, and back.

Written here (sixty lines) rather than taken from `audioop`, which Python 3.13 removed, or from a package that
brings numpy for two lookup tables. Encoding goes through a 65,536-entry table built once per law, so a
20-second message (160,000 samples) is encoded in a few milliseconds.
"""

from __future__ import annotations

import array
from functools import cache
from typing import Final, Literal

Law = Literal["PCMA", "PCMU"]

#: RTP payload types of the static profile (RFC 3551) and the SDP names of the two laws.
PAYLOAD_TYPES: Final[dict[str, int]] = {"PCMU": 0, "PCMA": 8}
SAMPLE_RATE: Final = 8000

_SEGMENT_ENDS: Final = (0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF)


def _alaw(sample: int) -> int:
    sample >>= 3  # 13 significant bits
    if sample >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        sample = -sample - 1
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if sample <= end >> 3), 8)
    if segment >= 8:
        return 0x7F ^ mask
    value = segment << 4
    value |= (sample >> 1) & 0x0F if segment < 2 else (sample >> segment) & 0x0F
    return value ^ mask


def _ulaw(sample: int) -> int:
    bias, clip = 0x84, 8159
    sample >>= 2  # 14 significant bits
    if sample < 0:
        sample, mask = -sample, 0x7F
    else:
        mask = 0xFF
    sample = min(sample, clip) + (bias >> 2)
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if sample <= end >> 2), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((sample >> (segment + 1)) & 0x0F)) ^ mask


@cache
def _table(law: Law) -> bytes:
    """Index: the 16-bit sample read as unsigned; value: its 8-bit code."""
    encode = _alaw if law == "PCMA" else _ulaw
    return bytes(encode(i - 65536 if i >= 32768 else i) for i in range(65536))


def encode(pcm16: bytes, law: Law) -> bytes:
    """Native-endian signed 16-bit mono samples to one G.711 byte each."""
    samples = array.array("H")
    samples.frombytes(pcm16[: len(pcm16) - len(pcm16) % 2])
    table = _table(law)
    return bytes(map(table.__getitem__, samples))


def _alaw_decode(code: int) -> int:
    code ^= 0x55
    sign, exponent, mantissa = code & 0x80, (code >> 4) & 0x07, code & 0x0F
    value = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return value if sign else -value


def _ulaw_decode(code: int) -> int:
    code = ~code & 0xFF
    sign, exponent, mantissa = code & 0x80, (code >> 4) & 0x07, code & 0x0F
    value = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -value if sign else value


def decode(data: bytes, law: Law) -> bytes:
    """G.711 bytes to native-endian signed 16-bit samples (for recordings and tests)."""
    convert = _alaw_decode if law == "PCMA" else _ulaw_decode
    table = [convert(code) for code in range(256)]
    out = array.array("h", (table[b] for b in data))
    return out.tobytes()


__all__ = ["PAYLOAD_TYPES", "SAMPLE_RATE", "Law", "decode", "encode"]
