"""Who this process is to the others sharing the database: its node's name and the owner it writes on leases."""

from __future__ import annotations

import os
import socket

from martinet.config import Settings


def node_name(settings: Settings) -> str:
    return settings.engine.node or socket.gethostname()


def process_owner(node: str) -> str:
    """Who holds a lease: the node and this process, so a restarted process can take back what its node held."""
    return f"{node}:{os.getpid()}"
