"""``martinet routes explain``: which connectors a message would take, and why.

Routing mistakes are silent (a message still leaves, through the wrong carrier or at the wrong price), so an
operator needs to ask the configured rules about one number without sending anything. The answer comes from
the same :class:`~martinet.domain.routing.Router` and the same number parser as the send path. The main CLI
wires the command in with :func:`add_commands`; the answer goes to standard output (text, or one JSON object
with ``--json``), problems to standard error with exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from decimal import Decimal

import phonenumbers

from martinet.cli.preamble import SettingsLoader, Where
from martinet.config.routes import router_from_settings
from martinet.domain.country_rules import CountryRule
from martinet.domain.lanes import Lane
from martinet.domain.pricing import Quote
from martinet.domain.recipients import InvalidRecipient, Recipient, parse_recipients
from martinet.domain.routing import Destination, Explanation, RouteEntry

__all__ = ["add_commands", "destination_json", "destination_lines", "explanation_json", "explanation_text"]


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``routes explain``; ``where`` adds the CLI's --config/--data, ``settings`` reads them."""
    routes = subparsers.add_parser("routes", help="message routing").add_subparsers(required=True, metavar="ACTION")
    explain = routes.add_parser(
        "explain",
        help="which connectors a message to NUMBER would take, and why",
        description="Show the route a message to NUMBER takes, why earlier routes did not match, and the "
        "connectors in the order the engine tries them. Nothing is sent.",
    )
    explain.add_argument("number", metavar="NUMBER", help="as on the API: 0612345678, +33 6 12 34 56 78, 0690…")
    explain.add_argument(
        "--lane", choices=[lane.value for lane in Lane], default=None, help="message lane (default: accounts.lane)"
    )
    explain.add_argument("--account", default="", metavar="LOGIN", help="the sending account's login")
    explain.add_argument("--json", action="store_true", help="one JSON object instead of text")
    where(explain)
    explain.set_defaults(func=functools.partial(_explain, load=settings))


def _explain(args: argparse.Namespace, load: SettingsLoader) -> int:
    recipient = _recipient(args.number)
    if recipient is None:
        return 2
    settings = load(args)
    try:
        router = router_from_settings(settings)
    except ValueError as exc:
        print(f"routes: {exc}", file=sys.stderr)
        return 2
    from martinet.app import country_rules, price_table  # the tables the send path uses

    try:
        rule = country_rules(settings).rule(recipient.country)
        quote = price_table(settings).quote(recipient.country, args.account or None)
    except (OSError, ValueError) as exc:
        print(f"routes: {exc}", file=sys.stderr)
        return 2
    lane = args.lane or str(settings.accounts.lane)
    explanation = router.explain(Destination(recipient.msisdn, recipient.country), lane, args.account)
    if args.json:
        print(json.dumps({**explanation_json(explanation), **destination_json(quote, rule)}, ensure_ascii=False))
    else:
        text = explanation_text(explanation, number_type=recipient.number_type, lane_given=args.lane is not None)
        head, _, rest = text.partition("\n\nroutes")
        print(head + "\n" + "\n".join(destination_lines(quote, rule)) + "\n\nroutes" + rest)
    return 0


def destination_json(quote: Quote, rule: CountryRule) -> dict[str, object]:
    """The price and the country rules that apply to the number, as plain JSON values."""
    quiet = rule.quiet_hours
    return {
        "price": None if quote.price is None else str(quote.price),
        "price_source": quote.source,
        "rules": {
            "alphanumeric": rule.alphanumeric,
            "sender_max": rule.sender_max,
            "registration": rule.registration,
            "registered": sorted(rule.registered),
            "fallback_sender": rule.fallback_sender,
            "unicode": rule.unicode,
            "opt_out": rule.opt_out or None,
            "quiet_hours": None
            if quiet is None
            else {
                "timezone": quiet.timezone,
                "opens": quiet.opens,
                "closes": quiet.closes,
                "closed_days": list(quiet.closed_days),
                "public_holidays": quiet.public_holidays,
            },
            "note": rule.note or None,
        },
    }


def destination_lines(quote: Quote, rule: CountryRule) -> list[str]:
    """The price and the country rules for a person, one aspect a line."""
    if quote.price is None:
        price = f"closed: refused with status 3560 ({quote.source})"
    else:
        price = f"{quote.price} credits per SMS part ({quote.source})"
    if not rule.alphanumeric:
        sender = "numeric senders only (alphanumeric ones are not delivered)"
    else:
        sender = f"alphanumeric up to {rule.sender_max} characters, or numeric"
        if rule.registration:
            listed = ", ".join(sorted(rule.registered)) or "none yet"
            sender += f"; alphanumeric senders must be registered (registered: {listed})"
    if rule.fallback_sender:
        sender += f"; others are sent from {rule.fallback_sender}"
    elif not rule.alphanumeric or rule.registration:
        sender += "; others are refused (35 emetteur, or 3560 per recipient)"
    lines = [
        f"price     {price}",
        f"sender    {sender}",
        f"unicode   {'delivered' if rule.unicode else 'not delivered: UCS-2 messages are refused'}",
    ]
    quiet = rule.quiet_hours
    if quiet is not None:
        closed = ", ".join([*quiet.closed_days, *(["public holidays"] if quiet.public_holidays else [])])
        lines.append(
            f"marketing {quiet.opens}-{quiet.closes} {quiet.timezone}" + (f", closed {closed}" if closed else "")
        )
    if rule.opt_out:
        lines.append(f"opt-out   marketing carries {rule.opt_out!r}")
    if rule.note:
        lines.append(f"note      {rule.note}")
    return lines


