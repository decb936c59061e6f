"""The SQL store: run history, the published tables keyed by run, the discrepancy ledger.

SQLite file by default, PostgreSQL (or MariaDB) in production; reached only through
SQLAlchemy. The schema is managed by Alembic migrations (``connectors/migrations``),
applied on first use. One run at a time per store and as_of: :meth:`Store.run_lock`
takes a lock the database (or, for SQLite, the operating system) releases by itself
when the process holding it dies, so a killed run never blocks the next one.
"""
from __future__ import annotations

import functools
import re
import zlib
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED = ("matches", "discrepancies", "unified", "quarantine", "other_groups")
LEDGER_COLUMNS = ["discrepancy_id", "rule", "county_code", "household_no", "archive_no", "field", "status",
                  "first_seen", "last_seen", "resolved_at", "changed_by_run"]


# The current shape of ``runs`` (its DDL lives in the migrations); declared here so JSON
# columns are serialized the same way on every backend (MariaDB reflects JSON as text).
RUNS = sa.Table(
    "runs", sa.MetaData(),
    sa.Column("run_id", sa.String(64), primary_key=True), sa.Column("as_of", sa.String(10)),
    sa.Column("scope", sa.Text), sa.Column("status", sa.String(16)), sa.Column("started_at", sa.String(32)),
    sa.Column("finished_at", sa.String(32)), sa.Column("parameters", sa.JSON), sa.Column("inputs", sa.JSON),
    sa.Column("counts", sa.JSON), sa.Column("timings", sa.JSON), sa.Column("message", sa.Text),
)


class RunLocked(Exception):
    """Another run for the same store and as_of is in progress."""


class StoreError(Exception):
    """The store refused what was asked of it (a read-only database, a full disk, a bad URL).
    The message names the store, password hidden; the user can act on it."""

    transient = False


class StoreUnavailable(StoreError):
    """The store's server could not be reached: it may answer if asked again."""

    transient = True


def _hidden(url) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _explain(url, e: sa.exc.DBAPIError) -> StoreError:
    reason = (str(e.orig) if e.orig is not None else str(e)).strip().splitlines()
    reason = reason[0] if reason else type(e).__name__
    if (isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)) and e.statement is None) \
            or e.connection_invalidated:
        err = StoreUnavailable(f"store {_hidden(url)}: cannot connect ({reason})")
        err.transient = sa.engine.make_url(url).get_backend_name() != "sqlite"  # a file: no server to wait for
        return err
    return StoreError(f"store {_hidden(url)}: {reason}")


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


def _sql_ready(frame: pd.DataFrame, run_id: str, columns: list[str]) -> pd.DataFrame:
    f = frame[[c for c in columns if c in frame.columns and c != "run_id"]].copy()
    for col in f.columns:
        if str(f[col].dtype) in ("string", "str"):
            f[col] = f[col].astype(object).where(f[col].notna(), None)
    f.insert(0, "run_id", run_id)
    return f


