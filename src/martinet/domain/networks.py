"""Mobile networks of every country (MCC+MNC, brand) from a maintained data set, matched to range holders.

libphonenumber names the operator a block of numbers was assigned to (the range holder: "Orange France",
"Vodafone", "MTN"), but routes, carriers and delivery reports speak of networks by their MCC+MNC (ITU-T E.212:
20801). Keeping that correspondence by hand for 200 countries is not work anybody keeps up, so it comes from
the ``mcc-mnc-p1`` package, whose tables (``mcc_mnc_lut/p1_mnc.json``: MCC+MNC → brand, operator, countries)
are rebuilt upstream from the ITU-T lists and Wikipedia. Its licence is the AGPL, so it is an optional
dependency (``martinet[operators]``): without it only the hand-kept table (``data/operators.toml``) answers.

A range holder is matched to a network of its own country by name: the same spelling first ("SFR" = "SFR"),
then the same significant words ("Free Mobile" = "Free"), then the same first significant word ("Orange
France" ≈ "Orange"); among equals, an operating network before a reserved code, the lowest code first. The
hand-kept table always wins, for the names this guess gets wrong.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Final

from martinet.domain.valueclass import valueclass

__all__ = ["DATASET_PACKAGE", "NetworkDataset", "NetworkEntry", "load_network_dataset", "name_words"]

#: The package whose tables are read (import name); ``pip install martinet[operators]`` installs it.
DATASET_PACKAGE: Final[str] = "mcc_mnc_lut"
_MCCMNC: Final[re.Pattern[str]] = re.compile(r"[0-9]{5,6}")
_WORD: Final[re.Pattern[str]] = re.compile(r"[^a-z0-9]+")

# Words that say what kind of company a name is, not which one: "Free Mobile" is "Free", "MTN Nigeria
# Communications Ltd" is "MTN".
_NOISE: Final[frozenset[str]] = frozenset([
    "mobile", "mobiles", "mobil", "movil", "movel", "telecom", "telecoms", "telecommunications",
    "telecommunication", "telekom", "telecomunicaciones", "telecomunicacoes", "telecomunicazioni", "telekomunikasi",
    "communications", "communication", "wireless", "cellular", "cell", "gsm", "networks", "network", "telephone",
    "telephones", "company", "co", "corporation", "corp", "group", "holdings", "holding", "international",
    "services", "service", "operator", "the", "de", "of", "and", "ltd", "limited", "sa", "sas", "sarl", "inc",
    "llc", "plc", "ag", "gmbh", "as", "ab", "spa", "srl", "bv", "nv", "se", "pty", "pte", "jsc", "ojsc", "cjsc",
    "pjsc", "ooo", "zao", "oao", "tbk", "pt", "public",
])  # fmt: skip


def name_words(name: str) -> tuple[str, ...]:
    """The lower-case ASCII words of a name, accents removed."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return tuple(word for word in _WORD.split(ascii_name) if word)


def _significant(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(word for word in words if word not in _NOISE and len(word) > 1)


@valueclass
class NetworkEntry:
    """One network of the data set: its code, the name it is known by, the company, whether it operates."""

    mccmnc: str
    brand: str
    operator: str
    operating: bool

    @property
    def name(self) -> str:
        return self.brand or self.operator


class NetworkDataset:
    """Networks by country, and the matching of a range holder's name to one of them (memoised)."""

    def __init__(self, by_country: Mapping[str, Iterable[NetworkEntry]], source: str = "") -> None:
        self._by_country = MappingProxyType({c: tuple(entries) for c, entries in by_country.items()})
        self.source = source
        codes: dict[str, set[str]] = {}
        for entries in self._by_country.values():
            for entry in entries:
                for label in (entry.brand, entry.operator):
                    key = " ".join(name_words(label))
                    if key:
                        codes.setdefault(key, set()).add(entry.mccmnc)
        self._codes_by_name = MappingProxyType({name: frozenset(found) for name, found in codes.items()})
        self.match = lru_cache(maxsize=8192)(self._match)

    def countries(self) -> frozenset[str]:
        return frozenset(self._by_country)

    def networks(self, country: str) -> tuple[NetworkEntry, ...]:
        return self._by_country.get(country, ())

    def codes_named(self, name: str) -> frozenset[str]:
        """MCC+MNC of every network whose brand or company is spelt ``name`` (case and accents ignored)."""
        return self._codes_by_name.get(" ".join(name_words(name)), frozenset())

    def _match(self, country: str, holder: str) -> NetworkEntry | None:
        """The network of ``country`` the range holder ``holder`` runs, or None when no name fits."""
        whole = "".join(name_words(holder))
        core = _significant(name_words(holder))
        best: tuple[int, bool, str] | None = None
        found: NetworkEntry | None = None
        for entry in self._by_country.get(country, ()):
            for label in (entry.brand, entry.operator):
                if not label:
                    continue
                words = name_words(label)
                theirs = _significant(words)
                if "".join(words) == whole:
                    score = 3
                elif core and core == theirs:
                    score = 2
                elif core and theirs and core[0] == theirs[0]:
                    score = 1
                else:
                    continue
                # Higher score first, then an operating network, then the lowest code.
                rank = (-score, not entry.operating, entry.mccmnc)
                if best is None or rank < best:
                    best, found = rank, entry
        return found


def parse_network_dataset(data: object, source: str = "") -> NetworkDataset:
    """Read ``p1_mnc.json`` as decoded: ``[metadata, {mccmnc: entry or [entries]}]``; odd entries are skipped."""
    table = data[1] if isinstance(data, list) and len(data) == 2 else data
    if not isinstance(table, Mapping):
        raise ValueError("network data set: expected a table of MCC+MNC codes")
    by_country: dict[str, list[NetworkEntry]] = {}
    for code, value in table.items():
        if not isinstance(code, str) or _MCCMNC.fullmatch(code) is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, Mapping):
                continue
            brand, operator = str(item.get("brand") or "").strip(), str(item.get("operator") or "").strip()
            countries = item.get("cc2s")
            if not (brand or operator) or not isinstance(countries, list):
                continue
            entry = NetworkEntry(code, brand, operator, bool(item.get("ope")))
            for country in countries:
                if isinstance(country, str) and len(country) == 2:
                    by_country.setdefault(country.upper(), []).append(entry)
    return NetworkDataset(by_country, source)


@lru_cache(maxsize=1)
def load_network_dataset() -> NetworkDataset | None:
    """The installed data set, or None when ``mcc-mnc-p1`` is not installed (the hand-kept table only).

    Read once per process (half a second) and shared: the data set is immutable.
    """
    try:
        resource = files(DATASET_PACKAGE) / "p1_mnc.json"
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return parse_network_dataset(json.loads(raw), source=f"mcc-mnc-p1 ({DATASET_PACKAGE}/p1_mnc.json)")
