"""`python -m bench` (`make bench`): run the benchmarks and rewrite docs/benchmarks.md with the figures.

`--only accept,rest,bulk,smpp,e2e,otp,callbacks,kannel,backlog,faults,voice,contacts` picks which run (default all). Only the rows, setup paragraph and note of the benchmarks run are rewritten, in
place (`bench/page.py`); the others' and every paragraph written by hand stay as the page has them.
`--dry-run` runs nothing and prints the page rewritten with the selected parts as it already has them: a diff
against the page shows what a rewrite would lose (nothing but the intro's dates).
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
from pathlib import Path
from typing import Any

from bench import accept, backlog, bulk, callbacks, contacts, e2e, faults, kannel, otp, page, profile, rest, smpp, voice
from bench.harness import ROOT, WrkResult, machine

BENCHMARKS = page.ORDER


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated benchmarks to run among {','.join(BENCHMARKS)}"
    )
    parser.add_argument("--smpp-count", type=int, default=50_000, help="submit_sm per SMPP measurement")
    parser.add_argument("--e2e-rate", type=int, default=2000, help="messages per second offered end to end")
    parser.add_argument("--e2e-seconds", type=int, default=60, help="duration of the end-to-end load")
    parser.add_argument("--otp-count", type=int, default=200, help="OTPs sent one by one under the backlog")
    parser.add_argument(
        "--otp-database", help="postgresql://USER@HOST:PORT[/NEW_NAME] for the OTP benchmark (default: SQLite)"
    )
    parser.add_argument("--kannel-count", type=int, default=20_000, help="messages per gateway, Martinet vs Kannel")
    parser.add_argument("--kannel-connections", type=int, default=64, help="HTTP connections, Martinet vs Kannel")
    parser.add_argument(
        "--kannel-repeats", type=int, default=3, help="Martinet and Kannel runs alternated, Martinet vs Kannel"
    )
    parser.add_argument("--backlog", type=int, default=1_000_000, help="messages queued for the backlog benchmark")
    parser.add_argument("--faults-seconds", type=float, help="load of the carrier and crash drills (default 25, 20)")
    parser.add_argument("--faults-databases", default="sqlite,postgresql", help="fault drills on sqlite,postgresql")
    parser.add_argument("--voice-calls", type=int, default=100, help="simultaneous calls of the voice benchmark")
    parser.add_argument("--faults-postgres", default="postgresql://postgres@127.0.0.1:5432", help="for the drills")
    parser.add_argument("--dry-run", action="store_true", help="run nothing; print the page rewritten from itself")
    args = parser.parse_args()
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose among {', '.join(BENCHMARKS)}")

    text = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    intro = f"Measured by `make bench` (`python -m bench`) on {datetime.date.today().isoformat()}, on {machine()}."
    earlier = page.measured_line(text, selected) if text and len(set(selected)) < len(BENCHMARKS) else None
    if earlier is not None:  # the rows kept were measured then; say when and where those rerun were
        intro = f"{earlier} Rerun with `--only {','.join(selected)}` on {datetime.date.today().isoformat()}, on {machine()}."
    if args.dry_run:  # the parts as the page has them: what a rewrite keeps shows in a diff against the page
        fresh = page.kept_parts(text or "", selected)
    else:
        fresh = {name: _measured(name, args) for name in BENCHMARKS if name in selected}
    text = page.render(text, intro, fresh)
    if args.dry_run:
        print(text, end="")
        return
    args.output.write_text(text, encoding="utf-8")
    print(text)


def _measured(name: str, args: argparse.Namespace) -> page.Part:
    """Run one benchmark: its rows, setup paragraph and note."""
    rows: list[tuple[str, str, str, str]] = []
    setups: list[str] = []
    notes: list[str] = []
    _run(name, args, rows, setups, notes)
    return page.Part(rows, setups[0] if setups else None, notes[0] if notes else None)


def _run(
    name: str,
    args: argparse.Namespace,
    rows: list[tuple[str, str, str, str]],
    setups: list[str],
    notes: list[str],
) -> None:
    """Run one benchmark and add its rows, setup paragraph and note."""
    if name == "accept":
        accepted = accept.run(seconds=args.seconds)
        rows += [
            (
                "sendSMS.do accept only (`serve --no-engine`, 1 worker), accepted/s",
                _rate(accepted.accept_only),
                "≥ 4,000",
                page.verdict(accepted.accept_only.requests_per_second >= 4000),
            ),
            ("  latency p50 / p99", _latency(accepted.accept_only), "", ""),
            ("sendSMS.do with the engine dispatching to the sandbox, accepted/s", _rate(accepted.with_engine), "", ""),
            ("  latency p50 / p99", _latency(accepted.with_engine), "", ""),
            ("sendSMS.do accept only, 2 HTTP workers on SQLite, accepted/s", _rate(accepted.two_workers), "", ""),
            ("bare Starlette form endpoint, 2 workers, requests/s", _rate(accepted.bare), "", ""),
            ("ratio accept only / bare", f"{accepted.ratio:.2f}", "≥ 0.35", page.verdict(accepted.ratio >= 0.35)),
            ("ratio with engine / bare", f"{accepted.ratio_with_engine:.2f}", "", ""),
        ]
        setups.append(f"""Everything runs on this one machine: the gateway (`martinet serve` on a fresh SQLite file with
`synchronous=full`, sandbox connector) and the load generator `wrk` (2 threads, 64 connections, {args.seconds} s
after a 2 s warm-up), POSTing `sendSMS.do` with one French recipient. Each send was committed to disk (fsync)
before its answer. "Accept only" runs `martinet serve --no-engine` (HTTP workers only, as an HTTP-only node of a
larger installation would); "with the engine" is the default single-node gateway, whose engine dispatches
everything accepted to the sandbox and records two receipts per message while the load runs, on the same two
cores. The bare endpoint is `bench/bare_app.py`, a Starlette route that parses the same form with
`request.form()` and answers, served by uvicorn with two workers.""")
        errors = accepted.with_engine.non_2xx + accepted.accept_only.non_2xx
        notes.append(
            f"Non-2xx answers during the accept run: {errors}. Sends found in the database afterwards: "
            f"{accepted.accepted_in_store:,}\n(warm-up included)."
        )
    if name == "rest":
        figures = rest.run(seconds=args.seconds)
        rows += _rest_rows(figures)
        setups.append(_rest_setup(args.seconds))
        notes.append(_rest_note(figures))
    if name == "bulk":
        big = bulk.run()
        rows.append(
            (
                "sendSMS.do POST, 10,000 recipients, answer (median of 5)",
                f"{big['median_s']:.2f} s",
                "< 1.5 s",
                page.verdict(big["median_s"] < 1.5),
            )
        )
    if name == "smpp":
        figures = smpp.run(count=args.smpp_count)
        rows += _smpp_rows(figures)
        setups.append(_smpp_setup(figures))
    if name == "e2e":
        result = e2e.run(rate=args.e2e_rate, seconds=args.e2e_seconds)
        rows += _e2e_rows(result)
        setups.append(_e2e_setup(result))
        notes.append(_e2e_note(result))
    if name == "otp":
        figures = otp.run(otps=args.otp_count, database_url=args.otp_database)
        rows += _otp_rows(figures)
        setups.append(_otp_setup(figures))
        notes.append(_otp_note(figures))

    if name == "callbacks":
        alone = callbacks.run(prefilled=True)
        chain = callbacks.run()
        rows += _callbacks_rows(alone, chain)
        setups.append(_callbacks_setup(alone))
    if name == "kannel":
        compared = kannel.run(count=args.kannel_count, connections=args.kannel_connections, repeats=args.kannel_repeats)
        with tempfile.TemporaryDirectory(prefix="martinet-profile-") as folder:
            sampled = kannel.run(
                count=args.kannel_count,
                connections=args.kannel_connections,
                only=("martinet",),
                callback_statuses=("all",),
                profile_dir=Path(folder),
            )
            profile.keep_flame_graphs(Path(folder), args.output.parent / "flamegraphs")
        compared["stages"] = sampled["martinet"].get("stages_cpu_ms_per_message", {})
        rows += _kannel_rows(compared)
        setups.append(_kannel_setup(compared))
        notes.append(_kannel_note(compared))
    if name == "backlog":
        queued = backlog.run(messages=args.backlog)
        rows += _backlog_rows(queued)
        setups.append(_backlog_setup(queued))
        notes.append(_backlog_note(queued))
    if name == "voice":
        figures = voice.run(calls=args.voice_calls)
        rows += voice.rows(figures)
        setups.append(voice.setup(figures))
        notes.append(voice.note(figures))
    if name == "contacts":
        before = os.getloadavg()[0]
        figures = contacts.run(postgres=args.faults_postgres)
        rows += _contacts_rows(figures)
        setups.append(_contacts_setup(figures))
        after = os.getloadavg()[0]
        shared = (
            " (above the number of cores: other work shared it)" if max(before, after) > (os.cpu_count() or 1) else ""
        )
        notes.append(
            f"Contacts run: load average {before:.1f} before and {after:.1f} after on this machine{shared}. The "
            "import's peak holds the whole file's contacts and per-line report in one transaction; the campaign's "
            "holds its messages, never the file or its rows."
        )
    if name == "faults":
        seconds = args.faults_seconds
        drilled = faults.run(
            databases=tuple(d.strip() for d in args.faults_databases.split(",") if d.strip()),
            postgres=args.faults_postgres,
            carrier_seconds=seconds or 25,
            crash_seconds=seconds or 20,
        )
        rows += faults.rows(drilled)
        setups.append(faults.setup(drilled))
        notes.append(faults.note(drilled))


def _rest_rows(f: rest.RestResult) -> list[tuple[str, str, str, str]]:
    only, engine = f.accept_only, f.with_engine
    return [
        (
            "POST /sms/v1/messages accept only (`serve --no-engine`, 1 worker), 201 answers/s",
            f"{only.accepted_per_second:,.0f}",
            "≥ 3,000",
            page.verdict(only.accepted_per_second >= 3000),
        ),
        ("  latency p50 / p99", _latency(only.wrk), "", ""),
        (
            "  POST /sms/v1/messages with the engine dispatching to the sandbox, 201 answers/s",
            f"{engine.accepted_per_second:,.0f}",
            "",
            "",
        ),
        ("  latency p50 / p99", _latency(engine.wrk), "", ""),
    ]


def _rest_setup(seconds: int) -> str:
    return f"""The REST rows (`bench/rest.py`): the same gateways as the `sendSMS.do` rows (fresh SQLite file,
`synchronous=full`, sandbox connector; `serve --no-engine`, then the default single node with its engine) and the
same wrk (2 threads, 64 connections, {seconds} s after a 2 s warm-up), POSTing `/sms/v1/messages` with the
`X-Api-Key` header and a JSON body of one French recipient, each request with its own `refClient` (wrk's Lua
script). Only 201 answers count as accepted (the script's `response` hook counts them)."""


def _rest_note(f: rest.RestResult) -> str:
    only, engine = f.accept_only, f.with_engine
    return (
        f"REST run: answers other than 201: {only.wrk.requests - only.accepted} (accept only), "
        f"{engine.wrk.requests - engine.accepted} (with the engine). Sends found in the database after the "
        f"accept-only run: {f.sends_in_store:,} (warm-up included)."
    )


def _smpp_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            "SMPP submit_sm → submit_sm_resp, our client vs our simulator, window 64, per second",
            f"{f['ours_vs_simulator']:,.0f}",
            "≥ 8,000",
            page.verdict(f["ours_vs_simulator"] >= 8000),
        ),
        ("  smpp34 client vs our simulator, per second", f"{f['smpp34_vs_simulator']:,.0f}", "", ""),
        ("  our client vs the smpp34 server, per second", f"{f['ours_vs_smpp34']:,.0f}", "", ""),
        ("  smpp34 client vs the smpp34 server, per second", f"{f['smpp34_vs_smpp34']:,.0f}", "", ""),
        (
            "  ratio ours / smpp34 against the smpp34 server",
            f"{f['ratio']:.2f}",
            "≥ 0.8",
            page.verdict(f["ratio"] >= 0.8),
        ),
    ]


