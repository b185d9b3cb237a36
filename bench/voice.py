"""Concurrent voice calls: how evenly RTP is paced when many calls play at once.

    .venv/bin/python -m bench.voice [--calls 100] [--seconds 10] [--transport udp]

The requirement: at least 100 simultaneous calls on this 2-core machine, each call's audio paced at 20 ms with
less than 5 ms of jitter.

1. `martinet sip-trunk` in its own process (answers at once, records nothing), on a free loopback port;
2. in this process, the SIP connector's caller (`martinet.sip.uac.SipCaller`, one UDP socket for every call)
   places `calls` calls at once, each playing `seconds` of G.711 audio (a 440 Hz tone: the synthesiser is not
   what is measured), then hanging up;
3. every RTP packet's departure is compared with its due time (start of the call + n × 20 ms): the lateness
   distribution over all packets is the pacing jitter (p50, p99, p99.9, max), and the gap between consecutive
   packets of a call (|gap − 20 ms|) is reported too.

Also: calls answered and played to the end, and the CPU time of this process per call-second of audio.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import page
from martinet.sip.uac import SipCaller, TrunkSettings
from martinet.voice.g711 import Law, encode

ROOT = Path(__file__).resolve().parent.parent
MARTINET = [str(ROOT / ".venv" / "bin" / "martinet")]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(calls: int, seconds: float, transport: str) -> dict[str, Any]:
    port = _free_port()
    trunk = subprocess.Popen(
        [*MARTINET, "sip-trunk", "--listen", f"127.0.0.1:{port}", "--transport", transport, "--log-level", "warning"],
        start_new_session=True,
    )
    try:
        await asyncio.sleep(1.5)
        tone = array.array(
            "h", (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(int(8000 * seconds)))
        )
        audio = {law: encode(tone.tobytes(), law) for law in ("PCMA", "PCMU")}

        def play(law: Law) -> bytes:
            return audio[law]

        caller = SipCaller(TrunkSettings("127.0.0.1", port, transport=transport, ring_timeout=30))
        await caller.start()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        try:
            results = await asyncio.gather(
                *(caller.call(f"3361{n:07d}", play, keep_lateness=True) for n in range(calls))
            )
        finally:
            await caller.stop()
        wall = time.perf_counter() - started
        used = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        trunk.terminate()
        trunk.wait(10)
    lateness = [late * 1000 for r in results if r.played for late in r.played.lateness]
    gaps = [
        abs((b - a) * 1000)
        for r in results
        if r.played
        for a, b in zip(r.played.lateness, r.played.lateness[1:], strict=False)
    ]
    # RFC 3550's interarrival jitter (section 6.4.1) as a receiver beside us would compute it (loopback adds
    # nothing): J += (|D| - J) / 16, D the difference of consecutive packets' transit times, here their lateness.
    jitters: list[float] = []
    for r in results:
        if r.played is None:
            continue
        j = peak = 0.0
        for a, b in zip(r.played.lateness, r.played.lateness[1:], strict=False):
            j += (abs(b - a) * 1000 - j) / 16
            peak = max(peak, j)
        jitters.append(peak)
    complete = sum(1 for r in results if r.complete)
    cpu_seconds = (used.ru_utime - cpu.ru_utime) + (used.ru_stime - cpu.ru_stime)
    return {
        "calls": calls,
        "audio_seconds_per_call": seconds,
        "transport": transport,
        "complete": complete,
        "packets": len(lateness),
        "lateness_ms": {
            "p50": round(_quantile(lateness, 0.5), 3),
            "p99": round(_quantile(lateness, 0.99), 3),
            "p999": round(_quantile(lateness, 0.999), 3),
            "max": round(max(lateness), 3),
            "mean": round(statistics.fmean(lateness), 3),
        },
        "rfc3550_jitter_ms": {
            "worst_call_peak": round(max(jitters), 3),
            "median_call_peak": round(_quantile(jitters, 0.5), 3),
        },
        "gap_deviation_ms": {"p99": round(_quantile(gaps, 0.99), 3), "max": round(max(gaps), 3)},
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "cpu_ms_per_call_second": round(1000 * cpu_seconds / (calls * seconds), 3),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def run(calls: int = 100, seconds: float = 10.0, transport: str = "udp") -> dict[str, Any]:
    """The figures of one run on uvloop (the engine's loop)."""
    import uvloop

    figures = uvloop.run(_run(calls, seconds, transport))
    figures["loop"] = "uvloop"
    return figures


def rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    late = f["lateness_ms"]
    jitter = f["rfc3550_jitter_ms"]
    ok = f["calls"] >= 100 and jitter["worst_call_peak"] <= 5.0
    return [
        (
            f"voice calls at once, RTP jitter (RFC 3550), worst call / median call ({f['calls']} calls)",
            f"{jitter['worst_call_peak']:.2f} / {jitter['median_call_peak']:.2f} ms",
            "≥ 100 calls, ≤ 5 ms",
            page.verdict(ok),
        ),
        (
            f"  packet lateness p50 / p99 / max ({f['audio_seconds_per_call']:g} s of audio per call)",
            f"{late['p50']:.1f} / {late['p99']:.1f} / {late['max']:.1f} ms",
            "",
            "",
        ),
        (
            "  calls played to the end, CPU per call-second of audio",
            f"{f['complete']}/{f['calls']}, {f['cpu_ms_per_call_second']:.2f} ms",
            "",
            "",
        ),
    ]


def setup(f: dict[str, Any]) -> str:
    return (
        "The voice rows (`bench/voice.py`): `martinet sip-trunk` in its own process answers every call at once; the SIP "
        f"connector's caller (one UDP socket) places {f['calls']} calls at once from one {f['loop']} event loop, each "
        f"playing {f['audio_seconds_per_call']:g} s of G.711 (a tone; synthesis is not measured) as RTP, then hangs up. "
        "Lateness is how long after its due time (the call's start on the 20 ms grid + n × 20 ms) each packet left, "
        "over every packet of every call; the jitter is RFC 3550's interarrival jitter (J += (|D| - J) / 16, D the "
        "change of lateness between consecutive packets) as a receiver beside us would compute it for each call, "
        "its highest value during the call; the target applies to the worst call."
    )


def note(f: dict[str, Any]) -> str:
    return (
        f"Voice run: {f['packets']:,} packets; lateness mean {f['lateness_ms']['mean']:.1f} ms, p99.9 "
        f"{f['lateness_ms']['p999']:.1f} ms; gap between consecutive packets off 20 ms by {f['gap_deviation_ms']['p99']:.1f} ms "
        f"at p99; {f['wall_seconds']:.1f} s wall for the lot; load average {f['load_average_1m']} on {f['cores']} cores "
        "during the run (the other processes of the machine compete with the pacing clock)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.voice")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per call")
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the engine runs uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        figures = uvloop.run(_run(args.calls, args.seconds, args.transport))
    else:
        figures = asyncio.run(_run(args.calls, args.seconds, args.transport))
    figures["loop"] = args.loop
    json.dump(figures, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
