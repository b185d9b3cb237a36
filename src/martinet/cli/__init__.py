"""The `martinet` command: its parser and entry point (`main`), one module per group of commands, the demo data
folder (`demo`) and the preamble every command shares (`preamble`: --config/--data, the settings they name,
opening and closing the store).

A door like the HTTP ones: it may import `services`, `store` (through the composition root `martinet.app`, when a
command runs, to keep start-up quick), `domain`, `config` and the simulators' own commands; nothing imports it.
"""

from martinet.cli.main import main

__all__ = ["main"]
