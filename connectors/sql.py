"""Database sources: a table or a read-only query, through SQLAlchemy, streamed in chunks.

A source is written ``<SQLAlchemy URL>#<table>``, ``<URL>#<schema>.<table>`` or
``<URL>#query=<SELECT ...>``, e.g. ``postgresql+psycopg2://anju@db/ps#public.households``.
Credentials never go on the command line: write ``${PS_DB_PASSWORD}`` in the URL and it is
taken from the environment, or let the driver find them (``PGPASSWORD``, ``.pgpass``).
Table and column names are quoted by SQLAlchemy, never pasted into SQL text.

Read-only by construction, in three layers, so that no single one has to be perfect:
1. a ``#query=`` is parsed by sqlglot in the server's dialect: exactly one statement, a query, with
   nothing anywhere in its tree that writes, locks, changes the session or calls a function with a side
   effect (``checked_query``); what is sent is the SQL sqlglot writes back from that checked tree, so
   comments and anything the server would read differently from sqlglot never reach the server;
2. the driver runs one statement per call (PyMySQL's multi-statement flag forced off; psycopg2 sends one
   simple-query message, hence layer 1 and 3 for PostgreSQL; sqlite3 refuses several statements);
3. the session itself is read-only from the moment it connects (``read_only_engine``): PostgreSQL
   ``default_transaction_read_only``, MariaDB ``SET SESSION TRANSACTION READ ONLY``, SQLite
   ``query_only`` and a file opened ``mode=ro``; the read's own transaction is read-only and rolled back,
   and it does not start unless the server confirms the read-only state. Tables are read the same way.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import URL, make_url
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from connectors.errors import SourceError
from connectors.headers import map_headers
from connectors.source_frame import SourceFrame, assemble
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
        # one line whatever the query's layout: the error a person reads is one line
        what = f"query={' '.join(self.query.split())[:60]}" if self.query else \
            ".".join(x for x in (self.schema, self.table) if x)
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


# The sqlglot dialect that reads each SQLAlchemy backend's SQL as its server does.
_SQLGLOT_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}

# Nodes that write data or schema, end or change a transaction, change the session, or are statements
# sqlglot only knows as opaque text (Command: CALL, EXPLAIN ANALYZE, LOCK, SHOW, ...): refused anywhere
# in the tree, e.g. PostgreSQL's data-modifying CTE `WITH d AS (DELETE ... RETURNING *) SELECT ...`.
_STATEMENT_NODES = tuple(getattr(exp, name) for name in (
    "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command",
    "Set", "Copy", "LoadData", "Transaction", "Commit", "Rollback", "Pragma", "Use", "Grant", "Revoke", "Kill",
    "Analyze", "Cache", "Uncache", "Refresh", "Attach", "Detach", "Execute", "Export", "Install", "Declare",
    "Put", "Get", "NextValueFor", "Describe", "Show") if hasattr(exp, name))
_STATEMENT_NAMES = {"TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA", "NextValueFor": "NEXT VALUE FOR",
                    "Transaction": "BEGIN"}

# Functions a read has no business calling: they change server state that a read-only transaction does not
# protect (sequences, settings, locks, other sessions), read or write the server's files, run SQL text we
# cannot check (query_to_xml, dblink), or hold the connection (sleep). A user's own function that writes
# passes this list; the read-only session refuses its writes. Names compare lower-cased, schema dropped.
_REFUSED_FUNCTIONS = frozenset({
    # PostgreSQL
    "nextval", "setval", "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
    "pg_rotate_logfile", "pg_switch_wal", "pg_promote", "pg_create_restore_point", "pg_backup_start",
    "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_import_system_collations", "pg_notify",
    "pg_stat_statements_reset", "pg_log_backend_memory_contexts", "loread", "lowrite", "txid_current",
    "pg_current_xact_id", "pg_sleep", "pg_sleep_for", "pg_sleep_until", "query_to_xml", "query_to_xmlschema",
    "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "pg_stat_file",
    # MariaDB / MySQL
    "load_file", "get_lock", "release_lock", "release_all_locks", "sleep", "benchmark", "master_pos_wait",
    "master_gtid_wait", "source_pos_wait", "lastval", "sys_exec", "sys_eval", "sys_get", "sys_set",
    "lib_mysqludf_sys_info",
    # SQLite (load_extension is off in Python's sqlite3, the others exist in some builds and the CLI)
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
})
_REFUSED_PREFIXES = ("pg_advisory_", "pg_try_advisory_", "dblink", "lo_", "pg_read_", "pg_ls_", "pg_file_",
                     "pg_stat_reset", "pg_create_", "pg_drop_", "pg_replication_", "pg_logical_", "pg_wal_replay_",
                     "pg_xact_commit", "pg_export_snapshot")


def _a(word: str) -> str:
    return ("an " if word[:1] in "AEIOU" else "a ") + word


def _refuse(where: str, problem: str) -> SourceError:
    return SourceError(where, problem, expected="exactly one SELECT, a read-only query")


def _statements(text: str, dialect: str, where: str) -> list[exp.Expression]:
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except SqlglotError as e:
        first = (getattr(e, "errors", None) or [{}])[0]
        at = f", line {first['line']}, column {first['col']}" if first.get("line") else ""
        why = first.get("description") or str(e).splitlines()[0]
        raise _refuse(where, f"the query could not be parsed as {dialect} SQL ({why}{at})") from None
    return [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]


def _function_names(node: exp.Func) -> set[str]:
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {n.lower() for n in type(node).sql_names()} | {node.key.lower()}


def _check_tree(tree: exp.Expression, dialect: str, where: str) -> None:
    if not isinstance(tree, (exp.Query, exp.Values)):
        name = tree.name.upper() if isinstance(tree, exp.Command) else \
            _STATEMENT_NAMES.get(type(tree).__name__, tree.key.upper())
        raise _refuse(where, f"the query is {_a(name)} statement, not a SELECT")
    for node in tree.walk():
        if isinstance(node, _STATEMENT_NODES):
            name = node.name.upper() if isinstance(node, exp.Command) else \
                _STATEMENT_NAMES.get(type(node).__name__, node.key.upper())
            raise _refuse(where, f"the query holds {_a(name)}, which writes or changes the session")
        if isinstance(node, exp.Into):
            raise _refuse(where, "the query stores its result (SELECT ... INTO)")
        if isinstance(node, exp.Lock):
            raise _refuse(where, f"the query locks rows ({node.sql(dialect=dialect).strip()})")
        if isinstance(node, exp.Func):
            for name in sorted(_function_names(node)):
                if name in _REFUSED_FUNCTIONS or name.startswith(_REFUSED_PREFIXES):
                    raise _refuse(where, f"the query calls {name}(), which acts on the server or its files")


def checked_query(query: str, backend: str, where: str) -> str:
    """The SQL to send for a ``#query=`` source, or a SourceError saying what was refused.

    What is returned is sqlglot's rendering of the checked tree, without comments (a MySQL ``/*! ... */``
    comment is code to the server), and it must read back as the same single, checked statement: the
    server is sent only what was checked."""
    dialect = _SQLGLOT_DIALECT.get(backend)
    if dialect is None:
        raise SourceError(where, f"a query on a {backend} database cannot be checked read-only",
                          expected="a table (URL#schema.table), or a query on PostgreSQL, MariaDB/MySQL or SQLite")
    try:
        tokens = sqlglot.tokenize(query, read=dialect)
    except SqlglotError as e:
        raise _refuse(where, f"the query could not be parsed as {dialect} SQL ({str(e).splitlines()[0]})") from None
    if dialect == "mysql" and any(c.lstrip().startswith(("!", "M!")) for t in tokens for c in t.comments):
        raise _refuse(where, "the query holds a MySQL executable comment (/*! ... */)")
    statements = _statements(query, dialect, where)
    if not statements:
        raise _refuse(where, "the query is empty")
    if len(statements) > 1:
        raise _refuse(where, f"the query holds {len(statements)} statements")
    _check_tree(statements[0], dialect, where)
    try:
        sql = statements[0].sql(dialect=dialect, comments=False, normalize_functions=False,
                                unsupported_level=ErrorLevel.RAISE)
        again = _statements(sql, dialect, where)
        same = len(again) == 1 and again[0].sql(dialect=dialect, comments=False, normalize_functions=False) == sql
    except SqlglotError:
        same = False
    if not same:
        raise _refuse(where, "the query does not read back the same once rewritten (a construct sqlglot cannot "
                             "round-trip)")
    _check_tree(again[0], dialect, where)
    return sql


def _sqlite_read_only(url: URL, where: str) -> URL:
    """A database file opened mode=ro (no journal, no accidental creation); memory databases as they are."""
    db = url.database or ""
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return url if "memory" in db else url.update_query_dict({"mode": "ro"})
    if db in ("", ":memory:"):
        return url
    path = Path(db).resolve()
    if not path.is_file():
        raise SourceError(where, "the database file does not exist", expected="an existing SQLite file")
    return url.set(database="file:" + quote(str(path), safe="/")).update_query_dict({"mode": "ro", "uri": "true"})


def _read_only_session(dbapi_conn, backend: str) -> None:
    """Make the session read-only before anything else runs on it (PEP 249 calls only: any driver)."""
    cur = dbapi_conn.cursor()
    try:
        if backend == "postgresql":
            # every later transaction read-only, even one begun after a COMMIT; and string constants read
            # the way sqlglot's PostgreSQL grammar reads them (a backslash is a character)
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.execute("SET standard_conforming_strings = on")
        elif backend in ("mysql", "mariadb"):
            cur.execute("SET SESSION TRANSACTION READ ONLY")  # applies to every later transaction
            cur.execute("SELECT @@SESSION.sql_mode")
            modes = (cur.fetchone()[0] or "").split(",")
            if "NO_BACKSLASH_ESCAPES" in modes:  # sqlglot writes backslash escapes into string constants
                cur.execute("SET SESSION sql_mode = '%s'" % ",".join(m for m in modes if m != "NO_BACKSLASH_ESCAPES"))
        elif backend == "sqlite":
            cur.execute("PRAGMA query_only = 1")
    finally:
        cur.close()
    if backend != "sqlite":
        dbapi_conn.commit()  # end the implicit transaction: the next one starts read-only


def read_only_engine(url: str, where: str | None = None) -> sa.Engine:
    """An engine whose every connection is read-only from the start and runs one statement per call."""
    u = make_url(url)
    where = where or u.render_as_string(hide_password=True)
    backend = u.get_backend_name()
    if backend == "sqlite":
        u = _sqlite_read_only(u, where)
    engine = sa.create_engine(u)
    if backend in ("mysql", "mariadb"):
        @sa.event.listens_for(engine, "do_connect")
        def _one_statement(dialect, conn_rec, cargs, cparams):
            if dialect.driver in ("pymysql", "mysqldb"):  # CLIENT.MULTI_STATEMENTS, same bit in both drivers
                cparams["client_flag"] = int(cparams.get("client_flag", 0)) & ~(1 << 16)
                cparams["local_infile"] = False

    @sa.event.listens_for(engine, "connect")
    def _session(dbapi_conn, conn_rec):
        if hasattr(dbapi_conn, "set_server_option"):  # mysqlclient turns multi-statements on by itself
            dbapi_conn.set_server_option(1)  # MYSQL_OPTION_MULTI_STATEMENTS_OFF
        _read_only_session(dbapi_conn, backend)

    return engine


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


def _read_only(conn: sa.Connection, where: str) -> None:
    """This transaction read-only too, and proof from the server that it is, before anything is read."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        state = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
    elif dialect in ("mysql", "mariadb"):  # MariaDB names it tx_read_only, MySQL 8 transaction_read_only
        rows = conn.exec_driver_sql("SHOW SESSION VARIABLES WHERE Variable_name IN "
                                    "('tx_read_only', 'transaction_read_only')").fetchall()
        state = "on" if rows and all(str(v).lower() in ("on", "1") for _, v in rows) else "off"
    elif dialect == "sqlite":
        state = "on" if conn.exec_driver_sql("PRAGMA query_only").scalar() == 1 else "off"
    else:
        return  # a table on another database: read with a plain SELECT, as before
    if str(state).lower() not in ("on", "1"):
        raise SourceError(where, "the database did not accept a read-only session", expected="a read-only session")


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