def _smpp_setup(f: dict[str, Any]) -> str:
    return f"""The SMPP rows (`bench/smpp.py`): {f["count"]:,} `submit_sm` (after a warm-up) answered one by one by
`submit_sm_resp` over loopback, window {f["window"]}, {f["loop"]} event loops, each server in a process of its own.
Our client is `martinet.smpp.aio.connect` with 64 coroutines awaiting `request()` in a loop (the loop of
`bench/smpp_session.py`); our simulator is `python -m martinet.smsc --control off` (no latency, no throttle,
no receipts). The smpp34 server (`python -m bench.smpp --serve PORT`) accepts every `submit_sm` at once; smpp34's
client is `smpp34.Client(window_size=64)` with 64 coroutines awaiting `submit_sm`, as smpp34's own
`python/perf/perf_loopback.py` does. Both clients send the same PDU; the ratio compares them against the same
server in the same run."""


def _e2e_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    offered = result["offered"]
    best = result["best"]
    rate = offered["rate"]
    drain = f"{offered['drain_s']:.1f} s" if offered["drain_s"] is not None else "not drained"
    rows = [
        (
            f"end to end `sendSMS.do` → simulator → status 11, {rate:,}/s offered for {offered['seconds']} s: "
            "reaching 11 per second, median / min of 5 s windows",
            f"{offered['sustained_median']:,.0f} / {offered['sustained_min']:,.0f}",
            f"≥ {rate:,} sustained",
            page.verdict(offered["sustainable"]),
        ),
        (
            "  accepted / at status 11 when the load stopped / lost",
            f"{offered['accepted']:,} / {offered['delivered_at_end']:,} / {offered['lost']:,}",
            "0 lost",
            page.verdict(offered["lost"] == 0),
        ),
        (
            "  receipts not applied to their part (kept at the end)",
            f"{offered.get('kept_receipts', 0):,}",
            "0",
            page.verdict(offered.get("kept_receipts", 0) == 0),
        ),
        ("  backlog drained after the load in", drain, "", ""),
    ]
    if best is not None and best["rate"] != rate:
        rows.append(
            (
                f"  highest sustainable rate with 0 lost ({best['seconds']} s runs)",
                f"{best['rate']:,}/s (median {best['sustained_median']:,.0f}, lost {best['lost']})",
                f"≥ {rate:,}",
                page.verdict(best["rate"] >= rate),
            )
        )
    elif best is None:
        rows.append(
            ("  highest sustainable rate with 0 lost", "none of those tried", f"≥ {rate:,}", page.verdict(False))
        )
    return rows


