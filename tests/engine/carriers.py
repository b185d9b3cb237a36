"""Simulator instances playing carriers for the engine's end-to-end tests, and the connectors that reach them."""

from __future__ import annotations

from typing import Any

from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig


def carrier_config(**overrides: Any) -> SimulatorConfig:
    """A carrier that takes everything, delivers every message, reports at once (no intermediate receipt) and
    authenticates `acme`/`secret`; `overrides` are SimulatorConfig fields."""
    values: dict[str, Any] = {
        "port": 0,
        "control_port": None,
        "credentials": (Credential("acme", "secret"),),
        "intermediate_receipt": None,
        "receipt_delay": 0.05,
        "outcomes": {FinalStatus.DELIVRD: 1.0},
        "seed": 1,
        "session": SessionConfig(enquire_link_interval=5, dead_peer_timeout=15, response_timeout=5),
    }
    return SimulatorConfig(**{**values, **overrides})


def smpp_connector(name: str, port: int, **extra: Any) -> dict[str, Any]:
    """The configuration of a connector bound to a simulator on loopback as `acme`."""
    return {
        "name": name,
        "type": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "acme",
        "password": "secret",
        "reconnect_min": 0.1,
        "reconnect_max": 0.5,
        **extra,
    }


async def bound(simulator: Simulator, binds: int = 1) -> bool:
    return int(simulator.stats()["active_binds"]) >= binds
