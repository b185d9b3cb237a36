"""Voice rules without I/O: what the synthesiser reads, voice prices, the G.711 laws."""

from __future__ import annotations

import array
import math

import pytest

from martinet.domain.pricing import load_default_price_table, parse_price_table
from martinet.domain.voice import language_of, script, spell_codes, voice_analysis, voice_problem
from martinet.services.voice_sends import VoiceRequest, VoiceRules, columns
from martinet.voice import g711

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Votre code est 482913.", "Votre code est 4, 8, 2, 9, 1, 3."),
        ("Code: 123 456", "Code: 1, 2, 3, 4, 5, 6"),
        ("Rendez-vous à 14h le 3 mai", "Rendez-vous à 14h le 3 mai"),  # short numbers are read as numbers
        ("Commande A1234B", "Commande A1234B"),  # digits inside a word are not a code
        ("Appelez le 01-45-67-89-01", "Appelez le 0, 1, 4, 5, 6, 7, 8, 9, 0, 1"),
    ],
)
def test_codes_are_spelled_digit_by_digit(text: str, spoken: str) -> None:
    assert spell_codes(text) == spoken


def test_the_script_reads_the_title_then_the_message_as_many_times_as_asked() -> None:
    assert script("Bonjour.", "Code 1234", 2) == "Bonjour. ... Code 1, 2, 3, 4 ... Code 1, 2, 3, 4"
    assert script("", "Salut", 1) == "Salut"


def test_the_default_title_names_the_configured_platform_in_the_messages_language() -> None:
    rules = VoiceRules(load_default_price_table(), platform="Acme Alertes")
    assert columns(VoiceRequest(), rules) == ("voice", "Bonjour, ceci est un message de Acme Alertes.", "fr-FR")
    assert columns(VoiceRequest(language="de-DE"), rules)[1] == "Guten Tag, dies ist eine Nachricht von Acme Alertes."
    assert columns(VoiceRequest(title="", language="es-ES"), rules) == ("voice", "", "es-ES")  # no title read
    assert columns(VoiceRequest(title="", language="en_gb"), rules) == ("voice", "", "en-GB")  # stored as listed
    assert columns(None, rules) == ("sms", None, None)


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("fr-FR", "fr-FR"),
        ("en-gb", "en-GB"),
        ("DE-de", "de-DE"),
        ("es_ES", "es-ES"),
        (" fr ", "fr-FR"),
        ("en", "en-GB"),
    ],
)
def test_a_language_is_read_as_clients_write_it(tag: str, language: str) -> None:
    """Any case (RFC 5646), Java's `fr_FR`, or the language alone."""
    assert language_of(tag) == language and voice_problem("x", None, tag) is None


@pytest.mark.parametrize("tag", ["it-IT", "en-US", "fr-", "", "fr-FR-x", "english"])
def test_a_language_not_listed_is_refused(tag: str) -> None:
    assert language_of(tag) is None
    assert tag == "" or voice_problem("x", None, tag) == ("language", "must be one of fr-FR, en-GB, de-DE, es-ES")


def test_voice_texts_are_one_call_and_bounded() -> None:
    analysis = voice_analysis("Ünïcode ✓ " * 10)
    assert (analysis.segments, analysis.parts) == (1, ("Ünïcode ✓ " * 10,))
    assert voice_problem("x" * 161, None, None) == ("text", "longer than 160 characters")
    assert voice_problem("x", None, "it-IT") is not None and voice_problem("x", None, "it-IT")[0] == "language"
    assert voice_problem("x" * 160, "Titre", "en-GB") is None


def test_voice_prices_per_call_come_from_the_price_tables_voice_channel() -> None:
    table = parse_price_table(
        {
            "zones": {
                "europe": {"sms": "2", "voice": "5", "countries": ["BE", "DE"]},
                "rest": {"sms": "3", "default": True},
            },
            "prices": {"FR": "1"},
            "voice": {"BE": "7.5"},
        }
    )
    rules = VoiceRules(table)
    assert rules.price_milli("BE") == 7500  # its own [voice] line
    assert rules.price_milli("DE") == 5000  # its zone's voice price
    assert rules.price_milli("FR") is None  # a [prices] line prices SMS only, and the default zone has no voice
    assert rules.price_milli("US") is None
    assert VoiceRules(load_default_price_table()).price_milli("FR") == 1500


def test_g711_laws_match_the_reference_values_and_round_trip_within_their_step() -> None:
    # ITU-T G.711: silence is 0xD5 in A-law and 0xFF in µ-law; full scale saturates.
    silence = array.array("h", [0, 32767, -32768]).tobytes()
    assert g711.encode(silence, "PCMA") == bytes([0xD5, 0xAA, 0x2A])
    assert g711.encode(silence, "PCMU") == bytes([0xFF, 0x80, 0x00])
    tone = array.array("h", (int(12000 * math.sin(i / 8)) for i in range(800)))
    for law in ("PCMA", "PCMU"):
        back = array.array("h")
        back.frombytes(g711.decode(g711.encode(tone.tobytes(), law), law))  # type: ignore[arg-type]
        assert all(abs(a - b) <= max(16, abs(a) // 16) for a, b in zip(tone, back, strict=True))