_ID_WORDS = {
    "counter": "a decimal counter from 1, so that a receipt's ID is also another part's ID under another reading",
    "hex": "a hex counter from a random start",
}


def _e2e_setup(result: dict[str, Any]) -> str:
    s = result["setup"]
    return f"""The end-to-end rows (`bench/e2e.py`): `martinet serve` on a fresh SQLite file (`synchronous=full`, one
HTTP worker, the engine with `batch_size = {s["batch_size"]}`) starts the SMSC simulator (every message DELIVRD, an
ENROUTE receipt first, the final one {s["receipt_delay"]} s after the submission, no throughput limit, message IDs
{_ID_WORDS.get(s.get("message_ids", "hex"), s.get("message_ids"))}) and binds to
it with an `smpp` connector (`binds = {s["binds"]}`, `bind_mode = "{s["bind_mode"]}"`, `window = {s["window"]}`).
A paced load generator (16 threads, keep-alive) POSTs `sendSMS.do` with 100 distinct French mobiles per request
at the offered rate, and a read-only SQLite connection counts the messages at status 11 every second. The rate is
sustained when no message is lost, the HTTP side accepted everything, every 5 s window (after a 5 s ramp) reached
at least 90 % of the rate and the backlog drained within 5 s of the end of the load; lost = accepted − final
within 120 s; receipts kept = rows left in `unmatched_receipts` (receipts that never reached their part). When the offered rate is not sustained, shorter runs at lower rates find the highest one that is."""


