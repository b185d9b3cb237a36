"""An SMSC simulator: the default upstream of a fresh install and the test peer of the suite.

Built on :mod:`martinet.smpp` (the sans-I/O session and its asyncio adapter).  Use it in code::

    from martinet.smsc import Credential, Simulator, SimulatorConfig

    config = SimulatorConfig(port=0, control_port=None, credentials=(Credential("acme", "secret"),))
    async with Simulator(config) as smsc:
        ...  # bind to 127.0.0.1:smsc.port; smsc.inject_mo(...); smsc.stats()

or from the command line: ``martinet smsc --listen 127.0.0.1:2775 --system-id acme --password secret``.

May import `smpp` and `logs`; the gateway reaches it only as a peer over the network.
"""

from __future__ import annotations

from .config import (
    DEFAULT_OUTCOMES,
    TEST_RANGE,
    Credential,
    Fate,
    FinalStatus,
    SimulatorConfig,
    SimulatorConfigError,
    load_config,
)
from .simulator import Address, Counters, Simulator, SubmittedMessage

__all__ = [
    "DEFAULT_OUTCOMES",
    "TEST_RANGE",
    "Address",
    "Counters",
    "Credential",
    "Fate",
    "FinalStatus",
    "Simulator",
    "SimulatorConfig",
    "SimulatorConfigError",
    "SubmittedMessage",
    "load_config",
]
