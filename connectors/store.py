"""The SQL store: run history, the published tables and the discrepancy ledger as history.

SQLite file by default, PostgreSQL (or MariaDB) in production; reached only through
SQLAlchemy. The schema is managed by Alembic migrations (``connectors/migrations``),
applied on first use. One run at a time per store and as_of: :meth:`Store.run_lock`
takes a lock the database (or, for SQLite, the operating system) releases by itself
when the process holding it dies, so a killed run never blocks the next one.

Each stored table and the ledger keep their rows as versions with validity intervals by
as_of date (SCD type 2), not a copy per run (``connectors/history.py``): a run writes only
the rows that differ from the state as of its date, and :meth:`Store.table_as_of`,
:meth:`Store.ledger_as_of` and :meth:`Store.changes_between` read any date back in one query.
"""
from __future__ import annotations

import functools
import re
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from connectors import sqlite_stage
from connectors.history import LEDGER, SNAPSHOTS, STORED, History, covers, table_name

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED = STORED  # the run's tables ``save_run`` keeps (the flow stores those of its tables)


# The current shape of ``runs`` (its DDL lives in the migrations); declared here so JSON
# columns are serialized the same way on every backend (MariaDB reflects JSON as text).
RUNS = sa.Table(
    "runs", sa.MetaData(),
    sa.Column("run_id", sa.String(64), primary_key=True), sa.Column("as_of", sa.String(10)),
    sa.Column("scope", sa.Text), sa.Column("status", sa.String(16)), sa.Column("started_at", sa.String(32)),
    sa.Column("finished_at", sa.String(32)), sa.Column("parameters", sa.JSON), sa.Column("inputs", sa.JSON),
    sa.Column("counts", sa.JSON), sa.Column("timings", sa.JSON), sa.Column("message", sa.Text),
)


# SQLite's page cache: 2 MB by default, so a million-row write into a table with four
# indexes keyed by hashes re-reads its own B-tree pages from the OS thousands of times over.
# 64 MB, not 256: with rows inserted in key order the bigger cache bought no time (a 1M run's
# tables and ledger, two pairs: first night 40.9 / 40.4 s against 41.5 / 40.6, the night after
# 35.6 / 35.1 against 35.5 / 33.3) and held up to 200 MB more beside the run's frames.
SQLITE_CACHE_KIB = 64 * 1024
# Pages of 16 KiB, not 4: rows of thirty columns fill fewer pages (a fifth faster inserting
# rows of 34 text columns; a 1M run's first write 88 -> 85 s, bench/store_bench.py). SQLite
# takes it only while the file holds no table yet, so an existing store keeps its own.
SQLITE_PAGE_BYTES = 16384


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_BYTES}")
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")  # negative: KiB, allocated as used
    cursor.close()


class SaveStopped(Exception):
    """A run's store write was told to stop (its gate failed, a report could not be written)."""


class SavingRun:
    """:meth:`Store.save_run` in a thread of its own, begun as soon as a run's tables are
    final, so the store (most of publishing at a province's scale) is written while the
    run's files are staged, checked by the gate and rendered into reports. It commits only
    when :meth:`commit` is called, after all that passed; :meth:`stop` rolls it back.

    Every read of the store comes before: on SQLite, a write this large takes the file's
    exclusive lock long before it commits.
    """

    def __init__(self, store: "Store", record: dict, tables: dict[str, pd.DataFrame], ledger=None,
                 ledger_scope=None):
        # ready: the writer waits to commit; go: commit (or, with stop, roll back); done: it ended
        self._ready, self._go, self._stop, self._done = (threading.Event() for _ in range(4))
        self._updates: dict = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._save, name="anju-store", daemon=True,
                                        args=(store, record, tables, ledger, ledger_scope))
        self._thread.start()

    def _save(self, store, record, tables, ledger, ledger_scope) -> None:
        try:
            store.save_run(record, tables, ledger, ledger_scope, before_commit=self._wait, stop=self._stop)
        except BaseException as e:  # noqa: BLE001  (handed to the thread that commits or stops)
            self._error = e
        finally:
            self._done.set()

    def _wait(self) -> dict:
        self._ready.set()
        self._go.wait()
        if self._stop.is_set():
            raise SaveStopped("store: run not stored: stopped before its commit")
        return self._updates

    def _ended(self) -> None:
        """Wait until the writer has ended. Waits on an event, never a bare ``join``: an
        interrupt there (Ctrl-C, a task's timeout) must not leave a writer that commits
        after its run gave up; it is told to stop, waited for, then raised."""
        interrupted: BaseException | None = None
        while not self._done.is_set():
            try:
                self._done.wait(0.5)
            except BaseException as e:  # noqa: BLE001
                interrupted = interrupted or e
                self._stop.set()
                self._go.set()
        if interrupted is not None:
            raise interrupted

    def commit(self, **updates) -> None:
        """Commit once the write is done (``updates``: the run row's last values); raises
        what the write raised, and then nothing is stored. Interrupted while the tables are
        still being written, it stops the write: nothing is stored."""
        try:
            while not (self._ready.is_set() or self._done.is_set()):
                self._ready.wait(0.5)
        except BaseException:
            self.stop()
            raise
        self._updates = updates
        self._go.set()
        self._ended()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Roll the write back and wait for it to end (before its next table at the latest)."""
        self._stop.set()
        self._go.set()
        self._ended()


class RunLocked(Exception):
    """Another run for the same store and as_of is in progress."""


class StoreError(Exception):
    """The store refused what was asked of it (a read-only database, a full disk, a bad URL).
    The message names the store, password hidden; the user can act on it."""

    transient = False


class StoreUnavailable(StoreError):
    """The store's server could not be reached: it may answer if asked again."""

    transient = True