def _e2e_note(result: dict[str, Any]) -> str:
    offered = result["offered"]
    sim = offered["simulator"]
    cpu = ", ".join(f"{k} {v:.1f} s" for k, v in offered["cpu_load_s"].items() if v >= 0.05)
    return (
        f"End to end at {offered['rate']:,}/s: the simulator counted {sim.get('submitted', 0):,} submissions and "
        f"{sim.get('receipts_acked', 0):,} receipts acknowledged (two per message); CPU time during the "
        f"{offered['seconds']} s of load: {cpu}; 1-minute load average {offered['load_average'][0]:.1f} before, "
        f"{offered['load_average'][1]:.1f} after; a fixed Python loop (`e2e.cpu_probe`) took "
        f"{offered['cpu_probe_ms'][0]:.0f} ms before and {offered['cpu_probe_ms'][1]:.0f} ms after (this virtual "
        "machine's speed varies from minute to minute)."
    )


def _otp_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    s = f["setup"]
    nan = float("nan")
    latency = {k: f["latency_ms"].get(k, nan) for k in ("p50", "p99", "max")}
    answer = {k: f["answer_ms"].get(k, nan) for k in ("p50", "p99")}
    complete = f["otps_arrived"] == f["otps_sent"]
    title = (
        f"OTP accept → submit_sm under a {s['backlog']:,}-message marketing backlog saturating a "
        f"{s['throughput']:,.0f}/s connector"
    )
    return [
        (f"{title}, p50", f"{latency['p50']:.1f} ms", "< 20 ms", page.verdict(complete and latency["p50"] < 20)),
        (
            "  p99 (max)",
            f"{latency['p99']:.1f} ms ({latency['max']:.1f} ms)",
            "< 100 ms",
            page.verdict(complete and latency["p99"] < 100),
        ),
        ("  of which the HTTP answer, p50 / p99", f"{answer['p50']:.1f} / {answer['p99']:.1f} ms", "", ""),
        (
            "  from the gateway's acceptance timestamp (`sends.created_at`) to submit_sm, p50 / p99",
            _pair(f["from_created_ms"]),
            "",
            "",
        ),
        ("  from the HTTP answer to submit_sm (a lower bound), p50 / p99", _pair(f["after_answer_ms"]), "", ""),
    ]


def _pair(figures: dict[str, float]) -> str:
    nan = float("nan")
    return f"{figures.get('p50', nan):.1f} / {figures.get('p99', nan):.1f} ms"


def _otp_setup(f: dict[str, Any]) -> str:
    s = f["setup"]
    database = "a fresh PostgreSQL database" if s["database"] == "postgresql" else "a fresh SQLite file"
    posts = -(-s["backlog"] // otp.PER_REQUEST)
    pause_ms = s["pause_between_otps_s"] * 1000
    return f"""The OTP rows (`bench/otp.py`): `martinet serve` on {database} (engine defaults, one `smpp` connector
with `throughput = {s["throughput"]:,.0f}` parts/s and the default `lanes.otp_reserved_share` of
{s["otp_reserved_share"]}, marketing quiet hours off) binds to the SMSC simulator, which runs in the benchmark's
own process on an event loop of its own (no throughput limit, every message DELIVRD, one receipt
{s["receipt_delay_s"]} s after each submission). A `campaign` account (lane marketing) POSTs `sendSMS.do` {posts}
times with {otp.PER_REQUEST:,} distinct French mobiles each ({s["backlog"]:,} messages); once the simulator has
received {otp.SATURATED_AFTER:,} of them, a `bank` account (lane otp) sends {s["otps"]} one-time passwords one by
one, each to its own number, {pause_ms:.0f} ms apart (after one warm-up OTP, not counted), without waiting for one
to reach the simulator before sending the next. The latency of an OTP runs from the wall clock just before its
HTTP request to the wall clock at which the simulator read its `submit_sm`, both clocks of the same machine: it
includes the HTTP acceptance (its answer time is the row below), so it is an upper bound of accept → submit_sm;
the last two rows measure the same interval from the gateway's own acceptance timestamp (taken before the
acceptance commit) and from the moment the client had the answer (after the commit: a lower bound)."""


def _otp_note(f: dict[str, Any]) -> str:
    return (
        f"OTP run: {f['otps_arrived']} of {f['otps_sent']} OTPs reached the simulator; during the "
        f"{f['otp_phase_s']:.0f} s of the OTP phase the simulator received {f['marketing_per_s_during_otps']:,.0f} "
        f"marketing parts per second, and {f['backlog_left_db']:,} marketing messages were still waiting in the "
        f"database when it ended (the campaign was still saturating its share of the connector); 1-minute load "
        f"average {f['load_average_before']:.1f} before, {f['load_average_after']:.1f} after."
    )


def _callbacks_rows(alone: dict[str, Any], chain: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            f"callbacks delivered per second to a local receiver, {alone['expected']:,} queued (notifier alone)",
            f"{alone['per_second']:,.0f}",
            "≥ 3,000",
            page.verdict(alone["per_second"] >= 3000 and alone["received"] == alone["expected"]),
        ),
        (
            f"  whole chain: one send of {chain['recipients']:,} recipients → reports → callbacks, per second",
            f"{chain['per_second']:,.0f}",
            "",
            "",
        ),
        (
            "  received / expected / duplicates (notifier alone; whole chain)",
            f"{alone['received']:,} / {alone['expected']:,} / {alone['duplicates']}; "
            f"{chain['received']:,} / {chain['expected']:,} / {chain['duplicates']}",
            "all, once",
            page.verdict(
                alone["received"] == alone["expected"]
                and chain["received"] == chain["expected"]
                and alone["duplicates"] == chain["duplicates"] == 0
            ),
        ),
    ]


