"""`martinet smsc` and `martinet smsc inject` as an operator runs them: real subprocesses, real ports."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from martinet.smsc import SimulatorConfigError
from martinet.smsc.cli import add_commands, build_config, inject_command, run_command
from tests.conftest import free_port

from .support import Inbox, bind

SMSC = [sys.executable, "-m", "martinet.smsc"]


def test_add_commands_wires_run_and_inject() -> None:
    parser = argparse.ArgumentParser(prog="martinet")
    add_commands(parser.add_subparsers(required=True))
    run = parser.parse_args(["smsc", "--listen", "127.0.0.1:2775", "--system-id", "a", "--password", "b"])
    assert run.func is run_command and run.listen == "127.0.0.1:2775"
    inject = parser.parse_args(["smsc", "inject", "--from", "336", "--to", "36180", "--text", "hi"])
    assert inject.func is inject_command
    assert (inject.source, inject.destination, inject.text, inject.inject_control) == (
        "336",
        "36180",
        "hi",
        "127.0.0.1:2776",
    )


def test_flags_choose_the_id_and_receipt_habits(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="martinet")
    add_commands(parser.add_subparsers(required=True))
    file = tmp_path / "smsc.toml"
    file.write_text('receipt_before_response = true\nmessage_id_format = "uuid"\n', encoding="utf-8")
    account = ["--system-id", "a", "--password", "b", "--config", str(file)]
    ids = ["--message-id-format", "HEX", "--message-id-start", "1", "--message-id-width", "8"]
    receipts = ["--receipt-text-id", "decimal", "--receipt-tlv-id", "none", "--no-receipt-before-response"]
    delays = ["--receipt-delay", "0", "--bind-failure-delay", "2.5"]
    args = parser.parse_args(["smsc", *account, *ids, *receipts, *delays])
    config = build_config(args)
    assert (config.message_id_format, config.message_id_start, config.message_id_width) == ("HEX", 1, 8)
    assert (config.receipt_text_id, config.receipt_tlv_id) == ("decimal", "none")
    assert (config.receipt_before_response, config.receipt_delay, config.bind_failure_delay) == (False, 0.0, 2.5)
    kept = build_config(parser.parse_args(["smsc", *account]))
    assert (kept.receipt_before_response, kept.message_id_format) == (True, "uuid")
    with pytest.raises(SimulatorConfigError, match="receipt_text_id: uuid message IDs have no hex form"):
        build_config(parser.parse_args(["smsc", *account, "--receipt-text-id", "hex"]))


async def test_run_inject_and_stop() -> None:
    port, control = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        *SMSC,
        *("--listen", f"127.0.0.1:{port}", "--system-id", "acme", "--password", "secret"),
        *("--control", f"127.0.0.1:{control}", "--max-per-second", "100", "--seed", "1"),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        while True:
            line = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
            assert line, "the simulator exited before listening"
            if "SMPP on" in line:
                break
        assert f"127.0.0.1:{port}" in line and f"http://127.0.0.1:{control}/" in line
        inbox = Inbox()
        client = await bind(port, inbox)
        inject = await asyncio.create_subprocess_exec(
            *SMSC,
            *("inject", "--control", f"127.0.0.1:{control}"),
            *("--from", "33612345678", "--to", "36180", "--text", "Hello from the CLI"),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(inject.communicate(), 10)
        assert inject.returncode == 0
        assert json.loads(out) == {"parts": 1, "system_id": "acme"}
        (mo,) = await inbox.wait_for(1)
        assert mo.short_message == b"Hello from the CLI"
        await client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_inject_without_a_simulator_fails_clearly() -> None:
    process = await asyncio.create_subprocess_exec(
        *SMSC,
        *("inject", "--control", f"127.0.0.1:{free_port()}", "--from", "1", "--to", "2", "--text", "x"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 1 and b"no simulator control endpoint" in err


async def test_run_refuses_to_start_without_an_account() -> None:
    process = await asyncio.create_subprocess_exec(
        *SMSC, "--listen", f"127.0.0.1:{free_port()}", stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 2 and b"--system-id and --password" in err
