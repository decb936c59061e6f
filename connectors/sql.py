"""Database sources: a table or a read-only query, through SQLAlchemy, streamed in chunks.

A source is written ``<SQLAlchemy URL>#<table>``, ``<URL>#<schema>.<table>`` or
``<URL>#query=<SELECT ...>``, e.g. ``postgresql+psycopg2://anju@db/ps#public.households``.
Credentials never go on the command line: write ``${PS_DB_PASSWORD}`` in the URL and it is
taken from the environment, or let the driver find them (``PGPASSWORD``, ``.pgpass``).
Table and column names are quoted by SQLAlchemy, never pasted into SQL text; the query
runs in a read-only transaction that is rolled back.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.errors import SourceError
from connectors.headers import map_headers
from schemas.config import SourceSpec

CHUNK_ROWS = 200_000
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TransientSourceError(SourceError):
    """A source that may answer if asked again (a database restarting)."""

    transient = True


@dataclass(frozen=True)
class DbSource:
    url: str
    table: str | None = None
    schema: str | None = None
    query: str | None = None

    @property
    def display(self) -> str:
        safe = make_url(self.url).render_as_string(hide_password=True)
        what = f"query={self.query[:60]}" if self.query else ".".join(x for x in (self.schema, self.table) if x)
        return f"{safe}#{what}"


def is_db_location(location: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+]*://", str(location))) and "#" in str(location)


def expand_env(url: str) -> str:
    """``${NAME}`` in a URL taken from the environment; a missing variable is a clear error."""
    missing = [name for name in _ENV.findall(url) if name not in os.environ]
    if missing:
        raise SourceError(_ENV.sub("***", url), f"environment variable {', '.join(missing)} is not set",
                          expected="the credentials in the environment")
    return _ENV.sub(lambda m: os.environ[m.group(1)], url)


def parse_location(location: str) -> DbSource:
    url, _, target = str(location).partition("#")
    url = expand_env(url)
    if target.startswith("query="):
        return DbSource(url=url, query=target[len("query="):])
    if not target:
        raise SourceError(make_url(url).render_as_string(hide_password=True), "no table named after '#'",
                          expected="URL#table, URL#schema.table or URL#query=SELECT ...")
    schema, _, table = target.rpartition(".")
    return DbSource(url=url, table=table, schema=schema or None)


def _connect(engine: sa.Engine, src: DbSource, attempts: int, backoff: float):
    for attempt in range(1, attempts + 1):
        try:
            return engine.connect()
        except sa.exc.OperationalError as e:
            if attempt == attempts:
                raise TransientSourceError(src.display, f"the database refused the connection {attempts} times "
                                           f"({str(e.orig).strip().splitlines()[0]})",
                                           expected="a reachable database") from None
            time.sleep(backoff * 2 ** (attempt - 1))


def _read_only(conn: sa.Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    elif dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = 1")


def _text(col: pd.Series) -> pd.Series:
    """Database values as the text a file export would hold."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.dt.strftime("%Y-%m-%d").astype("string").fillna("")
    if pd.api.types.is_float_dtype(col):
        whole = col.dropna().eq(col.dropna().round()).all()
        if whole:
            return col.astype("Int64").astype("string").fillna("")
    if col.dtype == object:
        col = col.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v, na_action="ignore")
    return col.astype("string").fillna("")


def read_db(location: str, spec: SourceSpec, attempts: int = 3, backoff: float = 1.0):
    from connectors.sources import SourceFrame

    src = parse_location(location)
    engine = sa.create_engine(src.url)
    try:
        with _connect(engine, src, attempts, backoff) as conn:
            with conn.begin() as tx:
                _read_only(conn)
                if src.query:
                    stmt = sa.text(src.query)
                    names = None
                else:
                    try:
                        table = sa.Table(src.table, sa.MetaData(), schema=src.schema, autoload_with=conn)
                    except sa.exc.NoSuchTableError:
                        raise SourceError(src.display, "the table does not exist",
                                          expected="an existing table (schema.table)") from None
                    names = [c.name for c in table.columns]
                    header = map_headers(names, spec, src.display)
                    order = [table.c[names[p]] for p, canon in header.mapping.items() if canon == spec.key] or \
                        [table.c[names[p]] for p in sorted(header.mapping)]
                    stmt = sa.select(table).order_by(*order)
                chunks = []
                result = conn.execution_options(stream_results=True, max_row_buffer=CHUNK_ROWS).execute(stmt)
                names = list(result.keys())
                while rows := result.fetchmany(CHUNK_ROWS):
                    chunk = pd.DataFrame(rows, columns=names)
                    chunks.append(chunk.apply(_text))  # text at once: the typed chunk is let go
                tx.rollback()
    except sa.exc.SQLAlchemyError as e:
        raise SourceError(src.display, f"the database could not run the read ({type(e).__name__}: "
                          f"{str(getattr(e, 'orig', e)).strip().splitlines()[0]})",
                          expected="a readable table or a valid SELECT") from None
    finally:
        engine.dispose()
    header = map_headers(names, spec, src.display)
    cells = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=names, dtype="string")
    cells.columns = range(len(names))
    from connectors.sources import _assemble

    frame, skipped = _assemble(cells, header, 1, spec, src.display)
    digest = hashlib.sha256(f"{src.display}|{','.join(names)}|{len(cells)}".encode()).hexdigest()
    return SourceFrame(frame, {"format": "sql", "skipped_rows": skipped, "rejected_rows": [],
                               "unknown_columns": header.unknown, "location_display": src.display,
                               "sha256": digest})
