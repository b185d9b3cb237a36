"""Parse and normalise the smsmode ``numero`` parameter.

smsmode clients send comma-separated numbers in whatever spelling their own database holds: French national
(``06 12 34 56 78``), international with or without ``+`` or ``00``, with dots, dashes and parentheses.
Everything downstream (pricing, routing, deduplication, delivery reports) needs one canonical form, so each
entry becomes either a :class:`Recipient` with its E.164 digits, destination territory and number type, or an
:class:`InvalidRecipient` that says why, so a single bad entry never fails a whole send.

Two things are not simply ``phonenumbers.parse``:

* France has one integrated numbering plan for the metropole and the overseas departments, but each
  department has its own country code. ``0692 12 34 56`` is a Réunion mobile (+262), yet libphonenumber,
  asked from region FR, reads it as an invalid +33 number. :data:`OVERSEAS_BLOCKS` re-homes those national
  blocks to the right country code.
* A send may carry 10,000 recipients and libphonenumber costs tens of microseconds per number, so the
  overwhelmingly common case, a metropolitan mobile, takes a fast path: one regular expression compiled at
  import time from libphonenumber's own French metadata, equivalent to ``is_valid_number`` returning true
  with type ``MOBILE``. Everything else goes through libphonenumber (memoised).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final, TypeAlias

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberType, ValidationResult

from martinet.domain.valueclass import valueclass

__all__ = [
    "FRENCH_PLAN_REGIONS",
    "OVERSEAS_BLOCKS",
    "InvalidRecipient",
    "ParsedRecipient",
    "Recipient",
    "count_entries",
    "parse_recipient",
    "parse_recipients",
]


@valueclass
class Recipient:
    """A destination we can price and route; ``msisdn`` is what goes to the SMSC and into reports."""

    raw: str
    msisdn: str
    country: str
    number_type: str


@valueclass
class InvalidRecipient:
    """An entry refused on its own, so the client learns which of its numbers is wrong and why."""

    raw: str
    reason: str


ParsedRecipient: TypeAlias = Recipient | InvalidRecipient

# Regions that dial each other with the French national ``0`` prefix. A number written ``06…`` from Réunion
# is a metropolitan mobile, and ``0692…`` from Paris is a Réunion mobile, so national numbers from any of
# these default regions go through the same integrated-plan resolution. Saint-Pierre-et-Miquelon (+508),
# New Caledonia, French Polynesia and Wallis-and-Futuna have their own plans and are not part of it.
FRENCH_PLAN_REGIONS: Final[frozenset[str]] = frozenset({"FR", "RE", "YT", "GP", "BL", "MF", "MQ", "GF"})

# National prefixes of the French plan that belong to an overseas territory, as
# (national prefix with its trunk 0, country calling code, territories sharing that code).
# Derived from libphonenumber's RE/YT/GP/BL/MF/MQ/GF metadata (mobile and fixed-line blocks) and the ARCEP
# plan; the territories column is documentation, libphonenumber decides which one of them a number is in.
# Overseas VoIP blocks (09 39, 09 47, 09 76) and 080x are deliberately absent: libphonenumber treats every
# 09 and 080x number as a valid metropolitan number and nobody texts them.
OVERSEAS_BLOCKS: Final[tuple[tuple[str, int, str], ...]] = (
    # Réunion and Mayotte share +262.
    ("0262", 262, "RE"),  # landlines
    ("0263", 262, "RE"),  # landlines (newer blocks)
    ("02688", 262, "RE"),  # landlines
    ("02689", 262, "YT"),  # landlines
    ("0269", 262, "YT"),  # landlines
    ("0639", 262, "YT"),  # mobiles
    ("0692", 262, "RE"),  # mobiles
    ("0693", 262, "RE"),  # mobiles
    ("07092", 262, "RE"),  # mobiles (new 07 09 blocks)
    ("070935", 262, "YT"),  # mobiles
    ("070936", 262, "YT"),
    ("070937", 262, "YT"),
    # Guadeloupe, Saint-Barthélemy and Saint-Martin share +590 (their mobile blocks are identical in
    # libphonenumber, which therefore reports every +590 69x mobile as GP).
    ("0590", 590, "GP/BL/MF"),  # landlines
    ("05987", 590, "GP/BL/MF"),  # landlines
    ("0690", 590, "GP/BL/MF"),  # mobiles
    ("0691", 590, "GP/BL/MF"),  # mobiles
    ("07090", 590, "GP/BL/MF"),  # mobiles
    # French Guiana, +594.
    ("0594", 594, "GF"),  # landlines
    ("05988", 594, "GF"),  # landlines
    ("0694", 594, "GF"),  # mobiles
    ("070930", 594, "GF"),  # mobiles
    ("070931", 594, "GF"),
    ("070932", 594, "GF"),
    ("070933", 594, "GF"),
    # Martinique, +596.
    ("0596", 596, "MQ"),  # landlines
    ("05989", 596, "MQ"),  # landlines
    ("0696", 596, "MQ"),  # mobiles
    ("0697", 596, "MQ"),  # mobiles
    ("07091", 596, "MQ"),  # mobiles
)

# National significant number prefix (trunk 0 removed) → country calling code, for longest-prefix lookup.
_OVERSEAS_BY_NSN_PREFIX: Final[Mapping[str, int]] = MappingProxyType(
    {prefix[1:]: code for prefix, code, _ in OVERSEAS_BLOCKS}
)
_OVERSEAS_PREFIX_LENGTHS: Final[tuple[int, ...]] = tuple(
    sorted({len(prefix) for prefix in _OVERSEAS_BY_NSN_PREFIX}, reverse=True)
)

# Separators people put in numbers. Deleted rather than validated: they carry no information.
_SEPARATORS: Final[str] = " \t\u00a0\u202f\u2009.-\u2010\u2011\u2012\u2013/()"
_DELETE_SEPARATORS: Final[dict[int, None]] = dict.fromkeys(map(ord, _SEPARATORS))
_LIST_SEPARATORS_TO_COMMA: Final[dict[int, str]] = {ord(";"): ",", ord("\n"): ",", ord("\r"): ","}

_DIGITS_WITH_OPTIONAL_PLUS: Final[re.Pattern[str]] = re.compile(r"\+?[0-9]*")
# "+33 (0)6 12 34 56 78": the trunk 0 written after a country code, a common UK/French business-card
# habit. libphonenumber tolerates it; we remove it explicitly so the French-plan path sees a clean number.
_TRUNK_AFTER_COUNTRY_CODE: Final[re.Pattern[str]] = re.compile(r"^\s*((?:\+|00)?\s*[1-9][0-9]{0,2})\s*\(0\)")

# E.164 allows 15 digits; anything much longer is not worth handing to libphonenumber.
_MAX_DIGITS: Final[int] = 17
# Characters an entry may have, separators included ("+33 (0)6 12 34 56 78" has 20): longer ones are refused
# before they reach the memoised slow path, whose cache would otherwise keep them.
_MAX_ENTRY: Final[int] = 64

_TYPE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {value: PhoneNumberType.to_string(value).lower() for value in PhoneNumberType.values()}
)

_POSSIBILITY_REASONS: Final[Mapping[int, str]] = MappingProxyType(
    {
        ValidationResult.TOO_SHORT: "too short",
        ValidationResult.TOO_LONG: "too long",
        ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    }
)

_PARSE_ERROR_REASONS: Final[Mapping[int, str]] = MappingProxyType(
    {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }
)

REASON_EMPTY: Final[str] = "empty"
REASON_CHARACTERS: Final[str] = "invalid characters"
REASON_INVALID: Final[str] = "not a valid phone number"
REASON_TOO_LONG: Final[str] = "too long"


def _build_fast_mobile_pattern() -> re.Pattern[str] | None:
    """One regex that matches exactly the 9-digit French NSNs libphonenumber calls valid ``MOBILE``.

    It replays ``phonenumbers``' type resolution for region FR: the number must match the general pattern,
    none of the types checked before mobile (premium rate … voicemail, then fixed line, which would make it
    ``FIXED_LINE_OR_MOBILE``), and the mobile pattern. Building it from the installed metadata instead of
    hard-coding prefixes keeps it right when ``phonenumbers`` is upgraded; the test suite checks it against
    ``phonenumbers`` on every national prefix. Overseas blocks are excluded because they are re-homed.
    Returns None, disabling the fast path, if the metadata has a shape this reasoning does not cover.
    """
    metadata = PhoneMetadata.metadata_for_region("FR")
    if metadata is None or metadata.same_mobile_and_fixed_line_pattern:
        return None

    def pattern_for_nine_digits(desc: phonenumbers.PhoneNumberDesc | None) -> str | None:
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and 9 not in desc.possible_length:
            return None
        return desc.national_number_pattern

    general = pattern_for_nine_digits(metadata.general_desc)
    mobile = pattern_for_nine_digits(metadata.mobile)
    if general is None or mobile is None:
        return None
    checked_before_mobile = (
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    )
    exclusions = [p for p in map(pattern_for_nine_digits, checked_before_mobile) if p is not None]
    overseas = "|".join(sorted(_OVERSEAS_BY_NSN_PREFIX))
    parts = [
        r"(?=[0-9]{9}\Z)",
        rf"(?=(?:{general})\Z)",
        *(rf"(?!(?:{p})\Z)" for p in exclusions),
        rf"(?!{overseas})",
        rf"(?:{mobile})\Z",
    ]
    return re.compile("".join(parts), re.ASCII)


_FAST_MOBILE: Final[re.Pattern[str] | None] = _build_fast_mobile_pattern()

# libphonenumber recompiles its metadata regexes through ``re``'s 512-entry cache; a list spanning many
# countries overflows it and 10,000 worldwide numbers then take seconds instead of ~0.3 s. The installed
# ``phonenumbers`` offers a process-wide cache of those (bounded, metadata-derived) patterns; not every
# release our dependency range allows has it, hence the lookup.
_enable_pattern_cache = getattr(phonenumbers, "enable_pattern_cache", None)
if callable(_enable_pattern_cache):
    _enable_pattern_cache()


def is_metropolitan_mobile(msisdn: str) -> bool:
    """Whether E.164 digits (no '+') are a metropolitan French mobile as libphonenumber reads them: region FR,
    valid, type ``MOBILE`` (the fast path's pattern; False when it is disabled, which only costs speed)."""
    return (
        _FAST_MOBILE is not None
        and len(msisdn) == 11
        and msisdn.startswith("33")
        and _FAST_MOBILE.match(msisdn[2:]) is not None
    )


def _fast_french_mobile(compact: str, french_plan: bool) -> str | None:
    """The E.164 digits of a metropolitan mobile in one of its usual spellings, or None to take the slow path.

    ``compact`` has had its separators removed. Only spellings whose meaning is unambiguous are handled:
    ``0`` + 9 digits when national numbers are French-plan, ``+33``/``0033``/``33`` + 9 digits.
    """
    if _FAST_MOBILE is None:
        return None
    length = len(compact)
    if length == 10:
        if not french_plan or compact[0] != "0":
            return None
        nsn = compact[1:]
    elif length == 11:
        if not compact.startswith("33"):
            return None
        nsn = compact[2:]
    elif length == 12:
        if not compact.startswith("+33"):
            return None
        nsn = compact[3:]
    elif length == 13:
        if not compact.startswith("0033"):
            return None
        nsn = compact[4:]
    else:
        return None
    if _FAST_MOBILE.match(nsn) is None:
        return None
    return "33" + nsn


def _describe(number: PhoneNumber) -> tuple[str, str, str] | str:
    """(msisdn, country, type) of a number libphonenumber calls valid, else the reason it is not."""
    if phonenumbers.is_valid_number(number):
        country = phonenumbers.region_code_for_number(number)
        if country is not None:
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164[1:], country, _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    return _POSSIBILITY_REASONS.get(phonenumbers.is_possible_number_with_reason(number), REASON_INVALID)


def _resolve_french_nsn(nsn: str) -> tuple[str, str, str] | str:
    """Resolve a French-plan national significant number, re-homing overseas blocks to their own code.

    The overseas country code wins when the number is valid there; otherwise libphonenumber's own +33 reading
    stands, so a number it accepts as metropolitan (some 0263/0269/0596 blocks overlap) is never refused.
    """
    if len(nsn) > _MAX_DIGITS:
        return REASON_TOO_LONG
    if not nsn or nsn[0] == "0":
        return REASON_INVALID
    if len(nsn) == 9:
        for prefix_length in _OVERSEAS_PREFIX_LENGTHS:
            code = _OVERSEAS_BY_NSN_PREFIX.get(nsn[:prefix_length])
            if code is not None:
                overseas = _describe(PhoneNumber(country_code=code, national_number=int(nsn)))
                if not isinstance(overseas, str):
                    return overseas
                break
    return _describe(PhoneNumber(country_code=33, national_number=int(nsn)))


def _parse_with_library(text: str, region: str | None) -> tuple[str, str, str] | str:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return _PARSE_ERROR_REASONS.get(exc.error_type, REASON_INVALID)
    return _describe(number)


@lru_cache(maxsize=16384)
def _resolve(compact: str, default_region: str) -> tuple[str, str, str] | str:
    """Slow path on a separator-free spelling: (msisdn, country, type) or the reason it is refused.

    Memoised because lists often repeat numbers across sends and libphonenumber is the expensive part.
    """
    if _DIGITS_WITH_OPTIONAL_PLUS.fullmatch(compact) is None:
        return REASON_CHARACTERS
    if compact == "+":
        return REASON_INVALID
    if compact[0] == "+":
        international = compact[1:]
    elif compact.startswith("00"):
        international = compact[2:]
    elif compact[0] == "0":
        if default_region in FRENCH_PLAN_REGIONS:
            return _resolve_french_nsn(compact[1:])
        if len(compact) > _MAX_DIGITS:
            return REASON_TOO_LONG
        return _parse_with_library(compact, default_region)
    else:
        # Digits without a prefix that do not start with the trunk 0: smsmode's "33612345678" spelling.
        international = compact
    if len(international) > _MAX_DIGITS:
        return REASON_TOO_LONG
    if international.startswith("33"):
        nsn = international[2:]
        if len(nsn) == 10 and nsn[0] == "0":
            nsn = nsn[1:]  # "+33 (0)6…" or "+33 06…": trunk 0 kept after the country code
        return _resolve_french_nsn(nsn)
    return _parse_with_library("+" + international, None)


def parse_recipient(raw: str, default_region: str = "FR") -> ParsedRecipient:
    """Normalise one number; national numbers (leading ``0``) are read in ``default_region``.

    Never raises on bad input, because one client typo must not reject the other 9,999 recipients. Raises
    ValueError only for an unknown ``default_region``, which is a configuration error, not client input.
    """
    text = raw.strip()
    if not text:
        return InvalidRecipient(text, REASON_EMPTY)
    if len(text) > _MAX_ENTRY:
        return InvalidRecipient(text[:_MAX_ENTRY], REASON_TOO_LONG)  # not worth parsing, nor memoising
    french_plan = default_region in FRENCH_PLAN_REGIONS
    if not french_plan and default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    compact = text.translate(_DELETE_SEPARATORS)
    msisdn = _fast_french_mobile(compact, french_plan)
    if msisdn is not None:
        return Recipient(text, msisdn, "FR", "mobile")
    if "(0)" in text:
        text_without_trunk = _TRUNK_AFTER_COUNTRY_CODE.sub(r"\1", text, count=1)
        compact = text_without_trunk.translate(_DELETE_SEPARATORS)
    if not compact:
        return InvalidRecipient(text, REASON_INVALID)
    result = _resolve(compact, default_region)
    if isinstance(result, str):
        return InvalidRecipient(text, result)
    msisdn, country, number_type = result
    return Recipient(text, msisdn, country, number_type)


# One non-blank entry of a list: from its first non-space character to the next separator.
_ENTRY: Final[re.Pattern[str]] = re.compile(r"[^\s,;][^,;\r\n]*")


def count_entries(numero: str, limit: int) -> int:
    """How many entries ``parse_recipients`` would read, duplicates and invalid ones included, counting no
    further than ``limit + 1``: enough to refuse an oversized list without parsing (or even splitting) it."""
    count = 0
    for _ in _ENTRY.finditer(numero):
        count += 1
        if count > limit:
            break
    return count


def parse_recipients(numero: str, default_region: str = "FR") -> list[ParsedRecipient]:
    """Parse smsmode's ``numero`` list: one result per entry, in order, duplicate numbers dropped.

    Entries are separated by commas (``;`` and newlines tolerated); blank entries are ignored. A number
    given twice in any spelling is sent once, the first spelling kept. Invalid entries are all kept, each
    with its own reason, so the client sees every mistake it made.
    """
    if default_region not in FRENCH_PLAN_REGIONS and default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    if ";" in numero or "\n" in numero or "\r" in numero:
        numero = numero.translate(_LIST_SEPARATORS_TO_COMMA)
    results: list[ParsedRecipient] = []
    seen: set[str] = set()
    append = results.append
    for item in numero.split(","):
        entry = item.strip()
        if not entry:
            continue
        parsed = parse_recipient(entry, default_region)
        if isinstance(parsed, Recipient):
            if parsed.msisdn in seen:
                continue
            seen.add(parsed.msisdn)
        append(parsed)
    return results
