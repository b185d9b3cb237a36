"""Logs: JSON lines of one shape from every process and library, ids on the lines of a request and of a send,
and no message text or secret unless the operator allows texts.

The in-process tests capture what `martinet.logs.configure` writes while a real gateway (uvicorn and engine in
the test's loop) serves a request; the subprocess tests read the standard error of `martinet serve`, workers and
engine included, as a log shipper would.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

import martinet
from martinet import logs
from martinet.api.context import REQUEST_KEYS
from tests.faults import store_fault
from tests.gateway import running_gateway, wait_for
from tests.served import served

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ACCEPTED = re.compile(r"0 \| Accepté \| ([A-Za-z0-9]{12})")


def parse(lines: list[str]) -> list[dict[str, Any]]:
    """Every line as an object with the common keys, or the test fails naming the line."""
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(entry, dict), line
        assert {"ts", "level", "logger", "event"} <= entry.keys(), line
        assert TS.fullmatch(entry["ts"]), line
        assert entry["level"] in ("debug", "info", "warning", "error", "critical"), line
        entries.append(entry)
    return entries


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def configure(self, level: str, *, text: bool = False) -> None:
        logs.configure(level, text=text, stream=self.stream)

    def entries(self) -> list[dict[str, Any]]:
        return parse([line for line in self.stream.getvalue().splitlines() if line])

    @property
    def raw(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Logging configured into a buffer, and the process's logging put back afterwards."""
    root = logging.getLogger()
    handlers, level, text = root.handlers[:], root.level, logs.text_allowed()
    structlog.contextvars.clear_contextvars()
    try:
        yield Captured()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logs._redactor.text = text


# --- the formatter ---------------------------------------------------------------------------------------------


def test_library_and_structlog_lines_share_one_shape_with_bound_ids(captured: Captured) -> None:
    captured.configure("debug")
    structlog.contextvars.bind_contextvars(request_id="r1")
    try:
        logging.getLogger("uvicorn.error").info("Started %s", "server", extra={"color_message": "x", "send_id": "S1"})
        logs.get_logger("martinet.test").info("hello", message_id=7)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logs.get_logger("martinet.test").exception("failed")
    finally:
        structlog.contextvars.clear_contextvars()
    library, ours, failed = captured.entries()
    assert library["event"] == "Started server" and library["logger"] == "uvicorn.error"
    assert library["request_id"] == "r1" and library["send_id"] == "S1" and "color_message" not in library
    assert list(ours)[:7] == ["ts", "level", "logger", "event", "process", "request_id", "message_id"]
    assert failed["level"] == "error" and "RuntimeError: boom" in failed["exception"]


def test_a_type_of_failure_has_its_traceback_logged_once_an_interval() -> None:
    now = [100.0]
    tracebacks = logs.Tracebacks(lambda: now[0], interval=10)
    full, other = OSError("No space left on device"), ValueError("bad")
    assert tracebacks.of(full) is full
    now[0] = 109.9
    assert tracebacks.of(OSError("again")) is None
    assert tracebacks.of(other) is other  # another type has its own
    now[0] = 110.0
    assert tracebacks.of(full) is full
    assert logs.failure(RuntimeError("first line\n[SQL: INSERT …]")) == "RuntimeError: first line"
    assert logs.failure(TimeoutError()) == "TimeoutError"


def test_secrets_are_always_removed_and_texts_unless_allowed(captured: Captured) -> None:
    log = logs.get_logger("martinet.test")
    secrets = {
        "accessToken": "tok1",
        "pass": "pw1",
        "password": "pw2",
        "token": "tok2",
        "api_key": "key1",
        "X-Api-Key": "key2",
        "secret": "sec1",
        "nested": {"webhook_secret": "sec2"},
    }
    for allowed in (False, True):
        captured.configure("info", text=allowed)
        log.info("values", text="Bonjour-texte", message="Bonjour-message", **secrets)
        logging.getLogger("other").info("extra", extra={"password": "pw3", "text": "Bonjour-extra"})
    for value in ("tok1", "tok2", "pw1", "pw2", "pw3", "key1", "key2", "sec1", "sec2"):
        assert value not in captured.raw
    hidden, hidden_extra, shown, shown_extra = captured.entries()
    assert hidden["text"] == hidden["message"] == hidden_extra["text"] == logs.REDACTED
    assert (shown["text"], shown["message"], shown_extra["text"]) == (
        "Bonjour-texte",
        "Bonjour-message",
        "Bonjour-extra",
    )


# --- a gateway in the test's process ---------------------------------------------------------------------------


