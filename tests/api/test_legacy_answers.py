"""The smsmode door answers in French: the problems the rules report in English are all translated there.

The callback URL's problems are composed from parts (`martinet.domain.webhooks`): every kind of refused address
the domain knows, in every way a host can stand for one, reads as French; an English word left in an answer
means a kind of address or a URL problem the door does not know in French yet.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

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