def _callbacks_setup(alone: dict[str, Any]) -> str:
    return f"""The callback rows (`bench/callbacks.py`): `martinet serve` on a fresh SQLite file with the sandbox
carrier (instant reports) and `callbacks.allow_private_networks = true`; an aiohttp receiver in a process of its
own answers 200 to each GET and counts event ids. "Notifier alone" starts the gateway on an outbox already holding
{alone["expected"]:,} pending delivery reports (three per message, so at most one per recipient in flight at a
time); "whole chain" sends one `sendSMS.do` with `notification_url` and counts the reports of every status change.
The rate is callbacks received between the first and the last one, signed, in order per recipient."""


def _kannel_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    m, k = f["martinet"], f["kannel"]
    pairs = f["pairs"]
    summary = f["pair_summary"]
    ratio, accepts, p50, cpu = (summary[name]["median"] for name in ("ratio", "accepts_ratio", "p50_ratio", "cpu_ms"))
    which = f" (of the pair with the median ratio of {len(pairs)} alternated pairs)" if len(pairs) > 1 else ""
    rows = [
        (
            f"Martinet vs Kannel end to end, {f['count']:,} messages each: HTTP → simulator → final receipt → "
            f"callback received, per second{which}: Martinet (`sendSMS.do`, status 11)",
            f"{m['end_to_end_per_second']:,.0f}",
            "",
            "",
        ),
        ("  Kannel (`sendsms`, DLR type 1)", f"{k['end_to_end_per_second']:,.0f}", "", ""),
        (
            "  end to end per second in each pair, in the order they ran, Martinet / Kannel",
            "; ".join(
                f"{p['martinet']['end_to_end_per_second']:,.0f} / {p['kannel']['end_to_end_per_second']:,.0f}"
                for p in pairs
            ),
            "",
            "",
        ),
        (
            "  ratio Martinet / Kannel end to end: median of the pairs (each pair)",
            f"{ratio:.2f} ({_each(summary['ratio'])})",
            "≥ 1",
            page.verdict(ratio >= 1),
        ),
        (
            "  accepted per second at the HTTP side, Martinet / Kannel in each pair; median ratio (each pair's)",
            "; ".join(
                f"{p['martinet']['load']['accepted_per_second']:,.0f} / "
                f"{p['kannel']['load']['accepted_per_second']:,.0f}"
                for p in pairs
            )
            + f"; {accepts:.2f} ({_each(summary['accepts_ratio'])})",
            "≥ Kannel's",
            page.verdict(accepts >= 1),
        ),
        (
            "  send → final callback p50, Martinet / Kannel in each pair; median ratio (each pair's)",
            "; ".join(
                f"{p['martinet']['latency_p50_ms'] / 1000:.1f} / {p['kannel']['latency_p50_ms'] / 1000:.1f} s"
                for p in pairs
            )
            + f"; {p50:.2f} ({_each(summary['p50_ratio'])})",
            "p50 ≤ Kannel's",
            page.verdict(p50 <= 1),
        ),
        (
            "  send → final callback p99 of the median pair, Martinet; Kannel",
            f"{m['latency_p99_ms'] / 1000:.1f} s; {k['latency_p99_ms'] / 1000:.1f} s",
            "",
            "",
        ),
        (
            "  accepted / final callbacks / lost, every pair, Martinet; Kannel",
            f"{sum(p['martinet']['load']['accepted'] for p in pairs):,} / "
            f"{sum(p['martinet']['final'] for p in pairs):,} / {sum(p['martinet']['lost'] for p in pairs):,}; "
            f"{sum(p['kannel']['load']['accepted'] for p in pairs):,} / "
            f"{sum(p['kannel']['final'] for p in pairs):,} / {sum(p['kannel']['lost'] for p in pairs):,}",
            "0 lost",
            page.verdict(all(p["martinet"]["lost"] == 0 and p["kannel"]["lost"] == 0 for p in pairs)),
        ),
        (
            "  CPU per message, summed over the gateway's processes, Martinet: median of the pairs (each pair)",
            f"{cpu:.2f} ms ({_each(summary['cpu_ms'])})",
            "≤ 0.8 ms",
            page.verdict(cpu <= 0.8),
        ),
        (
            "    in the median pair, Martinet; Kannel",
            f"{_cpu_per_message(m, 'martinet')}; {_cpu_per_message(k, 'bearerbox', 'smsbox')}",
            "",
            "",
        ),
    ]
    if f.get("stages"):
        rows.append(
            (
                "    Martinet's CPU per message by stage, every status (a run of its own sampled by py-spy, "
                "`bench/profile.py`), ms",
                _stages(f["stages"]),
                "",
                "",
            )
        )
    lock = m.get("sqlite_write_lock_s")
    if lock is not None:
        rows.append(
            (
                "    SQLite's write lock held by Martinet's processes (`martinet_sqlite_write_lock_seconds`), every "
                "status: held / waited for, seconds; share of the run it was held",
                f"{lock.get('held', 0.0):.1f} / {lock.get('wait', 0.0):.1f} s of {m['span_s']:.1f} s; "
                f"{m['sqlite_write_lock_busy']:.0%}",
                "",
                "",
            )
        )
    if m.get("at_load_end", {}).get("cores") and k.get("at_load_end", {}).get("cores"):
        rows.append(
            (
                "    while the load ran (the median pair), each process's time running / waiting for a core, in "
                "shares of the load's seconds (`bench/schedstat.py`), Martinet; Kannel",
                f"{_cores(m)}; {_cores(k)}",
                "",
                "",
            )
        )
    spool = f.get("kannel_spool")
    if spool is not None:
        rows += [
            (
                "  Kannel with its spool store (`store-type = spool`), end to end per second; ratio Martinet / it",
                f"{spool['end_to_end_per_second']:,.0f}; "
                f"{m['end_to_end_per_second'] / max(spool['end_to_end_per_second'], 0.1):.2f}",
                "",
                "",
            ),
            (
                "    its accepted per second; send → final callback p50 / p99; accepted / final callbacks / lost",
                f"{spool['load']['accepted_per_second']:,.0f}; {spool['latency_p50_ms'] / 1000:.1f} / "
                f"{spool['latency_p99_ms'] / 1000:.1f} s; {spool['load']['accepted']:,} / {spool['final']:,} / "
                f"{spool['lost']:,}",
                "",
                "",
            ),
            ("    its CPU per message", _cpu_per_message(spool, "bearerbox", "smsbox"), "", ""),
        ]
    final = f.get("martinet_final")
    if final is not None:
        final_ratio = final["end_to_end_per_second"] / k["end_to_end_per_second"]
        rows += [
            (
                "  Martinet with final statuses only as callbacks (`--callback-statuses final`), end to end per "
                "second; ratio to Kannel (three callbacks)",
                f"{final['end_to_end_per_second']:,.0f}; {final_ratio:.2f}",
                "",
                "",
            ),
            (
                "    its CPU per message; send → final callback p50 / p99; lost",
                f"{_cpu_per_message(final, 'martinet')}; {final['latency_p50_ms'] / 1000:.1f} / "
                f"{final['latency_p99_ms'] / 1000:.1f} s; {final['lost']:,}",
                "",
                "",
            ),
        ]
    return rows