def shown_url(url) -> str:
    """A database URL fit for logs and run.json: the password never leaves the process."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _explain(url, e: sa.exc.DBAPIError) -> StoreError:
    reason = (str(e.orig) if e.orig is not None else str(e)).strip().splitlines()
    reason = reason[0] if reason else type(e).__name__
    if (isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)) and e.statement is None) \
            or e.connection_invalidated:
        err = StoreUnavailable(f"store {shown_url(url)}: cannot connect ({reason})")
        err.transient = sa.engine.make_url(url).get_backend_name() != "sqlite"  # a file: no server to wait for
        return err
    return StoreError(f"store {shown_url(url)}: {reason}")


def _explained(method):
    """Database errors of a store method become a :class:`StoreError` naming the store."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sa.exc.DBAPIError as e:
            raise _explain(self.url, e) from e
    return wrapper


def default_url(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'anju.sqlite').resolve()}"


class Store(History):
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        except (sa.exc.ArgumentError, ImportError) as e:  # a malformed URL, an unknown dialect or driver
            shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(url))  # the password, even unparsed
            raise StoreError(f"store {shown}: not a usable SQLAlchemy URL ({str(e).replace(str(url), shown)})") from None
        self._migrated = False
        self._reflected: dict[str, tuple[sa.Table, dict[str, str]]] = {}

    # --- schema ---------------------------------------------------------------------
    @_explained
    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        if self._migrated:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        self._migrated = True

    # --- locking --------------------------------------------------------------------
    @contextmanager
    def run_lock(self, as_of: str):
        """Hold the lock for ``as_of`` for the duration of a run, or raise :class:`RunLocked`."""
        dialect = self.engine.dialect.name
        message = (f"another run for as_of {as_of} is in progress on this store; "
                   "wait for it to finish (a killed run releases its lock by itself)")
        if dialect == "sqlite":
            from filelock import FileLock, Timeout

            db = self.engine.url.database or "memory"
            lock = FileLock(f"{db}.{as_of}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                raise RunLocked(message) from None
            try:
                yield
            finally:
                lock.release()
            return
        key = zlib.crc32(f"anju:{as_of}".encode())
        # Its own unpooled connection: closing it ends the session, and the lock with it.
        lock_engine = sa.create_engine(self.engine.url, poolclass=sa.pool.NullPool)
        try:
            conn = lock_engine.connect()
        except sa.exc.DBAPIError as e:
            lock_engine.dispose()
            raise _explain(self.url, e) from e
        try:
            try:
                if dialect == "postgresql":
                    got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                else:  # MySQL / MariaDB
                    got = conn.execute(sa.text("SELECT GET_LOCK(:k, 0)"), {"k": f"anju:{as_of}"}).scalar() == 1
                conn.commit()
            except sa.exc.DBAPIError as e:
                raise _explain(self.url, e) from e
            if not got:
                raise RunLocked(message)
            yield
        finally:
            conn.close()  # ends the session: the database drops the lock
            lock_engine.dispose()

    # --- runs and tables -----------------------------------------------------------
    @_explained
    def save_run(self, record: dict, tables: dict[str, pd.DataFrame], ledger: pd.DataFrame | None = None,
                 ledger_scope: list[str] | None = None, *, scope: list[str] | None = None,
                 before_commit=None, stop: threading.Event | None = None) -> None:
        """The run row, its tables and its ledger in one transaction, as of the run's date.

        ``stop``: once set, the write stops before its next table and nothing is stored.
        ``tables`` are full snapshots (the published tables of :data:`PUBLISHED`, the alerts
        and the alert ledger), or with ``scope`` only the
        rows of those counties: the other rows carry over from the store as of the date.
        ``ledger`` holds the ledger rows of ``ledger_scope`` (None: the whole ledger). Only
        rows that differ from the state as of the date are written; a re-run of a date
        replaces what that date said, and later dates keep what they said.
        ``before_commit``: called last inside the transaction; if it raises, nothing is stored;
        a dict it returns updates the run's row (the flow waits there until the run has
        passed its gate and its report files are written: see :class:`SavingRun`).
        """
        self.migrate()
        as_of, run_id = record["as_of"], record["run_id"]
        writes = [(table_name(n), f, scope) for n, f in tables.items()]
        if ledger is not None:
            writes.append((LEDGER, ledger, ledger_scope))
        for name, frame, _ in writes:  # reflected before the transaction: SQLite would lock itself out
            self.check_columns(name, frame)
        with self.engine.connect() as conn, sqlite_stage.staging(conn), conn.begin():  # stages: big inserts
            conn.execute(RUNS.insert().values(**record))
            for name, frame, counties in writes:
                if stop is not None and stop.is_set():
                    raise SaveStopped(f"store: run {run_id} not stored: stopped before table {name}")
                self.write_snapshot(conn, name, as_of, run_id, frame, counties)
                pa.default_memory_pool().release_unused()  # a table's encoding, back to the system
            if before_commit is not None:
                updates = before_commit()
                if updates:
                    conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(**updates))

    @_explained
    def save_shares(self, record: dict, names: list[str], shares) -> None:
        """A national run's tables and ledger loaded a share at a time, in one transaction.

        ``shares`` yields ``(counties, name, frame)``: every row of those counties (None:
        the rows of no county) of table ``name`` of ``names`` (the ledger as ``ledger``),
        the shares together the whole run, each county's tables in one share. Each is
        compared with what the store holds of its counties and written in bulk, so no
        more than one table of one share is in memory; the run is stored whole or not at
        all, as ``save_run`` stores it.
        """
        self.migrate()
        for name in names:  # reflected before the transaction: SQLite would lock itself out
            self._history(name)
        as_of, run_id = record["as_of"], record["run_id"]
        seen: set[str | None] = set()
        with self.engine.connect() as conn, sqlite_stage.staging(conn), conn.begin():  # stages: big inserts
            stored = {n: conn.execute(sa.select(SNAPSHOTS.c.as_of).where(
                SNAPSHOTS.c.table_name == table_name(n), SNAPSHOTS.c.as_of == as_of)).first() is not None
                for n in names}  # before the first share registers the date
            conn.execute(RUNS.insert().values(**record))
            for counties, name, frame in shares:
                seen.update(counties)
                table = table_name(name)
                if not len(frame):  # no row of these counties: the table's columns, no row
                    frame = self._no_rows(table)
                self.check_columns(table, frame)
                self.write_snapshot(conn, table, as_of, run_id, frame, None, share=counties,
                                    date_stored=stored[name])
            for name in map(table_name, names):  # a county the store holds as of the date, and this run not: gone
                t, _ = self._history(name)
                held = {c for (c,) in conn.execute(sa.select(t.c.county_code).where(covers(t, as_of)).distinct())}
                if held - seen:
                    self.write_snapshot(conn, name, as_of, run_id, self._no_rows(name), None,
                                        share=sorted(held - seen, key=lambda c: (c is None, c or "")),
                                        date_stored=True)

    def _no_rows(self, name: str) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in self._history(name)[1]})

    @_explained
    def mark_published(self, run_id: str) -> None:
        """The run's files are in place: its row, stored as ``stored``, becomes ``published``.

        A run killed between its store commit and the swap of its folder stays ``stored``:
        the store holds its tables, but the files, and so the last published run, are the
        previous one's.
        """
        with self.engine.begin() as conn:
            conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(status="published"))

    @_explained
    def run_history(self) -> pd.DataFrame:
        self.migrate()
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(RUNS).order_by(RUNS.c.started_at, RUNS.c.run_id), conn)

    @_explained
    def size_bytes(self) -> int | None:
        """The store's size on disk: the SQLite file, or the database on a server (None
        when the server does not tell)."""
        with self.engine.connect() as conn:
            dialect = conn.dialect.name
            if dialect == "sqlite":
                db = self.engine.url.database
                return Path(db).stat().st_size if db and Path(db).exists() else None
            if dialect == "postgresql":
                return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar())
            got = conn.execute(sa.text("SELECT SUM(data_length + index_length) FROM information_schema.tables "
                                       "WHERE table_schema = DATABASE()")).scalar()
            return int(got) if got is not None else None


# The history reads, their database errors named like every store method's.
for _read in ("table_as_of", "ledger_as_of", "changes_between", "ledger_before", "ledger_at", "ledger_history",
              "snapshot_dates", "kept_history"):
    setattr(Store, _read, _explained(getattr(History, _read)))
