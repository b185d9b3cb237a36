"""`martinet send` and `martinet messages`: sending and following reports from the command line.

Another door on the same send service as the HTTP doors (`martinet.app.send_service`): a send is accepted, priced,
expanded to its groups and refused by the same rules as the REST door's for that account, and a CSV campaign is
read by the same reader as `sendSMSBatch.do`'s (`services.campaign_files`). The command writes through its own
acceptance writer and prints only once the send is committed; the engine of a running `martinet serve` (or `demo`)
on the same database then dispatches it. `messages` lists what `GET /sms/v1/messages` lists, with the carriers' IDs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from martinet.cli.preamble import SettingsLoader, Where, opened_store, run

if TYPE_CHECKING:  # the store and services are imported when a command runs, to keep the CLI quick to start
    from martinet.config import Settings
    from martinet.domain.resources import MessageFacts
    from martinet.services.accept import Preview, SendRequest, SendService
    from martinet.services.campaign_files import CampaignFile
    from martinet.services.personal_sends import Campaign
    from martinet.store.accounts import Account
    from martinet.store.database import Database

#: Exit status of a send the rules refuse, and of an unknown account.
REFUSED = 2
LANES = ("otp", "notification", "marketing")
#: Bytes read from a campaign file at a time: the file is never held whole.
CHUNK = 1 << 16


class Refused(Exception):
    """A send (or a listing) refused before anything is written; the message is printed on standard error."""


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register `send` and `messages`; `where` adds the CLI's --config/--data."""
    send = subparsers.add_parser(
        "send",
        help="send an SMS to numbers and groups, or a CSV campaign, for an account",
        description="Accepts a send as the REST door would for the account; a running engine dispatches it.",
    )
    send.add_argument("--account", required=True, metavar="LOGIN")
    send.add_argument("--to", action="append", default=[], metavar="NUMBER", help="a recipient (repeatable)")
    send.add_argument("--group", action="append", default=[], metavar="NAME", help="a contact group (repeatable)")
    send.add_argument("--text", help="the text; with --group, a template ({prenom}, {nom}, {societe}, …)")
    send.add_argument(
        "--file",
        type=Path,
        metavar="CAMPAIGN.csv",
        help="a CSV campaign as for sendSMSBatch.do (numero,message,emetteur[,refClient]), instead of --to/--text",
    )
    send.add_argument("--sender", help="the sender name or number (emetteur)")
    send.add_argument("--reference", help="the client reference (refClient)")
    send.add_argument("--at", metavar="ISO-DATETIME", help="send later (the account's time zone unless given)")
    send.add_argument("--flow", choices=LANES, help="the lane (default: the account's)")
    send.add_argument("--dry-run", action="store_true", help="print each recipient's parts and price, store nothing")
    send.add_argument("--json", action="store_true", help="print the REST door's JSON")
    where(send)
    send.set_defaults(func=functools.partial(_send, load=settings))

    messages = subparsers.add_parser("messages", help="each recipient's report, newest first")
    messages.add_argument("--account", required=True, metavar="LOGIN")
    messages.add_argument("--send", metavar="ID", help="one send's messages only")
    messages.add_argument("--status", help="DELIVERED, ENROUTE, SCHEDULED, UNDELIVERABLE, UNDELIVERED, …")
    messages.add_argument("--limit", type=int, default=100)
    messages.add_argument("--json", action="store_true", help="one message resource per line")
    where(messages)
    messages.set_defaults(func=functools.partial(_messages, load=settings))


@contextlib.asynccontextmanager
async def _account(settings: Settings, login: str) -> AsyncIterator[tuple[Database, Account]]:
    """The store and the account (a live one), or Refused."""
    from martinet.clock import now_ms
    from martinet.store.accounts import AccountStore

    async with opened_store(settings, migrate=False) as db:
        found = await AccountStore(db, now_ms).by_login(login, live=True)
        if found is None:
            raise Refused(f"no account named {login!r}")
        yield db, found[0]


