"""`martinet routes explain` as an operator runs it: the real command against a temporary configuration.

Also the adapter from the configuration to the router (`martinet.config.routes`), which the command uses:
what the default connectors are and how an entry without a tier is ranked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from martinet.config import load_settings
from martinet.config.routes import default_connectors, route_from_config, router_from_settings
from martinet.domain.routing import Destination
from tests.cli.support import martinet

CONNECTORS = """
[[connectors]]
name = "sandbox"
type = "sandbox"

[[connectors]]
name = "alpha"
type = "smpp"
host = "127.0.0.1"
system_id = "alpha"

[[connectors]]
name = "beta"
type = "smpp"
host = "127.0.0.1"
system_id = "beta"

[[connectors]]
name = "gamma"
type = "smpp"
host = "127.0.0.1"
system_id = "gamma"
"""

ROUTES = """
[[routes]]
name = "belgium"
countries = ["BE"]
connectors = ["beta"]

[[routes]]
name = "otp-orange"
operators = ["Orange"]
lanes = ["otp"]
connectors = [
    { name = "alpha", weight = 3, tier = 1 },
    { name = "beta", weight = 1, tier = 1 },
    { name = "gamma", tier = 2 },
]

[[routes]]
name = "bigco"
accounts = ["bigco"]
connectors = ["gamma", "alpha"]

