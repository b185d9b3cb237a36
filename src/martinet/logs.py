"""Logs as JSON lines on standard error, one object per event, ready for a log shipper (ELK, Loki…).

Every line has the same shape whoever wrote it: our structlog loggers, our modules that still use
`logging.getLogger`, and libraries (uvicorn, SQLAlchemy) all go through one stdlib handler whose formatter is
structlog's `ProcessorFormatter`, so the ids bound with `structlog.contextvars` (`request_id` per HTTP request,
`send_id` while a send is accepted) appear on library lines too.

Message texts belong to the senders and their recipients: the code passes them to the logger only under a key
named `text` (or `message`), and the redaction step below removes them unless the operator set `log_text`.
Secrets (access tokens, passwords, API keys, webhook secrets) are removed always, whatever the settings: they are
never needed to diagnose anything and a log file is read by more people than the database.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

#: Keys whose values never reach a log line (compared without case; `-` and `_` are the same).
SECRET_KEYS = frozenset(
    {
        "accesstoken",
        "access_token",
        "pass",
        "password",
        "password_hash",
        "token",
        "api_key",
        "x_api_key",
        "apikey",
        "secret",
        "webhook_secret",
        "authorization",
    }
)
#: Keys holding message texts (MT or MO): logged only with `log_text = true`.
TEXT_KEYS = frozenset({"text", "message", "texte"})
REDACTED = "[redacted]"
#: Environment variable through which `martinet serve` hands `log_text` to the processes it spawns, whose
#: `configure` call names only the level.
TEXT_VARIABLE = "MARTINET_LOG_TEXT"

#: Keys that lead each line, in this order (the ids when present); other context and arguments follow.
_LEADING = ("ts", "level", "logger", "event", "process", "request_id", "send_id", "message_id")
#: Attributes uvicorn attaches to its records for coloured consoles.
_NOISE = ("color_message",)


class Redactor:
    """The safety net: whatever the code passes, secrets and (unless allowed) texts are replaced."""

    def __init__(self, *, text: bool) -> None:
        self.text = text

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        return self.clean(event_dict)

    def clean(self, values: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in values.items():
            if key == "event":
                continue
            hidden = self._hidden(key)
            if hidden:
                values[key] = REDACTED
            elif isinstance(value, Mapping):
                values[key] = self.clean(dict(value))
        return values

    def _hidden(self, key: str) -> bool:
        normal = key.lower().replace("-", "_")
        return normal in SECRET_KEYS or (not self.text and normal in TEXT_KEYS)


_redactor = Redactor(text=False)

#: SQLAlchemy writes a failed statement's bound values into its exceptions' messages: message texts, webhook
#: secrets. An exception logged with its traceback would carry them past the key-based redaction above.
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")


def _scrub_sql_parameters(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    for key in ("event", "exception"):
        value = event_dict.get(key)
        if isinstance(value, str) and "[parameters: " in value:
            event_dict[key] = _SQL_PARAMETERS.sub("[parameters: redacted]", value)
    return event_dict


def text_allowed() -> bool:
    """Whether message texts may appear in logs (`log_text`); code that would format a text into an event
    string asks this first."""
    return _redactor.text


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created * 1000) % 1000:03d}Z"


def _record_fields(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """`ts`, `level`, `logger` and `process` from the stdlib record, the same for our lines and libraries'."""
    record: logging.LogRecord | None = event_dict.get("_record")
    if record is not None:
        event_dict["ts"] = _timestamp(record.created)
        event_dict["level"] = record.levelname.lower()
        event_dict["logger"] = record.name
        event_dict["process"] = record.processName
    else:  # pragma: no cover - only a structlog logger not routed through the stdlib would get here
        event_dict.setdefault("ts", _timestamp(time.time()))
    for key in _NOISE:
        event_dict.pop(key, None)
    return event_dict


def _ordered(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    line = {key: event_dict.pop(key) for key in _LEADING if key in event_dict}
    line.update(event_dict)
    return line


def _render(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> str:
    return orjson.dumps(event_dict, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _formatter() -> structlog.stdlib.ProcessorFormatter:
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _record_fields,
        structlog.processors.format_exc_info,
        structlog.processors.StackInfoRenderer(),
        _redactor,
        _scrub_sql_parameters,
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        _ordered,
        _render,
    ]
    return structlog.stdlib.ProcessorFormatter(
        processors=processors,
        # Records of `logging` loggers: their `extra=` fields become keys, like a structlog call's arguments.
        foreign_pre_chain=[structlog.stdlib.ExtraAdder()],
    )


def _route_structlog_to_stdlib() -> None:
    """Our structlog loggers hand their events to the stdlib, so one handler and one level rule all lines.

    Done on import, so a logger used before `configure` (tests, commands that do not configure logging) still
    never prints to standard output, and what it prints is redacted.
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # first: a filtered debug call costs one level comparison
            structlog.stdlib.PositionalArgumentsFormatter(),
            _redactor,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_route_structlog_to_stdlib()


#: Seconds after a failure's traceback during which further failures of its type are logged without one.
TRACEBACK_INTERVAL = 10.0


class Tracebacks:
    """Which failures of one kind of work (a door's requests, the engine's heartbeats) are logged with their
    traceback: the first of each exception type, then one every `interval` seconds for that type.

    A fault that lasts (a full disk, a database gone read-only) fails every request alike. Each failure is still
    logged on a line of its own, with its request id and the exception's message, so that a client's failed
    request can be found; a traceback on each would repeat the first one's 30-odd lines for every request, a
    flood of thousands a minute under load, taking CPU and disk when neither can be spared.
    """

    def __init__(self, clock: Callable[[], float], interval: float = TRACEBACK_INTERVAL) -> None:
        self._clock = clock
        self._interval = interval
        self._shown: dict[type[BaseException], float] = {}  # exception type → when its last traceback was logged

    def of(self, exc: BaseException) -> BaseException | None:
        """`exc`, for `exc_info`, when its traceback is to be logged; else None."""
        now = self._clock()
        shown = self._shown.get(type(exc))
        if shown is not None and now - shown < self._interval:
            return None
        self._shown[type(exc)] = now
        return exc


def failure(exc: BaseException) -> str:
    """The exception's type and the first line of its message: what a line without the traceback says of it (a
    database driver's error goes on with the statement and a link, which the traceback, when logged, carries)."""
    message = str(exc).partition("\n")[0]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger whose keyword arguments become keys of the line: `log.info("sent", send_id=…)`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def configure(level: str, *, text: bool | None = None, stream: TextIO | None = None) -> None:
    """Send every log line of this process to `stream` (standard error) as JSON, at `level` and above.

    `text`: whether message texts may appear (`log_text`). None takes it from `MARTINET_LOG_TEXT`, which
    `martinet serve` sets for its children, so `configure(settings.log_level)` in a worker keeps working.
    """
    if text is None:
        text = os.environ.get(TEXT_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")
    _redactor.text = text
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "alembic", "asyncio", "httpcore", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def pass_text_to_children(text: bool) -> None:
    """Make `log_text` reach the worker and engine processes `martinet serve` spawns (see `configure`)."""
    os.environ[TEXT_VARIABLE] = "true" if text else "false"
