"""Configuration: one TOML file, overridden by `MARTINET_*` environment variables.

Every option has a default that works on a laptop, so an empty file (or none) is a valid configuration.
Nested options are reached from the environment with a double underscore: `MARTINET_HTTP__PORT=9000`,
`MARTINET_DATABASE__URL=postgresql://…`. Validation happens once, at start, and `martinet config check` prints
the same messages without starting anything.

The package holds the settings schema (here) and the wiring that turns settings into the domain's plain values
where more than one part needs it (`routes`: the router of the engine, of `/readyz` and of `martinet routes
explain`). It may import `domain` only: every other part reads its settings from here, never the reverse.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from martinet.domain.lanes import Lane
from martinet.domain.opt_out import DEFAULT_KEYWORDS
from martinet.domain.text import NonGsmPolicy


class ConfigError(Exception):
    """A configuration that cannot be used, with one line per problem, ready to print."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(_Section):
    url: str = Field(
        default="sqlite:///var/martinet.db",
        description="sqlite:///PATH (relative to the working directory) or postgresql://user@host/db",
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="full: every commit reaches the disk before a client is answered (survives power loss); "
        "normal: survives a crash of the process but not of the machine.",
    )
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url


class HttpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(
        default=0, ge=0, le=256, description="HTTP worker processes; 0 = one per core (PostgreSQL), one (SQLite)"
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    head_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="seconds a request's line and headers may take to arrive (a slow client is disconnected)",
    )
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="a sendSMSBatch.do file (read as it arrives, never held whole); its rows: max_recipients",
    )
    spool_dir: str | None = Field(
        default=None,
        description="where a sendSMSBatch.do campaign's messages wait, on disk, for its acceptance (the file is "
        "removed once answered); unset: the system's temporary directory",
    )
    max_recipients: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="recipients one send may name, invalid ones and duplicates included (a GET sendSMS.do: 300)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client "
        "(key network limits, logs); empty: the connection's own address is the client's",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: list[str]) -> list[str]:
        bad = []
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                bad.append(proxy)
        if bad:
            raise ValueError(f"not an address or CIDR range: {', '.join(bad)}")
        return [proxy.strip() for proxy in proxies]


class AdminConfig(_Section):
    """The admin listener: /healthz, /readyz and /metrics, kept off the API port (docs/operations.md)."""

    host: str = Field(default="127.0.0.1", description="keep it on loopback or a private network")
    port: int = Field(default=9180, ge=0, le=65535)
    counts_max_age: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="seconds /metrics reuses the queue and callbacks counts it read from the database",
    )
    write_probe_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="seconds /readyz reuses the outcome of its write to the database (one write per HTTP worker)",
    )


class SecurityConfig(_Section):
    """Limits on refused authentications (docs/security.md), counted in each HTTP worker's memory."""

    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description="refused credentials (tokens, API keys, passwords) allowed per client address and minute, "
        "as a burst; past them the address is refused until it earns one back; 0 = no limit",
    )
    login_failures_per_minute: int = Field(
        default=10,
        ge=0,
        description="wrong passwords allowed per login and minute, as a burst; past them the login is refused "
        "until it earns one back; 0 = no limit",
    )


class EngineConfig(_Section):
    node: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,63}$",
        description="this engine's name among those sharing a database (default: the host name); one engine per name",
    )
    poll_interval: float = Field(default=0.05, gt=0, le=10, description="seconds between queue polls when idle")
    batch_size: int = Field(default=500, ge=1, le=10000)
    lease_seconds: float = Field(default=60.0, gt=0)
    retry_delay: float = Field(
        default=5.0, gt=0, description="seconds before a message no connector took is tried again (then doubled)"
    )
    retry_max: float = Field(default=300.0, gt=0, description="longest wait between two tries of a message")
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failed submissions that open a connector's circuit breaker"
    )
    breaker_rest: float = Field(default=30.0, gt=0, description="seconds a broken connector rests before a probe")
    heartbeat: float = Field(
        default=2.0, gt=0, description="seconds between two signs of life of this engine (throughput sharing)"
    )
    unmatched_receipts_ttl: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="seconds a delivery receipt naming no known part is kept, waiting for its part, before it is "
        "forgotten (logged and counted in martinet_unmatched_receipts_expired_total)",
    )
    receipt_deadline: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="seconds after submission a part's final receipt is overdue (never past the message's "
        "validity): the engine then asks the carrier (query_sm, where the connector allows it) or records the "
        "outcome as unknown (3599); a receipt arriving later still applies",
    )