def _recipient(number: str) -> Recipient | None:
    """The one number given, read as the API reads ``numero``; says what is wrong on standard error."""
    parsed = parse_recipients(number)
    if len(parsed) != 1:
        print(f"NUMBER: give exactly one phone number, got {len(parsed)}: {number!r}", file=sys.stderr)
        return None
    recipient = parsed[0]
    if isinstance(recipient, InvalidRecipient):
        print(f"NUMBER: {recipient.raw!r} is not a number we can send to: {recipient.reason}", file=sys.stderr)
        return None
    return recipient


def _share(entry: RouteEntry, rank: tuple[RouteEntry, ...]) -> float | None:
    """How often ``entry`` is tried first among its equals; None when it has none."""
    if len(rank) == 1:
        return None
    return entry.weight / sum(e.weight for e in rank)


def _price(price: Decimal | None) -> str | None:
    return None if price is None else str(price)


def explanation_json(explanation: Explanation) -> dict[str, object]:
    """The explanation as plain JSON values, for scripts; ``rank`` is shared by equals."""
    destination, operator = explanation.destination, explanation.operator
    return {
        "msisdn": destination.msisdn,
        "country": destination.country,
        "operator": {"name": operator.name, "mccmnc": operator.mccmnc, "network": operator.network},
        "lane": explanation.lane,
        "account": explanation.account or None,
        "route": explanation.route,
        "default": explanation.route is None,
        "skipped": [{"route": miss.route, "reasons": list(miss.reasons)} for miss in explanation.skipped],
        "least_cost": explanation.least_cost,
        "connectors": [
            {
                "rank": position,
                "name": entry.connector,
                "tier": entry.tier,
                "weight": entry.weight,
                "price": _price(entry.price),
                "first_share": _share(entry, rank),
            }
            for position, rank in enumerate(explanation.ranks, start=1)
            for entry in rank
        ],
    }


def _number_line(msisdn: str, country: str | None, number_type: str | None) -> str:
    try:
        spaced = phonenumbers.format_number(
            phonenumbers.parse("+" + msisdn), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        spaced = "+" + msisdn
    details = ", ".join(part for part in (country or "unknown country", number_type) if part)
    return f"{spaced} ({msisdn}), {details}"


def _operator_line(explanation: Explanation) -> str:
    operator = explanation.operator
    if operator.name is None:
        return "unknown (libphonenumber knows no range holder for this number)"
    if operator.mccmnc is None:
        return f"{operator.name} (range holder), mcc/mnc not in Martinet's table nor the MCC/MNC data set"
    return f"{operator.name} (range holder), mcc/mnc {operator.mccmnc}"


def _route_lines(explanation: Explanation) -> list[str]:
    if explanation.route is None and not explanation.skipped:
        return ["routes: none configured, so the default connectors"]
    lines = ["routes, in configuration order:"]
    lines += [f"  skipped  {miss.route}: {'; '.join(miss.reasons)}" for miss in explanation.skipped]
    if explanation.route is not None:
        lines.append(f"  chosen   {explanation.route}")
    else:
        lines.append("  none matched, so the default connectors")
    return lines


def _connector_lines(explanation: Explanation) -> list[str]:
    width = max(len(entry.connector) for rank in explanation.ranks for entry in rank)
    lines: list[str] = []
    for position, rank in enumerate(explanation.ranks, start=1):
        for index, entry in enumerate(rank):
            label = f"{position}." if index == 0 else ""
            parts = [f"  {label:<4}{entry.connector:<{width}}", f"tier {entry.tier}", f"weight {entry.weight}"]
            if entry.price is not None:
                parts.append(f"price {entry.price}")
            share = _share(entry, rank)
            if share is not None:
                parts.append(f"first for {share:.0%} of messages")
            lines.append("  ".join(parts))
    return lines


def explanation_text(explanation: Explanation, *, number_type: str | None = None, lane_given: bool = True) -> str:
    """The explanation for a person: the destination, the routes in order, then the connectors."""
    destination = explanation.destination
    order = "by price, then tier" if explanation.least_cost else "by tier"
    lines = [
        f"number    {_number_line(destination.msisdn, destination.country, number_type)}",
        f"operator  {_operator_line(explanation)}",
        f"lane      {explanation.lane}" + ("" if lane_given else " (accounts.lane; choose with --lane)"),
        f"account   {explanation.account or '(none; choose with --account)'}",
        "",
        *_route_lines(explanation),
        "",
        f"connectors, tried in this order ({order}; equals share a rank and are drawn by weight per message):",
        *_connector_lines(explanation),
    ]
    return "\n".join(lines)
