"""What an SMS text costs and how it is cut: GSM 03.38, UCS-2, segments, truncation, STOP mention.

Prices, quotas and the SMPP gateway all depend on the same answer to "how many parts is this text?", so it is
computed in one place, from the text as it will actually be sent (after the non-GSM policy, truncation and
STOP mention), and the parts are produced by actually filling them: a GSM extension character (ESC + char)
and a UTF-16 surrogate pair must never straddle two parts, which makes simple division wrong at the edges.

Costs: GSM-7 counts septets (extension characters cost two); UCS-2 counts UTF-16 code units (characters
outside the BMP, most emoji, cost two). A single part holds 160 septets / 70 units; in a concatenated message
the UDH leaves 153 septets / 67 units per part.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from gsmcodecs.charmaps import GSMCHARMAPS

from martinet.domain.valueclass import valueclass


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


class NonGsmPolicy(enum.StrEnum):
    """What to do with characters that GSM 03.38 cannot carry (for classes 2 and 4)."""

    REPLACE = "replace"
    """Every such character becomes "?": smsmode's behaviour, so the default."""
    TRANSLITERATE = "transliterate"
    """Strip accents and map look-alikes (ê→e, ç→Ç, œ→oe, ’→'...); what remains becomes "?"."""
    UCS2 = "ucs2"
    """Send the whole message in UCS-2 when needed: the automatic choice of most calculators."""


@valueclass
class TextAnalysis:
    text: str
    """The text as it would be sent (after replacement, truncation and STOP mention)."""
    encoding: Encoding
    segments: int
    """Number of SMS parts; an empty text still is one (empty) part."""
    characters: int
    """Unicode code points in `text`."""
    units: int
    """Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2."""
    parts: tuple[str, ...]
    """`text` cut into its parts; concatenated they give `text` back."""


# --- The GSM 03.38 alphabet, taken from gsmcodecs (default locking table and default single shift table) ---


def _charmap(table: str) -> frozenset[str]:
    encode_map: Mapping[int, int] = GSMCHARMAPS[0][table]["encode"]
    return frozenset(chr(code_point) for code_point in encode_map)


#: Characters of the basic table: one septet each (0x1B, the escape, is no character and is not included).
GSM_BASIC: Final[frozenset[str]] = _charmap("locking")
#: Characters of the extension table: two septets each (ESC + code). gsmcodecs maps the extension code 0x1B
#: (reserved for a further table; receivers show a space) to " ": a space is sent from the basic table, so it
#: is removed here, leaving ^ { } [ ] ~ \ | € and form feed.
GSM_EXTENSION: Final[frozenset[str]] = _charmap("singleShift") - GSM_BASIC
GSM_CHARACTERS: Final[frozenset[str]] = GSM_BASIC | GSM_EXTENSION


def _char_class(chars: frozenset[str], *, negate: bool = False) -> re.Pattern[str]:
    """A regex matching one character of (or, negated, outside) `chars`: one C-level scan per text."""
    members = "".join(re.escape(char) for char in sorted(chars))
    return re.compile(f"[{'^' if negate else ''}{members}]")


_NOT_GSM: Final = _char_class(GSM_CHARACTERS, negate=True)
#: Anything but a one-septet character: a text without any is sent as it is, every character costing one septet.
_NOT_BASIC: Final = _char_class(GSM_BASIC, negate=True)
_EXTENSION: Final = _char_class(GSM_EXTENSION)
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


# --- Part sizes ---


@valueclass
class _Profile:
    single: int
    """Capacity of a message sent in one part."""
    multi: int
    """Capacity of each part of a concatenated message."""
    double_cost: re.Pattern[str]
    """Characters that cost two units in this encoding."""


_PROFILES: Final[Mapping[Encoding, _Profile]] = MappingProxyType(
    {
        Encoding.GSM7: _Profile(single=160, multi=153, double_cost=_EXTENSION),
        Encoding.UCS2: _Profile(single=70, multi=67, double_cost=_ASTRAL),
    }
)

#: GSM-7's profile, for the shortcut (an enum key costs a Python-level hash).
_GSM7: Final = _PROFILES[Encoding.GSM7]

_CLASSES: Final = frozenset({2, 4, 9})
_UCS2_CLASS: Final = 9
#: The 8-bit concatenation reference of the UDH counts at most 255 parts.
_MAX_PARTS_LIMIT: Final = 255


# --- Transliteration ---


def _case_lookalikes() -> dict[str, str]:
    """Lowercase letters whose capital only is in GSM (ç→Ç, δ→Δ...): the accent survives, unlike "c".

    Not the other way round: capitals lose their accent (À→A), as French capitals usually do, rather than
    turn into a lowercase letter in the middle of a capitalised word.
    """
    return {
        char.lower(): char
        for char in GSM_BASIC
        if char.isupper() and len(char.lower()) == 1 and char.lower() not in GSM_CHARACTERS
    }


_TRANSLITERATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **_case_lookalikes(),
        "ς": "Σ",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "ı": "i",
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "‹": "'",
        "›": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "«": '"',
        "»": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        "\t": " ",
        "\u2028": "\n",
        "\u2029": "\n",
        # Invisible characters: nothing to see, so nothing to send.
        "\u00ad": "",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\u2060": "",
        "\ufe0e": "",
        "\ufe0f": "",
        "\ufeff": "",
    }
)


def _transliterate_char(char: str) -> str:
    """One character outside GSM: the table first, else its compatibility decomposition without accents.

    NFKD also covers spaces (NBSP, thin spaces → " "), "…" → "...", ligatures, full-width forms; a result that
    still is not entirely GSM is worth nothing, so the character becomes "?".
    """
    mapped = _TRANSLITERATIONS.get(char)
    if mapped is not None:
        return mapped
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(part for part in decomposed if not unicodedata.combining(part))
    return stripped if _NOT_GSM.search(stripped) is None else "?"


def _to_gsm(text: str, policy: NonGsmPolicy) -> str:
    """Make `text` entirely GSM under a REPLACE or TRANSLITERATE policy."""
    if _NOT_GSM.search(text) is None:
        return text
    if policy is NonGsmPolicy.REPLACE:
        return _NOT_GSM.sub("?", text)
    # NFC first so that a decomposed "é" (e + combining acute) is the GSM "é", not "e".
    composed = unicodedata.normalize("NFC", text)
    return _NOT_GSM.sub(lambda match: _transliterate_char(match.group()), composed)


# --- Encoding choice ---


def _always_gsm7(_text: str) -> Encoding:
    return Encoding.GSM7


def _always_ucs2(_text: str) -> Encoding:
    return Encoding.UCS2


def _automatic(text: str) -> Encoding:
    return Encoding.GSM7 if is_gsm(text) else Encoding.UCS2


_Chooser = Callable[[str], Encoding]


# --- Filling parts ---


def _double_cost_positions(text: str, profile: _Profile) -> list[int]:
    return [match.start() for match in profile.double_cost.finditer(text)]


def _part_end(start: int, stop: int, capacity: int, doubles: list[int]) -> int:
    """The largest `end` such that text[start:end] costs at most `capacity`.

    Cutting only between code points is what keeps ESC pairs and surrogate pairs whole. Each step removes
    ceil(excess / 2) characters: as a character costs at most 2, that many must go, so the search never
    overshoots and needs no per-character loop.
    """
    end = min(stop, start + capacity)
    while True:
        cost = end - start + bisect_left(doubles, end) - bisect_left(doubles, start)
        excess = cost - capacity
        if excess <= 0:
            return end
        end -= (excess + 1) // 2


def _layout(text: str, encoding: Encoding) -> TextAnalysis:
    """Cut `text` into parts by greedy filling, which also gives the fewest possible parts."""
    profile = _PROFILES[encoding]
    doubles = _double_cost_positions(text, profile)
    units = len(text) + len(doubles)
    if units <= profile.single:
        parts: tuple[str, ...] = (text,)
    else:
        pieces = []
        start = 0
        while start < len(text):
            end = _part_end(start, len(text), profile.multi, doubles)
            pieces.append(text[start:end])
            start = end
        parts = tuple(pieces)
    return TextAnalysis(text, encoding, len(parts), len(text), units, parts)


def _basic_layout(text: str, max_parts: int | None) -> TextAnalysis | None:
    """`_layout` of a text of one-septet GSM characters only, which every policy sends unchanged in GSM-7: its
    parts are plain slices (nothing costs two septets, so no cut can fall inside a character). None when it
    needs more than `max_parts` parts (the general path cuts it). A campaign analyses every row's own text: this
    is most of them, at a fraction of the cost."""
    length = len(text)
    if length <= _GSM7.single:
        parts: tuple[str, ...] = (text,)
    else:
        size = _GSM7.multi
        if max_parts is not None and length > size * max_parts:
            return None
        parts = tuple(text[start : start + size] for start in range(0, length, size))
    return TextAnalysis(text, Encoding.GSM7, len(parts), length, length, parts)


def _prefix_end(text: str, encoding: Encoding, max_parts: int) -> int:
    """Length of the longest prefix of `text` that fits in `max_parts` parts."""
    profile = _PROFILES[encoding]
    doubles = _double_cost_positions(text, profile)
    if max_parts == 1:
        return _part_end(0, len(text), profile.single, doubles)
    end = 0
    for _ in range(max_parts):
        end = _part_end(end, len(text), profile.multi, doubles)
    return end


def _fit(text: str, choose: _Chooser, max_parts: int | None) -> TextAnalysis:
    """Lay `text` out, cutting its end if it needs more than `max_parts` parts."""
    encoding = choose(text)
    analysis = _layout(text, encoding)
    if max_parts is None or analysis.segments <= max_parts:
        return analysis
    cut = _layout(text[: _prefix_end(text, encoding, max_parts)], encoding)
    if cut.encoding is Encoding.UCS2 and choose(cut.text) is Encoding.GSM7:
        # The cut removed every character that required UCS-2: GSM-7 holds more, keep what it can hold
        # up to the first such character.
        first_non_gsm = _NOT_GSM.search(text)
        gsm_text = text[: first_non_gsm.start()] if first_non_gsm else text
        return _layout(gsm_text[: _prefix_end(gsm_text, Encoding.GSM7, max_parts)], Encoding.GSM7)
    return cut