class LaneConfig(_Section):
    validity: float = Field(gt=0, description="seconds a message may wait before it expires (status 37)")


class LanesConfig(_Section):
    """Per-lane defaults and the share of every connector kept free for one-time passwords (docs/engine.md)."""

    otp: LaneConfig = Field(default_factory=lambda: LaneConfig(validity=600))
    notification: LaneConfig = Field(default_factory=lambda: LaneConfig(validity=86400))
    marketing: LaneConfig = Field(default_factory=lambda: LaneConfig(validity=172800))
    otp_reserved_share: float = Field(
        default=0.2, ge=0, lt=1, description="fraction of each connector's throughput only OTP may use"
    )

    def validity(self, lane: Lane) -> float:
        return {Lane.OTP: self.otp, Lane.NOTIFICATION: self.notification, Lane.MARKETING: self.marketing}[lane].validity


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class QuietHoursRule(_Section):
    """When commercial SMS may be sent to one country; outside it marketing messages wait for the opening."""

    timezone: str = Field(description="IANA time zone the hours are read in, e.g. Europe/Paris")
    opens: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes: str = Field(default="20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closed_days: list[Weekday] = Field(default_factory=lambda: list[Weekday](["sunday"]))
    public_holidays: bool = Field(default=True, description="closed on the country's public holidays")


class MarketingConfig(_Section):
    quiet_hours: dict[str, QuietHoursRule] | None = Field(
        default=None,
        description="per destination country (ISO 3166 alpha-2), replacing every quiet_hours of the country rules "
        "(data/countries.toml, France's by default); {} = none",
    )
    stop_mention: Literal["add", "refuse", "off"] = Field(
        default="add",
        description="marketing sends from a custom sender without stop=1/2: add the STOP mention, refuse, or allow",
    )


class OptOutConfig(_Section):
    """Opt-outs (docs/opt-out.md): which replies ask to stop, and which lanes an opted-out number is spared."""

    keywords: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEYWORDS),
        description="replies that opt a number out, compared without case, accents or punctuation",
    )
    lanes: list[Lane] = Field(
        default_factory=lambda: [Lane.MARKETING],
        description="lanes not sent to opted-out numbers (status 3999, no cost); OTP and notifications by default not",
    )


class RepliesConfig(_Section):
    owners: dict[str, str] = Field(
        default_factory=dict,
        description="receiving number → account login: where replies to that number that answer no conversation go "
        "(docs/compatibility.md)",
    )
    conversation_hours: float = Field(
        default=168.0,
        gt=0,
        description="hours after an account's last message to a phone from a reply number during which that number "
        "stays that account's for that phone (no other account's message to the phone leaves from it)",
    )


class RouteConnector(_Section):
    name: str
    weight: int = Field(default=1, ge=1, description="share of traffic among connectors of equal rank")
    price: Decimal | None = Field(default=None, ge=0, description="cost per part, for least-cost ordering")
    tier: int | None = Field(default=None, description="connectors with the same tier are equals (default: position)")


