"""Bulk writers for the bench data set: SQLite (executemany, one transaction) and PostgreSQL
(COPY). Both take rows in the column order given, ids included."""

from __future__ import annotations

import sqlite3

from care_messaging.services import daily_counts


class SqliteLoader:
    """One transaction on a raw connection; journaling and syncing off while loading.

    The file is a disposable cache: if the build dies half-way, the next run rebuilds it.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144",
                       "temp_store=MEMORY", "locking_mode=EXCLUSIVE", "foreign_keys=OFF"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def insert(self, table: str, columns: list[str], rows: list[tuple], **_kw) -> None:
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )

    def insert_fts(self, docs: list[tuple[int, str]]) -> None:
        self.conn.executemany("INSERT INTO message_fts(rowid, terms) VALUES (?, ?)", docs)

    def finish(self) -> None:
        # The chart's per-patient daily counters, from the messages just loaded.
        for statement in daily_counts.rebuild_statements("sqlite"):
            self.conn.execute(statement)
        self.conn.execute("COMMIT")
        # Merge the FTS segments into one b-tree: fewer segments, fewer seeks per query.
        self.conn.execute("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
        self.conn.execute("PRAGMA locking_mode=NORMAL")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PgLoader:
    """COPY into each table; the GIN index is rebuilt once at the end instead of per row."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.conn.execute("SET TIME ZONE 'UTC'")
        self.conn.execute("SET maintenance_work_mem = '256MB'")
        # Conversations are written after their messages (their counters come from them): skip
        # foreign-key triggers for this loading session only (needs a superuser, as in tests).
        self.conn.execute("SET session_replication_role = replica")
        self.conn.execute("DROP INDEX IF EXISTS ix_message_fts_terms")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql.replace("?", "%s"), params).fetchall()

    def insert(self, table: str, columns: list[str], rows: list[tuple], **_kw) -> None:
        if table == "users":
            rows = [(*r[:5], bool(r[5]), *r[6:8], bool(r[8]), bool(r[9]), *r[10:])
                    for r in rows]
        with self.conn.cursor().copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_fts(self, docs: list[tuple[int, str]]) -> None:
        with self.conn.cursor().copy("COPY message_fts (rowid, terms) FROM STDIN") as copy:
            for mid, terms in docs:
                copy.write_row((mid, terms))  # text form of a tsvector: space-separated lexemes

    def finish(self) -> None:
        for table in ("users", "patients", "conversations", "messages", "care_team_members"):
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        self.conn.execute("CREATE INDEX ix_message_fts_terms ON message_fts USING GIN (terms)")
        for statement in daily_counts.rebuild_statements("postgresql"):
            self.conn.execute(statement)
        self.conn.execute("CREATE TABLE bench_done (ok int)")
        self.conn.commit()
        url = self._url_of()
        self.conn.close()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def _url_of(self) -> str:
        info = self.conn.info
        return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
