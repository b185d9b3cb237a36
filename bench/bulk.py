"""A `sendSMS.do` POST with 10,000 recipients: time until the answer (everything durable by then)."""

from __future__ import annotations

import statistics
import time
import urllib.parse
import urllib.request

from bench.harness import gateway


def numbers(count: int) -> str:
    return ",".join(f"06{12000000 + i:08d}" for i in range(count))


def run(recipients: int = 10_000, repeats: int = 5) -> dict[str, float]:
    timings = []
    with gateway() as gw:
        for attempt in range(repeats + 1):
            body = urllib.parse.urlencode(
                {"accessToken": gw.token, "numero": numbers(recipients), "message": f"Campagne {attempt}"}
            ).encode()
            started = time.perf_counter()
            with urllib.request.urlopen(f"{gw.base}/http/1.6/sendSMS.do", data=body, timeout=60) as reply:
                answer = reply.read().decode("iso-8859-15")
            elapsed = time.perf_counter() - started
            if not answer.startswith("0 | "):
                raise RuntimeError(answer)
            if attempt:  # the first one warms caches up
                timings.append(elapsed)
    return {"median_s": statistics.median(timings), "max_s": max(timings), "recipients": recipients}


if __name__ == "__main__":
    print(run())
