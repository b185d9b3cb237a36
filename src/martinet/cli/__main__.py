"""`python -m martinet.cli`: the `martinet` command without its console script (tests, benchmarks)."""

import os
import sys

from martinet.cli.main import main

# Guarded like the former martinet/cli.py: importing this module (a tool, a test) must not run the command.
if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