@contextmanager
def read_only_session(src: DbSource, attempts: int, backoff: float, doing: str, expected: str):
    """A read-only connection in a transaction rolled back at the end, the engine disposed
    after; a database error becomes one SourceError naming the source and what it could
    not ``doing``."""
    engine = read_only_engine(src.url, src.display)
    try:
        with _connect(engine, src, attempts, backoff) as conn:
            with conn.begin() as tx:
                _read_only(conn, src.display)
                yield conn
                tx.rollback()
    except sa.exc.SQLAlchemyError as e:
        raise SourceError(src.display, f"the database could not {doing} ({type(e).__name__}: "
                          f"{str(getattr(e, 'orig', e)).strip().splitlines()[0]})", expected=expected) from None
    finally:
        engine.dispose()


def table_order(conn: sa.Connection, src: DbSource, spec: SourceSpec) -> tuple[sa.Table, list[sa.Column]]:
    """The source's table as the server describes it, and the order its rows are read in:
    by the column that holds the key, then by the text of every other column the spec
    knows (rows sharing a key come in the same order in every read, whole or a range at a
    time; as text, so a column the server cannot order, such as PostgreSQL's json, still
    breaks ties). The first is the column a country run cuts into ranges."""
    try:
        table = sa.Table(src.table, sa.MetaData(), schema=src.schema, autoload_with=conn)
    except sa.exc.NoSuchTableError:
        raise SourceError(src.display, "the table does not exist",
                          expected="an existing table (schema.table)") from None
    names = [c.name for c in table.columns]
    header = map_headers(names, spec, src.display)
    key = [p for p, canon in header.mapping.items() if canon == spec.key] or sorted(header.mapping)[:1]
    ties = [sa.cast(table.c[names[p]], sa.Text) for p in sorted(header.mapping) if p not in key]
    return table, [table.c[names[key[0]]], *ties]


