"""``martinet prices list|show``: the effective price of every destination, and where it comes from.

Prices come in layers (account, configuration, the table's lines, its zones: see
:mod:`martinet.domain.pricing`), so "how much does a text to Vietnam cost, and why" is a question an operator
asks before a customer does. The answer comes from the same table the send path charges with, built by the
composition root from the same configuration. Output goes to standard output (text, or JSON with ``--json``),
problems to standard error with exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from decimal import Decimal

import phonenumbers

from martinet.cli.preamble import SettingsLoader, Where
from martinet.domain.pricing import PriceTable, Quote

__all__ = ["add_commands", "quote_json"]


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``prices list`` and ``prices show``; ``where`` adds --config/--data, ``settings`` reads them."""
    prices = subparsers.add_parser("prices", help="prices per destination").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = prices.add_parser(
        "list",
        help="every destination's price per SMS part, and where it comes from",
        description="One line per destination libphonenumber knows: the price per SMS part (or closed), the "
        "voice price, and the layer it comes from (account, configuration override, line of the price table, "
        "zone).",
    )
    listing.add_argument("--zone", default=None, metavar="NAME", help="only the destinations priced by this zone")
    show = prices.add_parser(
        "show",
        help="one destination's price and where it comes from",
        description="The price per SMS part and per voice call to COUNTRY and the layer each comes from.",
    )
    show.add_argument("country", metavar="COUNTRY", help="ISO 3166-1 alpha-2 code, e.g. FR, RE, VN")
    for parser in (listing, show):
        parser.add_argument("--account", default=None, metavar="LOGIN", help="prices as this account pays them")
        parser.add_argument("--json", action="store_true", help="JSON instead of text")
        where(parser)
    listing.set_defaults(func=functools.partial(_list, load=settings))
    show.set_defaults(func=functools.partial(_show, load=settings))


def _table(args: argparse.Namespace, load: SettingsLoader) -> PriceTable | None:
    from martinet.app import price_table  # the composition root builds the table the send path uses

    try:
        return price_table(load(args))
    except (OSError, ValueError) as exc:
        print(f"pricing: {exc}", file=sys.stderr)
        return None


def _amount(price: Decimal | None) -> str | None:
    return None if price is None else format(price.normalize(), "f")  # "10", not "1E+1"


def quote_json(table: PriceTable, country: str, account: str | None) -> dict[str, object]:
    """One destination's prices as plain JSON values; ``sms`` null means closed (refused with 3560)."""
    sms, voice = table.quote(country, account), table.quote(country, account, "voice")
    zone = table.zone_of(country)
    return {
        "country": country,
        "calling_code": phonenumbers.country_code_for_region(country) or None,
        "zone": None if zone is None else zone.name,
        "sms": _amount(sms.price),
        "sms_source": sms.source,
        "voice": _amount(voice.price),
        "voice_source": voice.source,
    }


def _price_text(quote: Quote) -> str:
    return "closed" if quote.price is None else str(_amount(quote.price))


def _list(args: argparse.Namespace, load: SettingsLoader) -> int:
    table = _table(args, load)
    if table is None:
        return 2
    if args.zone is not None and args.zone not in table.zones:
        known = ", ".join(sorted(table.zones)) or "none"
        print(f"--zone: no zone {args.zone!r} in {table.origin} (zones: {known})", file=sys.stderr)
        return 2
    countries = [
        c
        for c in table.countries()
        if args.zone is None or ((zone := table.zone_of(c)) is not None and zone.name == args.zone)
    ]
    if args.json:
        print(json.dumps([quote_json(table, c, args.account) for c in countries], ensure_ascii=False))
        return 0
    print(f"{'country':<8}{'code':<7}{'sms':>8}  {'voice':>8}  source (sms)")
    for country in countries:
        sms, voice = table.quote(country, args.account), table.quote(country, args.account, "voice")
        code = phonenumbers.country_code_for_region(country)
        print(f"{country:<8}{'+' + str(code):<7}{_price_text(sms):>8}  {_price_text(voice):>8}  {sms.source}")
    return 0


def _show(args: argparse.Namespace, load: SettingsLoader) -> int:
    country = args.country.strip().upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        hint = " (the United Kingdom is GB)" if country == "UK" else ""
        print(f"COUNTRY: {args.country!r} is not a region code libphonenumber knows{hint}", file=sys.stderr)
        return 2
    table = _table(args, load)
    if table is None:
        return 2
    if args.json:
        print(json.dumps(quote_json(table, country, args.account), ensure_ascii=False))
        return 0
    sms, voice = table.quote(country, args.account), table.quote(country, args.account, "voice")
    zone = table.zone_of(country)
    zone_text = "none" if zone is None else zone.name + (f" ({zone.title})" if zone.title else "")
    unit = "credits per SMS part" if sms.price is not None else "(refused with status 3560)"
    per_call = "credits per call" if voice.price is not None else "(refused with status 3560)"
    lines = [
        f"country   {country} (+{phonenumbers.country_code_for_region(country)})",
        f"zone      {zone_text}",
        f"sms       {_price_text(sms)} {unit}, from: {sms.source}",
        f"voice     {_price_text(voice)} {per_call}, from: {voice.source}",
    ]
    if args.account:
        lines.insert(1, f"account   {args.account}")
    print("\n".join(lines))
    return 0
