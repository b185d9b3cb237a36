"""RTP (RFC 3550) for one direction of G.711 audio: a sender paced at 20 ms, and a receiver that records.

The sender schedules every packet against the start time (packet n leaves at start + n × 20 ms) rather than
sleeping 20 ms after each, so delays do not add up over a call; how late each packet left is kept (`lateness`)
for the benchmark of pacing under load.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from dataclasses import dataclass, field

from martinet.sip.transport import Address

PTIME = 0.020
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz, one byte per G.711 sample
_HEADER = struct.Struct("!BBHII")


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, record: bool) -> None:
        self.record = record
        self.received: list[bytes] = []
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.count += 1
        if self.record:
            self.received.append(data)


@dataclass
class Played:
    packets: int
    seconds: float  # of audio sent
    complete: bool  # every packet was sent (not stopped by a hang-up)
    lateness: list[float] = field(default_factory=list)  # seconds each packet left after its due time
    heard: int = 0  # packets that came back from the other side meanwhile (an echoing test peer counts ours)


class RtpStream:
    """A UDP port for one call's audio. Packets coming in are counted, and kept only if `record` (the simulator)."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Socket) -> None:
        self._transport = transport
        self._protocol = protocol

    @classmethod
    async def open(cls, host: str, *, record: bool = False) -> RtpStream:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(lambda: _Socket(record), local_addr=(host, 0))
        return cls(transport, protocol)

    @property
    def heard(self) -> int:
        return self._protocol.count

    @property
    def port(self) -> int:
        return int(self._transport.get_extra_info("sockname")[1])

    @property
    def received(self) -> list[bytes]:
        return self._protocol.received

    async def play(
        self, audio: bytes, destination: Address, payload_type: int, stop: asyncio.Event, *, keep_lateness: bool = False
    ) -> Played:
        """Send `audio` (G.711 bytes) in 20 ms packets until done or until `stop` is set."""
        loop = asyncio.get_running_loop()
        ssrc = secrets.randbits(32)
        sequence = secrets.randbits(16)
        timestamp = secrets.randbits(32)
        start = loop.time()
        lateness: list[float] = []
        count = (len(audio) + SAMPLES_PER_PACKET - 1) // SAMPLES_PER_PACKET
        sent = 0
        for n in range(count):
            if stop.is_set():
                break
            due = start + n * PTIME
            wait = due - loop.time()
            if wait > 0:
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                    break
                except TimeoutError:
                    pass
            if keep_lateness:
                lateness.append(loop.time() - due)
            chunk = audio[n * SAMPLES_PER_PACKET : (n + 1) * SAMPLES_PER_PACKET]
            marker = 0x80 if n == 0 else 0
            header = _HEADER.pack(
                0x80,
                marker | payload_type,
                (sequence + n) & 0xFFFF,
                (timestamp + n * SAMPLES_PER_PACKET) & 0xFFFFFFFF,
                ssrc,
            )
            self._transport.sendto(header + chunk, destination)
            sent += 1
        seconds = min(sent * SAMPLES_PER_PACKET, len(audio)) / 8000
        return Played(sent, seconds, sent == count, lateness)

    def close(self) -> None:
        self._transport.close()


def payload(packet: bytes) -> tuple[int, bytes] | None:
    """(payload type, payload) of an RTP packet; None for what is not one."""
    if len(packet) < _HEADER.size or packet[0] >> 6 != 2:
        return None
    csrc = packet[0] & 0x0F
    offset = _HEADER.size + 4 * csrc
    if packet[0] & 0x10:  # header extension
        if len(packet) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", packet, offset + 2)[0]
    end = len(packet)
    if packet[0] & 0x20 and end > offset:  # padding
        end -= packet[-1]
    return packet[1] & 0x7F, packet[offset:end]
