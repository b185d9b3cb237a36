"""The `martinet` command.

Every command that touches a gateway's data takes `--config FILE` or `--data DIR` (a folder holding
`martinet.toml`, as `martinet demo` makes it). Output meant for scripts goes to standard output alone (a new
access token, a JSON line); everything else goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import martinet.cli.account_tree as account_tree
import martinet.cli.callbacks as callbacks
import martinet.cli.contacts as contacts
import martinet.cli.demo as demo
import martinet.cli.keys as keys
import martinet.cli.optout as optout
import martinet.cli.preamble as preamble
import martinet.cli.prices as prices
import martinet.cli.routes as routes
import martinet.cli.sends as sends
import martinet.cli.status as status
import martinet.cli.voice as voice
from martinet import logs, server
from martinet.config import ConfigError, Settings
from martinet.domain.credits import format_credits, to_milli
from martinet.domain.text import NonGsmPolicy, analyze
from martinet.services.rate_limits import valid_rate
from martinet.siptrunk import cli as sip_trunk_commands
from martinet.smsc import cli as smsc_commands

if TYPE_CHECKING:
    from martinet.services.accounts import AccountService, AccountView


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except preamble.StoreUnreachable as exc:
        print(f"martinet: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="martinet", description="Self-hosted SMS platform.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP workers and the engine")
    preamble.where(serve)
    serve.add_argument(
        "--no-engine", action="store_true", help="HTTP workers only (the engine runs on another node or later)"
    )
    serve.set_defaults(func=_serve)

    demo_cmd = commands.add_parser("demo", help="run a self-contained demo gateway (what `make run` runs)")
    demo_cmd.add_argument("--http", default="127.0.0.1:8080", metavar="HOST:PORT")
    demo_cmd.add_argument(
        "--admin",
        default="127.0.0.1:9180",
        metavar="HOST:PORT",
        help="the admin listener (/healthz, /readyz, /metrics)",
    )
    demo_cmd.add_argument("--data", default="./var", type=Path, metavar="DIR")
    demo_cmd.add_argument("--workers", type=int, default=None, help="HTTP worker processes")
    demo_cmd.add_argument(
        "--smpp",
        default="127.0.0.1:2775",
        metavar="HOST:PORT",
        help="where the demo's SMSC simulator listens (first start only; its control endpoint takes PORT+1)",
    )
    demo_cmd.add_argument(
        "--sip",
        default=f"127.0.0.1:{demo.SIP_PORT}",
        metavar="HOST:PORT",
        help="where the demo's SIP trunk simulator listens (first start only)",
    )
    demo_cmd.set_defaults(func=_demo)

    config = commands.add_parser("config", help="configuration").add_subparsers(required=True, metavar="ACTION")
    check = config.add_parser("check", help="validate the configuration and explain mistakes")
    preamble.where(check)
    check.set_defaults(func=_config_check)

    account = commands.add_parser("account", help="accounts").add_subparsers(required=True, metavar="ACTION")
    create = account.add_parser("create", help="create an account; prints its access token")
    create.add_argument("login")
    create.add_argument("--credits", default="0", help="opening credit")
    create.add_argument(
        "--password",
        default=None,
        metavar="PASSWORD",
        help='for the legacy pseudo/pass authentication; "-" reads it from a prompt, or from the first line of '
        "standard input when that is not a terminal (a password given here is visible to other users in ps)",
    )
    create.add_argument("--lane", choices=["otp", "notification", "marketing"], default=None)
    create.add_argument(
        "--non-gsm",
        choices=[p.value for p in NonGsmPolicy],
        default=None,
        help="what classe_msg=2/4 does with characters outside GSM 03.38 (default: accounts.non_gsm)",
    )
    create.add_argument("--language", choices=["fr", "en"], default=None, help="language of API answers")
    create.add_argument("--parent", default=None, metavar="LOGIN", help="make it a sub-account of LOGIN")
    create.add_argument(
        "--sandbox", action="store_true", help="test mode: messages go to the sandbox connector, never to a carrier"
    )
    _account_limits(create, weight_default=1, rate_default=None)
    _account_urls(create)
    preamble.where(create)
    create.set_defaults(func=_account_create)
    update = account.add_parser("update", help="change an account's settings; prints the account")
    update.add_argument("login")
    update.add_argument("--lane", choices=["otp", "notification", "marketing"], default=None)
    _account_limits(update, weight_default=None, rate_default=argparse.SUPPRESS)
    update.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test mode on or off (messages to the sandbox connector, never to a carrier)",
    )
    _account_urls(update)
    preamble.where(update)
    update.set_defaults(func=_account_update)
    show = account.add_parser("show", help="print an account's settings and balance (one JSON object)")
    show.add_argument("login")
    preamble.where(show)
    show.set_defaults(func=_account_show)
    credit = account.add_parser("credit", help="add (or, negative, remove) credits")
    credit.add_argument("login")
    credit.add_argument("amount")
    preamble.where(credit)
    credit.set_defaults(func=_account_credit)
    account_tree.add_commands(account, preamble.where, preamble.settings)

    smsc_commands.add_commands(commands)
    routes.add_commands(commands, preamble.where, preamble.settings)
    prices.add_commands(commands, preamble.where, preamble.settings)
    callbacks.add_commands(commands, preamble.where, preamble.settings)
    optout.add_commands(commands, preamble.where, preamble.settings)
    contacts.add_commands(commands, preamble.where, preamble.settings)
    sends.add_commands(commands, preamble.where, preamble.settings)
    keys.add_commands(commands, preamble.where, preamble.settings)
    status.add_commands(commands, preamble.where, preamble.settings)
    voice.add_commands(commands, preamble.where, preamble.settings)
    sip_trunk_commands.add_commands(commands)

    text = commands.add_parser("text", help="text tools").add_subparsers(required=True, metavar="ACTION")
    analyze_cmd = text.add_parser("analyze", help="encoding and segment count of a text, as the send path sees it")
    analyze_cmd.add_argument("text", nargs="?")
    analyze_cmd.add_argument("--classe", type=int, choices=[2, 4, 9], default=2)
    analyze_cmd.add_argument("--non-gsm", choices=[p.value for p in NonGsmPolicy], default="replace")
    analyze_cmd.add_argument(
        "--nbr-msg",
        type=int,
        choices=range(1, 11),
        default=None,
        metavar="N",
        help="cut to N parts as sendSMS.do's nbr_msg does (default: no cut, count every segment)",
    )
    analyze_cmd.add_argument("--jsonl", action="store_true", help="read one JSON string per line on stdin")
    analyze_cmd.set_defaults(func=_text_analyze)
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = preamble.settings(args)
    _logging(settings)
    preamble.run(preamble.prepare_database(settings))
    sock = _listen(settings.http.host, settings.http.port, "http")
    admin = _listen(settings.admin.host, settings.admin.port, "admin")
    # A log line, not a print: standard error of `serve` is JSON lines only, for the log shipper.
    log = logs.get_logger("martinet.cli")
    log.info("listening", url=f"http://{settings.http.host}:{settings.http.port}/")
    log.info("admin listening", url=_url(settings.admin.host, admin.getsockname()[1]))
    if settings.console.enabled:
        log.info("web console", url=_url(settings.http.host, settings.http.port) + "console/")
    return server.run(settings, sock, admin, with_engine=not args.no_engine)


def _listen(host: str, port: int, section: str) -> socket.socket:
    try:
        return server.bind(host, port)
    except OSError as exc:
        raise ConfigError(f"{section}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _logging(settings: Settings) -> None:
    logs.pass_text_to_children(settings.log_text)
    logs.configure(settings.log_level, text=settings.log_text)


def _demo(args: argparse.Namespace) -> int:
    host, _, port = args.http.rpartition(":")
    if not host or not port.isdigit():
        print("--http: expected HOST:PORT, e.g. 127.0.0.1:8080", file=sys.stderr)
        return 2
    admin_host, _, admin_port = args.admin.rpartition(":")
    if not admin_host or not admin_port.isdigit():
        print("--admin: expected HOST:PORT, e.g. 127.0.0.1:9180", file=sys.stderr)
        return 2
    smpp_host, _, smpp_port = args.smpp.rpartition(":")
    if not smpp_host or not smpp_port.isdigit():
        print("--smpp: expected HOST:PORT, e.g. 127.0.0.1:2775", file=sys.stderr)
        return 2
    sip_host, _, sip_port = args.sip.rpartition(":")
    if not sip_host or not sip_port.isdigit():
        print(f"--sip: expected HOST:PORT, e.g. 127.0.0.1:{demo.SIP_PORT}", file=sys.stderr)
        return 2
    settings = demo.settings_for(
        args.data, create=True, smpp=(smpp_host, int(smpp_port)), sip=(sip_host, int(sip_port))
    )
    http = settings.http.model_copy(update={"host": host.strip("[]"), "port": int(port)})
    if args.workers is not None:
        http = http.model_copy(update={"workers": args.workers})
    if int(admin_port) and int(admin_port) == http.port:
        print("--admin: the admin listener needs a port of its own, not the --http one", file=sys.stderr)
        return 2
    admin_settings = settings.admin.model_copy(update={"host": admin_host.strip("[]"), "port": int(admin_port)})
    settings = settings.model_copy(update={"http": http, "admin": admin_settings})
    _logging(settings)
    token = preamble.run(demo.prepare(settings, args.data))
    console = None
    if settings.console.enabled:
        from martinet.app_console import with_console_secret

        settings = with_console_secret(settings)
        console = preamble.run(demo.console_sign_in(settings, args.data))
    sock = _listen(settings.http.host, settings.http.port, "http")
    admin = _listen(settings.admin.host, settings.admin.port, "admin")
    base = _url(settings.http.host, settings.http.port).rstrip("/")
    admin_base = _url(settings.admin.host, admin.getsockname()[1]).rstrip("/")
    print(demo.banner(base, args.data, token, admin=admin_base, console=console), file=sys.stderr, flush=True)
    return server.run(settings, sock, admin)


def _config_check(args: argparse.Namespace) -> int:
    settings = preamble.settings(args)
    from martinet.app import country_rules, price_table
    from martinet.config.routes import operator_lookup

    try:
        table = price_table(settings)
    except (OSError, ValueError) as exc:
        print(f"pricing: {exc}", file=sys.stderr)
        return 2
    try:
        country_rules(settings)
    except (OSError, ValueError) as exc:
        print(f"rules: {exc}", file=sys.stderr)
        return 2
    try:
        operator_lookup(settings)
    except ValueError as exc:
        print(f"networks: {exc}", file=sys.stderr)
        return 2
    if settings.voice.voices and _unknown_voices(settings.voice.voices):
        return 2
    print(
        f"configuration is valid: database {preamble.redacted_url(settings.database.url)}, http {settings.http.host}:"
        f"{settings.http.port}, {len(settings.connectors)} connector(s), {table.open_count()} priced countries",
        file=sys.stderr,
    )
    return 0


def _unknown_voices(voices: dict[str, str]) -> bool:
    """Whether `voice.voices` names a voice espeak-ng lacks, said on stderr: espeak-ng reads such a voice in
    another language without an error, and every voice message would fail (36). Not part of loading settings,
    which every process does (HTTP workers on hosts without espeak-ng included)."""
    from martinet.voice.synthesis import EspeakSynthesizer, SynthesisError

    try:
        unknown = EspeakSynthesizer(voices=voices).unknown_voices()
    except SynthesisError as exc:
        print(f"voice.voices: {exc}", file=sys.stderr)
        return True
    for name in unknown:
        print(f"voice.voices: espeak-ng has no voice {name!r} (`espeak-ng --voices` lists them)", file=sys.stderr)
    return bool(unknown)


def _account_create(args: argparse.Namespace) -> int:
    settings = preamble.settings(args)
    credits = _credits(args.credits)
    if credits is None:
        return 2
    password = args.password
    if password == READ_PASSWORD:
        password = _read_password()
        if not password:
            print("account create: no password read (--password -)", file=sys.stderr)
            return 2

    async def create() -> int:
        from martinet.app import account_service
        from martinet.services.accounts import InvalidAccountSetting
        from martinet.store.accounts import LoginTaken, UnknownAccount

        async with preamble.opened_store(settings) as db:
            try:
                created = await account_service(settings, db).create(
                    args.login,
                    credits=credits,
                    password=password,
                    lane=args.lane,
                    non_gsm=args.non_gsm,
                    language=args.language,
                    sandbox=args.sandbox,
                    weight=args.weight,
                    rate_limit=args.rate_limit,
                    callback_url=args.callback_url,
                    reply_url=args.reply_url,
                    parent=args.parent,
                    callback_statuses=args.callback_statuses or "all",
                )
            except LoginTaken:
                print(f"an account named {args.login!r} exists already", file=sys.stderr)
                return 1
            except InvalidAccountSetting as exc:
                print(exc, file=sys.stderr)
                return 2
            except UnknownAccount:
                print(f"no account named {args.parent!r} (--parent)", file=sys.stderr)
                return 1
        print(created.token)
        return 0

    return preamble.run(create())


#: `--password -`: read the password from a prompt or standard input rather than from the command line.
READ_PASSWORD = "-"  # noqa: S105 (a marker, not a password)


def _read_password() -> str:
    """A password typed at a prompt (twice, not echoed), or the first line of standard input; "" when the two
    typed ones differ."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != first:
            print("the two passwords differ", file=sys.stderr)
            return ""
        return first
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def _account_credit(args: argparse.Namespace) -> int:
    settings = preamble.settings(args)
    amount = _credits(args.amount)
    if amount is None:
        return 2

    async def credit() -> int:
        from martinet.app import account_service
        from martinet.store.accounts import InsufficientCredit, UnknownAccount

        async with preamble.opened_store(settings) as db:
            try:
                balance = await account_service(settings, db).credit(args.login, amount)
            except UnknownAccount:
                print(f"no account named {args.login!r}", file=sys.stderr)
                return 1
            except InsufficientCredit:
                print("refused: the balance would fall below zero", file=sys.stderr)
                return 1
        print(f"{args.login}: balance {format_credits(balance)}", file=sys.stderr)
        return 0

    return preamble.run(credit())