class RouteConfig(_Section):
    """One routing rule: empty match lists match anything; the first matching route wins (docs/routing.md)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    countries: list[str] = Field(default_factory=list)
    prefixes: list[str] = Field(default_factory=list, description="E.164 digits the number starts with, e.g. 3367")
    operators: list[str] = Field(default_factory=list, description="mcc/mnc (20801) or range holder (Orange)")
    lanes: list[Lane] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)
    connectors: list[RouteConnector] = Field(min_length=1)
    least_cost: bool = Field(default=False, description="order connectors by price before tier")

    @field_validator("connectors", mode="before")
    @classmethod
    def _names_as_tables(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("connectors")
    @classmethod
    def _each_connector_once(cls, entries: list[RouteConnector]) -> list[RouteConnector]:
        names = [e.name for e in entries]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"a connector may appear once per route: {', '.join(twice)}")
        return entries

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, countries: list[str]) -> list[str]:
        bad = [c for c in countries if len(c) != 2 or not c.isalpha()]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 country codes: {', '.join(bad)}")
        return [c.upper() for c in countries]

    @field_validator("prefixes")
    @classmethod
    def _digit_prefixes(cls, prefixes: list[str]) -> list[str]:
        cleaned = [p.removeprefix("+").replace(" ", "") for p in prefixes]
        bad = [p for p, c in zip(prefixes, cleaned, strict=True) if not c.isdigit()]
        if bad:
            raise ValueError(f"prefixes are E.164 digits: {', '.join(bad)}")
        return cleaned


class AccountDefaults(_Section):
    lane: Lane = Lane.MARKETING
    non_gsm: NonGsmPolicy = NonGsmPolicy.REPLACE
    timezone: str = "Europe/Paris"
    language: Literal["fr", "en"] = "fr"
    stop_mention: str = Field(default="STOP 36180", description="appended with stop=1/2 (France)")
    rate_limit: float = Field(
        default=0, ge=0, description="sends per second accepted per account (each may override); 0 = no limit"
    )
    token_cache_seconds: float = Field(default=5.0, ge=0)
    schedule_horizon_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="how far ahead a send may be scheduled (date_envoi, sentDate); later dates are refused",
    )


class SandboxConnectorConfig(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    type: Literal["sandbox"] = "sandbox"
    operator_delay: float = Field(default=0.2, ge=0, description="seconds until 'delivered to operator'")
    handset_delay: float = Field(default=1.0, ge=0, description="seconds until 'received'")
    reply_numbers: list[str] = Field(
        default_factory=list, description="numbers classe_msg=4 sends go out from, so that replies come back"
    )


class SmppConnectorConfig(_Section):
    """A carrier reached over SMPP 3.4 (docs/smpp.md)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    type: Literal["smpp"]
    host: str
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(max_length=15)
    password: str = Field(default="", max_length=8)
    system_type: str = Field(default="", max_length=12)
    binds: int = Field(default=1, ge=1, le=32, description="connections to open")
    bind_mode: Literal["transceiver", "tx+rx"] = Field(
        default="transceiver", description="one transceiver bind each, or a transmitter and a receiver each"
    )
    window: int = Field(default=64, ge=1, le=1024, description="unacknowledged requests per bind")
    inbound_window: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="requests from the carrier (receipts, replies) awaiting our answer per bind; at this many the "
        "bind stops reading until half are answered (answers wait for a batched commit: a small value slows receipts)",
    )
    throughput: float = Field(default=0, ge=0, description="parts per second for the whole connector; 0 = no limit")
    reply_numbers: list[str] = Field(
        default_factory=list,
        description="short or long numbers of this carrier that receive replies; classe_msg=4 sends go out from them",
    )
    long_messages: Literal["udh8", "udh16", "sar", "payload"] = "udh8"
    long_message_receipts: Literal["each_part", "first_part", "last_part"] = Field(
        default="each_part",
        description="which parts of a long message the carrier sends receipts for: each one, or only the first or "
        "the last, whose receipt then stands for the whole message (docs/smpp.md)",
    )
    gsm_packed: bool = Field(default=False, description="pack GSM 7-bit septets (most SMSCs expect unpacked)")
    message_id_format: Literal["auto", "hex", "decimal", "as_is", "hex_decimal", "decimal_hex"] = Field(
        default="auto",
        description="how the carrier writes message IDs (docs/smpp.md): auto learns how its receipts write them",
    )
    registered_delivery: int = Field(default=1, ge=0, le=31)
    response_timeout: float = Field(default=10.0, gt=0)
    enquire_link_interval: float = Field(default=30.0, gt=0)
    dead_peer_timeout: float = Field(default=90.0, gt=0)
    reconnect_min: float = Field(default=1.0, gt=0)
    reconnect_max: float = Field(default=60.0, gt=0)
    throttle_retry: float = Field(default=1.0, gt=0, description="seconds before a throttled part is tried again")
    throttle_deadline: float = Field(
        default=60.0, gt=0, description="give a throttled message back to the engine after this long"
    )
    receipt_deadline: float | None = Field(
        default=None, gt=0, description="engine.receipt_deadline for this carrier's parts (default: that one)"
    )
    query_sm: bool = Field(
        default=False,
        description="ask the carrier with query_sm about parts whose final receipt is overdue, before concluding",
    )


