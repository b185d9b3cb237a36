"""Statements of the hot paths at driver speed: many rows inserted (accepted messages, contact imports), many
rows updated (`ManyRows`), IN lists read (`ListStatement`).

SQLAlchemy's `conn.execute(insert(table), rows)` builds and checks a parameter dict per row in Python, which at
100,000 rows costs seconds. On SQLite the rows go as tuples to sqlite3's `executemany` (a loop in C); on
PostgreSQL through asyncpg's `COPY ... FROM STDIN` (binary), in the caller's transaction, which the server loads
several times faster than row-by-row inserts. The statement is written from the table's columns, so no SQL text
is hand-maintained. The same holds for the other two: the SQL comes from Core statements, compiled once.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, cast

from sqlalchemy import Table
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.util import await_only

from martinet.domain.valueclass import valueclass

#: Rows handed to the driver at a time: bounds the tuples held at once, not the transaction.
CHUNK = 5000
COPY_CHUNK = 20_000


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]], *, copy: bool = True
) -> int:
    """Insert `rows` (tuples in the order of `columns`) into `table`; returns how many.

    `copy=False` for the engine's small hot batches (a few hundred history rows or parts): on PostgreSQL they go
    through the driver's `executemany` rather than COPY, whose setup costs more than such a batch. Values go to
    the driver as they are (no SQLAlchemy type processing): plain `str`, `int` and None.
    """
    if copy and conn.dialect.driver == "asyncpg":
        _check_columns(table, columns)
        return _copy(conn, table, columns, rows)
    statement = _insert_statement(conn.dialect, table, tuple(columns))
    iterator = iter(rows)
    total = 0
    while chunk := list(itertools.islice(iterator, CHUNK)):
        conn.exec_driver_sql(statement, chunk)
        total += len(chunk)
    return total


def _check_columns(table: Table, columns: Sequence[str]) -> None:
    for name in columns:
        table.c[name]  # a column the table does not have fails here, before any SQL is sent


#: INSERT statements written so far, by driver, parameter style, table and columns.
_STATEMENTS: dict[tuple[str, str, str, Table, tuple[str, ...]], str] = {}


def _insert_statement(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    """The INSERT of `columns` in the driver's own parameter style, written once per driver, table and columns:
    the hot paths insert the same few rows per transaction thousands of times a second."""
    key = (dialect.name, dialect.driver, dialect.paramstyle, table, columns)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = _write_insert(dialect, table, columns)
    return statement


def _write_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    _check_columns(table, columns)
    style = dialect.paramstyle
    if style == "qmark":
        marks = ", ".join("?" for _ in columns)
    elif style in ("numeric_dollar", "numeric"):
        sign = "$" if style == "numeric_dollar" else ":"
        marks = ", ".join(f"{sign}{i}" for i in range(1, len(columns) + 1))
    elif style in ("format", "pyformat"):
        marks = ", ".join("%s" for _ in columns)
    else:
        raise NotImplementedError(f"parameter style {style!r}")
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in columns)
    return f"INSERT INTO {preparer.quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608 (names from the schema)


def _copy(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """PostgreSQL: COPY through the asyncpg connection under `conn` (run by `run_sync`, so awaiting is allowed)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    iterator = iter(rows)
    total = 0
    while chunk := list(itertools.islice(iterator, COPY_CHUNK)):
        await_only(driver.copy_records_to_table(table.name, records=chunk, columns=list(columns)))
        total += len(chunk)
    return total


class ManyRows:
    """A Core statement run for many rows at driver speed: compiled once per dialect, rows passed as tuples.

    `conn.execute(statement, [dict, ...])` looks the compiled form up in SQLAlchemy's cache and then builds and
    converts a parameter dict per row in Python; for the engine's per-batch updates (a part, a message, a
    callback per row) that is most of their cost. Every value of the statement must be a named `bindparam`
    listed in `names` (a literal would be frozen into the cached form, so one fails here instead); values go to
    the driver unconverted: plain `str`, `int` and None.
    """

    def __init__(self, statement: UpdateBase, names: Sequence[str]) -> None:
        self._statement = statement
        self._names = tuple(names)
        self._compiled: dict[tuple[str, str], tuple[str, Callable[[Sequence[object]], tuple[object, ...]]]] = {}

    def execute(self, conn: Connection, rows: Iterable[Sequence[object]]) -> None:
        """Run the statement once per row (tuples in the order of `names`)."""
        dialect = conn.dialect
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        sql, arrange = compiled
        values = list(map(arrange, rows))
        if values:
            conn.exec_driver_sql(sql, values)

    def _compile(self, dialect: Dialect) -> tuple[str, Callable[[Sequence[object]], tuple[object, ...]]]:
        compiled = self._statement.compile(dialect=dialect)
        positions = compiled.positiontup
        if positions is None:
            raise NotImplementedError(f"parameter style {dialect.paramstyle!r} is not positional")
        unknown = [name for name in positions if name not in self._names]
        if unknown:
            raise ValueError(f"values not given by name: {unknown} (use bindparam)")
        return str(compiled), _arranger(tuple(self._names.index(name) for name in positions))


