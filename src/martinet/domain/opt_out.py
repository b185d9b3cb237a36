"""Recognising a request to stop receiving messages in a reply.

Recipients answer "STOP", "Stop SMS", "arrêt", "ARRET !", "unsubscribe"… The text is compared after removing
accents, case, punctuation and extra spaces, and must be a keyword on its own (a reply that merely contains
"stop" in a sentence is a reply, not an opt-out).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Keywords recognised by default (French and English), compared in their normalised form.
DEFAULT_KEYWORDS = (
    "STOP",
    "STOP SMS",
    "STOPSMS",
    "ARRET",
    "ARRETER",
    "DESABONNER",
    "DESINSCRIPTION",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
)

_NOT_WORD = re.compile(r"[^A-Z0-9]+")


def normalise(text: str) -> str:
    """Upper case, no accents, punctuation and runs of spaces as one space, trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", stripped.upper()).strip()


class StopKeywords:
    def __init__(self, keywords: Iterable[str] = DEFAULT_KEYWORDS) -> None:
        self._keywords = frozenset(normalise(k) for k in keywords if normalise(k))

    def matches(self, text: str) -> bool:
        return normalise(text) in self._keywords