class SipConnectorConfig(_Section):
    """A SIP trunk that voice messages are called through (docs/voice.md)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    type: Literal["sip"]
    host: str
    port: int = Field(default=5060, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    domain: str | None = Field(default=None, description="the host part of the called URI (default: host)")
    username: str = Field(default="", description="digest authentication user (empty: none)")
    password: str = ""
    caller_id: str = Field(default="martinet", description="the user part of the From URI (the number shown)")
    local_host: str = Field(default="127.0.0.1", description="the address this side signals and receives RTP on")
    codec: Literal["PCMA", "PCMU"] = Field(default="PCMA", description="preferred codec of the SDP offer")
    max_calls: int = Field(default=50, ge=1, le=10_000, description="calls in progress at once")
    ring_timeout: float = Field(default=30.0, gt=0, description="seconds of ringing before giving up (no answer)")
    attempts: int = Field(default=3, ge=1, le=10, description="calls per message when busy or not answered")
    retry_delay: float = Field(default=60.0, ge=0, description="seconds between two attempts")
    receipt_deadline: float | None = Field(
        default=None, gt=0, description="engine.receipt_deadline for this trunk's calls (default: that one)"
    )


ConnectorConfig = Annotated[
    SandboxConnectorConfig | SmppConnectorConfig | SipConnectorConfig, Field(discriminator="type")
]


class VoiceConfig(_Section):
    """Voice messages (docs/voice.md): what the synthetic voice reads and how."""

    platform: str = Field(default="Martinet", max_length=50, description="the name the default title says")
    repeat: int = Field(default=2, ge=1, le=5, description="times the message is read in one call")
    synthesizer: Literal["espeak-ng"] = "espeak-ng"
    voices: dict[str, str] = Field(
        default_factory=dict, description="espeak-ng voice per language (default: the language's own)"
    )
    speed: int = Field(default=150, ge=80, le=400, description="words per minute")
    cache_size: int = Field(default=256, ge=0, le=100_000, description="synthesised texts kept in memory")


class SimulatorSection(_Section):
    config: str | None = Field(
        default=None, description="start the SMSC simulator with this configuration file beside the gateway"
    )
    sip_trunk: str | None = Field(
        default=None, description="start the SIP trunk simulator with this configuration file beside the gateway"
    )


class PricingConfig(_Section):
    file: str | None = Field(default=None, description="TOML price table replacing the built-in one")
    prices: dict[str, Decimal] = Field(default_factory=dict, description="per-country overrides, credits/part")
    # Prices by zone and country rules come as data; these lines are the operator's layers on top (docs/pricing.md).
    closed: list[str] = Field(default_factory=list, description="destinations refused (3560) whatever their price")
    voice: dict[str, Decimal] = Field(default_factory=dict, description="per-country voice prices, credits/unit")
    accounts: dict[str, dict[str, Decimal]] = Field(
        default_factory=dict, description="account login → country → credits/part, beating every other price"
    )


class RulesConfig(_Section):
    """Country rules (senders, registration, Unicode, quiet hours, opt-out): data/countries.toml, docs/routing.md."""

    file: str | None = Field(default=None, description="TOML country rules replacing the built-in ones")
    countries: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="country code (or default) → rule keys overriding the file's"
    )


class NetworksConfig(_Section):
    """Range holders → mobile networks (name, MCC+MNC): data/operators.toml, docs/routing.md#operators."""

    file: str | None = Field(default=None, description="TOML operator table replacing the built-in operators.toml")


