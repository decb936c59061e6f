"""The SQL store: run history, the published tables and the discrepancy ledger as history.

SQLite file by default, PostgreSQL (or MariaDB) in production; reached only through
SQLAlchemy. The schema is managed by Alembic migrations (``connectors/migrations``),
applied on first use. One run at a time per store and as_of: :meth:`Store.run_lock`
takes a lock the database (or, for SQLite, the operating system) releases by itself
when the process holding it dies, so a killed run never blocks the next one.

Each published table and the ledger keep their rows as versions with validity intervals
by as_of date (SCD type 2), not a copy per run: a run writes only the rows that differ
from the state as of its date, and :meth:`Store.table_as_of`, :meth:`Store.ledger_as_of`
and :meth:`Store.changes_between` read any date back in one query.
"""
from __future__ import annotations

import functools
import hashlib
import re
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from schemas.published import KEYS as PUBLISHED_KEYS
from schemas.published import LEDGER_COLUMNS
from schemas.published import ORDER as PUBLISHED_ORDER

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED = ("matches", "discrepancies", "unified", "quarantine", "other_groups")


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


# --- history: each published table as versions with validity intervals (SCD type 2) ---
#
# A row version holds a row's values from the as_of ``valid_from`` (included) to
# ``valid_to`` (excluded; NULL: still valid). The state of a table as of a date D is the
# versions with valid_from <= D < valid_to: what the latest snapshot on or before D held,
# since every boundary is a snapshot date (``history_snapshots`` lists them per table).
# A key's adjacent versions always differ (writes merge equal neighbours), so a version
# valid at two dates means the row did not change between them.
LEDGER = "discrepancy_ledger"
ALIASES_BACK = {"ledger": LEDGER}
HISTORY_COLUMNS = ("run_id", "valid_from", "valid_to", "row_key", "occurrence", "row_hash")
# A row's identity from run to run; a key seen twice in one snapshot is told apart by its
# occurrence in the table's order.
# (schemas.published: KEYS, the published ORDER, the ledger under its store table name)
KEYS = {ALIASES_BACK.get(name, name): key for name, key in PUBLISHED_KEYS.items()}
ORDER = {ALIASES_BACK.get(name, name): order for name, order in PUBLISHED_ORDER.items() if name in PUBLISHED_KEYS}
ALIASES = {"ledger": LEDGER}
# The ledger's last_seen is the date of the run that saw the item: stored as this mark
# when it is its snapshot's own date, so an item seen night after night is one version.
# The row hash leaves last_seen out; versions are told apart by both (see ``token``).
SEEN_ON_THE_DATE = "@"


def token(name: str, versions: pd.DataFrame) -> pd.Series:
    """What tells two versions of a row apart: the hash of its values, and for the ledger
    the stored last_seen (a mark or a date)."""
    if name != LEDGER:
        return versions["row_hash"].astype(object)
    seen = versions["last_seen"].astype(object).fillna("N").astype(str)
    return (versions["row_hash"].astype(str) + "|" + seen).astype(object)


