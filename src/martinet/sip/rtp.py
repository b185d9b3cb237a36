"""RTP (RFC 3550) for one direction of G.711 audio: a sender paced at 20 ms, and a receiver that records.

Every call of an event loop is paced by one clock (`_Clock`): it wakes every 20 ms on a grid and sends the
packet due for each call playing, so a hundred calls cost fifty wake-ups a second, not five thousand timers.
Packet n of a call is due at its start (on the grid) + n × 20 ms; a clock woken late sends what is due at once,
so delays never add up over a call. Times are read from `time.monotonic()` (uvloop's loop clock counts whole
milliseconds). How late each packet left is kept on demand (`lateness`) for the benchmark of pacing under load.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import struct
import time
import weakref
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
        playing = _Playing(self._transport, audio, destination, payload_type, stop, keep_lateness)
        return await _clock().add(playing)

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


class _Playing:
    """One call's audio on its way out, packet by packet."""

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        audio: bytes,
        destination: Address,
        payload_type: int,
        stop: asyncio.Event,
        keep_lateness: bool,
    ) -> None:
        self.transport = transport
        self.audio = audio
        self.destination = destination
        self.payload_type = payload_type
        self.stop = stop
        self.lateness: list[float] | None = [] if keep_lateness else None
        self.count = (len(audio) + SAMPLES_PER_PACKET - 1) // SAMPLES_PER_PACKET
        self.sent = 0
        self.start = 0.0
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self.done: asyncio.Future[Played] = asyncio.get_running_loop().create_future()

    @property
    def next_due(self) -> float:
        return self.start + self.sent * PTIME

    def send_due(self, now: float) -> bool:
        """Send every packet due by `now`; True once the call's audio is over (played or stopped)."""
        if self.stop.is_set():
            return True
        while self.sent < self.count and self.next_due <= now:
            n = self.sent
            if self.lateness is not None:
                self.lateness.append(now - self.next_due)
            chunk = self.audio[n * SAMPLES_PER_PACKET : (n + 1) * SAMPLES_PER_PACKET]
            header = _HEADER.pack(
                0x80,
                (0x80 if n == 0 else 0) | self.payload_type,
                (self.sequence + n) & 0xFFFF,
                (self.timestamp + n * SAMPLES_PER_PACKET) & 0xFFFFFFFF,
                self.ssrc,
            )
            self.transport.sendto(header + chunk, self.destination)
            self.sent += 1
        return self.sent >= self.count

    def finish(self) -> None:
        if not self.done.done():
            seconds = min(self.sent * SAMPLES_PER_PACKET, len(self.audio)) / 8000
            self.done.set_result(Played(self.sent, seconds, self.sent == self.count, self.lateness or []))


class _Clock:
    """Paces every call playing in one event loop from one task on a 20 ms grid."""

    def __init__(self) -> None:
        self._playing: set[_Playing] = set()
        self._origin = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    async def add(self, playing: _Playing) -> Played:
        now = time.monotonic()
        playing.start = self._origin + math.ceil((now - self._origin) / PTIME) * PTIME
        self._playing.add(playing)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="rtp-clock")
        try:
            return await asyncio.shield(playing.done)
        finally:
            self._playing.discard(playing)

    async def _run(self) -> None:
        while self._playing:
            due = min(p.next_due for p in self._playing)
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            for playing in list(self._playing):
                try:
                    over = playing.send_due(now)
                except OSError:
                    over = True  # the socket is gone: the call is over
                if over:
                    playing.finish()
                    self._playing.discard(playing)


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clock] = weakref.WeakKeyDictionary()


def _clock() -> _Clock:
    loop = asyncio.get_running_loop()
    clock = _clocks.get(loop)
    if clock is None:
        clock = _clocks[loop] = _Clock()
    return clock
