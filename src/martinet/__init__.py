"""Martinet: a self-hosted SMS platform that speaks the smsmode HTTP API."""

__version__ = "0.1.0"
