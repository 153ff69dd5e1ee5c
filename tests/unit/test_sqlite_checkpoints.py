"""WAL checkpoints run on the background thread, not inside a request's commit."""

from __future__ import annotations

import shutil
import sqlite3
import time

from sqlalchemy import text

from care_messaging import db


def test_commits_never_checkpoint_and_the_background_thread_does(tmp_path):
    path = tmp_path / "app.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        pages = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
        connection.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert pages == db.AUTOCHECKPOINT_PAGES  # far above what a busy second writes

    def rows_in_database_file_alone() -> int:
        # A copy of the main file without its -wal holds only what was checkpointed.
        copy = tmp_path / "copy.db"
        shutil.copyfile(path, copy)
        try:
            return sqlite3.connect(copy).execute("select count(*) from notes").fetchone()[0]
        except sqlite3.OperationalError:  # the table itself is still only in the log
            return 0

    deadline = time.monotonic() + 10 * db.CHECKPOINT_EVERY_SECONDS
    while rows_in_database_file_alone() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows_in_database_file_alone() == 1
    engine.dispose()


def test_a_deleted_database_is_dropped_not_recreated(tmp_path):
    path = tmp_path / "gone.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"gone.db{suffix}").unlink(missing_ok=True)
    db.checkpointer.checkpoint_all()
    assert not path.exists()