def _cpu_per_message(figures: dict[str, Any], *prefixes: str) -> str:
    """`1.23 ms (engine 0.40, notifier 0.50, http-0 0.33)`: the sum, then each process."""
    accepted = max(1, figures["load"]["accepted"])
    parts = [
        f"{name.split(' ', 1)[-1]} {1000 * v / accepted:.2f}"
        for name, v in figures["cpu_s"].items()
        if name.startswith(prefixes) and v >= 0.05
    ]
    return f"{kannel.cpu_ms(figures, *prefixes):.2f} ms ({', '.join(parts)})"


def _cores(figures: dict[str, Any]) -> str:
    """`http-0 0.48 / 0.45, engine 0.52 / 0.47`: each of the gateway's processes (not the benchmark's own), its
    time running / waiting for a core while the load ran."""
    return ", ".join(
        f"{name} {share['running']:.2f} / {share['waiting_for_a_core']:.2f}"
        for name, share in figures["at_load_end"]["cores"].items()
        if name not in kannel.OWN_PROCESSES
    )


def _each(figure: dict[str, Any]) -> str:
    """A target's figure in each pair, in the order they ran: `0.98, 1.05, 1.12`."""
    return ", ".join(f"{v:.2f}" for v in figure["each"])


def _stages(stages: dict[str, dict[str, float]]) -> str:
    """`accept 0.40 (http-0); dispatch 0.30, receipt 0.20 (engine); callback 0.50 (notifier)`."""
    return "; ".join(
        f"{', '.join(f'{stage} {ms:.2f}' for stage, ms in by_stage.items())} ({process.split(' ', 1)[-1]})"
        for process, by_stage in stages.items()
    )


