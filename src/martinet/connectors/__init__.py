"""Connectors: the one small interface between the engine and whatever carries SMS (SMPP, HTTP, sandbox).

Beside the services, below the engine: may import `domain`, `config` (their own sections), the protocol packages
(`smpp`, `sip`, `voice`) and `metrics`; never the store, the engine or a door (the engine hands them messages and
takes their receipts through `base.py`).
"""
