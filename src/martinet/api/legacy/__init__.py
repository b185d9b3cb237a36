"""The smsmode-compatible HTTP API (`/http/1.6/*.do`): raw-byte form decoding, the endpoints, smsmode's answers.

A door: may import `services`, `domain`, `clock` and `metrics` (see `martinet.api`).
"""
