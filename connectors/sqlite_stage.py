"""Big inserts into a SQLite store without a Python object per value (issue 20).

Python's ``sqlite3`` binds one Python value per cell: a first night's 4.2 million rows
of a 1,000,000-household run cost about 75 s of ``executemany`` and of building those
values. Here a large block of rows goes from Arrow straight into a stage file of its own
(the ADBC SQLite driver binds Arrow buffers in C), which the store's connection attaches
and copies in with one ``INSERT ... SELECT``, inside the run's transaction: stored whole
or not at all, as before. Measured on the ``unified`` table of a 1M run (1,024,953 rows
x 34 columns): 15.1 s by ``executemany``, 8.4 s staged (``bench/store_bench.py``).

The stored values are the same, type for type (``tests/connectors/test_sqlite_stage.py``):
text, integers, reals and NULL bind as they do from Python, flags as 0/1, datetimes as
the text SQLAlchemy writes. A stage is attached until the transaction ends (SQLite will
not detach a database a transaction has read), so a connection holds at most
:data:`MAX_STAGES` of them; past that, and for what Arrow cannot hold (a lone surrogate),
the caller inserts row by row as before.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

STAGE_ROWS = 50_000  # fewer rows than this go row by row: a stage costs a file and an ATTACH
MAX_STAGES = 8  # SQLite attaches at most 10 databases to a connection (its compile-time limit)
_INFO = "anju_sqlite_stages"
_PREFIX = ".anju-stage-"


class _Stages:
    """The stage files of one transaction on one SQLite connection."""

    def __init__(self, folder: Path | None):
        self.folder, self.dir = folder, None
        self.attached: list[str] = []

    def insert(self, conn, t: sa.Table, blocks) -> None:
        if self.dir is None:  # its process id in the name: see _sweep
            _sweep(self.folder)
            self.dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=self.folder))
        alias = f"anju_stage_{len(self.attached)}"
        path = self.dir / f"{alias}.sqlite"
        try:
            _write(path, blocks)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        q = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {q(alias)}", (str(path),))
        self.attached.append(alias)
        names = ", ".join(q(c.name) for c in t.columns)
        conn.exec_driver_sql(f"INSERT INTO main.{q(t.name)} ({names}) SELECT {names} FROM {q(alias)}.staged")

    def close(self, conn) -> None:
        """Detach the stages (the transaction has ended) and remove their files."""
        try:  # on the driver's connection: no transaction of SQLAlchemy's begins for it
            for alias in self.attached:
                conn.connection.dbapi_connection.execute(f'DETACH DATABASE "{alias}"')
        except sqlite3.Error:
            conn.invalidate()  # not back to the pool with a stage attached
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)


def _write(path: Path, blocks) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path)) as stage:
        with stage.cursor() as cur:
            cur.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to roll back to
            cur.fetchall()
            for block in blocks:
                cur.adbc_ingest("staged", block, mode="create_append")
        stage.commit()


def _folder(conn) -> Path | None:
    """The store file's folder (room for a copy of its biggest table), or the system's temp."""
    name = conn.engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).resolve().parent


def _sweep(folder: Path | None) -> None:
    """Stages left by a run that was killed (its process is gone)."""
    for left in (folder or Path(tempfile.gettempdir())).glob(f"{_PREFIX}*"):
        m = re.match(re.escape(_PREFIX) + r"(\d+)-", left.name)
        if m and left.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(left, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staging(conn):
    """Let :func:`insert` stage big inserts on ``conn`` (a SQLAlchemy connection, outside
    its transaction: the stages are detached and removed once it ended). Elsewhere than
    SQLite, nothing.

    >>> import sqlalchemy as sa
    >>> with sa.create_engine("sqlite://").connect() as conn, staging(conn):
    ...     _INFO in conn.info
    True
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    stages = _Stages(_folder(conn))
    conn.info[_INFO] = stages
    try:
        yield
    finally:
        conn.info.pop(_INFO, None)
        if conn.in_transaction():  # an error before the transaction block ended it
            conn.rollback()
        stages.close(conn)


def insert(conn, t: sa.Table, rows: int, blocks) -> bool:
    """``rows`` rows into ``t`` through a stage file when ``conn`` is staging, there are
    :data:`STAGE_ROWS` or more and a stage is free: ``blocks`` yields them as Arrow tables
    of ``t``'s columns, typed as ``sqlite3`` binds them (text, int64, float64; flags 0/1,
    datetimes as text). False: nothing done (``blocks`` not read), the caller inserts them.
    What ``blocks`` raises is raised, nothing staged."""
    stages = conn.info.get(_INFO)
    if stages is None or rows < STAGE_ROWS or len(stages.attached) >= MAX_STAGES:
        return False
    stages.insert(conn, t, blocks)
    return True