async def test_a_request_and_its_send_carry_their_ids_and_no_text(database_url: str, captured: Captured) -> None:
    captured.configure("debug")
    text = f"Texte-{uuid.uuid4().hex}"
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": text, "numero": "0612345678"})
        sms_id = ACCEPTED.fullmatch(reply.text.strip())
        assert sms_id, reply.text
        request_id = reply.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", request_id)
        given = await http.get("/credit.do", params={"accessToken": gw.token}, headers={"X-Request-Id": "lb-42.a"})
        assert given.headers["x-request-id"] == "lb-42.a"
        forged = await http.get("/credit.do", params={"accessToken": gw.token}, headers={"X-Request-Id": 'a b"{}'})
        assert forged.headers["x-request-id"] != 'a b"{}'
        token = gw.token
    entries = captured.entries()
    accepted = [e for e in entries if e["event"] == "send accepted"]
    assert len(accepted) == 1
    assert accepted[0]["send_id"] == sms_id.group(1)
    assert accepted[0]["request_id"] == request_id
    assert accepted[0]["text"] == logs.REDACTED
    assert text not in captured.raw and token not in captured.raw
    # Nothing of the request stays bound after it: lines logged later carry no request id.
    assert structlog.contextvars.get_contextvars() == {}


async def test_what_was_bound_before_a_request_is_kept_and_what_it_bound_is_gone(
    database_url: str, captured: Captured
) -> None:
    """An HTTP worker binds its node for its whole life: a request's own keys go when it ends, the node stays."""
    captured.configure("debug")
    structlog.contextvars.bind_contextvars(node="node-a", owner="owner-a")
    try:
        async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
            data = {"accessToken": gw.token, "message": "Hi", "numero": "0612345678"}
            reply = await http.post("/sendSMS.do", data=data)
            assert ACCEPTED.fullmatch(reply.text.strip()), reply.text
            assert structlog.contextvars.get_contextvars() == {"node": "node-a", "owner": "owner-a"}
    finally:
        structlog.contextvars.clear_contextvars()
    accepted = [e for e in captured.entries() if e["event"] == "send accepted"]
    assert accepted[0]["node"] == "node-a" and accepted[0]["request_id"] == reply.headers["x-request-id"]


async def test_while_the_store_cannot_write_each_failed_request_is_a_line_and_a_type_has_one_traceback(
    database_url: str, tmp_path: Path, captured: Captured
) -> None:
    """A real fault (`tests.faults`): every send fails alike. Each failure is logged on a line of its own with its
    request id and the error, the traceback only on the first of its exception type (`logs.Tracebacks`); so are
    the engine's heartbeats, which fail too."""
    captured.configure("info")
    legacy_ids, rest_ids = [], []

    async def started() -> bool:
        return any(e["event"] == "engine started" for e in captured.entries())

    async with (
        store_fault(database_url, tmp_path) as fault,
        running_gateway(fault.url, engine={"heartbeat": 0.1}, with_notifier=False) as gw,
        gw.client() as http,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=30) as rest,
    ):
        # The fault comes once the engine has started: the steps of its start, tried again while the store fails
        # (tests/server/test_store_unreachable.py), would log their own lines, which are not this test's matter.
        await wait_for(started)
        await fault.cannot_write()
        for index in range(10):
            data = {"accessToken": gw.token, "message": "Hi", "numero": f"06123456{index:02d}"}
            reply = await http.post("/sendSMS.do", data=data)
            assert reply.text.startswith("31 | "), reply.text
            legacy_ids.append(reply.headers["x-request-id"])
            answer = await rest.post(
                "/sms/v1/messages", json={"recipient": {"to": f"+336123456{index:02d}"}, "body": {"text": "Hi"}}
            )
            assert answer.status_code == 500, answer.text
            rest_ids.append(answer.headers["x-request-id"])

        async def beats_failed() -> list[dict[str, Any]] | None:  # the engine's heartbeat fails alike
            failed = [e for e in captured.entries() if e["event"] == "heartbeat failed"]
            return failed if len(failed) >= 5 else None

        beats = await wait_for(beats_failed, timeout=20)
        await fault.can_write()
    assert sum("exception" in e for e in beats) == len({e["error"].partition(":")[0] for e in beats}), beats
    entries = captured.entries()
    for event, ids in (
        ("legacy endpoint failed", legacy_ids),
        ("REST endpoint failed: POST /sms/v1/messages", rest_ids),
    ):
        failed = [e for e in entries if e["event"] == event]
        assert [e["request_id"] for e in failed] == ids
        assert all(e["level"] == "error" for e in failed)
        # The first failures may meet the connection the fault ended, then its own error: one type each.
        types = {e["error"].partition(":")[0] for e in failed}
        assert 1 <= len(types) <= 2, types
        assert fault.reason in failed[-1]["error"], failed[-1]
        with_traceback = [e for e in failed if "exception" in e]
        assert len(with_traceback) == len(types), [e.get("exception", "")[:80] for e in failed]
        assert with_traceback[0] is failed[0] and "Traceback" in with_traceback[0]["exception"]