def _send(args: argparse.Namespace, load: SettingsLoader) -> int:
    if args.file is not None and (args.to or args.group or args.text):
        print("send: --file carries its numbers and texts; give no --to, --group or --text", file=sys.stderr)
        return REFUSED
    if args.file is None and (not args.text or not (args.to or args.group)):
        print("send: give --text and at least one --to or --group (or a --file)", file=sys.stderr)
        return REFUSED
    return _refusing(_send_with(args, load(args)))


async def _send_with(args: argparse.Namespace, settings: Settings) -> int:
    from martinet.app import send_service
    from martinet.services.accept import InvalidParameter, NotEnoughCredit, message_facts
    from martinet.services.rate_limits import RateLimited
    from martinet.store.acceptance import AcceptanceWriter

    async with _account(settings, args.account) as (db, account):
        writer = AcceptanceWriter(db, opt_out_lanes=settings.optout.lanes)
        service = send_service(settings, db, writer, workers=1)
        campaign: Campaign | None = None
        try:
            request = _request(args, account)
            if args.dry_run:
                _print_preview(await _preview(service, request, args, settings), args.json)
                return 0
            if args.file is not None:
                campaign = await service.open_campaign(request)
                request = _campaign(campaign, request, args.file, settings.http.max_recipients)
            await writer.start()
            try:
                accepted = await service.accept(request)
            finally:
                await writer.stop()  # every write committed before anything is printed
        except InvalidParameter as exc:
            raise Refused(f"{exc.name}: {exc.problem}") from None
        except NotEnoughCredit as exc:
            raise Refused(f"the send costs {_credits(exc.cost)} credits, more than the balance") from None
        except RateLimited as exc:
            raise Refused(f"over the account's {exc.rate:g} sends per second") from None
        finally:
            if campaign is not None:
                campaign.close()  # its spool is removed whatever became of the send
        if campaign is None:
            facts = message_facts(accepted.send)
        else:  # a campaign's messages went from its spool to the store: they are read back from there
            facts = await _stored(db, account.id, accepted.send_id, accepted.recipients + accepted.refused)
    if args.json:
        from martinet.domain.resources import message_resource

        print(json.dumps({"smsId": accepted.send_id, "messages": [message_resource(f) for f in facts]}))
        return 0
    print(accepted.send_id)
    for fact in facts:
        print("\t".join(_outcome(fact, account.language)))
    print(
        f"{accepted.recipients} accepted, {accepted.refused} refused, {_credits(accepted.cost)} credits",
        file=sys.stderr,
    )
    return 0


