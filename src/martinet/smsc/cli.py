"""``martinet smsc`` (run the simulator) and ``martinet smsc inject`` (deliver an MO through it).

The main CLI wires these in with :func:`add_commands`; ``python -m martinet.smsc`` runs the same
commands on their own.  Lines for people go to standard error; ``inject`` prints its JSON answer
on standard output for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from martinet import logs

from .config import Credential, SimulatorConfig, SimulatorConfigError, load_config, parse_address
from .simulator import Simulator

__all__ = ["add_commands", "main"]

DEFAULT_CONTROL = "127.0.0.1:2776"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``smsc`` (and its ``inject`` action) on an ``add_subparsers()`` object."""
    smsc = subparsers.add_parser(
        "smsc",
        help="run the SMSC simulator (an SMPP server that behaves like a carrier)",
        description="Run the SMSC simulator. Flags override the configuration file.",
    )
    smsc.add_argument("--listen", metavar="HOST:PORT", help="SMPP address (default 127.0.0.1:2775)")
    smsc.add_argument("--system-id", metavar="ID", help="an account allowed to bind (with --password)")
    smsc.add_argument("--password", metavar="PW", help="its password (SMPP allows 8 characters)")
    smsc.add_argument("--config", type=Path, metavar="FILE", help="simulator configuration (TOML)")
    smsc.add_argument(
        "--control", metavar="HOST:PORT", help=f"HTTP control endpoint, or 'off' (default {DEFAULT_CONTROL})"
    )
    smsc.add_argument("--max-per-second", type=float, metavar="N", help="throughput limit per account")
    smsc.add_argument("--latency", type=float, metavar="S", help="seconds before each submit_sm_resp")
    smsc.add_argument("--seed", type=int, metavar="N", help="make outcomes and message ids reproducible")
    smsc.add_argument("--receipt-delay", type=float, metavar="S", help="seconds from submit_sm_resp to final receipt")
    smsc.add_argument(
        "--receipt-before-response",
        action=argparse.BooleanOptionalAction,
        help="write each submission's receipts before its submit_sm_resp",
    )
    smsc.add_argument("--message-id-format", metavar="FORMAT", help="hex, HEX, decimal, uuid or UUID")
    smsc.add_argument("--message-id-start", type=int, metavar="N", help="first value of the message ID counter")
    smsc.add_argument("--message-id-width", type=int, metavar="N", help="zero-pad counter IDs to N characters")
    smsc.add_argument(
        "--receipt-text-id", metavar="FORM", help="the receipt text's id: same, decimal, hex, HEX or none"
    )
    smsc.add_argument(
        "--receipt-tlv-id", metavar="FORM", help="the receipted_message_id TLV: same, decimal, hex, HEX or none"
    )
    smsc.add_argument(
        "--long-message-receipts",
        metavar="HABIT",
        help="receipts of concatenated messages: each_part, first_part, last_part or one_id",
    )
    smsc.add_argument(
        "--bind-failure-delay", type=float, metavar="S", help="delay before the 2nd failed bind's answer, doubling"
    )
    smsc.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    smsc.set_defaults(func=run_command)
    actions = smsc.add_subparsers(dest="smsc_action", metavar="ACTION")
    inject = actions.add_parser("inject", help="deliver a mobile-originated message through a running simulator")
    inject.add_argument("--control", dest="inject_control", default=DEFAULT_CONTROL, metavar="HOST:PORT")
    inject.add_argument("--from", dest="source", required=True, metavar="NUMBER", help="the handset's number")
    inject.add_argument("--to", dest="destination", required=True, metavar="ADDRESS", help="short code or number")
    inject.add_argument("--text", required=True)
    inject.add_argument("--system-id", dest="inject_system_id", metavar="ID", help="account (default: the first)")
    inject.set_defaults(func=inject_command)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m martinet.smsc``: the same commands without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="martinet")
    add_commands(parser.add_subparsers(required=True, metavar="COMMAND"))
    args = parser.parse_args(["smsc", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The configuration file (if any) with the command-line flags applied over it."""
    overrides: dict[str, Any] = {}
    if args.listen is not None:
        overrides["host"], overrides["port"] = parse_address(args.listen, "--listen")
    if args.control is not None:
        if args.control.lower() in ("off", "none", "false"):
            overrides["control_port"] = None
        else:
            overrides["control_host"], overrides["control_port"] = parse_address(args.control, "--control")
    flags = (
        "max_per_second",
        "latency",
        "seed",
        "receipt_delay",
        "receipt_before_response",
        "message_id_format",
        "message_id_start",
        "message_id_width",
        "receipt_text_id",
        "receipt_tlv_id",
        "long_message_receipts",
        "bind_failure_delay",
    )
    for name in flags:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    config = load_config(args.config) if args.config is not None else SimulatorConfig()
    if args.system_id is not None or args.password is not None:
        if args.system_id is None or args.password is None:
            raise SimulatorConfigError("give --system-id and --password together")
        others = tuple(c for c in config.credentials if c.system_id != args.system_id)
        overrides["credentials"] = (Credential(args.system_id, args.password), *others)
    config = replace(config, **overrides)
    if not config.credentials:
        raise SimulatorConfigError("no account may bind: give --system-id and --password, or credentials in --config")
    return config


def run_command(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except SimulatorConfigError as exc:
        print(f"martinet smsc: {exc}", file=sys.stderr)
        return 2
    logs.configure(args.log_level)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run(config))
    else:
        uvloop.run(_run(config))
    return 0


async def _run(config: SimulatorConfig) -> None:
    simulator = Simulator(config)
    await simulator.start()
    control = f", control on http://{config.control_host}:{simulator.control_port}/" if simulator.control_port else ""
    accounts = ", ".join(c.system_id for c in config.credentials)
    print(
        f"martinet smsc: SMPP on {config.host}:{simulator.port} for {accounts}{control}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
        print("martinet smsc: stopped", file=sys.stderr, flush=True)


def inject_command(args: argparse.Namespace) -> int:
    try:
        host, port = parse_address(args.inject_control, "--control")
    except SimulatorConfigError as exc:
        print(f"martinet smsc inject: {exc}", file=sys.stderr)
        return 2
    body: dict[str, str] = {"from": args.source, "to": args.destination, "text": args.text}
    if args.inject_system_id:
        body["system_id"] = args.inject_system_id
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("POST", "/inject", json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read().decode("utf-8", "replace")
    except OSError as exc:
        print(f"martinet smsc inject: no simulator control endpoint at {host}:{port} ({exc})", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if response.status != 200:
        try:
            message = json.loads(answer).get("error", answer)
        except (ValueError, AttributeError):
            message = answer
        print(f"martinet smsc inject: refused ({response.status}): {message}", file=sys.stderr)
        return 1
    print(answer)
    return 0