def test_request_code_binds_only_the_keys_the_request_context_resets() -> None:
    """`RequestContext` resets the keys it knows of (`REQUEST_KEYS`): one bound elsewhere in the doors or the
    services would stay bound in the task after its request, and be logged with whatever it does next."""
    source = Path(martinet.__file__).parent
    bound = set()
    for path in [*(source / "api").rglob("*.py"), *(source / "services").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("bind_contextvars"):
                # `**mapping` (a keyword without a name) only where the context binds `REQUEST_KEYS` themselves
                bound |= {keyword.arg or f"** in {path.relative_to(source)}" for keyword in node.keywords}
    assert "send_id" in bound  # the scan finds the binds there are
    assert bound <= {"request_id", "** in api/context.py", *REQUEST_KEYS}


async def test_texts_appear_only_with_log_text_and_the_level_filters(tmp_path: Path, captured: Captured) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    text = f"Texte-{uuid.uuid4().hex}"
    captured.configure("debug", text=True)
    async with running_gateway(url, with_engine=False) as gw, gw.client() as http:
        await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": text, "numero": "0612345678"})
        shown = [e for e in captured.entries() if e["event"] == "send accepted"]
        assert [e["text"] for e in shown] == [text]
        assert gw.token not in captured.raw
        before = len(captured.entries())
        captured.configure("info", text=True)
        await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": text, "numero": "0612345678"})
    after = captured.entries()[before:]
    assert all(e["level"] != "debug" for e in after)
    assert not any(e["event"] == "send accepted" for e in after)


# --- martinet serve --------------------------------------------------------------------------------------------


def _send_and_read(base: str, token: str, text: str) -> tuple[str, str]:
    """A legacy send and a REST send with `text`, then time for the engine to deliver; (smsID, X-Request-Id)."""
    with httpx.Client(base_url=base, timeout=10) as http:
        reply = http.post("/http/1.6/sendSMS.do", data={"accessToken": token, "message": text, "numero": "0612345678"})
        accepted = ACCEPTED.fullmatch(reply.text.strip())
        assert accepted, reply.text
        rest = http.post(
            "/sms/v1/messages",
            headers={"X-Api-Key": token},
            json={"recipient": {"to": "+33612345679"}, "body": {"text": text}},
        )
        assert rest.status_code in (200, 201), rest.text
        http.get("/http/1.6/compteRendu.do", params={"accessToken": token, "smsID": accepted.group(1)})
        http.get("/readyz")
    time.sleep(1.0)
    return accepted.group(1), reply.headers["x-request-id"]


@pytest.mark.slow
def test_serve_writes_only_json_lines_without_text_or_token_by_default(tmp_path: Path) -> None:
    text = f"Texte-{uuid.uuid4().hex}"
    with served(tmp_path, "quiet") as gateway:
        _send_and_read(gateway.base, gateway.token, text)
    entries = parse(gateway.lines())
    processes = {e.get("process") for e in entries}
    assert {"MainProcess", "engine", "http-0"} <= processes, processes
    assert any(e["logger"].startswith("uvicorn") for e in entries), entries
    assert any(e["event"] == "engine started" and e.get("node") for e in entries), entries
    assert all(e["level"] != "debug" for e in entries)
    raw = gateway.output.read_text(encoding="utf-8")
    assert text not in raw
    assert gateway.token not in raw


@pytest.mark.slow
def test_serve_logs_texts_with_log_text_and_ids_at_debug(tmp_path: Path) -> None:
    text = f"Texte-{uuid.uuid4().hex}"
    with served(tmp_path, "chatty", 'log_level = "debug"\nlog_text = true\n') as gateway:
        sms_id, request_id = _send_and_read(gateway.base, gateway.token, text)
    entries = parse(gateway.lines())
    accepted = [e for e in entries if e["event"] == "send accepted"]
    assert len(accepted) == 2, accepted  # the legacy send and the REST send
    legacy = [e for e in accepted if e["send_id"] == sms_id]
    assert len(legacy) == 1 and legacy[0]["request_id"] == request_id and legacy[0]["text"] == text
    assert legacy[0]["process"] == "http-0"
    assert any(e["level"] == "debug" for e in entries if e is not legacy[0])
    assert gateway.token not in gateway.output.read_text(encoding="utf-8")


def test_bound_sql_parameters_never_reach_a_line(tmp_path: Path, captured: Captured) -> None:
    """A failed statement's exception lists its values (texts, secrets); the line keeps the statement only."""
    import sqlalchemy

    captured.configure("info", text=False)
    value = "-".join(["Texte", "parametre"])  # not written whole here: tracebacks quote source lines
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (id integer primary key, body text)")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("insert into t values (1, 'a')")
            conn.exec_driver_sql("insert into t values (?, ?)", (1, value))
    except sqlalchemy.exc.IntegrityError as exc:
        logging.getLogger("martinet.test").exception("insert failed: %s", exc)
    finally:
        engine.dispose()
    [entry] = captured.entries()
    assert "Texte-parametre" not in captured.raw
    assert "[parameters: redacted]" in entry["event"] and "[parameters: redacted]" in entry["exception"]