def _kannel_setup(f: dict[str, Any]) -> str:
    return f"""The Kannel rows (`bench/kannel.py`): one SMSC simulator (`python -m martinet.smsc`: every message
DELIVRD, an ENROUTE receipt 0.1 s after the submission and the final one {f["receipt_delay"]} s after it, no
throughput limit, a window of {f["smsc_window"]} unacknowledged receipts per bind) serves both gateways in turn, in
the same run, each bound with one transceiver and a window of {f["window"]}. Martinet: `martinet serve` on a fresh
SQLite file (`synchronous={f["synchronous"]}`, one HTTP worker, the engine with `batch_size = 500`, the callbacks
notifier in a process of its own (`callbacks.own_process`, the default), `callbacks.allow_private_networks = true`), `POST /http/1.6/sendSMS.do` with one recipient and a
`notification_url`; it calls back at statuses 0, 13 and 11 (a second Martinet run, on a fresh gateway, has the
account called back for final statuses only: one callback per message, at 11). Kannel {f["kannel_version"]} (Debian's `kannel` package,
installed by the benchmark when missing): bearerbox with an SMPP `smsc` group (`max-pending-submits =
{f["window"]}`, no throughput limit), internal DLR storage and no message store (Kannel's default: what is
queued is lost if bearerbox dies), smsbox with a `sendsms-user`; `GET /cgi-bin/sendsms` with one recipient,
`dlr-mask=31` and a `dlr-url` with `type=%d`, so it calls back at DLR types 8 (SMSC accepted), 4 (ENROUTE) and 1
(delivered): three callbacks per message for each gateway.{_spool_words(f)} A load generator (`bench/dlr.py`, raw HTTP/1.1 on
uvloop, closed loop of {f["connections"]} keep-alive connections) sends {f["count"]:,} requests to each gateway,
one distinct French mobile each, after a warm-up of 64; the callback receiver (`bench/dlr.py`, raw HTTP on
uvloop, a process of its own) answers 200 and counts the final callbacks per number. End to end = final
callbacks per second from the first request to the last final callback; latency = from the request to its final
callback (the send time travels in the callback URL); lost = accepted without a final callback within 180 s.{_pairs_words(f)}
Martinet then runs once more, every status, with py-spy sampling each of its processes (100 Hz, without pausing
them; `bench/profile.py`): each process's CPU per message is shared out between stages in proportion to the samples
whose stacks name them, the engine's commits a stage of their own since their stacks do not say whose they are.
py-spy also draws each process's flame graph in that run: `docs/flamegraphs/<process>.svg`, opened in a browser.
While the load runs, each process's time on a core and time waiting for one are read from the kernel's scheduler
statistics of its threads (`bench/schedstat.py`), from the load's first request to its last answer. Each gateway
runs as its commands start it, each command in a session of its own: `martinet serve` with its HTTP worker, engine
and notifier; bearerbox; smsbox; and the simulator, while the load generator and the callback receiver share the
benchmark's own. Where Linux's scheduler groups a session's threads (autogroup, in effect when the tasks are in
the root control group, as on this machine), it shares the cores between the busy sessions first, then between
the threads of each."""


def _pairs_words(f: dict[str, Any]) -> str:
    if f.get("repeats", 1) <= 1:
        return ""
    return (
        f" Martinet calling back every status and Kannel without a store run {f['repeats']} times, alternated, "
        "each run on a fresh gateway, before the other runs: this machine's speed drifts by a third at times from "
        "one minute to the next, enough to decide a single pair. Each target is judged on its median over the "
        "pairs (the ratios of Martinet's figure to Kannel's in the same pair, and Martinet's CPU per message); "
        "the other figures are those of the pair with the median end-to-end ratio."
    )


def _spool_words(f: dict[str, Any]) -> str:
    if "kannel_spool" not in f:
        return ""
    return (
        " Kannel runs a second time, on a fresh bearerbox and smsbox, with its spool store (`store-type = spool`: "
        "a file per queued message in `store-location`, so that what bearerbox queues survives it)."
    )


def _kannel_note(f: dict[str, Any]) -> str:
    def cpu(figures: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in figures["cpu_s"].items() if v >= 0.05)

    def then(figures: dict[str, Any]) -> str:
        e = figures["at_load_end"]
        return (
            f"{e['seconds']:.0f} s, {e['submitted']:,} submitted, {e['receipts_acked']:,} receipts acknowledged, "
            f"{e['callbacks']:,} callbacks of which {e['final']:,} final"
        )

    m, k = f["martinet"], f["kannel"]
    spool = f.get("kannel_spool")
    return (
        f"Kannel run: when the last request was answered — Martinet: {then(m)}; Kannel: {then(k)}"
        + (f"; Kannel with its spool store: {then(spool)}" if spool else "")
        + f". CPU time from the first request to the last callback — Martinet ({m['span_s']:.0f} s): "
        f"{cpu(m)}; Kannel ({k['span_s']:.0f} s): {cpu(k)}"
        + (f"; Kannel with its spool store ({spool['span_s']:.0f} s): {cpu(spool)}" if spool else "")
        + f". Callbacks received: Martinet {m['callbacks']['by_kind']}, Kannel {k['callbacks']['by_kind']}"
        + (f", Kannel with its spool store {spool['callbacks']['by_kind']}" if spool else "")
        + f"; duplicates {m['callbacks']['duplicates']} / {k['callbacks']['duplicates']}"
        + (f" / {spool['callbacks']['duplicates']}" if spool else "")
        + "."
    )


def _backlog_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    engine, restart = f["engine_before_kill_mib"], f["restart"]
    after = f["after_restart"]
    return [
        (
            f"engine RSS with {f['messages']:,} messages queued (SQLite), after {f['settle']:.0f} s on them",
            f"{engine['VmRSS']:.0f} MiB (empty queue: {f['engine_rss_empty_mib']:.0f} MiB)",
            "",
            "",
        ),
        (
            f"  restart after SIGKILL with that backlog, median of {len(f['restarts'])}: `/healthz` 200 / engine "
            "started / first `submit_sm`",
            f"{restart['healthz_s']:.1f} / {restart['engine_started_s']:.1f} / {restart['first_submit_s']:.1f} s",
            "",
            "",
        ),
        (
            "  the same first start on an empty queue: `/healthz` 200 / engine started",
            f"{f['empty_start_healthz_s']:.1f} / {f['empty_start_engine_started_s']:.1f} s",
            "",
            "",
        ),
        (
            f"  after the last restart, {after['seconds']:.0f} s of dispatching: parts submitted, engine RSS (peak)",
            f"{after['submitted']:,}, {after['engine_mib']['VmRSS']:.0f} MiB ({after['engine_mib']['VmHWM']:.0f} MiB)",
            "",
            "",
        ),
        (
            "  database size with the backlog (file + WAL)",
            f"{f['database_mib']['db']:,.0f} MiB + {f['database_mib']['db_wal']:,.0f} MiB",
            "",
            "",
        ),
    ]


