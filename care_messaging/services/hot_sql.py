"""Prebuilt statements run straight on the DBAPI cursor of a session's own connection.

The statements on every message's path (the send: access, sequence number, insert, search
index, counters, audit row; the session check every event makes) cost more in SQLAlchemy's
per-execution machinery (execution context, cache lookup, result metadata, the ORM session's
execute path) than in the database: ~60-90 µs each on a loaded server, against ~10 µs here.

On PostgreSQL each statement is also a network round trip through psycopg's Python layer, the
largest share of what a message costs a scaled-out worker (bench/profiles/scaleout.md). There
the statements are compiled with ``$n`` placeholders and run on one reused ``RawCursor`` per
connection (no placeholder conversion, no cursor built per statement), and the connection a
transaction holds is looked up once per transaction rather than through the session per
statement: ~25 µs of the ~80 µs a statement cost the worker.

A ``HotStatement`` wraps a SQLAlchemy Core statement, compiled once per dialect (and, for an
INSERT, per set of columns given). Each call binds the values through the column types' own
bind processors (so a datetime is stored exactly as SQLAlchemy stores it), runs on the
connection that the session's transaction already holds (so it commits and rolls back with
the rest), and reads rows back through the same result processors. Anything the session has
pending is flushed first, as ``Session.execute`` would.
"""

from __future__ import annotations

import copy
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import SessionTransaction
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


_dollar_dialects: weakref.WeakKeyDictionary[Dialect, Dialect] = weakref.WeakKeyDictionary()


def _compiling_dialect(dialect: Dialect) -> Dialect:
    """The dialect the statements compile with: on PostgreSQL a copy that writes ``$1, $2``
    (what a ``RawCursor`` sends as is), otherwise the dialect itself."""
    if dialect.name != "postgresql":
        return dialect
    found = _dollar_dialects.get(dialect)
    if found is None:
        found = copy.copy(dialect)  # the server's version and settings read at connect
        found.paramstyle, found.positional = "numeric_dollar", True
        _dollar_dialects[dialect] = found
    return found


class HotStatement:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._cache: dict[tuple[str, frozenset[str] | None], _Compiled] = {}

    def _compiled(self, dialect: Dialect, keys: frozenset[str] | None) -> _Compiled:
        found = self._cache.get((dialect.name, keys))
        if found is not None:
            return found
        compiled = self.statement.compile(
            dialect=_compiling_dialect(dialect),
            column_keys=sorted(keys) if keys is not None else None)
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
        (through the column types' bind processors). On PostgreSQL the SQL has ``$n``
        placeholders and runs on a ``RawCursor`` (``psycopg.AsyncRawCursor`` on the loop)."""
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
        # What _driver and _as_sqlalchemy_error do, written out: on the hottest path the
        # extra calls and a context manager per statement cost 1-5% of a send's instructions.
        if session.new or session.dirty or session.deleted:
            session.flush()
        connection = _transaction_connection(session)
        dialect = connection.dialect
        compiled, bound = self.bound(dialect, params, by_columns=by_columns)
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None
        cursor = _cursor(driver_connection)
        try:
            cursor.execute(compiled.sql, bound)
        except dialect.loaded_dbapi.Error as error:
            if not isinstance(cursor, _HotCursor):
                cursor.close()
            raise DBAPIError.instance(compiled.sql, bound, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error
        return _Result(cursor, compiled.result, compiled.row)


def _driver(session: Session) -> tuple[Dialect, Any]:
    """The dialect and the DBAPI connection of the session's transaction, with anything the
    session has pending flushed first, as ``Session.execute`` would."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    connection = _transaction_connection(session)
    driver_connection = connection.connection.driver_connection
    # A connection the session has checked out of the pool always holds its DBAPI one.
    assert driver_connection is not None
    return connection.dialect, driver_connection


@contextmanager
def _as_sqlalchemy_error(dialect: Dialect, statement: str, params: Any) -> Iterator[None]:
    """A DBAPI error raised as Session.execute raises it (IntegrityError for a duplicate key,
    which callers catch), with the statement for the log."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, params, error, dialect.loaded_dbapi.Error,
                                  dialect=dialect) from error


# The connection each session transaction holds, found once per transaction (through the
# session, every statement paid SQLAlchemy's bind lookup and state checks: ~10 µs).
_connections: weakref.WeakKeyDictionary[SessionTransaction, Connection]
_connections = weakref.WeakKeyDictionary()


def _transaction_connection(session: Session) -> Connection:
    transaction = session.get_transaction()
    if transaction is not None and transaction.is_active:
        found = _connections.get(transaction)
        if found is not None and not found.closed:
            return found
    connection = session.connection()
    transaction = session.get_transaction()
    if transaction is not None:
        _connections[transaction] = connection
    return connection


class _HotCursor(psycopg.RawCursor[Any]):
    """The one cursor a PostgreSQL connection runs its hot statements on. ``generation``
    counts its executions: a result read after the cursor ran another statement would be
    that statement's rows, so it is refused instead (``_Result``)."""

    __slots__ = ("generation",)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.generation = getattr(self, "generation", 0) + 1
        return super().execute(*args, **kwargs)


_cursors: weakref.WeakKeyDictionary[Any, _HotCursor] = weakref.WeakKeyDictionary()


def _cursor(driver_connection: Any) -> Any:
    """psycopg: the connection's one reused raw cursor (building a cursor per statement cost
    ~10 µs); SQLite's cursors are C objects, one per statement as before."""
    if not isinstance(driver_connection, psycopg.Connection):
        return driver_connection.cursor()
    found = _cursors.get(driver_connection)
    if found is None or found.closed:
        found = _cursors[driver_connection] = _HotCursor(driver_connection)
    return found


class StaleResult(RuntimeError):
    """A hot statement's rows read after its connection ran another hot statement."""


class _Result:
    """The rows of one execution, converted by the columns' result processors."""

    def __init__(self, cursor: Any, processors: tuple[Processor, ...], row: type | None) -> None:
        self._cursor = cursor
        self._processors = processors
        self._row = row
        self._generation = getattr(cursor, "generation", None)

    def _convert(self, row: Iterable[Any] | None) -> tuple[Any, ...] | None:
        return converted(self._processors, self._row, row)

    def _open(self) -> Any:
        if self._generation is not None and self._cursor.generation != self._generation:
            raise StaleResult("read a hot statement's result before running the next one")
        return self._cursor

    def _done(self) -> None:
        if self._generation is None:  # SQLite: a cursor of its own; psycopg's is reused
            self._cursor.close()

    def first(self) -> tuple[Any, ...] | None:
        try:
            return self._convert(self._open().fetchone())
        finally:
            self._done()

    def all(self) -> list[tuple[Any, ...]]:
        try:
            return [self._convert(row) or () for row in self._open().fetchall()]
        finally:
            self._done()

    def scalar(self) -> Any:
        row = self.first()
        return row[0] if row is not None else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.all()]

    @property
    def rowcount(self) -> int:
        try:
            count: int = self._open().rowcount
        finally:
            self._done()
        return count


