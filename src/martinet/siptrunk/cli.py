"""`martinet sip-trunk`: run the SIP trunk simulator (docs/voice.md), the demo's telephone network."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any, get_args

from martinet import logs
from martinet.siptrunk.simulator import DEFAULT_RULES, Behaviour, Rule, TrunkSimulator, run

DEFAULT_LISTEN = "127.0.0.1:5070"


class TrunkConfigError(ValueError):
    pass


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trunk = subparsers.add_parser(
        "sip-trunk",
        help="run the SIP trunk simulator (answers, rings, refuses calls by number range; records what it hears)",
        description="Run the SIP trunk simulator. Flags override the configuration file.",
    )
    trunk.add_argument("--config", type=Path, metavar="FILE", help="simulator configuration (TOML)")
    trunk.add_argument("--listen", metavar="HOST:PORT", help=f"SIP address (default {DEFAULT_LISTEN})")
    trunk.add_argument("--transport", choices=["udp", "tcp"], help="default udp")
    trunk.add_argument("--recordings", type=Path, metavar="DIR", help="write what each call carried as WAV here")
    trunk.add_argument("--username", metavar="USER", help="require digest authentication with this user")
    trunk.add_argument("--password", metavar="PW", help="and this password")
    trunk.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    trunk.set_defaults(func=run_command)


def _rule(index: int, table: Any) -> Rule:
    if not isinstance(table, dict):
        raise TrunkConfigError(f"rules[{index}] must be a table")
    unknown = set(table) - {"prefix", "behaviour", "code", "ring_delay", "hangup_after"}
    if unknown:
        raise TrunkConfigError(f"rules[{index}]: unknown key(s) {', '.join(sorted(unknown))}")
    behaviour = table.get("behaviour", "answer")
    if behaviour not in get_args(Behaviour):
        raise TrunkConfigError(f"rules[{index}].behaviour must be one of {', '.join(get_args(Behaviour))}")
    try:
        return Rule(
            str(table.get("prefix", "")).lstrip("+"),
            behaviour,
            int(table.get("code", 486)),
            float(table.get("ring_delay", 0.0)),
            None if table.get("hangup_after") is None else float(table["hangup_after"]),
        )
    except (TypeError, ValueError) as exc:
        raise TrunkConfigError(f"rules[{index}]: {exc}") from None


def build(args: argparse.Namespace) -> TrunkSimulator:
    data: dict[str, Any] = {}
    if args.config is not None:
        try:
            data = tomllib.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise TrunkConfigError(f"{args.config}: {exc}") from None
    listen = args.listen or data.get("listen", DEFAULT_LISTEN)
    host, _, port = str(listen).rpartition(":")
    if not host or not port.isdigit():
        raise TrunkConfigError(f"listen must be HOST:PORT, not {listen!r}")
    transport = args.transport or data.get("transport", "udp")
    if transport not in ("udp", "tcp"):
        raise TrunkConfigError("transport must be udp or tcp")
    algorithm = data.get("algorithm", "MD5")
    if algorithm not in ("MD5", "SHA-256"):
        raise TrunkConfigError("algorithm must be MD5 or SHA-256")
    rules = tuple(_rule(i, t) for i, t in enumerate(data.get("rules", []))) or DEFAULT_RULES
    recordings = args.recordings or (Path(data["recordings"]) if data.get("recordings") else None)
    return TrunkSimulator(
        rules,
        host=host,
        port=int(port),
        transport=transport,
        recordings=recordings,
        username=args.username or data.get("username", ""),
        password=args.password or data.get("password", ""),
        algorithm=algorithm,
    )


def run_command(args: argparse.Namespace) -> int:
    try:
        simulator = build(args)
    except TrunkConfigError as exc:
        print(f"martinet sip-trunk: {exc}", file=sys.stderr)
        return 2
    logs.configure(args.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(simulator, stop)

    asyncio.run(main())
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="martinet")
    add_commands(parser.add_subparsers(required=True))
    args = parser.parse_args(["sip-trunk", *argv])
    code: int = args.func(args)
    return code
