"""`python -m bench` (`make bench`): run the benchmarks and rewrite docs/benchmarks.md with the figures."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from bench import accept, bulk
from bench.harness import ROOT, machine


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()

    accepted = accept.run(seconds=args.seconds)
    big = bulk.run()
    rows = [
        (
            "sendSMS.do, 1 recipient, accepted/s (wrk -t2 -c64)",
            f"{accepted.martinet.requests_per_second:,.0f}",
            "≥ 4,000",
            _verdict(accepted.martinet.requests_per_second >= 4000),
        ),
        (
            "  latency p50 / p99",
            f"{accepted.martinet.latency_p50_ms:.1f} / {accepted.martinet.latency_p99_ms:.1f} ms",
            "",
            "",
        ),
        ("bare Starlette form endpoint, requests/s", f"{accepted.bare.requests_per_second:,.0f}", "", ""),
        ("ratio Martinet / bare", f"{accepted.ratio:.2f}", "≥ 0.35", _verdict(accepted.ratio >= 0.35)),
        (
            "sendSMS.do POST, 10,000 recipients, answer (median of 5)",
            f"{big['median_s']:.2f} s",
            "< 1.5 s",
            _verdict(big["median_s"] < 1.5),
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    errors = accepted.martinet.non_2xx
    text = f"""# Benchmarks

Measured by `make bench` (`python -m bench`) on {datetime.date.today().isoformat()}, on {machine()}.
Everything runs on this one machine: the gateway (`martinet serve`, 2 HTTP workers and the engine, SQLite with
`synchronous=full`, sandbox connector), and the load generator `wrk` (2 threads, 64 connections, {args.seconds} s
after a 2 s warm-up). Each accepted send was committed to disk before its answer; the engine dispatched them to
the sandbox during the run. The bare endpoint is `bench/bare_app.py`, a Starlette route that parses the same
form with `request.form()` and answers, served by uvicorn with the same number of workers.

| measure | figure | target | |
|---|---|---|---|
{table}

Non-2xx answers during the accept run: {errors}. Sends found in the database afterwards: {accepted.accepted_in_store:,}
(warm-up included).

Figures move by ±20 % between runs on a shared 2-core machine; rerun `make bench` to refresh this page.
"""
    args.output.write_text(text, encoding="utf-8")
    print(text)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


if __name__ == "__main__":
    main()
