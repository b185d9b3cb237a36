"""The web console: server-rendered pages for account holders and operators, another door on the services.

May import `services`, `domain` and the store's reads; it knows the gateway that mounts it only as the `PageHost`
protocol (`context.py`).
"""
