"""Connectors: the one small interface between the engine and whatever carries SMS (SMPP, HTTP, sandbox)."""
