"""Prebuilt statements run straight on the DBAPI cursor of a session's own connection.

The statements on every message's path (the send: access, sequence number, insert, search
index, counters, audit row; the session check every event makes) cost more in SQLAlchemy's
per-execution machinery (execution context, cache lookup, result metadata, the ORM session's
execute path) than in the database: ~60-90 µs each on a loaded server, against ~10 µs here.

A ``HotStatement`` wraps a SQLAlchemy Core statement, compiled once per dialect (and, for an
INSERT, per set of columns given). Each call binds the values through the column types' own
bind processors (so a datetime is stored exactly as SQLAlchemy stores it), runs on the
connection that the session's transaction already holds (so it commits and rolls back with
the rest), and reads rows back through the same result processors. Anything the session has
pending is flushed first, as ``Session.execute`` would.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]  # values fixed in the statement (e.g. ``messages=1``)
    bind: Mapping[str, Callable[[Any], Any]]
    result: tuple[Processor, ...]
    row: type | None  # rows come back as named tuples (``row.patient_id``)


class HotStatement:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._cache: dict[tuple[str, frozenset[str] | None], _Compiled] = {}

    def _compiled(self, dialect: Dialect, keys: frozenset[str] | None) -> _Compiled:
        found = self._cache.get((dialect.name, keys))
        if found is not None:
            return found
        compiled = self.statement.compile(
            dialect=dialect, column_keys=sorted(keys) if keys is not None else None)
        # A SELECT/INSERT/UPDATE/DELETE always compiles with the dialect's SQLCompiler (the
        # binds and their order live there); only DDL would not, and no HotStatement is DDL.
        assert isinstance(compiled, SQLCompiler)
        # Keyed by the names the SQL uses (literal values get generated names).
        binds = compiled.binds.items()
        bind = {name: processor for name, processor in (
            (name, b.type._cached_bind_processor(dialect)) for name, b in binds) if processor}
        defaults = {name: b.value for name, b in binds
                    if b.value is not None and not name.startswith("%(")}
        columns: Sequence[Any] | None = getattr(self.statement, "selected_columns", None)
        if columns is None:  # INSERT/UPDATE ... RETURNING
            columns = getattr(self.statement, "_returning", ())
        result = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
        row = namedtuple("HotRow", [c.key for c in columns], rename=True) if columns else None
        found = _Compiled(compiled.string, tuple(compiled.positiontup or ()) or None,
                          defaults, bind, result, row)
        self._cache[(dialect.name, keys)] = found
        return found

    def bound(self, dialect: Dialect, params: dict[str, Any] | None = None, *,
              by_columns: bool = False) -> tuple[_Compiled, Any]:
        """The statement's SQL for ``dialect`` and ``params`` bound as the DBAPI takes them
        (through the column types' bind processors)."""
        params = params or {}
        compiled = self._compiled(dialect, frozenset(params) if by_columns else None)
        values = {**compiled.defaults, **params}
        for name, process in compiled.bind.items():
            if name in values:
                values[name] = process(values[name])
        bound = (tuple(values[name] for name in compiled.positions)
                 if compiled.positions is not None else values)
        return compiled, bound

    def execute(self, session: Session, params: dict[str, Any] | None = None, *,
                by_columns: bool = False) -> _Result:
        """Run once; returns the DBAPI cursor. ``by_columns``: an INSERT compiled for exactly
        the columns in ``params`` (a table-wide INSERT names every column otherwise)."""
        if session.new or session.dirty or session.deleted:
            session.flush()
        connection = session.connection()
        dialect = connection.dialect
        compiled, bound = self.bound(dialect, params, by_columns=by_columns)
        driver_connection = connection.connection.driver_connection
        # A connection the session has checked out of the pool always holds its DBAPI one.
        assert driver_connection is not None
        cursor = driver_connection.cursor()
        try:
            cursor.execute(compiled.sql, bound)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            # The same exception classes as Session.execute raises (IntegrityError for a
            # duplicate key, which callers catch), with the statement for the log.
            raise DBAPIError.instance(compiled.sql, bound, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error
        return _Result(cursor, compiled.result, compiled.row)


class _Result:
    """The rows of one execution, converted by the columns' result processors."""

    def __init__(self, cursor: Any, processors: tuple[Processor, ...], row: type | None) -> None:
        self._cursor = cursor
        self._processors = processors
        self._row = row

    def _convert(self, row: Iterable[Any] | None) -> tuple[Any, ...] | None:
        return converted(self._processors, self._row, row)

    def first(self) -> tuple[Any, ...] | None:
        try:
            return self._convert(self._cursor.fetchone())
        finally:
            self._cursor.close()

    def all(self) -> list[tuple[Any, ...]]:
        try:
            return [self._convert(row) or () for row in self._cursor.fetchall()]
        finally:
            self._cursor.close()

    def scalar(self) -> Any:
        row = self.first()
        return row[0] if row is not None else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.all()]

    @property
    def rowcount(self) -> int:
        count: int = self._cursor.rowcount
        self._cursor.close()
        return count


def converted(processors: tuple[Processor, ...], row_type: type | None,
              row: Iterable[Any] | None) -> tuple[Any, ...] | None:
    """A DBAPI row through the columns' result processors, as a named tuple."""
    if row is None:
        return None
    values = [p(v) if p is not None else v for p, v in zip(processors, row, strict=True)]
    return row_type(*values) if row_type is not None else tuple(values)


def keep_loaded_in_step(session: Session, model: type, key: Any, **values: Any) -> None:
    """Hot statements do not touch an object this session has loaded (a caller such as
    create_conversation holds its Conversation): bring its attributes in step without a
    query, as an ORM-enabled UPDATE would."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Run the hot statements inside this block (writes whose results nobody reads) as one
    batch: on PostgreSQL in psycopg's pipeline mode, so they travel together and cost one
    round trip instead of one each (a send's search index, day counter, latest message, own
    read mark, draft removal and audit row: six). An error in any of them is raised when the
    block ends, as the DBAPI error SQLAlchemy would raise, and fails the whole unit of work.
    Elsewhere (SQLite, in-process) the statements simply run one by one."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    dialect = connection.dialect
    try:
        with driver_connection.pipeline():
            yield
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance("(a batch of statements)", None, error,
                                  dialect.loaded_dbapi.Error, dialect=dialect) from error
