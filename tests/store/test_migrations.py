"""The Alembic history builds exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from martinet.store.database import Database
from martinet.store.migrate import upgrade
from martinet.store.schema import metadata


async def test_migrations_match_the_declared_schema(db: Database) -> None:
    def differences(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with db.reader.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_upgrading_twice_is_harmless(db: Database) -> None:
    await upgrade(db)
    async with db.reader.connect() as conn:
        version = await conn.exec_driver_sql("select version_num from alembic_version")
        assert version.scalar_one() == "0016"
