"""Big inserts into a SQLite store without a Python object per value (issue 20).

Python's ``sqlite3`` binds one Python value per cell: a first night's 4.2 million rows
of a 1,000,000-household run cost about 75 s of ``executemany`` and of building those
values. Here a large block of rows goes from Arrow straight into a stage file of its own
(the ADBC SQLite driver binds Arrow buffers in C), which the store's connection attaches
and copies in with one ``INSERT ... SELECT``, inside the run's transaction: stored whole
or not at all, as before. Measured on the ``unified`` table of a 1M run (1,024,953 rows
x 34 columns): 15.1 s by ``executemany``, 8.4 s staged; the whole first night of a 1M
run's tables (``bench/store_bench.py``) 79.6 s before, 55.7 s after.

The stored values are the same, type for type (``tests/connectors/test_sqlite_stage.py``):
text, integers, reals and NULL bind as they do from Python, flags as 0/1, datetimes as
the text SQLAlchemy writes. A stage is attached until the transaction ends (SQLite will
not detach a database a transaction has read), so a connection holds at most
:data:`MAX_STAGES` of them. Past that, for a value ``sqlite3`` would store otherwise
(``connectors.history.NotStaged``: bytes, a fraction in an integer column ...) or Arrow
cannot hold (a lone surrogate), and when the stage cannot be written (no room), the
caller inserts row by row as before. Each transaction's stages sit in a folder beside the
store (the system's temp for a store in memory) whose lock it holds; a folder untouched
for ten minutes whose lock is free was left by a killed run and is removed by the next
write.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

STAGE_ROWS = 50_000  # fewer rows than this go row by row: a stage costs a file and an ATTACH
MAX_STAGES = 8  # SQLite attaches at most 10 databases to a connection by default (fewer if built so)
_INFO = "anju_sqlite_stages"
_PREFIX = ".anju-stage-"
_LOCK = "stage.lock"  # held while a transaction's stages live: a folder whose lock is free was left
# A folder untouched this long whose lock is free (or that has none) was left by a run that
# did not end. Never younger: a run takes its folder's lock just after making it.
_ORPHAN_SECONDS = 600


class _Stages:
    """The stage files of one transaction on one SQLite connection."""

    def __init__(self, folder: Path | None, limit: int):
        self.folder, self.dir, self.lock, self.limit = folder, None, None, limit
        self.attached: list[str] = []

    def insert(self, conn, t: sa.Table, blocks) -> bool:
        from adbc_driver_manager import Error as StageError
        from filelock import FileLock

        path = None
        try:
            if self.dir is None:
                self.dir = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=self.folder))
                self.lock = FileLock(str(self.dir / _LOCK))
                self.lock.acquire()
            alias = f"anju_stage_{len(self.attached)}"
            path = self.dir / f"{alias}.sqlite"
            _write(path, blocks)
        except (StageError, OSError):  # no room for the stage, say: these rows and the rest go row by row
            self.limit = 0
            if path is not None:
                path.unlink(missing_ok=True)
            return False
        except BaseException:
            if path is not None:
                path.unlink(missing_ok=True)
            raise
        q = conn.dialect.identifier_preparer.quote
        self.attached.append(alias)  # before: interrupted after the ATTACH, it is still detached at the end
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {q(alias)}", (str(path),))
        names = ", ".join(q(c.name) for c in t.columns)
        conn.exec_driver_sql(f"INSERT INTO main.{q(t.name)} ({names}) SELECT {names} FROM {q(alias)}.staged "
                             "ORDER BY rowid")  # as staged: in key order (no sort: the table's own order)
        return True

    def close(self, conn) -> None:
        """Detach the stages (the transaction has ended) and remove their files."""
        try:  # on the driver's connection: no transaction of SQLAlchemy's begins for it
            dbapi = conn.connection.dbapi_connection
            held = {r[1] for r in dbapi.execute("PRAGMA database_list").fetchall()}
            for alias in self.attached:
                if alias in held:
                    dbapi.execute(f'DETACH DATABASE "{alias}"')
        except sqlite3.Error:
            conn.invalidate()  # not back to the pool with a stage attached
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                if self.lock is not None:
                    self.lock.release()


def _write(path: Path, blocks) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path)) as stage:
        with stage.cursor() as cur:
            cur.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to roll back to
            cur.fetchall()
            for block in blocks:
                cur.adbc_ingest("staged", block, mode="create_append")
        stage.commit()


def _folder(dbapi) -> Path | None:
    """The store file's folder (room for a copy of its biggest tables), as SQLite names the
    main database's file; the system's temp for a store in memory."""
    name = next((r[2] for r in dbapi.execute("PRAGMA database_list").fetchall() if r[1] == "main"), "")
    return Path(name).parent if name else None


def _sweep(folder: Path | None) -> None:
    """Remove the stages of transactions that did not end (a killed run): folders untouched
    for :data:`_ORPHAN_SECONDS` whose lock is free. One that cannot be looked at or removed
    (another user's, another sweep's at the same moment) is left as it is."""
    from filelock import FileLock, Timeout

    try:
        found = list((folder or Path(tempfile.gettempdir())).glob(f"{_PREFIX}*"))
    except OSError:
        return
    for left in found:
        try:
            if left.is_symlink() or not left.is_dir() or time.time() - left.stat().st_mtime < _ORPHAN_SECONDS:
                continue
            if not (left / _LOCK).exists():
                shutil.rmtree(left)
                continue
            probe = FileLock(str(left / _LOCK))
            try:
                probe.acquire(timeout=0)
            except Timeout:
                continue  # a live transaction's
            try:
                shutil.rmtree(left)
            finally:
                probe.release()
        except OSError:
            continue


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
    dbapi = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    if not isinstance(dbapi, sqlite3.Connection):  # another database, or another SQLite driver
        yield
        return
    folder = _folder(dbapi)
    _sweep(folder)
    attached = [r for r in dbapi.execute("PRAGMA database_list").fetchall() if r[1] not in ("main", "temp")]
    free = dbapi.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) - len(attached)
    stages = _Stages(folder, min(MAX_STAGES, free))
    conn.info[_INFO] = stages
    try:
        yield
    finally:
        conn.info.pop(_INFO, None)
        try:
            if conn.in_transaction():  # an error before the transaction block ended it
                conn.rollback()
        finally:
            stages.close(conn)


def insert(conn, t: sa.Table, rows: int, blocks) -> bool:
    """``rows`` rows into ``t`` through a stage file when ``conn`` is staging, there are
    :data:`STAGE_ROWS` or more and a stage is free: ``blocks`` yields them as Arrow tables
    of ``t``'s columns, typed as ``sqlite3`` binds them (text, int64, float64; flags 0/1,
    datetimes as text). False: nothing done, the caller inserts them (as when the stage
    could not be written: no room, say). What ``blocks`` raises is raised, nothing staged."""
    stages = conn.info.get(_INFO)
    if stages is None or rows < STAGE_ROWS or len(stages.attached) >= stages.limit:
        return False
    return stages.insert(conn, t, blocks)
