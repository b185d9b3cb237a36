"""Voice messages ("SMS vocal"): the rules that need no I/O.

A voice message is a send like any other (one send, one message per recipient, the same queue, lanes, validity,
cancellation, reports and callbacks) whose channel is `voice`: the text is read aloud by a synthetic voice in a
phone call instead of being sent as SMS parts. It is one "part" (one call) whatever its length, priced per call.

This module says what a voice send may contain, how the text is turned into what the synthesiser reads (codes
read digit by digit, the title first, the message repeated), and which statuses report a call.
"""

from __future__ import annotations

import re
from typing import Final

from martinet.domain.text import GSM_BASIC, Encoding, TextAnalysis
from martinet.domain.valueclass import valueclass

#: The channel of an SMS send (the default) and of a voice send, as stored in `sends.channel`.
SMS: Final = "sms"
VOICE: Final = "voice"
CHANNELS: Final = (SMS, VOICE)

#: Languages a voice message may be read in (smsmode's list), the first being the default.
LANGUAGES: Final = ("fr-FR", "en-GB", "de-DE", "es-ES")
DEFAULT_LANGUAGE: Final = "fr-FR"

#: How clients write those languages → the one each names: language tags are case-insensitive (RFC 5646), Java's
#: `Locale.toString()` writes `fr_FR`, and a language alone (`fr`) names the one listed for it.
_LANGUAGE_OF: Final = {
    **{language.split("-")[0].lower(): language for language in LANGUAGES},
    **{language.lower(): language for language in LANGUAGES},
}


def language_of(tag: str) -> str | None:
    """The listed language `tag` names (`fr-fr`, `FR_fr` and `fr` are `fr-FR`), or None for any other."""
    return _LANGUAGE_OF.get(tag.strip().replace("_", "-").lower())


#: The longest text smsmode reads in one call.
MAX_TEXT: Final = 160
#: The longest title: it is read before every message, so it stays short.
MAX_TITLE: Final = 100

#: Statuses of a call (docs/voice.md, docs/compatibility.md).
LISTENED: Final = 16  # answered and played to the end
PARTLY_LISTENED: Final = 17  # answered, hung up before the end (a code of Martinet's own)
BUSY: Final = 50  # busy on every attempt ("not delivered")
NO_ANSWER: Final = 3522  # rang without an answer, or unavailable, on every attempt ("subscriber absent")
DECLINED: Final = 22  # the callee (or its network) declined the call ("rejected")
NOT_REACHABLE: Final = 21  # the number does not exist for the trunk ("not deliverable")
CALL_FAILED: Final = 3521  # the trunk failed (5xx, no answer from it, no G.711 in its answer): "operator error"
#: Soft codes of an attempt that will be tried again (its row in the history names the SIP code).
RETRY_BUSY: Final = 3502
RETRY_OTHER: Final = 3501
#: The code of a call being placed (each attempt starts with it, so every attempt is a row of the history).
CALLING: Final = 1


@valueclass
class VoiceOptions:
    """What a voice send adds to a send: the title read first and the language of the reading."""

    title: str
    language: str = DEFAULT_LANGUAGE


@valueclass
class Spoken:
    """How a voice message's text is read: the title read first, and the language."""

    title: str
    language: str


def title_for(platform: str, language: str) -> str:
    """The default title: an introduction naming the platform, in the language of the message."""
    return {
        "fr-FR": f"Bonjour, ceci est un message de {platform}.",
        "en-GB": f"Hello, this is a message from {platform}.",
        "de-DE": f"Guten Tag, dies ist eine Nachricht von {platform}.",
        "es-ES": f"Hola, este es un mensaje de {platform}.",
    }.get(language, f"{platform}.")


def voice_problem(text: str, title: str | None, language: str | None) -> tuple[str, str] | None:
    """(parameter, problem) for a voice send the rules refuse, else None."""
    if len(text) > MAX_TEXT:
        return "text", f"longer than {MAX_TEXT} characters"
    if title is not None and len(title) > MAX_TITLE:
        return "title", f"longer than {MAX_TITLE} characters"
    if language is not None and language_of(language) is None:
        return "language", "must be one of " + ", ".join(LANGUAGES)
    return None


def voice_analysis(text: str) -> TextAnalysis:
    """A voice text as the send service reports it: one part (one call), whatever its characters."""
    encoding = Encoding.GSM7 if all(c in GSM_BASIC for c in text) else Encoding.UCS2
    return TextAnalysis(text, encoding, 1, len(text), len(text), (text,))


# A group of digits that looks like a code (4 to 12 digits, maybe split by spaces or dashes, like "123 456"):
# read one digit at a time, as people dictate codes, rather than as a number in the thousands.
_CODE: Final = re.compile(r"(?<![\w])\d(?:[ \-.]?\d){3,11}(?![\w])")


def spell_codes(text: str) -> str:
    """The text with every code-like group of digits written as separate digits ("1234" → "1, 2, 3, 4")."""

    def spelled(match: re.Match[str]) -> str:
        return ", ".join(c for c in match.group(0) if c.isdigit())

    return _CODE.sub(spelled, text)


def script(title: str, text: str, repeat: int) -> str:
    """What the synthesiser reads: the title, then the message `repeat` times, codes spelled out."""
    body = spell_codes(text.strip())
    parts = [title.strip()] if title.strip() else []
    parts.extend([body] * max(1, repeat))
    return " ... ".join(parts)
