"""Tests of the SMS text rules: conformance vectors, boundaries, policies, truncation, STOP mention."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import gsmcodecs  # noqa: F401  (registers the "gsm23.038" codec used as an independent septet counter)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.domain.text import (
    _TRANSLITERATIONS,
    GSM_BASIC,
    GSM_CHARACTERS,
    GSM_EXTENSION,
    Encoding,
    NonGsmPolicy,
    TextAnalysis,
    _always_gsm7,
    _automatic,
    _fit,
    _to_gsm,
    analyze,
    gsm_septets,
    is_gsm,
)

pytestmark = pytest.mark.unit

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "segments_vectors.json"
STOP = "STOP 36180"
SINGLE = {Encoding.GSM7: 160, Encoding.UCS2: 70}
MULTI = {Encoding.GSM7: 153, Encoding.UCS2: 67}


def cost(part: str, encoding: Encoding) -> int:
    """Units counted by the codecs themselves, independently of the module under test."""
    if encoding is Encoding.GSM7:
        return len(part.encode("gsm23.038"))
    return len(part.encode("utf-16-be")) // 2


def capacity(analysis: TextAnalysis) -> int:
    table = SINGLE if analysis.segments == 1 else MULTI
    return table[analysis.encoding]


def auto(text: str, **options: Any) -> TextAnalysis:
    return analyze(text, classe=2, non_gsm=NonGsmPolicy.UCS2, **options)


# --- Conformance vectors ---


def _vector_params() -> list[Any]:
    if not VECTORS.is_file():
        return [pytest.param(None, id="vectors-missing")]
    records = json.loads(VECTORS.read_text(encoding="utf-8"))
    params = []
    for index, record in enumerate(records):
        name = record.get("test") or record["source"].split()[0]
        params.append(pytest.param(record, id=f"{index:02d}-{name}"))
    return params


@pytest.mark.parametrize("record", _vector_params())
def test_conformance_vector(record: dict[str, Any] | None) -> None:
    if record is None:
        pytest.skip(f"conformance vectors not found at {VECTORS}")
    analysis = auto(record["text"])
    assert analysis.text == record["text"]
    assert analysis.encoding == record["encoding"]
    assert analysis.segments == record["segments"]
    # Optional fields, checked where the source gives them.
    if "units" in record:
        assert analysis.units == record["units"]
    if "unicode_scalars" in record:
        assert analysis.characters == record["unicode_scalars"]
    if "message_bits" in record:
        bits_per_unit = 7 if analysis.encoding is Encoding.GSM7 else 16
        assert analysis.units * bits_per_unit == record["message_bits"]
    for key in ("septets_available_in_last_segment", "units_available_in_last_segment"):
        if key in record:
            left = capacity(analysis) - cost(analysis.parts[-1], analysis.encoding)
            assert left == record[key]
    if "chars_per_segment" in record:
        assert capacity(analysis) == record["chars_per_segment"]


# --- Alphabet ---


def test_alphabet_comes_from_gsm_03_38() -> None:
    assert len(GSM_BASIC) == 127  # 128 positions, minus the escape
    assert "Ç" in GSM_BASIC and "ç" not in GSM_CHARACTERS
    assert {
        "@",
        "£",
        "$",
        "¥",
        "è",
        "é",
        "Δ",
        "_",
        "ß",
        "É",
        "¤",
        "¡",
        "§",
        "¿",
        "à",
        "\n",
        "\r",
    } <= GSM_BASIC
    assert set("^{}[]~\\|€\f") == GSM_EXTENSION
    assert " " in GSM_BASIC and " " not in GSM_EXTENSION
    assert "`" not in GSM_CHARACTERS


def test_is_gsm_and_septets() -> None:
    assert is_gsm("")
    assert is_gsm("Hello @£$¥ ÇØøÅå ΔΦΓΛΩΠΨΣΘΞ {}[]~\\|^€\f")
    assert not is_gsm("ê")
    assert not is_gsm("`")
    assert not is_gsm("a😀")
    assert gsm_septets("") == 0
    assert gsm_septets("abc") == 3
    assert gsm_septets("€€") == 4
    assert gsm_septets("a{b}") == 6
    assert gsm_septets("aê") is None


# --- Boundaries ---


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm_boundaries(length: int, segments: int) -> None:
    analysis = analyze("a" * length)
    assert (analysis.encoding, analysis.segments, analysis.units) == (Encoding.GSM7, segments, length)


@pytest.mark.parametrize("parts", range(2, 11))
def test_gsm_153_per_part(parts: int) -> None:
    assert analyze("a" * (153 * parts)).segments == parts
    assert analyze("a" * (153 * parts + 1)).segments == parts + 1


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_boundaries(length: int, segments: int) -> None:
    analysis = auto("ж" * length)
    assert (analysis.encoding, analysis.segments, analysis.units) == (Encoding.UCS2, segments, length)


@pytest.mark.parametrize("parts", range(2, 11))
def test_ucs2_67_per_part(parts: int) -> None:
    assert auto("ж" * (67 * parts)).segments == parts
    assert auto("ж" * (67 * parts + 1)).segments == parts + 1


def test_extension_char_at_position_160() -> None:
    fits = analyze("a" * 158 + "€")
    assert (fits.segments, fits.units) == (1, 160)
    over = analyze("a" * 159 + "€")
    assert (over.segments, over.units) == (2, 161)


def test_extension_char_never_straddles_a_part_boundary() -> None:
    analysis = analyze("a" * 152 + "€" + "b" * 10)
    assert analysis.parts == ("a" * 152, "€" + "b" * 10)
    assert cost(analysis.parts[0], Encoding.GSM7) == 152


def test_escape_pairs_push_a_part() -> None:
    # 'a' + 76 euros = 153 septets; 77 euros would need 155.
    analysis = analyze("a" + "€" * 152)
    assert analysis.segments == 2
    assert analysis.parts[0] == "a" + "€" * 76


def test_emoji_across_the_67_boundary() -> None:
    analysis = auto("a" * 66 + "😀" + "b" * 10)
    assert analysis.encoding is Encoding.UCS2
    assert analysis.units == 78
    assert analysis.parts == ("a" * 66, "😀" + "b" * 10)


def test_emoji_at_the_single_part_limit() -> None:
    assert auto("a" * 68 + "😀").segments == 1
    assert auto("a" * 69 + "😀").segments == 2


def test_empty_text_is_one_segment() -> None:
    for analysis in (analyze(""), auto(""), analyze("", classe=9)):
        assert (analysis.segments, analysis.parts, analysis.units, analysis.characters) == (1, ("",), 0, 0)


def test_characters_and_units() -> None:
    analysis = auto("a€😀")
    assert (analysis.encoding, analysis.characters, analysis.units) == (Encoding.UCS2, 3, 4)
    analysis = analyze("a€{")
    assert (analysis.encoding, analysis.characters, analysis.units) == (Encoding.GSM7, 3, 5)


# --- Classes ---


def test_classe_9_is_always_ucs2() -> None:
    analysis = analyze("Hello", classe=9)
    assert (analysis.encoding, analysis.units, analysis.text) == (Encoding.UCS2, 5, "Hello")
    assert analyze("a" * 71, classe=9).segments == 2
    assert analyze("Prix ê 😀", classe=9).text == "Prix ê 😀"


def test_classe_4_behaves_like_2() -> None:
    assert analyze("Prix ê", classe=4) == analyze("Prix ê", classe=2)


@pytest.mark.parametrize("classe", [0, 1, 3, 5, 10])
def test_other_classes_are_refused(classe: int) -> None:
    with pytest.raises(ValueError, match="classe"):
        analyze("x", classe=classe)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        analyze("x", max_parts=0)
    with pytest.raises(ValueError, match="stop_mode"):
        analyze("x", stop_mode=3)
    with pytest.raises(ValueError):
        analyze("x", non_gsm="drop")


def test_policy_accepts_its_string_value() -> None:
    assert analyze("ê", non_gsm="ucs2").encoding is Encoding.UCS2


# --- Characters outside GSM ---


def test_replace_is_the_default() -> None:
    analysis = analyze("Prix: 5€, crème brûlée 😀 ça")
    assert analysis.text == "Prix: 5€, crème br?lée ? ?a"
    assert analysis.encoding is Encoding.GSM7


def test_lone_surrogate_is_replaced_like_any_non_gsm_char() -> None:
    assert analyze("a\ud800b").text == "a?b"


def test_replace_turns_an_emoji_into_one_question_mark() -> None:
    assert analyze("😀🇫🇷").text == "???"  # the flag is two regional indicators


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("fête", "fete"),
        ("ça", "Ça"),
        ("Ça", "Ça"),
        ("cœur", "coeur"),
        ("Œuvre", "OEuvre"),
        ("l’été", "l'été"),
        ("‘a’", "'a'"),
        ("“cité”", '"cité"'),
        ("«\u00a0oui\u00a0»", '" oui "'),
        ("a – b — c", "a - b - c"),
        ("attendez…", "attendez..."),
        ("5\u00a0€", "5 €"),
        ("10\u202f000", "10 000"),
        ("prix 5€", "prix 5€"),
        ("À BIENTÔT", "A BIENTOT"),
        ("e\u0301te\u0301", "été"),
        ("ﬁn", "fin"),
        ("δ", "Δ"),
        ("zero\u200bwidth", "zerowidth"),
        ("❤️", "?"),
        ("ж 😀", "? ?"),
    ],
)
def test_transliterate(source: str, expected: str) -> None:
    analysis = analyze(source, non_gsm=NonGsmPolicy.TRANSLITERATE)
    assert analysis.text == expected
    assert analysis.encoding is Encoding.GSM7


def test_transliterate_keeps_gsm_text_untouched() -> None:
    text = "Éèéùìò ÇØø ÅåÆæß ÄÖÑÜ äöñüà ¿¡§ {[~]} €"
    assert analyze(text, non_gsm=NonGsmPolicy.TRANSLITERATE).text == text


def test_ucs2_policy_switches_the_whole_message() -> None:
    assert auto("Prix ê").encoding is Encoding.UCS2
    assert auto("Prix è").encoding is Encoding.GSM7
    assert auto("{€}").encoding is Encoding.GSM7


# --- Truncation ---


def test_no_truncation_when_it_fits() -> None:
    assert analyze("a" * 306, max_parts=2).text == "a" * 306
    assert analyze("a" * 160, max_parts=1).text == "a" * 160


@pytest.mark.parametrize(("max_parts", "kept"), [(1, 160), (2, 306), (3, 459), (10, 1530)])
def test_gsm_truncation(max_parts: int, kept: int) -> None:
    analysis = analyze("a" * 2000, max_parts=max_parts)
    assert analysis.text == "a" * kept
    assert analysis.segments == max_parts


def test_gsm_truncation_keeps_escape_pairs_whole() -> None:
    assert analyze("€" * 200, max_parts=1).text == "€" * 80
    assert analyze("a" + "€" * 200, max_parts=1).text == "a" + "€" * 79
    analysis = analyze("a" + "€" * 300, max_parts=2)
    assert analysis.text == "a" + "€" * 76 + "€" * 76
    assert analysis.units == 305


@pytest.mark.parametrize(("max_parts", "kept"), [(1, 70), (2, 134), (10, 670)])
def test_ucs2_truncation(max_parts: int, kept: int) -> None:
    analysis = auto("ж" * 1000, max_parts=max_parts)
    assert (analysis.text, analysis.encoding, analysis.segments) == ("ж" * kept, Encoding.UCS2, max_parts)


def test_ucs2_truncation_keeps_surrogate_pairs_whole() -> None:
    assert analyze("😀" * 50, classe=9, max_parts=1).text == "😀" * 35
    analysis = analyze("a" + "😀" * 50, classe=9, max_parts=1)
    assert analysis.text == "a" + "😀" * 34
    assert analysis.units == 69


def test_truncation_that_drops_every_non_gsm_char_goes_back_to_gsm7() -> None:
    analysis = auto("a" * 500 + "ж", max_parts=2)
    assert (analysis.text, analysis.encoding) == ("a" * 306, Encoding.GSM7)
    analysis = auto("a" * 200 + "ж" * 300, max_parts=2)
    assert (analysis.text, analysis.encoding) == ("a" * 200, Encoding.GSM7)


def test_truncation_keeps_non_gsm_text_when_it_reaches_it() -> None:
    analysis = auto("a" * 100 + "ж" * 300, max_parts=2)
    assert (analysis.text, analysis.encoding) == ("a" * 100 + "ж" * 34, Encoding.UCS2)


# --- STOP mention ---


def test_stop_mode_0_adds_nothing() -> None:
    assert analyze("Hello", stop_mention=STOP, stop_mode=0).text == "Hello"


def test_stop_mode_1_at_the_edge() -> None:
    added = analyze("a" * 149, stop_mention=STOP, stop_mode=1)
    assert (added.text, added.segments) == ("a" * 149 + " " + STOP, 1)
    refused = analyze("a" * 150, stop_mention=STOP, stop_mode=1)
    assert (refused.text, refused.segments) == ("a" * 150, 1)


def test_stop_mode_1_in_a_multipart_message() -> None:
    assert analyze("a" * 295, stop_mention=STOP, stop_mode=1).text.endswith(STOP)
    assert analyze("a" * 296, stop_mention=STOP, stop_mode=1).text == "a" * 296


def test_stop_mode_1_is_not_added_to_a_truncated_text() -> None:
    analysis = analyze("a" * 1000, max_parts=2, stop_mention=STOP, stop_mode=1)
    assert analysis.text == "a" * 306


def test_stop_mode_1_compares_with_the_body_in_its_own_encoding() -> None:
    # 100 GSM chars: 1 part in GSM-7; with a non-GSM mention, 2 parts in UCS-2: not added.
    analysis = auto("a" * 100, stop_mention="STOP ж", stop_mode=1)
    assert (analysis.text, analysis.encoding) == ("a" * 100, Encoding.GSM7)
    analysis = auto("a" * 50, stop_mention="STOP ж", stop_mode=1)
    assert (analysis.text, analysis.encoding) == ("a" * 50 + " STOP ж", Encoding.UCS2)


def test_stop_mode_2_always_adds() -> None:
    analysis = analyze("a" * 150, stop_mention=STOP, stop_mode=2)
    assert (analysis.text, analysis.segments) == ("a" * 150 + " " + STOP, 2)


@pytest.mark.parametrize(("max_parts", "body"), [(1, 149), (2, 295), (3, 448)])
def test_stop_mode_2_cuts_the_body_not_the_mention(max_parts: int, body: int) -> None:
    analysis = analyze("a" * 1000, max_parts=max_parts, stop_mention=STOP, stop_mode=2)
    assert analysis.text == "a" * body + " " + STOP
    assert analysis.segments == max_parts


def test_stop_mode_2_with_ucs2_truncation() -> None:
    analysis = auto("ж" * 1000, max_parts=1, stop_mention=STOP, stop_mode=2)
    assert analysis.text == "ж" * 59 + " " + STOP
    assert analysis.units == 70


def test_stop_mode_2_after_truncation_at_whitespace() -> None:
    # The cut lands right after a space: the mention follows it without a second space.
    body = "a" * 148 + " " + "b" * 100
    analysis = analyze(body, max_parts=1, stop_mention=STOP, stop_mode=2)
    assert analysis.text == "a" * 148 + " " + STOP


def test_stop_mode_2_with_a_mention_larger_than_allowed() -> None:
    analysis = analyze("Hello", max_parts=1, stop_mention="x" * 200, stop_mode=2)
    assert analysis.text == "Hello " + "x" * 154
    assert analysis.segments == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [("", STOP), ("Hi", "Hi " + STOP), ("Hi ", "Hi " + STOP), ("Hi\n", "Hi\n" + STOP)],
)
def test_mention_separator(body: str, expected: str) -> None:
    assert analyze(body, stop_mention=STOP, stop_mode=2).text == expected


def test_empty_or_missing_mention_adds_nothing() -> None:
    assert analyze("Hi", stop_mention="", stop_mode=2).text == "Hi"
    assert analyze("Hi", stop_mention=None, stop_mode=2).text == "Hi"


def test_mention_goes_through_the_policy() -> None:
    assert analyze("Hi", stop_mention="STOP ê", stop_mode=2).text == "Hi STOP ?"
    assert analyze("Hi", non_gsm=NonGsmPolicy.TRANSLITERATE, stop_mention="STOP ê", stop_mode=2).text == ("Hi STOP e")
    assert auto("Hi", stop_mention="STOP ê", stop_mode=2).encoding is Encoding.UCS2


# --- Properties ---

_ALPHABET = list("abcXYZ019 .,!?@\n") + sorted(GSM_EXTENSION) + list("éèçêœ’«»…\u00a0\u0301жΔδ😀🇫🇷❤️")
# Lone surrogates are excluded: they are not text (no UTF-16 encoder takes them); input validation's job.
_texts = st.text(alphabet=st.sampled_from(_ALPHABET) | st.characters(exclude_categories=["Cs"]), max_size=700)


@settings(max_examples=300, deadline=None)
@given(
    text=_texts,
    classe=st.sampled_from([2, 4, 9]),
    non_gsm=st.sampled_from(list(NonGsmPolicy)),
    max_parts=st.none() | st.integers(min_value=1, max_value=10),
    stop_mention=st.sampled_from([None, STOP, "STOP ж😀", "€ {stop}"]),
    stop_mode=st.sampled_from([0, 1, 2]),
)
def test_parts_are_well_formed(
    text: str,
    classe: int,
    non_gsm: NonGsmPolicy,
    max_parts: int | None,
    stop_mention: str | None,
    stop_mode: int,
) -> None:
    analysis = analyze(
        text,
        classe=classe,
        non_gsm=non_gsm,
        max_parts=max_parts,
        stop_mention=stop_mention,
        stop_mode=stop_mode,
    )
    encoding = analysis.encoding
    assert "".join(analysis.parts) == analysis.text
    assert analysis.segments == len(analysis.parts) >= 1
    assert analysis.characters == len(analysis.text)
    # Each part encodes on its own (no lone surrogate, no ESC pair cut in two) and fits its capacity;
    # the parts' costs add up to the whole, so nothing was split between two parts.
    costs = [cost(part, encoding) for part in analysis.parts]
    assert all(part_cost <= capacity(analysis) for part_cost in costs)
    assert sum(costs) == analysis.units == cost(analysis.text, encoding)
    # Greedy filling: every part but the last is full (its successor's first character did not fit).
    for part, following in zip(analysis.parts, analysis.parts[1:], strict=False):
        assert cost(part + following[0], encoding) > MULTI[encoding]
    if max_parts is not None:
        assert analysis.segments <= max_parts
    if classe == 9:
        assert encoding is Encoding.UCS2
    elif non_gsm is NonGsmPolicy.UCS2:
        assert (encoding is Encoding.GSM7) == is_gsm(analysis.text)
    else:
        assert encoding is Encoding.GSM7
    if stop_mode == 2 and stop_mention is not None:
        mention = analyze(stop_mention, classe=classe, non_gsm=non_gsm).text
        assert analysis.text.endswith(mention)
    untouched = classe == 9 or non_gsm is NonGsmPolicy.UCS2
    if untouched and max_parts is None and (stop_mode == 0 or stop_mention is None):
        assert analysis.text == text


@settings(max_examples=300, deadline=None)
@given(text=_texts)
def test_septets_agree_with_the_gsm_codec(text: str) -> None:
    assert is_gsm(text) == all(char in GSM_CHARACTERS for char in text)
    septets = gsm_septets(text)
    if septets is None:
        assert not is_gsm(text)
    else:
        assert septets == len(text.encode("gsm23.038"))


@settings(max_examples=200, deadline=None)
@given(text=_texts, policy=st.sampled_from([NonGsmPolicy.REPLACE, NonGsmPolicy.TRANSLITERATE]))
def test_gsm_policies_always_yield_gsm(text: str, policy: NonGsmPolicy) -> None:
    analysis = analyze(text, non_gsm=policy)
    assert is_gsm(analysis.text)
    if policy is NonGsmPolicy.REPLACE:
        assert len(analysis.text) == len(text)


def test_transliterations_are_all_gsm() -> None:
    assert all(is_gsm(value) for value in _TRANSLITERATIONS.values())
    assert not any(is_gsm(key) for key in _TRANSLITERATIONS)
    # The text is NFC-normalised before the table is consulted: a key that NFC changes would never match.
    assert all(unicodedata.is_normalized("NFC", key) for key in _TRANSLITERATIONS)


@settings(max_examples=300)
@given(
    st.text(alphabet=[*sorted(GSM_BASIC), *"êâœ°’\u0301"], min_size=1, max_size=30),
    st.integers(min_value=0, max_value=1300),
    st.sampled_from([2, 4]),
    st.sampled_from(list(NonGsmPolicy)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
)
def test_one_septet_texts_are_laid_out_as_by_the_general_filling(
    seed: str, length: int, classe: int, policy: NonGsmPolicy, max_parts: int | None
) -> None:
    """A text that is (or whose policy makes it) one-septet characters only takes a shorter path (plain slices):
    the same parts as greedy filling."""
    text = (seed * (length // len(seed) + 1))[:length]
    if policy is NonGsmPolicy.UCS2:
        expected = _fit(text, _automatic, max_parts)
    else:
        expected = _fit(_to_gsm(text, policy), _always_gsm7, max_parts)
    assert analyze(text, classe=classe, non_gsm=policy, max_parts=max_parts) == expected
