"""Configuration of the SMSC simulator: a frozen dataclass, read from TOML or built in code.

Example file (every key optional; ``martinet smsc`` flags override the file)::

    listen = "127.0.0.1:2775"
    control = "127.0.0.1:2776"          # HTTP control endpoint; false to disable
    system_id = "MartinetSMSC"           # ours, sent in bind responses
    max_per_second = 100                 # per system_id; beyond it: ESME_RTHROTTLED
    burst = 100                          # token bucket size (default: max_per_second)
    latency = 0.0                        # seconds before each submit_sm_resp
    intermediate_receipt = "ENROUTE"     # or "ACCEPTD", or false
    intermediate_delay = 0.1             # default: 0.1, or receipt_delay if that is shorter
    receipt_delay = 1.0                  # submit_sm_resp -> final receipt; 0: right after it
    receipt_before_response = false      # true: receipts written before the submit_sm_resp
    retry_delay = 5.0                    # a receipt or MO refused/unanswered is sent again
    test_prefix = "3375999"              # test range, see TEST_RANGE
    message_id_format = "hex"            # "hex", "HEX", "decimal", "uuid" or "UUID"
    message_id_start = 1                 # first counter value (default: a random one)
    message_id_width = 8                 # zero-pad counter IDs to 8 characters (default 0: no padding)
    receipt_text_id = "same"             # the receipt text's id: "same", "decimal", "hex", "HEX" or "none"
    receipt_tlv_id = "same"              # the receipted_message_id TLV: the same choices
    long_message_receipts = "each_part"  # or "first_part", "last_part", "one_id" (see below)
    bind_failure_delay = 1.0             # seconds before the 2nd failed bind's answer, doubling after
    seed = 42                            # reproducible outcomes and ids

    [[credentials]]
    system_id = "martinet"
    password = "secret"

    [outcomes]                           # weights of the final status outside the test range
    DELIVRD = 90
    UNDELIV = 5
    EXPIRED = 3
    REJECTD = 2

    [session]                            # SMPP timers, seconds
    window = 64
    response_timeout = 30
    enquire_link_interval = 30
    dead_peer_timeout = 90
    bind_timeout = 30
    unbind_timeout = 10

Message IDs: ``hex``/``HEX``/``decimal`` write a counter (from ``message_id_start``, zero-padded to
``message_id_width``); ``uuid``/``UUID`` a random UUID4 in lower/upper case.  Receipts write the ID
``"same"`` as the submit_sm_resp did, or the counter value in ``"decimal"``/``"hex"``/``"HEX"``
without padding (counter formats only), or leave it out (``"none"``; not in both places at once).
The parts of a concatenated submission (UDH or SAR) each get their ID and receipts (``"each_part"``), or, as
some carriers do, receipts for the first part only (``"first_part"``), for the last one only (``"last_part"``),
or the same ID for every part and one receipt once the last part has come (``"one_id"``).
With ``receipt_before_response``, the receipts of an accepted submission (intermediate, then
final) go to the account's receiver/transceiver bind before its response, whatever the delays.
A refused bind is always ``ESME_RBINDFAIL``; on one connection the second failure is answered after
``bind_failure_delay``, each further one after twice the previous delay, up to 16 times it.
"""

from __future__ import annotations

import enum
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from martinet.smpp.constants import CommandStatus, MessageState
from martinet.smpp.session import SessionConfig

from .ids import COUNTER_FORMATS, ID_FORMATS, RECEIPT_ID_FORMS, UUID_FORMATS

__all__ = [
    "DEFAULT_OUTCOMES",
    "LONG_MESSAGE_RECEIPTS",
    "TEST_RANGE",
    "Credential",
    "Fate",
    "FinalStatus",
    "SimulatorConfig",
    "SimulatorConfigError",
    "load_config",
    "parse_address",
]


#: How a carrier answers and reports the parts of a concatenated submission (module docstring).
LONG_MESSAGE_RECEIPTS: Final = ("each_part", "first_part", "last_part", "one_id")


class SimulatorConfigError(ValueError):
    """A configuration mistake, worded for the person who made it."""


