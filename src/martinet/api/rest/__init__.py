"""The REST door: smsmode's JSON API v1 (`/sms/v1/…`, `/commons/v1/…`) and Martinet's extensions to it.

A door: may import `services`, `domain`, `clock`, `metrics` and the store's reads (see `martinet.api`).
"""