def _backlog_setup(f: dict[str, Any]) -> str:
    posts = -(-f["messages"] // f["per_request"])
    return f"""The backlog rows (`bench/backlog.py`): `martinet serve` on a fresh SQLite file (`synchronous=full`,
one HTTP worker, the engine) whose only connector is an `smpp` one pointing at a loopback port where nothing
listens: it never binds, so the engine claims nothing (the lanes below OTP are claimed only up to what ready
connectors can take) and every message stays `queued`. {posts} POSTs of `sendSMS.do` with {f["per_request"]:,}
distinct French mobiles each queue {f["messages"]:,} messages (checked in the database: all `queued`). After
{f["settle"]:.0f} more seconds the engine's resident set (VmRSS from `/proc/<pid>/status`; the engine is the first
process `serve` spawns) and the database size are read. Then the whole gateway is killed (SIGKILL to its process
group), an SMSC simulator is started on the connector's port (before the clock starts), and `martinet serve` is
started again on the same file. The restart time runs from that `Popen` to the simulator's first new `submit_sm`
(the engine dispatching the backlog again), with the moments `/healthz` first answered 200 and the engine logged
"engine started" on the way, each watched by a thread of its own. The kill and restart are done
{len(f["restarts"])} times in a row (each restart dispatches a little of the backlog before the next kill, and
takes back what the killed engine had claimed)."""


def _backlog_note(f: dict[str, Any]) -> str:
    return (
        f"Backlog run: queuing {f['messages']:,} messages took {f['fill_s']:.0f} s "
        f"({f['fill_answer_median_s']:.2f} s per {f['per_request']:,}-recipient POST, median); the HTTP worker's "
        f"RSS was {f['http_worker_rss_mib']:.0f} MiB; states before the kill: {f['states_before_kill']}. Restarts "
        "(`/healthz` / engine started / first `submit_sm`): "
        + "; ".join(
            f"{r['healthz_s']:.2f} / {r['engine_started_s']:.2f} / {r['first_submit_s']:.2f} s" for r in f["restarts"]
        )
        + f"; still queued after them: {f['left_queued']:,}."
    )


def _rate(result: WrkResult) -> str:
    return f"{result.requests_per_second:,.0f}"


def _latency(result: WrkResult) -> str:
    return f"{result.latency_p50_ms:.1f} / {result.latency_p99_ms:.1f} ms"


def _contacts_rows(figures: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    for f in figures:
        db = f["database"]
        rows += [
            (
                f"contacts import, 100,000 lines, {db} (`POST /sms/v1/contacts:import`, {f['import_mib']:.1f} MiB)",
                f"{f['import_s']:.1f} s",
                "< 10 s",
                page.verdict(f["import_s"] < 10),
            ),
            (
                f"  sendSMSBatch.do, 100,000 rows, {db}, upload to its acceptance ({f['batch_mib']:.1f} MiB)",
                f"{f['batch_s']:.1f} s",
                "< 5 s",
                page.verdict(f["batch_s"] < 5),
            ),
            (
                f"  HTTP worker RSS, {db}: before, peak during the campaign, peak during the import",
                f"{f['worker_rss_before_mib']:.0f}, {f['worker_peak_batch_mib']:.0f}, {f['worker_peak_mib']:.0f} MiB",
                "campaign < 200 MiB",
                page.verdict(f["worker_peak_batch_mib"] < 200),
            ),
            (
                f"  sendSMSBatch.do at the upload limit, {db}: 100,000 texts of {contacts.LONG_TEXT} characters "
                f"({f['long_batch_mib']:.1f} MiB), time; HTTP worker peak RSS",
                f"{f['long_batch_s']:.1f} s; {f['worker_peak_long_batch_mib']:.0f} MiB",
                "< 200 MiB",
                page.verdict(f["worker_peak_long_batch_mib"] < 200),
            ),
        ]
    return rows


def _contacts_setup(figures: list[dict[str, Any]]) -> str:
    return f"""The contacts and campaign rows (`bench/contacts.py`) run `martinet serve --no-engine` with one HTTP worker
on a fresh database of each kind and time, from the first byte sent to the answer, a 100,000-line contact import
(`;`, ISO-8859-15, names, company and a free field) and a 100,000-row `sendSMSBatch.do` campaign (every row its
own text, sender and reference) uploaded as `multipart/form-data` in 64 KiB chunks, the campaign first; every
contact and message is committed when the answer comes. The worker's peak resident memory is VmHWM from `/proc/<pid>/status`.
The campaign at the upload limit runs on a fresh gateway and database of its own (the high-water mark is then its
own): 100,000 rows whose texts are {contacts.LONG_TEXT} characters long (`nbr_msg=5`), just under the default `http.max_upload_bytes` (64 MiB)."""


if __name__ == "__main__":
    main()
