"""What an account may send, given the limits set on it and on every account above it in the tree.

A parent caps a child's rate, lanes and destination countries; the cap holds for the child's own sub-accounts
too, so a reseller's limits cannot be widened by the customers it gives sub-accounts to. Each account's rules
are therefore the strictest of its own and its ancestors': the lowest rate, the lanes and countries every one
of them allows, and "approved senders only" as soon as one of them asks for it.

Sender IDs: alphanumeric senders (a name such as `ACME`) can be checked only by people, so under the
"approved" policy they must be on the account's approved list. Numeric senders are numbers, not names: they
are checked as numbers by the sender rules (`martinet.domain.sender`: a short code is allowed, a phone number
is not) and need no approval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import phonenumbers

from martinet.domain.lanes import Lane
from martinet.domain.valueclass import valueclass

POLICIES = ("any", "approved")
NOT_APPROVED = "not an approved sender ID of this account"
_COUNTRY = re.compile(r"[A-Z]{2}")
#: The territories a recipient's number can be found in (libphonenumber's regions, as recipients are read).
KNOWN_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


class InvalidLimit(ValueError):
    """A limit that cannot be set; the message says which and why."""


@valueclass
class OwnLimits:
    """The limits set on one account (None: none of its own)."""

    rate_limit: float | None = None  # sends/s; 0 = no cap
    lanes: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    sender_policy: str = "any"


@valueclass
class AppliedLimits:
    """What holds for an account's sends once its own limits and every ancestor's are combined.

    Doors show it beside the limits set on the account itself, because those alone do not say why a send is
    refused: a parent's cap on countries or lanes reaches every account below it."""

    rate_limit: float  # sends/s; 0 = no cap
    lanes: frozenset[str] | None  # None: every lane
    countries: frozenset[str] | None  # None: every country
    sender_policy: str  # "approved" as soon as one account of the line asks for it


@valueclass
class AccountRules:
    """The rules an account's sends are checked against."""

    rate_cap: float | None  # the lowest cap set above the account (its own rate limit is applied beside it)
    lanes: frozenset[str] | None
    countries: frozenset[str] | None
    approved_only: bool
    approved_senders: frozenset[str]

    def rate(self, own: float) -> float:
        """The rate that applies given the account's own effective one (0 = unlimited)."""
        if self.rate_cap is None or self.rate_cap <= 0:
            return own
        return self.rate_cap if own <= 0 else min(own, self.rate_cap)

    def applied(self, own: float) -> AppliedLimits:
        """These rules as limits, given the account's own effective rate (its own, or the configured default)."""
        return AppliedLimits(self.rate(own), self.lanes, self.countries, "approved" if self.approved_only else "any")

    def problem(self, lane: str, sender: str | None, countries: Iterable[str]) -> tuple[str, str] | None:
        """The (parameter, problem) that refuses a send, or None when these rules allow it."""
        if self.lanes is not None and lane not in self.lanes:
            return "lane", f"lane {lane} is not allowed for this account"
        if self.countries is not None:
            refused = sorted({c for c in countries if c not in self.countries})
            if refused:
                return "recipients", f"destination country not allowed for this account: {', '.join(refused)}"
        if sender and self.approved_only and not sender.isdigit() and sender not in self.approved_senders:
            return "sender", NOT_APPROVED
        return None


NO_RULES = AccountRules(None, None, None, False, frozenset())


def inherit(chain: Sequence[OwnLimits], approved_senders: frozenset[str]) -> AccountRules:
    """The rules of the first account of `chain` (the account, then its ancestors up to the root).

    The account's own rate limit is not a cap here (the rate limiter applies it, or the configured default);
    its ancestors' are. Lanes and countries are those every account of the chain allows.
    """
    caps = [own.rate_limit for own in chain[1:] if own.rate_limit is not None and own.rate_limit > 0]
    lanes: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    for own in chain:
        if own.lanes is not None:
            lanes = own.lanes if lanes is None else lanes & own.lanes
        if own.countries is not None:
            countries = own.countries if countries is None else countries & own.countries
    approved_only = any(own.sender_policy == "approved" for own in chain)
    return AccountRules(min(caps) if caps else None, lanes, countries, approved_only, approved_senders)


def parse_lanes(text: str | None) -> frozenset[str] | None:
    """`"otp,notification"` → the set; None or empty: no limit."""
    if text is None or not text.strip():
        return None
    known = {lane.value for lane in Lane}
    lanes = {item.strip().lower() for item in text.split(",") if item.strip()}
    unknown = sorted(lanes - known)
    if unknown:
        raise InvalidLimit(f"unknown lane {unknown[0]!r} (otp, notification or marketing)")
    return frozenset(lanes)


def parse_countries(text: str | None) -> frozenset[str] | None:
    """`"FR,be"` → {"FR", "BE"} (ISO 3166 alpha-2); None or empty: no limit."""
    if text is None or not text.strip():
        return None
    countries = {item.strip().upper() for item in text.split(",") if item.strip()}
    for country in sorted(countries):
        if not _COUNTRY.fullmatch(country):
            raise InvalidLimit(f"not a two-letter country code: {country!r}")
    return frozenset(countries)


def new_countries(text: str | None) -> frozenset[str] | None:
    """The countries a limit is being set to: codes no number belongs to are refused, because such a limit
    would match no recipient and refuse every send to the country meant (`UK` for `GB`) without saying why.

    Stored limits are read with `parse_countries`, which does not ask this: a code once set stays harmless."""
    countries = parse_countries(text)
    unknown = sorted((countries or frozenset()) - KNOWN_COUNTRIES)
    if unknown:
        raise InvalidLimit(f"not a country code numbers belong to: {unknown[0]!r} (ISO 3166 alpha-2, GB, FR…)")
    return countries


def limits_text(values: frozenset[str] | None) -> str | None:
    return None if values is None else ",".join(sorted(values))


def parse_policy(text: str) -> str:
    if text not in POLICIES:
        raise InvalidLimit("sender policy: any or approved")
    return text
