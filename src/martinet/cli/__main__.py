"""`python -m martinet.cli`: the `martinet` command without its console script (tests, benchmarks)."""

import os
import sys

from martinet.cli.main import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
sys.exit(main())
