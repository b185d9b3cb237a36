"""Bringing a database to the current schema with Alembic, from inside the program.

`martinet serve` and `martinet demo` call `upgrade` before starting anything, so an operator never runs a
separate migration step; the Alembic scripts stay the single history of the schema for both databases.
"""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from martinet.store.database import Database


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("martinet.store") / "migrations"))
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.writer.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