class FinalStatus(enum.Enum):
    """Final status of a message: the receipt's ``stat``, its message_state and ``err``.

    The error codes are GSM MAP causes, as carriers put them in ``err``: 001 unknown
    subscriber, 027 absent subscriber, 013 call barred.
    """

    DELIVRD = ("DELIVRD", MessageState.DELIVERED, "000")
    UNDELIV = ("UNDELIV", MessageState.UNDELIVERABLE, "001")
    EXPIRED = ("EXPIRED", MessageState.EXPIRED, "027")
    REJECTD = ("REJECTD", MessageState.REJECTED, "013")

    def __init__(self, stat: str, state: MessageState, err: str) -> None:
        self.stat = stat
        self.state = state
        self.err = err


class Fate(enum.Enum):
    """What the test range does besides a plain outcome."""

    NO_FINAL_RECEIPT = "no final receipt"
    SUBMIT_REFUSED = "submit refused"
    RECEIPT_LOST = "receipt lost"


#: Destinations ``test_prefix + suffix`` (exactly four more digits) behave the same every time.
#: The default prefix, 33 7 59 99 0, gives French mobile numbers that number validation accepts
#: (+33 7 59 99 00 01 ...), so a fresh gateway can send to them; the simulator never reaches a handset.
TEST_RANGE: Final[Mapping[str, FinalStatus | Fate]] = MappingProxyType(
    {
        "0001": FinalStatus.DELIVRD,
        "0002": FinalStatus.UNDELIV,
        "0003": FinalStatus.EXPIRED,
        "0004": FinalStatus.REJECTD,
        "0005": Fate.NO_FINAL_RECEIPT,  # intermediate receipt only: a receipt that never comes
        "0006": Fate.SUBMIT_REFUSED,  # submit_sm_resp ESME_RSUBMITFAIL
        "0007": Fate.RECEIPT_LOST,  # delivered (query_sm says so), but its final receipt is never sent
    }
)
#: Status of a refused submission in the test range.
SUBMIT_REFUSED_STATUS: Final = CommandStatus.ESME_RSUBMITFAIL

DEFAULT_OUTCOMES: Final[Mapping[FinalStatus, float]] = MappingProxyType(
    {FinalStatus.DELIVRD: 90.0, FinalStatus.UNDELIV: 5.0, FinalStatus.EXPIRED: 3.0, FinalStatus.REJECTD: 2.0}
)
_INTERMEDIATE: Final = {
    "ENROUTE": MessageState.ENROUTE,
    "ACCEPTD": MessageState.ACCEPTED,
    "ACCEPTED": MessageState.ACCEPTED,
}
_DEFAULT_INTERMEDIATE_DELAY: Final = 0.1
_MAX_ID_WIDTH: Final = 64  # a message_id is a C-Octet String of at most 65 octets
_MAX_ID_START: Final = 1 << 64


