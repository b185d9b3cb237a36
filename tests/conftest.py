"""Shared fixtures: a real database of each kind, and a real gateway on loopback.

Every test that takes `database_url` runs twice, on a SQLite file and on PostgreSQL (127.0.0.1:5432, user
postgres, or MARTINET_TEST_POSTGRES). Either is already migrated: each PostgreSQL test gets a fresh database
cloned from a template, each SQLite test a copy of a file, both migrated once per test process, so tests never
see each other's rows and the migrations run once rather than per test. Without a PostgreSQL server the PostgreSQL half is skipped,
except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

from martinet.store.database import Database, open_database
from martinet.store.migrate import upgrade

# No per-example deadline: hypothesis's 200 ms default fails a test whenever a shared machine stalls it, which
# says nothing of the code (the suite asserts no timings it does not measure against a reference).
settings.register_profile("martinet", deadline=None)
settings.load_profile("martinet")

POSTGRES = os.environ.get("MARTINET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)


_template: str | None = None


async def _postgres_template() -> str:
    """A database migrated once per test process, cloned by every PostgreSQL test."""
    global _template
    if _template is None:
        name = f"martinet_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        conn = await _admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        db = open_database(f"{POSTGRES}/{name}")
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        _template = name
    return _template


_sqlite_template: Path | None = None


async def _sqlite_template_file(factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per test process, copied by every SQLite test."""
    global _sqlite_template
    if _sqlite_template is None:
        path = factory.mktemp("sqlite-template") / "martinet.db"
        db = open_database(f"sqlite:///{path}")
        try:
            await upgrade(db)
        finally:
            await db.dispose()  # its last connection closed: the file holds everything, no write-ahead log beside
        _sqlite_template = path
    return _sqlite_template


def _postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        template = await _sqlite_template_file(tmp_path_factory)
        shutil.copy(template, tmp_path / "martinet.db")  # its mode too, as martinet created it
        yield f"sqlite:///{tmp_path / 'martinet.db'}"
        return
    async with _postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """For what only PostgreSQL does: several engines sharing one database, notifications."""
    async with _postgres_database() as url:
        yield url


@contextlib.asynccontextmanager
async def _postgres_database() -> AsyncIterator[str]:
    """A fresh migrated PostgreSQL database (cloned from a template), dropped afterwards."""
    if POSTGRES == "postgresql://postgres@127.0.0.1:5432" and not _postgres_available():
        if _in_ci():
            pytest.fail("PostgreSQL is required in CI but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (install and start postgresql)")
    template = await _postgres_template()
    name = f"martinet_t_{uuid.uuid4().hex[:12]}"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url, sqlite_synchronous="normal")  # migrated already (`database_url`)
    try:
        yield database
    finally:
        await database.dispose()


#: Fixtures that start real things: a test that takes one is not a `unit` test (`make test-fast` would slow down).
_NOT_UNIT = frozenset({"database_url", "postgres_url", "db"})


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m unit` (`make test-fast`), a module without the mark is not even imported: importing the whole
    suite (SQLAlchemy, uvicorn, schemathesis...) would cost more than running the unit tests."""
    if config.getoption("markexpr") != "unit" or not collection_path.name.startswith("test_"):
        return None
    if collection_path.suffix != ".py":
        return None
    return "pytestmark = pytest.mark.unit" not in collection_path.read_text(encoding="utf-8")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("unit") is None:
            continue
        found = _NOT_UNIT.intersection(getattr(item, "fixturenames", ()))
        if found:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but takes {', '.join(sorted(found))}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _template is None:
        return

    async def drop() -> None:
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} (the project's shared folder) is not beside the repository")
    yield SHARED


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` different free ports (`free_port` twice may give the same one)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port_pair() -> int:
    """A port whose successor is free too, below Linux's ephemeral range (32768+).

    A port the kernel hands out for bind(0) may be given to any outgoing connection of another test between the
    check and the use, and a service that takes "the next port" was never checked at all.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports between 20000 and 32000")