def table_name(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in KEYS:
        raise ValueError(f"no history is kept for table {name!r} (kept: {', '.join(sorted(KEYS))})")
    return name


def _kind(col_type) -> str:
    from sqlalchemy.dialects import mysql

    if isinstance(col_type, sa.Boolean) or (isinstance(col_type, mysql.TINYINT)
                                           and getattr(col_type, "display_width", None) == 1):
        return "bool"
    if isinstance(col_type, sa.Integer):
        return "int"
    if isinstance(col_type, (sa.Float, sa.Numeric)):
        return "float"
    if isinstance(col_type, sa.DateTime):
        return "datetime"
    return "text"


def _cells(s: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """A column's SQL-ready values (Python objects, None for null) and their canonical text."""
    s = s.reset_index(drop=True)
    na = s.isna().to_numpy(dtype=bool)
    if kind == "datetime":
        ts = pd.to_datetime(s)
        v = pd.Series(list(ts.dt.to_pydatetime()), dtype=object).where(ts.notna(), None)
        return v, pd.Series(ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").astype(object)).where(~na, None)
    if kind == "text":
        v = s.astype("string").to_numpy(dtype=object, na_value=None)
        return pd.Series(v, dtype=object), pd.Series(v, dtype=object)
    filled = pd.Series(s.to_numpy(dtype=object), dtype=object).where(~na, 0)
    if kind == "bool":
        raw = filled.astype(bool).to_numpy()
        text = np.where(raw, "1", "0").astype(object)
    elif kind == "int":
        raw = pd.to_numeric(filled).astype("int64").to_numpy()
        text = raw.astype(str).astype(object)
    else:
        raw = pd.to_numeric(filled).astype("float64").to_numpy()
        text = np.array([repr(x) for x in raw.tolist()], dtype=object)
    v = raw.astype(object)  # Python bools, ints and floats
    v[na], text[na] = None, None
    return pd.Series(v, dtype=object), pd.Series(text, dtype=object)


def _canonical(text: pd.Series) -> pd.Series:
    """Length-prefixed, so no value can pass for two, and null apart from every string."""
    t = text.astype("string")
    return (t.str.len().astype("string") + ":" + t).fillna("N").astype(object)


def _digest(parts: list[pd.Series], size: int) -> list[str]:
    joined = parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep="|")
    return [hashlib.blake2b(x.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest() for x in joined]


def encode(name: str, frame: pd.DataFrame, kinds: dict[str, str], as_of: str) -> pd.DataFrame:
    """A snapshot as version rows: the table's columns SQL-ready, with each row's key,
    occurrence and the hash of its values (what tells a changed row)."""
    frame = frame.reset_index(drop=True)
    out, canon = {}, {}
    for col, kind in kinds.items():
        src = frame[col] if col in frame.columns else pd.Series([None] * len(frame), dtype=object)
        values, text = _cells(src, kind)
        if name == LEDGER and col == "last_seen":
            here = (text == as_of).fillna(False).astype(bool)
            values, text = values.mask(here, SEEN_ON_THE_DATE), text.mask(here, SEEN_ON_THE_DATE)
        out[col], canon[col] = values, _canonical(text)
    result = pd.DataFrame(out, index=range(len(frame)))
    keys = [canon[c] for c in KEYS[name]]
    key_text = keys[0] if len(keys) == 1 else keys[0].str.cat(keys[1:], sep="|")
    result["occurrence"] = key_text.groupby(key_text, sort=False).cumcount().astype("int64")
    if len(frame):
        result["row_key"] = _digest(keys + [result["occurrence"].astype(str).astype(object)], 16)
        result["row_hash"] = _digest([canon[c] for c in kinds if (name, c) != (LEDGER, "last_seen")], 8)
    else:
        result["row_key"], result["row_hash"] = pd.Series(dtype=object), pd.Series(dtype=object)
    return result


def decode(rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Stored values as pandas columns: text as ``string``, numbers and flags nullable."""
    out = {}
    for col, kind in kinds.items():
        s = rows[col] if col in rows.columns else pd.Series([None] * len(rows), dtype=object)
        if kind == "bool":
            out[col] = s.astype(object).map(lambda x: x if x is None or pd.isna(x) else bool(x)).astype("boolean")
        elif kind == "int":
            out[col] = pd.to_numeric(s.astype(object).where(s.notna(), None)).astype("Int64")
        elif kind == "float":
            out[col] = pd.to_numeric(s.astype(object).where(s.notna(), None)).astype("float64")
        elif kind == "datetime":
            out[col] = pd.to_datetime(s.astype(object).where(s.notna(), None))
        else:
            out[col] = s.astype(object).where(s.notna(), None).astype("string")
    return pd.DataFrame(out, index=rows.index)


def in_table_order(name: str, frame: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    occurrence = ["occurrence"] if "occurrence" in frame else []
    by = list(dict.fromkeys(ORDER[name] + KEYS[name] + occurrence + (extra or [])))
    return frame.sort_values(by, na_position="first", kind="stable").reset_index(drop=True)


def _covers(t, d, strict: bool = False):
    """The versions valid as of ``d`` (``strict``: as of the latest snapshot before ``d``)."""
    if strict:
        return sa.and_(t.c.valid_from < d, sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= d))
    return sa.and_(t.c.valid_from <= d, sa.or_(t.c.valid_to.is_(None), t.c.valid_to > d))


SNAPSHOTS = sa.Table(
    "history_snapshots", sa.MetaData(),
    sa.Column("table_name", sa.String(64), primary_key=True), sa.Column("as_of", sa.String(10), primary_key=True),
    sa.Column("run_id", sa.String(64)),
)

class Store:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
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

    # --- history tables -----------------------------------------------------------------
    def _history(self, name: str) -> tuple[sa.Table, dict[str, str]]:
        """The history table of ``name`` as the migrations left it, and its columns' kinds."""
        name = table_name(name)
        if name not in self._reflected:
            self.migrate()
            t = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
            kinds = {c.name: _kind(c.type) for c in t.columns if c.name not in HISTORY_COLUMNS}
            for c in t.columns:  # as declared, not as reflected (MariaDB: DOUBLE as Decimal, flags as TINYINT)
                if kinds.get(c.name, "text") != "text":
                    c.type = {"bool": sa.Boolean(), "int": sa.Integer(), "float": sa.Double(asdecimal=False),
                              "datetime": sa.DateTime()}[kinds[c.name]]
            self._reflected[name] = (t, kinds)
        return self._reflected[name]

    def _state_select(self, name: str, as_of: str, *, strict: bool = False, counties=None):
        """One SELECT of the rows of ``name`` as of ``as_of``, last_seen resolved."""
        name = table_name(name)
        t, kinds = self._history(name)
        return sa.select(*self._resolved(t, name, kinds, as_of, strict), t.c.occurrence).where(
            _covers(t, as_of, strict), *([t.c.county_code.in_(list(counties))] if counties is not None else []))

    @staticmethod
    def _resolved(t, name, kinds, as_of, strict=False):
        cols = []
        for c in kinds:
            if name == LEDGER and c == "last_seen":
                date = SNAPSHOTS.c.as_of < as_of if strict else SNAPSHOTS.c.as_of <= as_of
                snap = (sa.select(sa.func.max(SNAPSHOTS.c.as_of))
                        .where(SNAPSHOTS.c.table_name == LEDGER, date).scalar_subquery())
                cols.append(sa.case((t.c.last_seen == SEEN_ON_THE_DATE, snap), else_=t.c.last_seen).label(c))
            else:
                cols.append(t.c[c])
        return cols

    def _frame(self, conn, name: str, stmt, extra: list[str] | None = None) -> pd.DataFrame:
        _, kinds = self._history(name)
        result = conn.execute(stmt)
        rows = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))
        frame = decode(rows, kinds)
        for c in ["occurrence", *(extra or [])]:
            frame[c] = rows[c]
        frame = in_table_order(name, frame, extra)
        return frame.drop(columns="occurrence")

    # --- the as-of queries ------------------------------------------------------------------
    @_explained
    def table_as_of(self, name: str, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """Table ``name`` as a full snapshot of ``as_of`` would hold it (the latest run on or
        before that date): same columns and rows, in the published order. One query."""
        with self.engine.connect() as conn:
            return self._frame(conn, table_name(name), self._state_select(name, as_of, counties=counties))

    @_explained
    def ledger_as_of(self, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """The discrepancy ledger as of ``as_of``, every stored column. One query."""
        return self.table_as_of(LEDGER, as_of, counties)

    @_explained
    def changes_between(self, name: str, d1: str, d2: str) -> pd.DataFrame:
        """The rows of ``name`` that differ between its states as of ``d1`` and ``d2``: the
        row as of ``d1`` (``side`` "before": changed or removed) and as of ``d2`` ("after":
        changed or added), in the published order. One query."""
        name = table_name(name)
        t, kinds = self._history(name)
        sides = []
        for here, there in ((d1, d2), (d2, d1)):
            other = t.alias("other")
            same = [other.c.row_key == t.c.row_key, other.c.row_hash == t.c.row_hash, _covers(other, there)]
            if name == LEDGER:  # last_seen as each date reads it
                same.append(self._resolved(other, name, {"last_seen": "text"}, there)[0].element
                            == self._resolved(t, name, {"last_seen": "text"}, here)[0].element)
            unchanged = sa.exists(sa.select(sa.literal(1)).where(*same))
            sides.append(sa.select(*self._resolved(t, name, kinds, here), t.c.occurrence,
                                   sa.literal(len(sides)).label("side")).where(_covers(t, here), sa.not_(unchanged)))
        with self.engine.connect() as conn:
            frame = self._frame(conn, name, sa.union_all(*sides), extra=["side"])
        frame["side"] = frame["side"].map({0: "before", 1: "after"}).astype("string")
        return frame

    # --- runs and tables -----------------------------------------------------------
    @_explained
    def save_run(self, record: dict, tables: dict[str, pd.DataFrame], ledger: pd.DataFrame | None = None,
                 ledger_scope: list[str] | None = None, *, scope: list[str] | None = None) -> None:
        """The run row, its tables and its ledger in one transaction, as of the run's date.

        ``tables`` are full snapshots (the published tables), or with ``scope`` only the
        rows of those counties: the other rows carry over from the store as of the date.
        ``ledger`` holds the ledger rows of ``ledger_scope`` (None: the whole ledger). Only
        rows that differ from the state as of the date are written; a re-run of a date
        replaces what that date said, and later dates keep what they said.
        """
        self.migrate()
        as_of, run_id = record["as_of"], record["run_id"]
        writes = [(table_name(n), f, scope) for n, f in tables.items()]
        if ledger is not None:
            writes.append((LEDGER, ledger, ledger_scope))
        for name, _, _ in writes:  # reflected before the transaction: SQLite would lock itself out
            self._history(name)
        with self.engine.begin() as conn:
            conn.execute(RUNS.insert().values(**record))
            for name, frame, counties in writes:
                self._write_snapshot(conn, name, as_of, run_id, frame, counties)

    def _write_snapshot(self, conn, name: str, as_of: str, run_id: str, frame: pd.DataFrame,
                        counties: list[str] | None) -> None:
        t, kinds = self._history(name)
        if counties is not None:  # rows outside the scope as the store holds them as of the date
            state = self._frame(conn, name, self._state_select(name, as_of))
            kept = state[~state["county_code"].isin(list(counties)).fillna(False).astype(bool)]
            frame = in_table_order(name, pd.concat([kept, frame.reindex(columns=list(kinds))], ignore_index=True))
        new = encode(name, frame, kinds, as_of)
        new["run_id"] = run_id
        nxt = conn.execute(sa.select(sa.func.min(SNAPSHOTS.c.as_of)).where(
            SNAPSHOTS.c.table_name == name, SNAPSHOTS.c.as_of > as_of)).scalar()
        near = [_covers(t, as_of), t.c.valid_to == as_of] + ([t.c.valid_from == nxt] if nxt else [])
        narrow = [t.c.row_key, t.c.valid_from, t.c.valid_to, t.c.row_hash] + ([t.c.last_seen] if name == LEDGER else [])
        old = pd.DataFrame([tuple(r) for r in conn.execute(sa.select(*narrow).where(sa.or_(*near)))],
                           columns=[c.name for c in narrow])
        old["row_hash"] = token(name, old)
        new["token"] = token(name, new)
        covering = (old["valid_from"] <= as_of) & (old["valid_to"].isna() | (old["valid_to"] > as_of))
        ending = old[old["valid_to"] == as_of].set_index("row_key")
        starting = old[old["valid_from"] == nxt].set_index("row_key") if nxt else ending.iloc[:0]
        m = old[covering].merge(new[["row_key", "token"]].rename(columns={"token": "row_hash"}), on="row_key",
                                how="outer", suffixes=("_old", ""), indicator=True)
        same = (m["_merge"] == "both") & (m["row_hash_old"] == m["row_hash"])
        gone = m[(m["_merge"] != "right_only") & ~same]  # its version no longer holds from as_of on
        shorten = gone[gone["valid_from"] < as_of]
        tail = gone[gone["valid_to"].isna() | (gone["valid_to"] > nxt)] if nxt else gone.iloc[:0]
        deleted = [(k, f) for k, f in zip(gone.loc[gone["valid_from"] == as_of, "row_key"],
                                          gone.loc[gone["valid_from"] == as_of, "valid_from"])]
        fresh = new[new["row_key"].isin(m.loc[(m["_merge"] != "left_only") & ~same, "row_key"])].copy()
        fresh["valid_from"], fresh["valid_to"] = as_of, nxt
        back = fresh["row_key"].map(ending["row_hash"]) == fresh["token"]  # merge with an equal predecessor
        back = back.fillna(False).astype(bool)
        merged = fresh.loc[back, "row_key"]
        deleted += list(zip(merged, merged.map(ending["valid_from"])))
        fresh.loc[back, "valid_from"] = fresh.loc[back, "row_key"].map(ending["valid_from"])
        if nxt:  # ... and with an equal successor
            ahead = (fresh["row_key"].map(starting["row_hash"]) == fresh["token"]).fillna(False).astype(bool)
            ahead &= ~fresh["row_key"].isin(tail["row_key"])
            deleted += [(k, nxt) for k in fresh.loc[ahead, "row_key"]]
            fresh.loc[ahead, "valid_to"] = fresh.loc[ahead, "row_key"].map(starting["valid_to"])
        rows = [fresh.drop(columns="token")]
        if len(tail):  # a later snapshot still holds the old version: it resumes there
            keys = tail["row_key"].tolist()
            for start in range(0, len(keys), 500):
                got = conn.execute(sa.select(t).where(_covers(t, as_of), t.c.row_key.in_(keys[start:start + 500])))
                piece = pd.DataFrame(got.fetchall(), columns=list(got.keys()))
                piece["valid_from"] = nxt
                rows.append(piece)
        if deleted:
            conn.execute(t.delete().where(t.c.row_key == sa.bindparam("k"), t.c.valid_from == sa.bindparam("f")),
                         [{"k": k, "f": f} for k, f in deleted])
        if len(shorten):
            conn.execute(t.update().where(t.c.row_key == sa.bindparam("k"), t.c.valid_from == sa.bindparam("f"))
                         .values(valid_to=as_of),
                         [{"k": k, "f": f} for k, f in zip(shorten["row_key"], shorten["valid_from"])])
        columns = [c.name for c in t.columns]
        for part in rows:
            if len(part):
                self._insert(conn, t, part.reindex(columns=columns))
        conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.table_name == name, SNAPSHOTS.c.as_of == as_of))
        conn.execute(SNAPSHOTS.insert().values(table_name=name, as_of=as_of, run_id=run_id))

    @staticmethod
    def _insert(conn, t: sa.Table, frame: pd.DataFrame) -> None:
        """Bulk, in the open transaction: plain tuples to the driver's executemany on SQLite
        (5-10x faster than through SQLAlchemy's parameters), batched multi-row VALUES
        elsewhere."""
        frame = frame.astype(object).where(frame.notna(), None)
        if conn.dialect.name != "sqlite":
            records = frame.to_dict("records")
            for start in range(0, len(records), 20_000):
                conn.execute(t.insert(), records[start:start + 20_000])
            return
        for c in t.columns:  # as SQLAlchemy stores a DateTime in SQLite
            if isinstance(c.type, sa.DateTime):
                frame[c.name] = frame[c.name].map(lambda x: None if x is None else x.strftime("%Y-%m-%d %H:%M:%S.%f"))
        q = conn.dialect.identifier_preparer.quote
        sql = (f"INSERT INTO {q(t.name)} ({', '.join(q(c) for c in frame.columns)}) "
               f"VALUES ({', '.join('?' * len(frame.columns))})")
        rows = list(frame.itertuples(index=False, name=None))
        for start in range(0, len(rows), 50_000):
            conn.exec_driver_sql(sql, rows[start:start + 50_000])

    @_explained
    def mark_published(self, run_id: str) -> None:
        """The run's files are in place: its row, stored as ``stored``, becomes ``published``.

        A run killed between its store commit and the swap of its folder stays ``stored``:
        the store holds its tables, but the files, and so the last published run, are the
        previous one's.
        """
        with self.engine.begin() as conn:
            conn.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(status="published"))

    def _ledger(self, stmt) -> pd.DataFrame:
        with self.engine.connect() as conn:
            frame = self._frame(conn, LEDGER, stmt)
        return frame[LEDGER_COLUMNS].astype("string")

    @_explained
    def ledger_before(self, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """The ledger as the latest snapshot before ``as_of`` left it (the base of a run)."""
        return self._ledger(self._state_select(LEDGER, as_of, strict=True, counties=counties))

    @_explained
    def ledger_at(self, as_of: str) -> pd.DataFrame:
        """The ledger a run for ``as_of`` itself stored; empty when no run for that date did."""
        ran = sa.exists(sa.select(sa.literal(1)).where(SNAPSHOTS.c.table_name == LEDGER, SNAPSHOTS.c.as_of == as_of))
        return self._ledger(self._state_select(LEDGER, as_of).where(ran))

    @_explained
    def ledger_history(self) -> pd.DataFrame:
        """Open discrepancies per date in the ledger: the trend analysts follow. One query:
        the open items gained and lost at each snapshot date, summed in order."""
        t, _ = self._history(LEDGER)
        is_open = t.c.status.in_(["new", "open", "reopened"])
        moves = sa.union_all(
            sa.select(t.c.valid_from.label("as_of"), sa.literal(1).label("d")).where(is_open),
            sa.select(t.c.valid_to.label("as_of"), sa.literal(-1).label("d")).where(is_open, t.c.valid_to.is_not(None)),
            sa.select(SNAPSHOTS.c.as_of, sa.literal(0).label("d")).where(SNAPSHOTS.c.table_name == LEDGER),
        ).subquery()
        stmt = (sa.select(moves.c.as_of, sa.func.sum(moves.c.d).label("d"))
                .group_by(moves.c.as_of).order_by(moves.c.as_of))
        with self.engine.connect() as conn:
            f = pd.DataFrame(conn.execute(stmt).fetchall(), columns=["as_of", "d"])
        f["open"] = pd.to_numeric(f["d"]).cumsum().astype("int64")
        return f.loc[f["open"] > 0, ["as_of", "open"]].reset_index(drop=True)

    @_explained
    def run_history(self) -> pd.DataFrame:
        self.migrate()
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(RUNS).order_by(RUNS.c.started_at, RUNS.c.run_id), conn)

    @_explained
    def snapshot_dates(self, name: str = LEDGER) -> list[str]:
        """The as_of dates a run stored ``name`` for, oldest first."""
        self.migrate()
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(SNAPSHOTS.c.as_of).where(SNAPSHOTS.c.table_name == table_name(name))
                                     .order_by(SNAPSHOTS.c.as_of)).scalars())
