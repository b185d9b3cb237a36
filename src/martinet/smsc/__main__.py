"""``python -m martinet.smsc [--listen ...] [inject ...]``: the simulator without the full CLI."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