class CallbacksConfig(_Section):
    """Status callbacks (delivery reports) to the clients' URLs; see docs/webhooks.md."""

    allow_private_networks: bool = Field(
        default=False,
        description="allow callback URLs that resolve to loopback, private, link-local or other non-public "
        "addresses (refused by default: a client could otherwise make the gateway call its internal network)",
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds a client's server has to answer")
    max_age_hours: float = Field(
        default=24.0, gt=0, description="hours a callback is retried after its status change; then it is failed"
    )
    concurrency_per_host: int = Field(default=32, ge=1, le=1024, description="simultaneous requests per host")
    concurrency: int = Field(default=256, ge=1, le=10000, description="simultaneous requests in all")
    retry_first: float = Field(default=5.0, gt=0, description="seconds before the first retry (then doubled)")
    retry_max: float = Field(default=3600.0, gt=0, description="longest wait between two tries of a callback")
    own_process: bool = Field(
        default=True,
        description="under `martinet serve`, deliver callbacks from a process of their own rather than inside the "
        "engine, so that they use another core than dispatch and receipts",
    )


class ConsoleConfig(_Section):
    """The web console at /console/ (docs/console.md)."""

    enabled: bool = Field(default=True, description="serve the web console at /console/ on the API port")
    secret_key: str = Field(
        default="",
        description="signs session cookies and sign-in links; empty: a random key at each start (sessions end "
        "when the gateway restarts). Keep it secret; several nodes behind one address share one.",
    )
    operators: list[str] = Field(
        default_factory=list, description="logins of the accounts that also see the operator pages"
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="how long a console session lasts")
    link_minutes: float = Field(
        default=60.0, gt=0, le=12 * 60, description="how long a one-time sign-in link may wait before it is used"
    )


def _default_connectors() -> list[SandboxConnectorConfig | SmppConnectorConfig | SipConnectorConfig]:
    return [SandboxConnectorConfig(name="sandbox")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MARTINET_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    accounts: AccountDefaults = Field(default_factory=AccountDefaults)
    connectors: list[ConnectorConfig] = Field(default_factory=_default_connectors, min_length=1)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    networks: NetworksConfig = Field(default_factory=NetworksConfig)
    lanes: LanesConfig = Field(default_factory=LanesConfig)
    marketing: MarketingConfig = Field(default_factory=MarketingConfig)
    routes: list[RouteConfig] = Field(default_factory=list)
    optout: OptOutConfig = Field(default_factory=OptOutConfig)
    replies: RepliesConfig = Field(default_factory=RepliesConfig)
    simulator: SimulatorSection = Field(default_factory=SimulatorSection)
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_text: bool = Field(
        default=False,
        description="message texts (sent and received) may appear in logs; tokens, passwords and secrets never do",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the file: operators override one value of a shared file per machine.
        return (env_settings, init_settings)

    @field_validator("connectors")
    @classmethod
    def _unique_names(
        cls, connectors: list[SandboxConnectorConfig | SmppConnectorConfig | SipConnectorConfig]
    ) -> list[SandboxConnectorConfig | SmppConnectorConfig | SipConnectorConfig]:
        names = [c.name for c in connectors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"connector names must be unique: {', '.join(duplicates)}")
        return connectors

    @model_validator(mode="after")
    def _admin_port_of_its_own(self) -> Settings:
        if self.admin.port and self.admin.port == self.http.port:
            raise ValueError(f"admin.port must differ from http.port ({self.http.port})")
        return self

    @model_validator(mode="after")
    def _routes_name_connectors(self) -> Settings:
        known = {c.name for c in self.connectors}
        names = [route.name for route in self.routes]
        problems = [f"route name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
        problems += [
            f"route {route.name!r} names unknown connector {entry.name!r}"
            for route in self.routes
            for entry in route.connectors
            if entry.name not in known
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_settings(path: Path | None) -> Settings:
    """Read `path` (if given) and the `MARTINET_*` environment; raise ConfigError listing every problem."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from None


def _explain(exc: ValidationError, path: Path | None) -> str:
    """One line per problem, naming the environment variable when the bad value came from one."""
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        variable = "MARTINET_" + "__".join(str(part) for part in error["loc"]).upper()
        where = variable if variable in {k.upper() for k in os.environ} else str(path or "configuration")
        lines.append(f"{where}: {location}: {error['msg']}")
    return "\n".join(lines)


def worker_count(settings: Settings) -> int:
    """`http.workers`, or by default one per core on PostgreSQL and one on SQLite.

    SQLite has a single writer: extra HTTP processes only take turns on its lock. Measured on 2 cores, one
    group-committing worker accepts about as much as two and leaves the other core to the engine
    (docs/benchmarks-history.md).
    """
    if settings.http.workers:
        return settings.http.workers
    if settings.database.url.startswith("sqlite:"):
        return 1
    return os.cpu_count() or 1
