"""What accepting a voice send adds to accepting an SMS (`martinet.services.accept`).

A voice send goes through the same service, transaction, queue and reports as an SMS; this module holds only
its differences: its own parameters (title, language), its text rules (at most 160 characters, one call
whatever the characters) and its price (per call: the price table's voice channel, `voice` of a zone or a line
of `[voice]`, see docs/pricing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from martinet.domain.credits import to_milli
from martinet.domain.pricing import PriceTable
from martinet.domain.text import TextAnalysis
from martinet.domain.valueclass import valueclass
from martinet.domain.voice import (
    DEFAULT_LANGUAGE,
    SMS,
    VOICE,
    language_of,
    title_for,
    voice_analysis,
    voice_problem,
)


class VoiceParameterError(ValueError):
    """A voice parameter the rules refuse (`name` the smsmode parameter)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@valueclass
class VoiceRequest:
    """The voice part of a `SendRequest`: None fields take the platform's defaults."""

    title: str | None = None
    language: str | None = None


@dataclass(slots=True)
class VoiceRules:
    """The platform's voice settings the send service applies: prices, and the name the default title says."""

    prices: PriceTable  # its voice channel: credits per call
    platform: str = "Martinet"
    #: Whether a SIP trunk is configured: without one, a call could never be placed, and a voice message would
    #: only wait, charged, until its validity ends; only test-mode accounts (the sandbox "listens") may send then.
    trunks: bool = True
    _milli: dict[str, int | None] = field(default_factory=dict)

    def price_milli(self, country: str) -> int | None:
        if country not in self._milli:
            price = self.prices.quote(country, channel="voice").price
            self._milli[country] = None if price is None else to_milli(price)
        return self._milli[country]


def analysis(text: str, request: VoiceRequest, rules: VoiceRules | None, *, sandbox: bool = False) -> TextAnalysis:
    """The text of a voice send as stored and reported; raises VoiceParameterError for what the rules refuse.

    `sandbox`: the account is in test mode, its calls are pretended by the sandbox and need no trunk."""
    if rules is None or not (rules.trunks or sandbox):
        raise VoiceParameterError("text", "voice messages are not open on this platform")
    problem = voice_problem(text, request.title, request.language)
    if problem is not None:
        raise VoiceParameterError(*problem)
    return voice_analysis(text)


def columns(request: VoiceRequest | None, rules: VoiceRules | None) -> tuple[str, str | None, str | None]:
    """The channel of a send, and for a voice send the title and language it is read with."""
    if request is None:
        return SMS, None, None
    language = language_of(request.language or DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE  # as `analysis` let it by
    platform = rules.platform if rules is not None else "Martinet"
    title = request.title if request.title is not None else title_for(platform, language)
    return VOICE, title, language