def converted(processors: tuple[Processor, ...], row_type: type | None,
              row: Iterable[Any] | None) -> tuple[Any, ...] | None:
    """A DBAPI row through the columns' result processors, as a named tuple."""
    if row is None:
        return None
    values = [p(v) if p is not None else v for p, v in zip(processors, row, strict=True)]
    return row_type(*values) if row_type is not None else tuple(values)


# Values of a row this transaction has locked and read back (``note``), for a later step of
# the same transaction that would otherwise read them again (``take_note``).
_notes: weakref.WeakKeyDictionary[SessionTransaction, dict[tuple[Any, ...], tuple[Any, ...]]]
_notes = weakref.WeakKeyDictionary()


def note(session: Session, model: type, key: Any, columns: tuple[str, ...],
         values: tuple[Any, ...]) -> None:
    """Remember ``columns`` of a row as this transaction read them from a statement that
    locked it (an UPDATE ... RETURNING): nobody else can change them before the commit."""
    transaction = session.get_transaction()
    if transaction is not None:
        _notes.setdefault(transaction, {})[(model, key, columns)] = values


def take_note(session: Session, model: type, key: Any,
              columns: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The values ``note`` remembered in this transaction, once: whoever takes them may write
    the row, so a second reader in the same transaction reads the row again."""
    transaction = session.get_transaction()
    found = _notes.get(transaction) if transaction is not None else None
    return found.pop((model, key, columns), None) if found else None


def keep_loaded_in_step(session: Session, model: type, key: Any, **values: Any) -> None:
    """Hot statements do not touch an object this session has loaded (a caller such as
    create_conversation holds its Conversation): bring its attributes in step without a
    query, as an ORM-enabled UPDATE would."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


def together(session: Session,
             *reads: tuple[HotStatement, dict[str, Any]]) -> list[list[tuple[Any, ...]]]:
    """Run reads that do not depend on each other and return each one's rows: on PostgreSQL
    in one round trip (psycopg's pipeline mode), together with the transaction's BEGIN when
    they are its first statements (psycopg sends BEGIN as an exchange of its own otherwise).
    Elsewhere (SQLite, in-process) one by one."""
    dialect, driver_connection = _driver(session)
    if not isinstance(driver_connection, psycopg.Connection):
        return [statement.execute(session, params).all() for statement, params in reads]
    calls = [statement.bound(dialect, params) for statement, params in reads]
    # A cursor per read: the results of all of them are read after the one exchange.
    cursors = [psycopg.RawCursor(driver_connection) for _ in calls]
    try:
        with _as_sqlalchemy_error(dialect, "; ".join(compiled.sql for compiled, _ in calls), None):
            with driver_connection.pipeline():
                for cursor, (compiled, bound) in zip(cursors, calls, strict=True):
                    cursor.execute(compiled.sql, bound)
            return [[converted(compiled.result, compiled.row, row) or ()
                     for row in cursor.fetchall()]
                    for cursor, (compiled, _) in zip(cursors, calls, strict=True)]
    finally:
        for cursor in cursors:
            cursor.close()


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Run the hot statements inside this block (writes whose results nobody reads) as one
    batch: on PostgreSQL in psycopg's pipeline mode, so they travel together and cost one
    round trip instead of one each (a send's search index, day counter, latest message, own
    read mark, draft removal and audit row: six). An error in any of them is raised when the
    block ends, as the DBAPI error SQLAlchemy would raise, and fails the whole unit of work.
    Elsewhere (SQLite, in-process) the statements simply run one by one."""
    dialect, driver_connection = _driver(session)
    if not isinstance(driver_connection, psycopg.Connection):
        yield
        return
    with (_as_sqlalchemy_error(dialect, "(a batch of statements)", None),
          driver_connection.pipeline()):
        yield
