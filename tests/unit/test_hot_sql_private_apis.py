"""The private SQLAlchemy APIs ``services/hot_sql.py`` relies on, pinned.

hot_sql compiles a statement once and runs it on the DBAPI cursor, reading SQLAlchemy
internals that carry no compatibility promise. An upgrade that renames or reshapes any of
them fails here, by name, instead of as a wrong value stored or read on the message path.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import sqlalchemy
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

_table = Table("pinned", MetaData(), Column("id", Integer, primary_key=True),
               Column("name", String), Column("at", DateTime))


def test_the_sqlalchemy_major_minor_hot_sql_was_checked_against():
    # Pinned in pyproject (sqlalchemy>=2.0.40,<2.2); re-read hot_sql.py on a new minor.
    assert sqlalchemy.__version__.split(".")[:2] in (["2", "0"], ["2", "1"])


def test_compiled_binds_and_positiontup():
    statement = select(_table.c.id).where(_table.c.name == "x", _table.c.id == 3)
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        # name -> BindParameter with .type and .value (literal values get generated names)
        binds = compiled.binds
        assert isinstance(binds, dict) and binds
        assert {b.value for b in binds.values()} == {"x", 3}
        assert all(isinstance(b.type, TypeEngine) for b in binds.values())
    positional = statement.compile(dialect=sqlite.dialect())  # qmark: ordered names
    assert isinstance(positional.positiontup, list) and len(positional.positiontup) == 2
    assert set(positional.positiontup) <= set(positional.binds)
    # binds also holds each literal under an anonymous "%(<id> name)s" key: hot_sql skips
    # those by that prefix when it collects the statement's fixed values.
    anonymous = [name for name in positional.binds if name.startswith("%(")]
    assert anonymous and len(anonymous) == len(positional.positiontup)
    named = statement.compile(dialect=postgresql.psycopg.dialect())  # pyformat: no order
    assert not named.positiontup


def test_compile_takes_column_keys_for_an_insert_of_given_columns():
    compiled = insert(_table).compile(dialect=sqlite.dialect(), column_keys=["name"])
    assert "name" in compiled.string and "at" not in compiled.string


def test_type_processor_caches():
    dialect = sqlite.dialect()
    at = _table.c.at.type
    bind = at._cached_bind_processor(dialect)
    result = at._cached_result_processor(dialect, None)
    # SQLite stores datetimes as strings through these processors.
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).replace(tzinfo=None)
    assert callable(bind) and callable(result)
    assert result(bind(moment)) == moment
    assert _table.c.id.type._cached_bind_processor(dialect) is None  # ints go as they are


def test_returning_is_kept_on_the_statement():
    statement = insert(_table).returning(_table.c.id, _table.c.name)
    assert [c.key for c in statement._returning] == ["id", "name"]
    assert getattr(select(_table.c.id), "selected_columns", None) is not None


def test_driver_connection_and_loaded_dbapi():
    # hot_sql reaches the DBAPI cursor through connection.connection.driver_connection and
    # maps driver errors with dialect.loaded_dbapi.Error.
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        assert isinstance(connection, Connection)
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute("select 1")
        assert cursor.fetchone() == (1,)
        cursor.close()
        assert issubclass(connection.dialect.loaded_dbapi.Error, Exception)
    assert "instance" in dir(sqlalchemy.exc.DBAPIError)
    assert "dialect" in inspect.signature(sqlalchemy.exc.DBAPIError.instance).parameters