def _account_limits(parser: argparse.ArgumentParser, *, weight_default: int | None, rate_default: Any) -> None:
    parser.add_argument(
        "--weight",
        type=_weight,
        default=weight_default,
        metavar="N",
        help="share of its lane's capacity against other accounts, 1-100 (default 1)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=rate_default,
        metavar="SENDS_PER_SECOND",
        help='sends accepted per second; 0 = unlimited, "default" = accounts.rate_limit of the configuration',
    )


def _account_urls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--callback-url",
        default=None,
        metavar="URL",
        help='delivery reports of sends without notification_url go here ("" = none)',
    )
    parser.add_argument(
        "--reply-url",
        default=None,
        metavar="URL",
        help='replies to sends without notification_url_reponse, and replies answering no send, go here ("" = none)',
    )
    parser.add_argument(
        "--callback-statuses",
        choices=("all", "final"),
        default=None,
        help="delivery reports for every status change (all, the default, as smsmode) or only final statuses",
    )


def _weight(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100, not {raw!r}")
    return value


def _rate_limit(raw: str) -> float | None:
    """A number of sends per second, or None for "default" (follow the configuration's accounts.rate_limit)."""
    if raw.strip().lower() == "default":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not valid_rate(value):
        expected = 'expected sends per second from 0 to 1,000,000 (0 = unlimited) or "default"'
        raise argparse.ArgumentTypeError(f"{expected}, not {raw!r}")
    return value


def _account_update(args: argparse.Namespace) -> int:
    from martinet.store.accounts import KEEP

    changes: dict[str, Any] = {
        "lane": KEEP if args.lane is None else args.lane,
        "weight": KEEP if args.weight is None else args.weight,
        "rate_limit": getattr(args, "rate_limit", KEEP),
        "sandbox": KEEP if args.sandbox is None else args.sandbox,
        "callback_url": KEEP if args.callback_url is None else args.callback_url,
        "reply_url": KEEP if args.reply_url is None else args.reply_url,
        "callback_statuses": KEEP if args.callback_statuses is None else args.callback_statuses,
    }
    if all(value is KEEP for value in changes.values()):
        print(
            "account update: give at least one of --lane, --weight, --rate-limit, --(no-)sandbox, --callback-url, "
            "--reply-url, --callback-statuses",
            file=sys.stderr,
        )
        return 2
    return _account_view(args, lambda service: service.update(args.login, **changes))


def _account_show(args: argparse.Namespace) -> int:
    return _account_view(args, lambda service: service.show(args.login))


def _account_view(args: argparse.Namespace, work: Callable[[AccountService], Awaitable[AccountView]]) -> int:
    """Run `work` on the configured database and print the account it returns as one JSON object."""
    settings = preamble.settings(args)

    async def run() -> int:
        from martinet.app import account_service
        from martinet.services.accounts import InvalidAccountSetting
        from martinet.store.accounts import UnknownAccount

        async with preamble.opened_store(settings) as db:
            try:
                view = await work(account_service(settings, db))
            except UnknownAccount:
                print(f"no account named {args.login!r}", file=sys.stderr)
                return 1
            except InvalidAccountSetting as exc:
                print(exc, file=sys.stderr)
                return 2
        print(json.dumps(_account_fields(view)))
        return 0

    return preamble.run(run())


def _account_fields(view: AccountView) -> dict[str, object]:
    account = view.account
    return {
        "login": account.login,
        "lane": str(account.lane),
        "weight": account.weight,
        "rate_limit": account.rate_limit,  # null: follows accounts.rate_limit
        "effective_rate_limit": view.rate_limit,  # its own or the default; 0 = unlimited (caps above: `limits`)
        "sandbox": account.sandbox,
        "language": account.language,
        "timezone": account.timezone,
        "non_gsm": account.non_gsm,
        "callback_url": account.callback_url,
        "reply_url": account.reply_url,
        "callback_statuses": account.callback_statuses,
        "balance": format_credits(view.balance),
    }


def _credits(raw: str) -> int | None:
    try:
        return to_milli(Decimal(raw))
    except (InvalidOperation, ValueError):
        print(f"{raw!r} is not an amount of credits (e.g. 100 or 12.5)", file=sys.stderr)
        return None


def _text_analyze(args: argparse.Namespace) -> int:
    policy = NonGsmPolicy(args.non_gsm)
    if not args.jsonl:
        if args.text is None:
            print("text analyze: give a TEXT or --jsonl", file=sys.stderr)
            return 2
        print(json.dumps(_analysis(args.text, args.classe, policy, args.nbr_msg), ensure_ascii=False))
        return 0
    exit_code = 0
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            print(f"line {number}: not UTF-8", file=sys.stderr)
            exit_code = 1
            continue
        except json.JSONDecodeError as exc:
            print(f"line {number}: not JSON: {exc}", file=sys.stderr)
            exit_code = 1
            continue
        if not isinstance(value, str):
            print(f"line {number}: expected a JSON string", file=sys.stderr)
            exit_code = 1
            continue
        print(json.dumps(_analysis(value, args.classe, policy, args.nbr_msg), ensure_ascii=False))
    sys.stdout.flush()
    return exit_code


def _analysis(text: str, classe: int, policy: NonGsmPolicy, max_parts: int | None) -> dict[str, object]:
    # JSON may carry lone surrogates ("\ud800"); pair the valid ones into characters, mark the others.
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    result = analyze(text, classe=classe, non_gsm=policy, max_parts=max_parts)
    return {
        "encoding": str(result.encoding),
        "segments": result.segments,
        "characters": result.characters,
        "units": result.units,
        "text": result.text,
    }
