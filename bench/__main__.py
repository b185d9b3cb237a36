"""`python -m bench` (`make bench`): run the benchmarks and rewrite docs/benchmarks.md with the figures."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from bench import accept, bulk
from bench.harness import ROOT, WrkResult, machine


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()

    accepted = accept.run(seconds=args.seconds)
    big = bulk.run()
    rows = [
        (
            "sendSMS.do accept only (`serve --no-engine`, 1 worker), accepted/s",
            _rate(accepted.accept_only),
            "≥ 4,000",
            _verdict(accepted.accept_only.requests_per_second >= 4000),
        ),
        ("  latency p50 / p99", _latency(accepted.accept_only), "", ""),
        ("sendSMS.do with the engine dispatching to the sandbox, accepted/s", _rate(accepted.with_engine), "", ""),
        ("  latency p50 / p99", _latency(accepted.with_engine), "", ""),
        ("sendSMS.do accept only, 2 HTTP workers on SQLite, accepted/s", _rate(accepted.two_workers), "", ""),
        ("bare Starlette form endpoint, 2 workers, requests/s", _rate(accepted.bare), "", ""),
        ("ratio accept only / bare", f"{accepted.ratio:.2f}", "≥ 0.35", _verdict(accepted.ratio >= 0.35)),
        ("ratio with engine / bare", f"{accepted.ratio_with_engine:.2f}", "", ""),
        (
            "sendSMS.do POST, 10,000 recipients, answer (median of 5)",
            f"{big['median_s']:.2f} s",
            "< 1.5 s",
            _verdict(big["median_s"] < 1.5),
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    errors = accepted.with_engine.non_2xx + accepted.accept_only.non_2xx
    text = f"""# Benchmarks

Measured by `make bench` (`python -m bench`) on {datetime.date.today().isoformat()}, on {machine()}.
Everything runs on this one machine: the gateway (`martinet serve` on a fresh SQLite file with
`synchronous=full`, sandbox connector) and the load generator `wrk` (2 threads, 64 connections, {args.seconds} s
after a 2 s warm-up), POSTing `sendSMS.do` with one French recipient. Each send was committed to disk (fsync)
before its answer. "Accept only" runs `martinet serve --no-engine` (HTTP workers only, as an HTTP-only node of a
larger installation would); "with the engine" is the default single-node gateway, whose engine dispatches
everything accepted to the sandbox and records two receipts per message while the load runs, on the same two
cores. The bare endpoint is `bench/bare_app.py`, a Starlette route that parses the same form with
`request.form()` and answers, served by uvicorn with two workers.

| measure | figure | target | |
|---|---|---|---|
{table}

Non-2xx answers during the accept run: {errors}. Sends found in the database afterwards: {accepted.accepted_in_store:,}
(warm-up included).

Figures move by ±20 % between runs on a shared 2-core machine; rerun `make bench` to refresh this page.
"""
    args.output.write_text(text, encoding="utf-8")
    print(text)


def _rate(result: WrkResult) -> str:
    return f"{result.requests_per_second:,.0f}"


def _latency(result: WrkResult) -> str:
    return f"{result.latency_p50_ms:.1f} / {result.latency_p99_ms:.1f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


if __name__ == "__main__":
    main()