# --- STOP mention ---


def _with_mention(body: str, mention: str) -> str:
    if not body or body[-1].isspace():
        return body + mention
    return f"{body} {mention}"


def _mention_if_no_extra_part(body: str, mention: str, choose: _Chooser, max_parts: int | None) -> TextAnalysis:
    """stop_mode 1: the mention is added only if it costs no extra part.

    Compared with the body as it would be sent (already cut to `max_parts`), so a mention is never added
    only to be cut away by the truncation.
    """
    without = _fit(body, choose, max_parts)
    candidate = _with_mention(body, mention)
    with_mention = _layout(candidate, choose(candidate))
    return with_mention if with_mention.segments <= without.segments else without


def _mention_always(body: str, mention: str, choose: _Chooser, max_parts: int | None) -> TextAnalysis:
    """stop_mode 2: the mention is always added; if parts are limited, the body is cut, not the mention.

    Binary search on the body length is sound because the part count of body[:k] + mention never decreases
    with k: a longer candidate only adds characters (or turns the separating space into the body's own
    whitespace, which costs at least as much), and greedy filling gives the minimal part count, which cannot
    shrink when characters are added or made dearer; the automatic encoding can only move from GSM-7 to UCS-2.
    """
    full = _with_mention(body, mention)
    full_analysis = _layout(full, choose(full))
    if max_parts is None or full_analysis.segments <= max_parts:
        return full_analysis

    def fits(kept: int) -> TextAnalysis | None:
        candidate = _with_mention(body[:kept], mention)
        analysis = _layout(candidate, choose(candidate))
        return analysis if analysis.segments <= max_parts else None

    best = fits(0)
    if best is None:
        # The mention alone exceeds the limit: nothing better than cutting the whole text.
        return _fit(full, choose, max_parts)
    low, high = 0, len(body)  # fits(low) holds; fits(high) does not (the full text did not fit)
    while high - low > 1:
        middle = (low + high) // 2
        analysis = fits(middle)
        if analysis is None:
            high = middle
        else:
            low, best = middle, analysis
    return best


# --- Public API ---


def is_gsm(text: str) -> bool:
    """Whether every character is in the GSM 03.38 basic or extension table."""
    return _NOT_GSM.search(text) is None


def gsm_septets(text: str) -> int | None:
    """Septets needed in GSM-7 (extension characters cost two), or None if some character is not GSM."""
    if _NOT_GSM.search(text) is not None:
        return None
    return len(text) + len(_EXTENSION.findall(text))


def _check_arguments(classe: int, max_parts: int | None, stop_mode: int) -> None:
    if classe not in _CLASSES:
        raise ValueError(f"classe must be 2, 4 or 9, not {classe!r}")
    if max_parts is not None and not 1 <= max_parts <= _MAX_PARTS_LIMIT:
        raise ValueError(f"max_parts must be between 1 and {_MAX_PARTS_LIMIT}, not {max_parts!r}")
    if stop_mode not in (0, 1, 2):
        raise ValueError(f"stop_mode must be 0, 1 or 2, not {stop_mode!r}")


def analyze(
    text: str,
    *,
    classe: int = 2,
    non_gsm: NonGsmPolicy | str = NonGsmPolicy.REPLACE,
    max_parts: int | None = None,
    stop_mention: str | None = None,
    stop_mode: int = 0,
) -> TextAnalysis:
    """The text as it would be sent, with its encoding and parts.

    `classe` follows smsmode: 2 and 4 are GSM-7 with the `non_gsm` policy applied (the policy or its string
    value, as a configuration or a request carries it), 9 is always UCS-2.
    `max_parts` cuts the end of the text so that it fits; `stop_mention` is added according to `stop_mode`
    (0 never, 1 if it costs no extra part, 2 always, cutting the body rather than the mention) and goes
    through the same character policy as the body.
    """
    _check_arguments(classe, max_parts, stop_mode)
    policy = non_gsm if type(non_gsm) is NonGsmPolicy else NonGsmPolicy(non_gsm)
    mention = stop_mention if stop_mode and stop_mention else ""
    choose: _Chooser
    if classe == _UCS2_CLASS:
        body, choose = text, _always_ucs2
    elif policy is NonGsmPolicy.UCS2:
        body, choose = text, _automatic
    else:
        body, choose = _to_gsm(text, policy), _always_gsm7
        mention = _to_gsm(mention, policy) if mention else ""
    if not mention:
        if choose is not _always_ucs2 and _NOT_BASIC.search(body) is None:  # GSM-7 in either case
            found = _basic_layout(body, max_parts)
            if found is not None:
                return found
        return _fit(body, choose, max_parts)
    if stop_mode == 1:
        return _mention_if_no_extra_part(body, mention, choose, max_parts)
    return _mention_always(body, mention, choose, max_parts)