[[routes]]
name = "france-cheapest"
countries = ["FR"]
least_cost = true
connectors = [{ name = "alpha", price = "0.032" }, { name = "beta", price = "0.029" }, "gamma"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "martinet.toml"
    path.write_text(CONNECTORS + ROUTES, encoding="utf-8")
    return path


def explain_json(config: Path, *args: str) -> dict[str, Any]:
    result = martinet("routes", "explain", *args, "--json", "--config", config, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


# --- the command --------------------------------------------------------------------------------------------


def test_text_explains_route_reasons_and_connector_order(config: Path) -> None:
    result = martinet("routes", "explain", "06 07 12 34 56", "--lane", "otp", "--config", config, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "number    +33 6 07 12 34 56 (33607123456), FR, mobile"
    assert lines[1] == "operator  Orange France (range holder), mcc/mnc 20801"
    assert lines[2] == "lane      otp"
    assert "  skipped  belgium: country FR not in [BE]" in lines
    assert "  chosen   otp-orange" in lines
    connectors = lines[lines.index("  chosen   otp-orange") + 3 :]
    assert connectors == [
        "  1.  alpha  tier 1  weight 3  first for 75% of messages",
        "      beta   tier 1  weight 1  first for 25% of messages",
        "  2.  gamma  tier 2  weight 1",
    ]
    assert result.stderr == ""


def test_json_for_scripts(config: Path) -> None:
    answer = explain_json(config, "+33612345678")
    assert answer["msisdn"] == "33612345678"
    assert answer["country"] == "FR"
    assert answer["operator"] == {"name": "SFR", "mccmnc": "20810", "network": "SFR"}
    assert answer["lane"] == "marketing"  # accounts.lane, the default of new accounts
    assert answer["account"] is None
    assert answer["route"] == "france-cheapest"
    assert answer["default"] is False
    assert answer["least_cost"] is True
    assert answer["skipped"] == [
        {"route": "belgium", "reasons": ["country FR not in [BE]"]},
        {"route": "otp-orange", "reasons": ["operator SFR (20810) not in [orange]", "lane marketing not in [otp]"]},
        {"route": "bigco", "reasons": ["account (none) not in [bigco]"]},
    ]
    assert answer["connectors"] == [
        {"rank": 1, "name": "beta", "tier": 2, "weight": 1, "price": "0.029", "first_share": None},
        {"rank": 2, "name": "alpha", "tier": 1, "weight": 1, "price": "0.032", "first_share": None},
        {"rank": 3, "name": "gamma", "tier": 3, "weight": 1, "price": None, "first_share": None},
    ]


def test_the_account_decides_account_routes(config: Path) -> None:
    answer = explain_json(config, "0612345678", "--account", "bigco")
    assert answer["route"] == "bigco"
    assert [c["name"] for c in answer["connectors"]] == ["gamma", "alpha"]


@pytest.mark.parametrize("number", ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "33612345678"])
def test_numbers_are_read_as_the_api_reads_them(config: Path, number: str) -> None:
    assert explain_json(config, number)["msisdn"] == "33612345678"


def test_an_overseas_number_in_french_national_form_is_not_french(config: Path) -> None:
    answer = explain_json(config, "0690 12 34 56")
    assert answer["msisdn"] == "590690123456"
    assert answer["country"] == "GP"
    assert answer["route"] is None
    assert answer["default"] is True
    assert [c["name"] for c in answer["connectors"]] == ["alpha", "beta", "gamma"]


def test_without_routes_the_sandbox_is_the_default_of_an_empty_configuration(tmp_path: Path) -> None:
    result = martinet("routes", "explain", "0612345678", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "routes: none configured, so the default connectors" in result.stdout
    assert result.stdout.rstrip().endswith("1.  sandbox  tier 1  weight 1")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("12", "NUMBER: '12' is not a number we can send to: not a valid phone number"),
        ("06 12 ab", "NUMBER: '06 12 ab' is not a number we can send to: invalid characters"),
        ("0612345678,0712345678", "NUMBER: give exactly one phone number, got 2"),
    ],
)
def test_an_invalid_number_exits_2(config: Path, number: str, message: str) -> None:
    result = martinet("routes", "explain", number, "--config", config, cwd=config.parent)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_a_route_naming_an_unknown_connector_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "martinet.toml"
    path.write_text(CONNECTORS + '[[routes]]\nname = "bad"\nconnectors = ["delta"]\n', encoding="utf-8")
    result = martinet("routes", "explain", "0612345678", "--config", path, cwd=tmp_path)
    assert result.returncode == 2
    assert "route 'bad' names unknown connector 'delta'" in result.stderr


def test_a_route_naming_a_connector_twice_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "martinet.toml"
    path.write_text(CONNECTORS + '[[routes]]\nname = "twice"\nconnectors = ["alpha", "alpha"]\n', encoding="utf-8")
    result = martinet("routes", "explain", "0612345678", "--config", path, cwd=tmp_path)
    assert result.returncode == 2
    assert "routes.0.connectors: Value error, a connector may appear once per route: alpha" in result.stderr


def test_an_operator_table_of_the_operators_own_replaces_the_built_in_one(tmp_path: Path) -> None:
    table = tmp_path / "operators.toml"
    table.write_text('[FR]\n"SFR" = { network = "SFR Lab", mccmnc = "20899" }\n', encoding="utf-8")
    path = tmp_path / "martinet.toml"
    path.write_text(
        CONNECTORS + f'[networks]\nfile = "{table}"\n\n[[routes]]\nname = "lab"\noperators = ["SFR Lab"]\n'
        'connectors = ["beta"]\n',
        encoding="utf-8",
    )
    result = martinet("routes", "explain", "0612345678", "--json", "--config", path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["operator"] == {"name": "SFR", "mccmnc": "20899", "network": "SFR Lab"}
    assert answer["route"] == "lab"
    table.write_text('[UK]\n"EE" = { network = "EE", mccmnc = "23430" }\n', encoding="utf-8")
    result = martinet("config", "check", "--config", path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"networks: networks.file {table}: operators: unknown country code 'UK'" in result.stderr


# --- from the configuration ---------------------------------------------------------------------------------


def test_default_connectors_are_the_carriers_in_order_never_the_sandbox(config: Path) -> None:
    assert default_connectors(load_settings(config)) == ("alpha", "beta", "gamma")


def test_default_connector_is_the_sandbox_without_carriers() -> None:
    assert default_connectors(load_settings(None)) == ("sandbox",)


def test_routes_from_the_configuration(config: Path) -> None:
    settings = load_settings(config)
    otp = route_from_config(settings.routes[1])
    assert otp.operators == {"orange"}
    assert otp.lanes == {"otp"}
    assert [(e.connector, e.weight, e.tier) for e in otp.entries] == [("alpha", 3, 1), ("beta", 1, 1), ("gamma", 1, 2)]
    cheapest = route_from_config(settings.routes[3])
    assert [e.tier for e in cheapest.entries] == [1, 2, 3]  # position, when no tier is given
    assert [str(e.price) for e in cheapest.entries] == ["0.032", "0.029", "None"]


def test_router_from_settings_routes_like_the_command_explains(config: Path) -> None:
    router = router_from_settings(load_settings(config))
    assert router.explain(Destination("32470123456", "BE"), "otp", "").route == "belgium"
    assert router.explain(Destination("33607123456", "FR"), "otp", "").route == "otp-orange"
    assert router.explain(Destination("33607123456", "FR"), "marketing", "bigco").route == "bigco"