def source_digest(src: DbSource, names: list[str], rows: int) -> str:
    return hashlib.sha256(f"{src.display}|{','.join(names)}|{rows}".encode()).hexdigest()


def read_db(location: str, spec: SourceSpec, attempts: int = 3, backoff: float = 1.0, part=None):
    """A table or a checked query, read-only, as text cells. ``part``: one range of the
    first ordering column (``connectors.sql_ranges.KeyRange``) of a table, its rows
    numbered as a whole read numbers them."""
    src = parse_location(location)
    if part is not None and src.query:
        raise SourceError(src.display, "a query cannot be read a range at a time",
                          expected="a table or a view (URL#schema.view)")
    # the query is checked before any connection is made: a refused query is not retried
    sql = checked_query(src.query, make_url(src.url).get_backend_name(), src.display) if src.query else None
    with read_only_session(src, attempts, backoff, "run the read", "a readable table or a valid SELECT") as conn:
        if sql is not None:
            stmt = None
        else:
            table, order = table_order(conn, src, spec)
            stmt = sa.select(table).order_by(*order)
            if part is not None:
                stmt = stmt.where(part.condition(order[0]))
        chunks = []
        streamed = conn.execution_options(stream_results=True, max_row_buffer=CHUNK_ROWS)
        # the checked text as it is: no bind parameters, so no ':name' or '%' is read as one
        result = streamed.execute(stmt) if stmt is not None else \
            streamed.execution_options(no_parameters=True).exec_driver_sql(sql)
        names = list(result.keys())
        while rows := result.fetchmany(CHUNK_ROWS):
            chunk = pd.DataFrame(rows, columns=names)
            chunks.append(chunk.apply(_text))  # text at once: the typed chunk is let go
    if part is not None and part.rows is not None and sum(map(len, chunks)) != part.rows:
        raise SourceError(src.display, f"the table changed while the run read it: a range of {part.rows:,} rows "
                          f"when the run began has {sum(map(len, chunks)):,} now", expected="run again")
    header = map_headers(names, spec, src.display)
    cells = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=names, dtype="string")
    cells.columns = range(len(names))
    frame, skipped = assemble(cells, header, 1 + (part.offset if part is not None else 0), spec, src.display)
    digest = source_digest(src, names, len(cells))
    return SourceFrame(frame, {"format": "sql", "skipped_rows": skipped, "rejected_rows": [],
                               "unknown_columns": header.unknown, "location_display": src.display,
                               "sha256": digest})