@dataclass(frozen=True, slots=True)
class Credential:
    """One account allowed to bind; several binds may share it."""

    system_id: str
    password: str

    def __repr__(self) -> str:  # never print a password, in logs or tracebacks
        return f"Credential(system_id={self.system_id!r}, password='***')"


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator does differently from one run to another; see module docstring.

    Port 0 picks a free port (tests); ``control_port`` None disables the HTTP endpoint.
    ``max_per_second`` None means no throttling; ``intermediate_delay`` None means 0.1 s, or
    ``receipt_delay`` if that is shorter; ``message_id_start`` None a random first ID.
    """

    host: str = "127.0.0.1"
    port: int = 2775
    control_host: str = "127.0.0.1"
    control_port: int | None = 2776
    credentials: tuple[Credential, ...] = ()
    system_id: str = "MartinetSMSC"
    max_per_second: float | None = None
    burst: float | None = None
    latency: float = 0.0
    outcomes: Mapping[FinalStatus, float] = field(default_factory=lambda: DEFAULT_OUTCOMES)
    intermediate_receipt: MessageState | None = MessageState.ENROUTE
    intermediate_delay: float | None = None
    receipt_delay: float = 1.0
    receipt_before_response: bool = False
    retry_delay: float = 5.0
    test_prefix: str = "3375999"
    message_id_format: str = "hex"
    message_id_start: int | None = None
    message_id_width: int = 0
    receipt_text_id: str = "same"
    receipt_tlv_id: str = "same"
    long_message_receipts: str = "each_part"
    bind_failure_delay: float = 1.0
    seed: int | None = None
    max_tracked_messages: int = 100_000
    session: SessionConfig = field(default_factory=SessionConfig)

    def __post_init__(self) -> None:
        if self.max_per_second is not None and not self.max_per_second > 0:
            raise SimulatorConfigError("max_per_second must be positive (omit it for no limit)")
        if self.burst is not None and not self.burst >= 1:
            raise SimulatorConfigError("burst must be at least 1")
        for name in ("latency", "intermediate_delay", "receipt_delay", "retry_delay", "bind_failure_delay"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise SimulatorConfigError(f"{name} must be a number of seconds, 0 or more")
        if (
            self.intermediate_receipt is not None
            and self.intermediate_delay is not None
            and self.intermediate_delay > self.receipt_delay
        ):
            raise SimulatorConfigError(
                f"intermediate_delay ({self.intermediate_delay:g} s) must not exceed receipt_delay "
                f"({self.receipt_delay:g} s): the intermediate receipt comes before the final one"
            )
        if not self.outcomes or any(w < 0 for w in self.outcomes.values()) or sum(self.outcomes.values()) <= 0:
            raise SimulatorConfigError("outcomes need non-negative weights, at least one of them positive")
        self._check_message_ids()
        if self.long_message_receipts not in LONG_MESSAGE_RECEIPTS:
            raise SimulatorConfigError(
                f"long_message_receipts must be one of {', '.join(LONG_MESSAGE_RECEIPTS)}, "
                f"got {self.long_message_receipts!r}"
            )
        if not self.test_prefix.isdigit():
            raise SimulatorConfigError("test_prefix must be digits, e.g. 3375999")
        seen: set[str] = set()
        for credential in self.credentials:
            if not credential.system_id or len(credential.system_id) > 15:
                raise SimulatorConfigError("a system_id has 1 to 15 characters (SMPP 3.4)")
            if len(credential.password) > 8:
                raise SimulatorConfigError(f"the password of {credential.system_id!r} exceeds SMPP's 8 characters")
            if credential.system_id in seen:
                raise SimulatorConfigError(f"system_id {credential.system_id!r} is listed twice")
            seen.add(credential.system_id)

    def _check_message_ids(self) -> None:
        style = self.message_id_format
        if style not in ID_FORMATS:
            raise SimulatorConfigError(f"message_id_format must be one of {', '.join(ID_FORMATS)}, got {style!r}")
        counter = style in COUNTER_FORMATS
        start, width = self.message_id_start, self.message_id_width
        if start is not None:
            if not counter:
                raise SimulatorConfigError(
                    f"message_id_start applies to counter IDs ({', '.join(COUNTER_FORMATS)}), not {style}"
                )
            if not 0 <= start < _MAX_ID_START:
                raise SimulatorConfigError(f"message_id_start must be between 0 and 2**64 - 1, got {start}")
        if width:
            if not counter:
                raise SimulatorConfigError(
                    f"message_id_width applies to counter IDs ({', '.join(COUNTER_FORMATS)}), not {style}"
                )
            if not 0 <= width <= _MAX_ID_WIDTH:
                raise SimulatorConfigError(
                    f"message_id_width must be between 0 (no padding) and {_MAX_ID_WIDTH} characters, got {width}"
                )
        for name in ("receipt_text_id", "receipt_tlv_id"):
            form = getattr(self, name)
            if form not in RECEIPT_ID_FORMS:
                raise SimulatorConfigError(f"{name} must be one of {', '.join(RECEIPT_ID_FORMS)}, got {form!r}")
            if style in UUID_FORMATS and form not in ("same", "none"):
                raise SimulatorConfigError(f"{name}: {style} message IDs have no {form} form; use same or none")
        if self.receipt_text_id == "none" and self.receipt_tlv_id == "none":
            raise SimulatorConfigError(
                "receipt_text_id and receipt_tlv_id cannot both be none: a receipt must name its message"
            )

    @property
    def final_intermediate_delay(self) -> float:
        """Submission to intermediate receipt: ``intermediate_delay``, or 0.1 s capped at ``receipt_delay``."""
        if self.intermediate_delay is not None:
            return self.intermediate_delay
        return min(_DEFAULT_INTERMEDIATE_DELAY, self.receipt_delay)

    @property
    def final_burst(self) -> float:
        """Token bucket size: ``burst``, or one second's worth of ``max_per_second``."""
        return self.burst if self.burst is not None else max(1.0, self.max_per_second or 1.0)


