"""Alembic migrations of the store (run by `martinet.store.migrate`, not by the alembic command)."""
