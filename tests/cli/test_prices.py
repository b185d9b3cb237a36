"""`martinet prices list|show` and the rules part of `martinet routes explain`, run as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import martinet

CONFIG = """
[pricing]
prices = { VN = "2.75" }
closed = ["BR"]

[pricing.accounts.bigco]
VN = "1.9"

[rules.countries.US]
fallback_sender = "12015550143"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "martinet.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_show_names_the_price_and_its_source(config: Path) -> None:
    result = martinet("prices", "show", "vn", "--config", config, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "country   VN (+84)",
        "zone      asia (Asia)",
        "sms       2.75 credits per SMS part, from: configuration override (pricing.prices)",
        "voice     4 credits per call, from: zone asia of built-in prices.toml",
    ]
    result = martinet("prices", "show", "VN", "--account", "bigco", "--json", "--config", config, cwd=config.parent)
    assert json.loads(result.stdout)["sms"] == "1.9"
    assert json.loads(result.stdout)["sms_source"] == "account bigco"
    result = martinet("prices", "show", "UK", "--config", config, cwd=config.parent)
    assert result.returncode == 2
    assert "the United Kingdom is GB" in result.stderr


def test_list_covers_every_region(config: Path) -> None:
    result = martinet("prices", "list", "--json", "--config", config, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    rows = {row["country"]: row for row in json.loads(result.stdout)}
    assert len(rows) == 245
    assert rows["FR"]["sms"] == "1" and rows["FR"]["zone"] == "france"
    assert rows["BR"]["sms"] is None and rows["BR"]["sms_source"] == "closed by the configuration (pricing.closed)"
    assert rows["KP"]["sms"] is None
    assert all(row["sms"] is not None for code, row in rows.items() if code not in ("BR", "KP"))


def test_explain_shows_the_country_rules(config: Path) -> None:
    result = martinet("routes", "explain", "+1 201 555 0123", "--config", config, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "price     1.5 credits per SMS part (zone north-america of built-in prices.toml)" in lines
    assert (
        "sender    numeric senders only (alphanumeric ones are not delivered); others are sent from 12015550143"
        in lines
    )
    assert "opt-out   marketing carries 'Reply STOP to opt out'" in lines


def test_explain_shows_the_marketing_hours_the_configuration_sets(tmp_path: Path) -> None:
    # `marketing.quiet_hours` replaces every window of the country rules: France's is gone, Belgium's is new.
    path = tmp_path / "martinet.toml"
    path.write_text(
        '[marketing.quiet_hours.BE]\ntimezone = "Europe/Brussels"\nopens = "09:00"\nclosed_days = []\n',
        encoding="utf-8",
    )
    belgium = martinet("routes", "explain", "+32 470 12 34 56", "--config", path, cwd=tmp_path)
    assert belgium.returncode == 0, belgium.stderr
    assert "marketing 09:00-20:00 Europe/Brussels, closed public holidays" in belgium.stdout.splitlines()
    france = martinet("routes", "explain", "06 12 34 56 78", "--json", "--config", path, cwd=tmp_path)
    assert france.returncode == 0, france.stderr
    assert json.loads(france.stdout)["rules"]["quiet_hours"] is None


def test_config_check_names_a_bad_price_or_rule(tmp_path: Path) -> None:
    path = tmp_path / "martinet.toml"
    path.write_text('[pricing]\nclosed = ["UK"]\n', encoding="utf-8")
    result = martinet("config", "check", "--config", path, cwd=tmp_path)
    assert result.returncode == 2
    assert "pricing: pricing.closed.UK: unknown country code 'UK' (the United Kingdom is 'GB')" in result.stderr
    path.write_text('[rules.countries.US]\nfallback_sender = "ACME"\n', encoding="utf-8")
    result = martinet("config", "check", "--config", path, cwd=tmp_path)
    assert result.returncode == 2
    assert "rules: rules.countries.US.fallback_sender: expected a number (3 to 15 digits), got 'ACME'" in result.stderr