def _request(args: argparse.Namespace, account: Account) -> SendRequest:
    """The send as the REST door builds it (automatic encoding, up to 10 parts, JSON callbacks); a campaign file's
    as `sendSMSBatch.do` does (the account's character policy, 5 parts)."""
    from martinet.domain.text import NonGsmPolicy
    from martinet.services.accept import MAX_PARTS, InvalidParameter, SendRequest

    scheduled_at = None
    if args.at is not None:
        try:
            moment = datetime.fromisoformat(args.at)
        except ValueError:
            raise InvalidParameter("scheduled_at", f"not an ISO 8601 date and time: {args.at!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(account.timezone))
        scheduled_at = int(moment.timestamp() * 1000)
    common = SendRequest(
        account=account,
        text=None,
        recipients=None,
        scheduled_at=scheduled_at,
        sender=args.sender,
        ref_client=args.reference,
        lane=args.flow,
    )
    if args.file is not None:
        return common
    return replace(
        common,
        text=args.text,
        recipients=",".join(args.to),
        groups=tuple(args.group),
        non_gsm=NonGsmPolicy.UCS2,
        max_parts=MAX_PARTS,
        callback_format="json",
    )


def _campaign(campaign: Campaign, request: SendRequest, path: Path, max_rows: int) -> SendRequest:
    """The request with the file's rows, each checked as it is read (the first refused row refuses the file)."""
    from martinet.services.campaign_files import CampaignFile

    reader = CampaignFile(max_rows, campaign.add)
    _read_into(reader, path)
    return replace(request, rows=campaign)


async def _stored(db: Database, account_id: int, send_id: str, count: int) -> list[MessageFacts]:
    """A send's messages as stored, in order."""
    from martinet.store.messages import MessageFilter, MessageStore

    return await MessageStore(db).page(account_id, MessageFilter(send_id=send_id), 0, max(1, count))


def _read_into(reader: CampaignFile, path: Path) -> None:
    from martinet.services.accept import InvalidParameter

    try:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                reader.feed(chunk)
    except OSError as exc:
        raise Refused(f"{path}: {exc.strerror or exc}") from None
    reader.close()
    if not reader.rows:
        raise InvalidParameter("fichier", "no row")


async def _preview(service: SendService, request: SendRequest, args: argparse.Namespace, settings: Settings) -> Preview:
    if args.file is None:
        return await service.preview(request)
    from martinet.services.campaign_files import CampaignFile
    from martinet.services.personal_sends import CampaignRow

    rows: list[CampaignRow] = []
    _read_into(CampaignFile(settings.http.max_recipients, rows.append), args.file)
    return await service.preview(replace(request, rows=rows))


def _print_preview(preview: Preview, as_json: bool) -> None:
    from martinet.domain.recipients import InvalidRecipient

    lines = []
    for item in preview.recipients:
        recipient = item.recipient
        analysis = item.analysis or preview.analysis
        lines.append(
            {
                "to": recipient.raw if isinstance(recipient, InvalidRecipient) else recipient.msisdn,
                "parts": analysis.segments,
                "price": _credits(item.cost),
                "problem": item.problem,
                "text": analysis.text,
            }
        )
    total = _credits(preview.cost)
    if as_json:
        print(json.dumps({"flow": preview.lane, "recipients": lines, "price": total}, ensure_ascii=False))
        return
    for line in lines:
        shown = "+" + str(line["to"]) if line["problem"] is None else f"{line['to']}\t{line['problem']}"
        print(f"{shown}\t{line['parts']} part(s)\t{line['price']} credits")
    print(f"total\t{len(lines)} recipient(s)\t{total} credits")


def _messages(args: argparse.Namespace, load: SettingsLoader) -> int:
    return _refusing(_list(args, load(args)))


def _refusing(command: Coroutine[Any, Any, int]) -> int:
    """The command's exit status; a refusal is said on standard error, with exit status 2."""
    try:
        return run(command)
    except Refused as exc:
        print(exc, file=sys.stderr)
        return REFUSED


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    from martinet.domain.resources import STATES_OF_STATUS, message_resource
    from martinet.store.messages import MessageFilter, MessageStore

    states = None
    if args.status is not None:
        states = STATES_OF_STATUS.get(args.status.upper())
        if states is None:
            raise Refused("--status: one of " + ", ".join(STATES_OF_STATUS))
    async with _account(settings, args.account) as (db, account):
        store = MessageStore(db)
        rows = await store.page(account.id, MessageFilter(states=states, send_id=args.send), 0, max(1, args.limit))
        carriers = await store.carrier_ids(account.id, {row.send_id for row in rows})
    for row in rows:
        ids = carriers.get((row.send_id, row.seq), [])
        if args.json:
            print(json.dumps({**message_resource(row), "carrierIds": ids}, ensure_ascii=False))
        else:
            print("\t".join([*_outcome(row, account.language), ",".join(ids) or "-"]))
    return 0


def _outcome(fact: MessageFacts, language: str) -> list[str]:
    """One message as a line's fields: ID, number, status code and name, parts, price, reference, last update."""
    from martinet.domain.resources import iso_time, message_id
    from martinet.domain.status import STATUS_CODES

    code = STATUS_CODES.get(fact.code)
    name = "" if code is None else code.fr if language == "fr" else code.en
    return [
        message_id(fact.send_id, fact.seq),
        "+" + fact.msisdn if fact.msisdn.isdigit() else fact.msisdn,
        f"{fact.code} {name}".strip(),
        f"{fact.segments} part(s)",
        f"{_credits(fact.cost)} credits",
        fact.ref_client or "-",
        iso_time(fact.updated_at) or "-",
    ]


def _credits(milli: int) -> str:
    from martinet.domain.credits import format_credits

    return format_credits(milli)