def _sqlite_insert(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    """Plain tuples to the driver's executemany: 5-10x faster than going through pandas for SQLite."""
    q = conn.dialect.identifier_preparer.quote
    sql = f"INSERT INTO {q(name)} ({', '.join(q(c) for c in frame.columns)}) VALUES ({', '.join('?' * len(frame.columns))})"
    cols = []
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d %H:%M:%S")
        cols.append(s.astype(object).where(s.notna(), None).to_numpy())
    rows = list(zip(*cols)) if cols else []
    for start in range(0, len(rows), 50_000):
        conn.exec_driver_sql(sql, rows[start:start + 50_000])


class Store:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError) as e:  # a malformed URL, an unknown dialect or driver
            shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(url))  # the password, even unparsed
            raise StoreError(f"store {shown}: not a usable SQLAlchemy URL ({str(e).replace(str(url), shown)})") from None
        self._migrated = False

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
                 ledger_scope: list[str] | None = None) -> None:
        """The run row, its tables and the ledger snapshot in one transaction."""
        self.migrate()
        meta = sa.MetaData()
        meta.reflect(self.engine, only=["discrepancy_ledger", *tables])
        with self.engine.begin() as conn:
            conn.execute(RUNS.insert().values(**record))
            for name, frame in tables.items():
                cols = [c.name for c in meta.tables[name].columns]
                ready = _sql_ready(frame, record["run_id"], cols)
                if conn.dialect.name == "sqlite":
                    _sqlite_insert(conn, name, ready)
                else:  # SQLAlchemy batches these into multi-row INSERTs for PostgreSQL and MariaDB
                    ready.to_sql(name, conn, if_exists="append", index=False, chunksize=20_000)
            if ledger is not None:
                self._write_ledger(conn, meta.tables["discrepancy_ledger"], record["as_of"], ledger, ledger_scope)

    @_explained
    def mark_published(self, run_id: str) -> None:
        """The run's files are in place: its row, stored as ``stored``, becomes ``published``.

        A run killed between its store commit and the swap of its folder stays ``stored``:
        the store holds its tables, but the files, and so the last published run, are the
        previous one's.
        """
        with self.engine.begin() as conn:
            conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(status="published"))

    def _write_ledger(self, conn, table, as_of: str, ledger: pd.DataFrame, scope: list[str] | None) -> None:
        if scope is not None:
            has_snapshot = conn.execute(sa.select(sa.func.count()).where(table.c.as_of == as_of)).scalar()
            if not has_snapshot:  # first run for this date is scoped: carry the other counties over
                latest = sa.select(sa.func.max(table.c.as_of)).where(table.c.as_of < as_of).scalar_subquery()
                carried = pd.read_sql(sa.select(*[table.c[c] for c in LEDGER_COLUMNS]).where(
                    table.c.as_of == latest, table.c.county_code.not_in(scope)), conn)
                carried.insert(0, "as_of", as_of)
                if len(carried):
                    carried.to_sql("discrepancy_ledger", conn, if_exists="append", index=False, chunksize=20_000)
        stmt = table.delete().where(table.c.as_of == as_of)
        if scope is not None:
            stmt = stmt.where(table.c.county_code.in_(scope))
        conn.execute(stmt)
        rows = ledger[LEDGER_COLUMNS].astype(object).where(ledger[LEDGER_COLUMNS].notna(), None)
        rows.insert(0, "as_of", as_of)
        if len(rows):
            rows.to_sql("discrepancy_ledger", conn, if_exists="append", index=False, chunksize=20_000)

    @_explained
    def ledger_before(self, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """The ledger as the latest snapshot before ``as_of`` left it (the base of a run)."""
        self.migrate()
        t = sa.Table("discrepancy_ledger", sa.MetaData(), autoload_with=self.engine)
        latest = sa.select(sa.func.max(t.c.as_of)).where(t.c.as_of < as_of).scalar_subquery()
        stmt = sa.select(*[t.c[c] for c in LEDGER_COLUMNS]).where(t.c.as_of == latest)
        if counties is not None:
            stmt = stmt.where(t.c.county_code.in_(counties))
        with self.engine.connect() as conn:
            frame = pd.read_sql(stmt, conn)
        return frame.astype("string")

    @_explained
    def ledger_at(self, as_of: str) -> pd.DataFrame:
        self.migrate()
        t = sa.Table("discrepancy_ledger", sa.MetaData(), autoload_with=self.engine)
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(*[t.c[c] for c in LEDGER_COLUMNS]).where(t.c.as_of == as_of)
                               .order_by(t.c.discrepancy_id), conn).astype("string")

    @_explained
    def ledger_history(self) -> pd.DataFrame:
        """Open discrepancies per date in the ledger: the trend analysts follow."""
        self.migrate()
        t = sa.Table("discrepancy_ledger", sa.MetaData(), autoload_with=self.engine)
        stmt = (sa.select(t.c.as_of, sa.func.count().label("open"))
                .where(t.c.status.in_(["new", "open", "reopened"])).group_by(t.c.as_of).order_by(t.c.as_of))
        with self.engine.connect() as conn:
            return pd.read_sql(stmt, conn)

    @_explained
    def run_history(self) -> pd.DataFrame:
        self.migrate()
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(RUNS).order_by(RUNS.c.started_at, RUNS.c.run_id), conn)
