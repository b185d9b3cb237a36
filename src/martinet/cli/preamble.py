"""What every command that touches a gateway's data does first: take `--config FILE` or `--data DIR`, read the
settings they name, open the store (bringing its schema up to date unless the command must not write) and
close it however the command ends. One copy, so that every command finds its gateway the same way.

The store is imported when a command runs, not when the parser is built, to keep the command quick to start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from martinet.cli.demo import settings_for
from martinet.config import Settings, load_settings

if TYPE_CHECKING:
    from martinet.store.database import Database

__all__ = [
    "SettingsLoader",
    "StoreUnreachable",
    "Where",
    "opened_store",
    "prepare_database",
    "redacted_url",
    "run",
    "settings",
    "where",
]

T = TypeVar("T")

#: Reads the settings a command's --config/--data name (`settings`, passed to each group of commands).
SettingsLoader = Callable[[argparse.Namespace], Settings]
#: Adds --config/--data to a command's parser (`where`, passed to each group of commands).
Where = Callable[[argparse.ArgumentParser], None]


def where(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", type=Path, metavar="FILE", help="configuration file (TOML)")
    group.add_argument("--data", type=Path, metavar="DIR", help="data folder holding martinet.toml")


def settings(args: argparse.Namespace) -> Settings:
    if args.config is not None:
        return load_settings(args.config)
    if args.data is not None:
        return settings_for(args.data)
    return load_settings(None)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class StoreUnreachable(Exception):
    """The configured database could not be reached or opened: `martinet` says so in one line and exits with 1,
    rather than with the driver's traceback."""


async def reach(db: Database, url: str) -> None:
    """One round trip to the database, so that a server down, a refused login or a file that cannot be opened is
    told as such (the URL without its password, the driver's error on one line) before a command starts."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from martinet import logs

    try:
        async with db.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, DBAPIError) as exc:
        raise StoreUnreachable(f"the database cannot be reached ({redacted_url(url)}): {logs.failure(exc)}") from None


def open_store(settings: Settings) -> Database:
    """The configured store; a SQLite file whose folder cannot be made is told in one line, as `reach` does."""
    from martinet import app, logs

    try:
        return app.open_store(settings)
    except OSError as exc:
        url = redacted_url(settings.database.url)
        raise StoreUnreachable(f"the database cannot be opened ({url}): {logs.failure(exc)}") from None


async def prepare_database(settings: Settings, db: Database | None = None) -> int:
    """Bring the database to the current schema (opening it when not given)."""
    from martinet.store.migrate import upgrade

    own = db is None
    database = open_store(settings) if db is None else db
    try:
        await reach(database, settings.database.url)
        await upgrade(database)
    finally:
        if own:
            await database.dispose()
    return 0


@contextlib.asynccontextmanager
async def opened_store(settings: Settings, *, migrate: bool = True, reached: bool = True) -> AsyncIterator[Database]:
    """The configured store, closed when the block ends; `migrate=False` for a command that must not change what
    it looks at (`martinet status`) or that leaves the schema to the commands that create data; `reached=False`
    for `martinet status`, whose report tells itself what the database answered."""
    db = open_store(settings)
    try:
        if migrate:
            await prepare_database(settings, db)
        elif reached:
            await reach(db, settings.database.url)
        yield db
    finally:
        await db.dispose()


def redacted_url(url: str) -> str:
    """A database URL fit to print: its password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        scheme, separator, rest = url.partition("://")
        credentials, at, place = rest.rpartition("@")
        if not separator or not at or ":" not in credentials:
            return url
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{place}"
