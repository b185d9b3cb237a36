"""SMPP carrier connector: pure helpers for coding, concatenation, receipts, message IDs and errors.

May import `connectors.base`, `smpp`, `domain`, `config`, `clock` and `metrics`.
"""
