"""The smsmode door answers in French: the problems the rules report in English are all translated there.

Every problem the rules and the door raise as a literal (`InvalidParameter(name, "…")`, `InvalidField(name,
"…")` in the source of the services, the domain and this door) has its French; so do those with a number or a name
in them, by example.

The callback URL's problems are composed from parts (`martinet.domain.webhooks`): every kind of refused address
the domain knows, in every way a host can stand for one, reads as French; an English word left in an answer
means a kind of address or a URL problem the door does not know in French yet.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from pathlib import Path

import pytest

import martinet
from martinet.api.legacy.answers import invalid_parameter
from martinet.domain.webhooks import _SPECIAL, url_problem
from martinet.services.callback_urls import host_problem

#: Words of the English problems that French ones never contain.
ENGLISH = re.compile(r"\b(is|an?|address|means|carries|refused|only|without|host|invalid|Port|out of range)\b")


def french(problem: str) -> str:
    answer = invalid_parameter("notification_url", problem, "fr")
    prefix = "35 | Paramètre invalide : notification_url ("
    assert answer.startswith(prefix) and answer.endswith(")"), answer
    return answer[len(prefix) : -1]


def _first_host(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(network.network_address + 1)


HOSTS = [
    *(_first_host(network) for ranges in _SPECIAL.values() for network, _ in ranges),
    "127.0.0.1",
    "0.0.0.0",
    "169.254.1.1",
    "224.0.0.1",
    "::",
    "::1",
    "fe80::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "2002:a00:1::",
    "64:ff9b::a00:1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "localhost",
    "127.1",
    "0x7f.1",
    "shop.localhost.",
]


@pytest.mark.parametrize("host", HOSTS)
def test_every_refused_address_reads_as_french(host: str) -> None:
    problem = host_problem(host)
    assert problem is not None, host
    answer = french(problem)
    assert not ENGLISH.search(answer), (problem, answer)
    assert "une adresse " in answer, answer


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("javascript:alert(1)", "schéma 'javascript' refusé : http et https seulement"),
        ("ftp://files.example/x", "schéma 'ftp' refusé : http et https seulement"),
        ("http://", "URL sans hôte"),
        ("http://shop.example:99999/dlr", "URL invalide : port hors de 0 à 65535"),
        ("http://shop.example:web/dlr", "URL invalide : port non numérique 'web'"),
        ("http://[::1/dlr", "URL invalide : adresse IPv6 mal écrite"),
        ("https://shop example.com/dlr", "nom d'hôte invalide 'shop example.com'"),
        (
            "https://shop\texample.com/dlr",
            "une URL ne peut contenir de caractère de contrôle (saut de ligne, tabulation)",
        ),
        ("https://shop<example>.com/dlr", "nom d'hôte invalide 'shop<example>.com'"),
        ("https://shop..example.com/dlr", "nom d'hôte invalide 'shop..example.com'"),
        (f"https://{'a' * 64}.example/dlr", f"nom d'hôte invalide '{'a' * 64}.example'"),
    ],
)
def test_a_url_that_is_no_callback_url_reads_as_french(url: str, expected: str) -> None:
    problem = url_problem(url)
    assert problem is not None, url
    assert french(problem) == expected


def test_how_a_host_stands_for_its_address_is_said() -> None:
    assert (
        french(host_problem("localhost") or "") == "localhost désigne 127.0.0.1 : 127.0.0.1 est une adresse de bouclage"
    )
    assert french(host_problem("::ffff:10.0.0.1") or "") == (
        "::ffff:a00:1 mène à 10.0.0.1 (IPv4-mapped), une adresse privée (10.0.0.0/8)"
    )
    assert invalid_parameter("notification_url", "10.0.0.1 is a private address", "en") == (
        "35 | Invalid parameter: notification_url (10.0.0.1 is a private address)"
    )


#: The folders whose refusals reach the smsmode door (the REST door, the console and the CLI answer in English
#: or through their own tables).
_SOURCES = ("services", "domain", "api/legacy")


#: The exceptions that carry a problem as their second argument (the parameter or field first).
_RAISING = ("InvalidParameter", "InvalidField")


def _literal_problems() -> list[str]:
    root = Path(martinet.__file__).parent
    problems = set()
    for folder in _SOURCES:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or len(node.args) < 2:
                    continue
                called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                problem = node.args[1]
                if called in _RAISING and isinstance(problem, ast.Constant) and isinstance(problem.value, str):
                    problems.add(problem.value)
    return sorted(problems)


def test_the_scan_finds_the_rules_problems() -> None:
    found = _literal_problems()
    assert {"expected ddMMyyyy-HH:mm", "must not be negative"} <= set(found) and len(found) >= 20


@pytest.mark.parametrize("problem", _literal_problems())
def test_every_literal_problem_has_its_french(problem: str) -> None:
    assert invalid_parameter("x", problem, "fr") != f"35 | Paramètre invalide : x ({problem})", problem


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("must be between 1 and 10000", "doit être compris entre 1 et 10000"),
        ("more than 365 days ahead", "plus de 365 jours à l'avance"),
        ("longer than 2000 characters", "plus de 2000 caractères"),
        ("more than 300 recipients", "plus de 300 destinataires (utilisez POST)"),
        ("unknown group clients", "groupe inconnu clients"),
        ("a whole number of credits, 1 to 1000", "un nombre entier de crédits, de 1 à 1000"),
        ("line 3: unknown column 'nom'", "ligne 3 : colonne inconnue 'nom'"),
        ("line 2: 2 fields for 3 columns", "ligne 2 : 2 champs pour 3 colonnes"),
        ("unknown lane 'sms' (otp, notification or marketing)", "voie inconnue 'sms' (otp, notification ou marketing)"),
        ("not a two-letter country code: 'FRANCE'", "pas un code pays de deux lettres : 'FRANCE'"),
        (
            "not a country code numbers belong to: 'UK' (ISO 3166 alpha-2, GB, FR…)",
            "pas un code pays auquel appartiennent des numéros : 'UK' (ISO 3166 alpha-2, GB, FR…)",
        ),
        ("at most 366 days after from", "au plus 366 jours après from"),
        ("this key may not give lane marketing", "cette clé ne peut pas donner la voie marketing"),
        ("10.0.0.0/8 is outside the networks of this key", "10.0.0.0/8 est hors des réseaux de cette clé"),
        ("'age' is not one of nom, prenom", "'age' n'est pas l'un des champs nom, prenom"),
        # An account's settings (`InvalidAccountSetting.problem`), as the console's French pages show them.
        (
            "must be a number of sends per second from 0 to 1,000,000 (0 = unlimited)",
            "doit être un nombre d'envois par seconde de 0 à 1 000 000 (0 = sans limite)",
        ),
        ("must be one of otp, notification, marketing", "doit être l'une des valeurs otp, notification, marketing"),
        ("expected one of all, final, not 'some'", "attendu : l'une des valeurs all, final, pas 'some'"),
    ],
)
def test_problems_with_a_number_or_a_name_read_as_french(problem: str, expected: str) -> None:
    assert invalid_parameter("x", problem, "fr") == f"35 | Paramètre invalide : x ({expected})"