def parse_address(text: str, what: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:2775`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SimulatorConfigError(f"{what}: expected HOST:PORT, e.g. 127.0.0.1:2775, got {text!r}")
    return host.strip("[]"), int(port)


def load_config(path: Path, **overrides: Any) -> SimulatorConfig:
    """Read a TOML file (see module docstring); ``overrides`` are field values that win."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise SimulatorConfigError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SimulatorConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        values = from_mapping(data)
    except SimulatorConfigError as exc:
        raise SimulatorConfigError(f"{path}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimulatorConfig(**values)


def from_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the TOML structure into SimulatorConfig keyword arguments, checking types."""
    data = dict(data)
    values: dict[str, Any] = {}
    if "listen" in data:
        values["host"], values["port"] = parse_address(_typed(data.pop("listen"), str, "listen"), "listen")
    if "control" in data:
        control = data.pop("control")
        if control is False:
            values["control_port"] = None
        else:
            values["control_host"], values["control_port"] = parse_address(_typed(control, str, "control"), "control")
    if "credentials" in data:
        entries = _typed(data.pop("credentials"), list, "credentials")
        credentials = []
        for entry in entries:
            entry = _typed(entry, dict, "credentials entry")
            credentials.append(
                Credential(
                    _typed(entry.get("system_id"), str, "credentials.system_id"),
                    _typed(entry.get("password"), str, "credentials.password"),
                )
            )
        values["credentials"] = tuple(credentials)
    if "outcomes" in data:
        table = _typed(data.pop("outcomes"), dict, "outcomes")
        outcomes: dict[FinalStatus, float] = {}
        for name, weight in table.items():
            if name.upper() not in FinalStatus.__members__:
                raise SimulatorConfigError(f"outcomes: unknown status {name!r} (DELIVRD, UNDELIV, EXPIRED, REJECTD)")
            outcomes[FinalStatus[name.upper()]] = float(_typed(weight, (int, float), f"outcomes.{name}"))
        values["outcomes"] = MappingProxyType(outcomes)
    if "intermediate_receipt" in data:
        intermediate = data.pop("intermediate_receipt")
        if intermediate is False:
            values["intermediate_receipt"] = None
        else:
            name = _typed(intermediate, str, "intermediate_receipt").upper()
            if name not in _INTERMEDIATE:
                raise SimulatorConfigError("intermediate_receipt must be ENROUTE, ACCEPTD or false")
            values["intermediate_receipt"] = _INTERMEDIATE[name]
    if "session" in data:
        table = _typed(data.pop("session"), dict, "session")
        known = {f.name for f in fields(SessionConfig)}
        unknown = set(table) - known
        if unknown:
            raise SimulatorConfigError(f"session: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            values["session"] = SessionConfig(**table)
        except (TypeError, ValueError) as exc:
            raise SimulatorConfigError(f"session: {exc}") from None
    numbers = (
        "max_per_second",
        "burst",
        "latency",
        "intermediate_delay",
        "receipt_delay",
        "retry_delay",
        "bind_failure_delay",
    )
    for name in numbers:
        if name in data:
            values[name] = float(_typed(data.pop(name), (int, float), name))
    strings = ("system_id", "test_prefix", "message_id_format", "receipt_text_id", "receipt_tlv_id")
    for name in (*strings, "long_message_receipts"):
        if name in data:
            values[name] = _typed(data.pop(name), str, name)
    for name in ("seed", "max_tracked_messages", "message_id_start", "message_id_width"):
        if name in data:
            values[name] = _typed(data.pop(name), int, name)
    if "receipt_before_response" in data:
        values["receipt_before_response"] = _typed(data.pop("receipt_before_response"), bool, "receipt_before_response")
    if data:
        raise SimulatorConfigError(f"unknown key(s): {', '.join(sorted(data))}")
    return values


def _typed(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SimulatorConfigError(f"{name}: expected {expected}, got {value!r}")
    return value