def _arranger(order: tuple[int, ...]) -> Callable[[Sequence[object]], tuple[object, ...]]:
    """A row's values in the driver's order, as a tuple: `itemgetter` picks them in C (0.04 µs a row of six
    values, where a generator per row took 0.28, docs/benchmarks-history.md); of one position it gives the value itself,
    so that one is wrapped."""
    if len(order) == 1:
        (only,) = order
        return lambda row: (row[only],)
    return cast(Callable[[Sequence[object]], tuple[object, ...]], operator.itemgetter(*order))


_LIST: Final = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")


class ListStatement:
    """A Core statement with IN lists (`bindparam(name, expanding=True)`), run on SQLite without SQLAlchemy's
    per-call expansion.

    SQLAlchemy renders an IN list anew at every execution, building a parameter name and a dict entry per value
    in Python; for the engine's per-batch look-ups (a receipt batch's carrier IDs, a submission batch's message
    IDs) that cost more than SQLite running the query. Here the statement is compiled once, and each execution
    only writes the right number of `?` where each list goes. Rows come back as from `conn.execute`, keyed by
    column name or label. Values go both ways unconverted (no bind parameter or column may need a type's
    processing: one that would fails on first use); other dialects, and empty lists, take SQLAlchemy's usual path.
    """

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: _ListCompiled | None = None
        self._texts: dict[tuple[int, ...], str] = {}

    @property
    def statement(self) -> Executable:
        """The Core statement, as given."""
        return self._statement

    def execute(self, conn: Connection, params: Mapping[str, object]) -> CursorResult[Any]:
        if conn.dialect.paramstyle != "qmark" or conn.dialect.name != "sqlite":
            return conn.execute(self._statement, dict(params))
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _ListCompiled.of(self._statement, conn.dialect)
        lists = [params.get(name, compiled.defaults.get(name)) for name in compiled.lists]
        if not all(lists):
            return conn.execute(self._statement, dict(params))
        lengths = tuple(len(values) for values in lists)  # type: ignore[arg-type]
        text = self._texts.get(lengths)
        if text is None:
            text = compiled.render(lengths)
            if len(self._texts) < 64:  # a batch's size varies, but within bounds
                self._texts[lengths] = text
        values: list[object] = []
        for name in compiled.order:
            value = params[name] if name in params else compiled.defaults[name]
            if name in compiled.expanding:
                values.extend(cast(Iterable[object], value))
            else:
                values.append(value)
        return conn.exec_driver_sql(text, tuple(values))


@valueclass
class _ListCompiled:
    pieces: tuple[str, ...]  # the SQL around the lists, one more than `lists`
    lists: tuple[str, ...]  # the expanding parameters, in the order they appear
    expanding: frozenset[str]
    order: tuple[str, ...]  # every parameter, in the order of the driver's `?`
    defaults: Mapping[str, Any]  # values given in the statement itself (literals, constant IN lists)

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> _ListCompiled:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        order = compiled.positiontup
        if order is None:
            raise NotImplementedError(f"parameter style {dialect.paramstyle!r} is not positional")
        processed = [name for name in order if name in compiled._bind_processors]
        if processed:
            raise ValueError(f"parameters needing type processing: {processed}")
        converted = [c.keyname for c in compiled._result_columns if c.type._cached_result_processor(dialect, None)]
        if converted:
            raise ValueError(f"columns needing type processing: {converted}")
        split = _LIST.split(compiled.string)
        lists = tuple(split[1::2])
        defaults = {name: bind.value for name, bind in compiled.binds.items() if bind.value is not None}
        return cls(tuple(split[0::2]), lists, frozenset(lists), tuple(order), defaults)

    def render(self, lengths: Sequence[int]) -> str:
        out = [self.pieces[0]]
        for length, piece in zip(lengths, self.pieces[1:], strict=True):
            out.append("(" + ", ".join("?" * length) + ")")
            out.append(piece)
        return "".join(out)
