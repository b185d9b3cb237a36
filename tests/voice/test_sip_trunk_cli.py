"""`martinet sip-trunk`'s configuration: the rules by number range read from TOML, and refusals that name the
key at fault before anything listens."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from martinet.siptrunk.cli import add_commands, build, main
from martinet.siptrunk.simulator import DEFAULT_RULES, Rule

pytestmark = pytest.mark.unit


def test_the_rules_of_a_configuration_file_answer_by_number_range(tmp_path: Path) -> None:
    config = tmp_path / "trunk.toml"
    config.write_text(
        """
listen = "127.0.0.1:0"
recordings = "calls"
[[rules]]
prefix = "+331999991"
behaviour = "reject"
code = 480
[[rules]]
prefix = ""
ring_delay = 0.25
hangup_after = 2
""",
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    simulator = build(parser.parse_args(["sip-trunk", "--config", str(config), "--transport", "tcp"]))
    assert simulator.rule("33199999123") == Rule("331999991", "reject", 480)
    assert simulator.rule("33612345678") == Rule("", "answer", 486, 0.25, 2.0)
    assert build(parser.parse_args(["sip-trunk"])).rule("33199999500") == DEFAULT_RULES[4]  # silent


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[[rules]]\nbehaviour = "hang"', "rules[0].behaviour must be one of answer, ring, reject, silent"),
        ('[[rules]]\nprefix = "33"\ncolour = "red"', "rules[0]: unknown key(s) colour"),
        ('listen = "5070"', "listen must be HOST:PORT, not '5070'"),
        ('transport = "sctp"', "transport must be udp or tcp"),
        ('algorithm = "SHA-1"', "algorithm must be MD5 or SHA-256"),
    ],
)
def test_a_configuration_the_simulator_cannot_follow_is_refused_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, problem: str
) -> None:
    config = tmp_path / "trunk.toml"
    config.write_text(toml, encoding="utf-8")
    assert main(["--config", str(config)]) == 2
    assert capsys.readouterr().err == f"martinet sip-trunk: {problem}\n"
