"""A `URL#query=...` source can only read: on SQLite and on the real PostgreSQL and MariaDB servers,
every way of writing through it is refused and leaves the database exactly as it was."""
from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors import SourceError, read_source
from tests.connectors.test_files import HEADERS, frame

KINDS = {"sqlite": (), "postgres": (pytest.mark.postgres,), "mariadb": (pytest.mark.mariadb,)}
ALL, PG, MY, LITE = {"sqlite", "postgres", "mariadb"}, {"postgres"}, {"mariadb"}, {"sqlite"}

# Objects a write could touch: a log table that writing routines fill, a sequence, a writing
# function and procedure (the parser lets `SELECT f()` through: the read-only session must stop it).
SETUP = {
    "postgres": ["CREATE TABLE log (n int)", "CREATE SEQUENCE s",
                 "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$BEGIN INSERT INTO log VALUES (1); "
                 "RETURN 1; END$$",
                 "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$BEGIN INSERT INTO log VALUES (1); END$$"],
    "mariadb": ["CREATE TABLE log (n int)", "CREATE SEQUENCE s",
                "CREATE FUNCTION f() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO log VALUES (1); RETURN 1; END",
                "CREATE PROCEDURE p() MODIFIES SQL DATA BEGIN INSERT INTO log VALUES (1); END"],
    "sqlite": ["CREATE TABLE log (n int)"],
}

# (id, servers, query): {c} a quoted column of t, {a} its key column, {out} a file the server must not write.
# A side-effecting call rides on `SELECT t.*`, so that the read would otherwise succeed: only a refusal stops it.
ATTEMPTS = [
    ("commit-then-delete", ALL, "SELECT 1; COMMIT; DELETE FROM t"),
    ("select-then-delete", ALL, "SELECT 1; DELETE FROM t"),
    ("begin-read-write", PG, "BEGIN READ WRITE; DELETE FROM t; COMMIT"),
    ("delete", ALL, "DELETE FROM t"),
    ("update", ALL, "UPDATE t SET {c} = 0"),
    ("insert", ALL, "INSERT INTO t ({a}) VALUES ('X')"),
    ("drop-table", ALL, "DROP TABLE t"),
    ("create-table-as", ALL, "CREATE TABLE t2 AS SELECT * FROM t"),
    ("truncate", PG | MY, "TRUNCATE TABLE t"),
    ("alter", ALL, "ALTER TABLE t ADD COLUMN extra INT"),
    ("select-into-table", PG, "SELECT * INTO newt FROM t"),
    ("into-outfile", MY, "SELECT * FROM t INTO OUTFILE '{out}'"),
    ("into-dumpfile", MY, "SELECT {a} FROM t LIMIT 1 INTO DUMPFILE '{out}'"),
    ("into-variable", MY, "SELECT 1 INTO @v"),
    ("executable-comment", MY, "SELECT * FROM t /*! INTO OUTFILE '{out}' */"),
    ("cte-delete", PG, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"),
    ("cte-insert", PG, "WITH d AS (INSERT INTO log VALUES (1) RETURNING n) SELECT * FROM t"),
    ("nextval", PG, "SELECT t.*, nextval('s') AS x FROM t"),
    ("nextval-qualified", PG, "SELECT pg_catalog.NEXTVAL('s')"),
    ("nextval-in-from", PG, "SELECT t.* FROM t, nextval('s')"),
    ("setval", PG, "SELECT setval('s', 100)"),
    ("nextval", MY, "SELECT t.*, NEXTVAL(s) AS x FROM t"),
    ("next-value-for", MY, "SELECT NEXT VALUE FOR s"),
    ("setval", MY, "SELECT SETVAL(s, 100)"),
    ("set-config", PG, "SELECT t.*, set_config('default_transaction_read_only', 'off', false) AS x FROM t"),
    ("terminate-backend", PG, "SELECT t.*, pg_terminate_backend(0) AS x FROM t"),
    ("read-server-file", PG, "SELECT t.*, pg_read_file('/etc/hostname') AS x FROM t"),
    ("advisory-lock", PG, "SELECT t.*, pg_advisory_lock(1) AS x FROM t"),
    ("sql-in-a-string", PG, "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')"),
    ("load-file", MY, "SELECT t.*, LOAD_FILE('/etc/hostname') AS x FROM t"),
    ("get-lock", MY, "SELECT t.*, GET_LOCK('anju', 0) AS x FROM t"),
    ("sleep", MY, "SELECT t.*, SLEEP(0) AS x FROM t"),
    ("load-extension", LITE, "SELECT load_extension('x')"),
    ("for-update", PG | MY, "SELECT * FROM t FOR UPDATE"),
    ("for-share", PG, "SELECT * FROM t FOR SHARE"),
    ("lock-in-share-mode", MY, "SELECT * FROM t LOCK IN SHARE MODE"),
    ("set", PG, "SET search_path TO public"),
    ("set", MY, "SET @x = 1"),
    ("set-read-write", PG, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"),
    ("set-read-write", MY, "SET SESSION TRANSACTION READ WRITE"),
    ("pragma", LITE, "PRAGMA query_only = 0"),
    ("copy-to-file", PG, "COPY t TO '{out}'"),
    ("load-data", MY, "LOAD DATA INFILE '/etc/hostname' INTO TABLE log"),
    ("call", PG | MY, "CALL p()"),
    ("attach", LITE, "ATTACH DATABASE '{out}' AS other"),
    ("vacuum-into", LITE, "VACUUM INTO '{out}'"),
    ("explain-analyze", PG, "EXPLAIN ANALYZE DELETE FROM t"),
    ("writing-function", PG | MY, "SELECT f()"),
    ("line-comment", ALL, "SELECT 1 -- c\n; DELETE FROM t"),
    ("block-comment", ALL, "SELECT 1 /* c */; DELETE FROM t"),
    ("comment-looks-like-select", ALL, "/* SELECT */ DELETE FROM t"),
    ("hash-comment", MY, "SELECT 1 # c\n; DELETE FROM t"),
    ("nested-comment", PG, "SELECT 1 /* /* */ ; DELETE FROM t; /* */ */; DELETE FROM t"),
]


@dataclass
class Server:
    kind: str
    url: str
    engine: sa.Engine

    def q(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)


@pytest.fixture
def server(request, tmp_path, fresh_database):
    kind = request.param
    url = f"sqlite:///{tmp_path / 'src.sqlite'}" if kind == "sqlite" else fresh_database(kind)
    engine = sa.create_engine(url)
    frame().assign(家庭人口=lambda f: f["家庭人口"].astype(int)).to_sql("t", engine, index=False)
    with engine.begin() as conn:
        for stmt in SETUP[kind]:
            conn.exec_driver_sql(stmt)
    yield Server(kind, url, engine)
    engine.dispose()


def cases(items):
    return [pytest.param(kind, item, marks=KINDS[kind], id=f"{kind}-{item[0]}")
            for item in items for kind in KINDS if kind in item[1]]


def state(srv: Server) -> dict:
    """Everything a write could change: tables, t's columns and rows, the log, the sequence."""
    with srv.engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        out = {"tables": tables,
               "columns": [c["name"] for c in sa.inspect(conn).get_columns("t")] if "t" in tables else None,
               "rows": sorted(map(tuple, conn.exec_driver_sql("SELECT * FROM t"))) if "t" in tables else None,
               "log": conn.exec_driver_sql("SELECT count(*) FROM log").scalar()}
        if srv.kind == "postgres":
            out["sequence"] = tuple(conn.exec_driver_sql("SELECT last_value, is_called FROM s").one())
        elif srv.kind == "mariadb":
            out["sequence"] = conn.exec_driver_sql("SELECT next_not_cached_value FROM s").scalar()
    return out


def refused(srv: Server, query: str, specs) -> SourceError:
    with pytest.raises(SourceError) as e:
        read_source(f"{srv.url}#query={query}", specs["ha_archive"])
    assert not getattr(e.value, "transient", False)  # a refused query is not retried
    assert "\n" not in str(e.value)  # one line
    return e.value


@pytest.mark.parametrize("server, attempt", cases(ATTEMPTS), indirect=["server"])
def test_write_attempt_is_refused_and_changes_nothing(server, attempt, specs, tmp_path):
    name = f"anju_ro_{uuid.uuid4().hex}"
    out = str(tmp_path / name) if server.kind == "sqlite" else f"/tmp/{name}"  # the servers run on this host
    query = attempt[2].format(c=server.q("家庭人口"), a=server.q("档案编号"), out=out)
    before = state(server)
    try:
        error = refused(server, query, specs)
        assert state(server) == before
        assert not os.path.exists(out)
    finally:  # what a write attempt left on the (local) server's disk goes, pass or fail
        if os.path.exists(out):
            os.remove(out)
    if attempt[0] == "writing-function":  # the parser let it through: the session stopped it
        assert "read only" in str(error).lower().replace("-", " ")


def test_what_is_refused_is_named(specs):
    from connectors.sql import checked_query

    with pytest.raises(SourceError, match="the query holds 3 statements; expected exactly one SELECT"):
        checked_query("SELECT 1; COMMIT; DELETE FROM t", "postgresql", "q")
    with pytest.raises(SourceError, match="DELETE"):
        checked_query("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "postgresql", "q")
    with pytest.raises(SourceError, match=r"nextval\(\)"):
        checked_query("SELECT nextval('s')", "postgresql", "q")
    with pytest.raises(SourceError, match="INTO"):
        checked_query("SELECT * INTO x FROM t", "postgresql", "q")
    with pytest.raises(SourceError, match="FOR UPDATE"):
        checked_query("SELECT * FROM t FOR UPDATE", "mysql", "q")
    with pytest.raises(SourceError, match="could not be parsed"):
        checked_query("SELEC 1 FROM", "sqlite", "q")
    with pytest.raises(SourceError, match="empty"):
        checked_query("  -- nothing\n", "sqlite", "q")


def test_password_is_never_shown(fresh_database, specs):
    url = sa.engine.make_url(fresh_database("postgres")).set(password="s3cret")  # trust: the password is ignored
    for query in ("DELETE FROM t", "SELECT 1; COMMIT; DELETE FROM t", "SELEC"):
        with pytest.raises(SourceError) as e:
            read_source(f"{url.render_as_string(hide_password=False)}#query={query}", specs["ha_archive"])
        assert "s3cret" not in str(e.value)


@pytest.mark.parametrize("server", [pytest.param(k, marks=m, id=k) for k, m in KINDS.items()], indirect=True)
def test_a_semicolon_inside_a_string_is_data(server, specs):
    others = ", ".join(server.q(h) for h in HEADERS[1:])
    before = state(server)
    src = read_source(f"{server.url}#query=SELECT ';DELETE FROM t' AS {server.q('档案编号')}, {others} FROM t",
                      specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == [";DELETE FROM t"] * 2
    assert state(server) == before


LEGIT = [
    ("where", "SELECT * FROM t WHERE {n} = '低保户'", ["DA2"]),
    ("join", "SELECT a.* FROM t a JOIN t b ON a.{a} = b.{a} WHERE b.{c} = 3", ["DA1"]),
    ("with", "WITH x AS (SELECT * FROM t WHERE {c} > 2) SELECT * FROM x", ["DA1"]),
    ("union", "SELECT * FROM t WHERE {a} = 'DA1' UNION SELECT * FROM t WHERE {a} = 'DA2' ORDER BY 1", ["DA1", "DA2"]),
    ("subquery", "SELECT * FROM t WHERE {a} IN (SELECT {a} FROM t WHERE {c} < 3) -- comment", ["DA2"]),
    ("percent-colon", "SELECT * FROM t WHERE {a} NOT LIKE '%:x%' AND {n} <> ';' ORDER BY {a} /* c */", ["DA1", "DA2"]),
]


@pytest.mark.parametrize("server, legit", cases([(i, ALL, q, r) for i, q, r in LEGIT]), indirect=["server"])
def test_legitimate_queries_still_work(server, legit, specs):
    query = legit[2].format(a=server.q("档案编号"), c=server.q("家庭人口"), n=server.q("农户类型"))
    before = state(server)
    src = read_source(f"{server.url}#query={query}", specs["ha_archive"])
    assert sorted(src.frame["archive_no"].tolist()) == legit[3]
    assert state(server) == before


SLIPPED = {  # text sent straight to the driver, past the parser: the session alone must refuse it
    "postgres": ["SELECT 1; COMMIT; DELETE FROM t", "COMMIT", "DELETE FROM t", "SELECT f()", "SELECT nextval('s')"],
    "mariadb": ["SELECT 1; SELECT 2", "SELECT 1; DELETE FROM t", "COMMIT", "DELETE FROM t", "SELECT f()"],
    "sqlite": ["SELECT 1; SELECT 2", "DELETE FROM t", "PRAGMA query_only = 0", "DELETE FROM t"],
}


@pytest.mark.parametrize("server", [pytest.param(k, marks=m, id=k) for k, m in KINDS.items()], indirect=True)
def test_the_session_itself_is_read_only(server):
    from connectors.sql import read_only_engine

    url = server.url + ("?client_flag=65536" if server.kind == "mariadb" else "")  # multi-statements asked for
    before = state(server)
    engine = read_only_engine(url)
    try:
        with engine.connect() as conn:
            for text in SLIPPED[server.kind]:
                try:
                    conn.exec_driver_sql(text)
                except sa.exc.DBAPIError:
                    conn.rollback()
                else:
                    assert text in ("COMMIT", "PRAGMA query_only = 0"), f"{text!r} ran on a read-only session"
                    conn.commit()
    finally:
        engine.dispose()
    assert state(server) == before


def test_a_missing_sqlite_file_is_not_created(tmp_path, specs):
    path = tmp_path / "nope.sqlite"
    with pytest.raises(SourceError, match="does not exist") as e:
        read_source(f"sqlite:///{path}#t", specs["ha_archive"])
    assert not getattr(e.value, "transient", False) and not path.exists()


WRITES = ["DELETE FROM t", "COMMIT", "DROP TABLE t", "UPDATE t SET a = 1", "INSERT INTO t VALUES (1)",
          "CREATE TABLE x (a int)", "SELECT 1 INTO x", "SET x = 1"]
SEPARATORS = st.sampled_from([";", "; ", ";\n", " ;", "/* c */;", "; -- c\n", ";/**/", "\n;\n"])


@given(first=st.sampled_from(["SELECT 1", "SELECT * FROM t", "WITH a AS (SELECT 1) SELECT * FROM a"]),
       sep=SEPARATORS, write=st.sampled_from(WRITES), upper=st.booleans(),
       dialect=st.sampled_from(["postgresql", "mysql", "mariadb", "sqlite"]))
def test_nothing_rides_after_a_select(first, sep, write, upper, dialect):
    from connectors.sql import checked_query

    text = f"{first}{sep}{write.upper() if upper else write.lower()}"
    with pytest.raises(SourceError):
        checked_query(text, dialect, "q")


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)


def literal(value: str, kind: str) -> str:
    """How a person writes the string constant in that server's SQL."""
    if kind == "mariadb":
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


@given(value=TEXT)
@example(value="';DELETE FROM t; --")
@example(value="a\\")
@example(value="%s %(x)s :x $$ /* -- */ #")
def test_string_constants_reach_sqlite_unchanged(value):
    from connectors.sql import checked_query

    sql = checked_query(f"SELECT {literal(value, 'sqlite')} AS x", "sqlite", "q")
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute(sql).fetchall() == [(value,)]


@pytest.mark.parametrize("server", [pytest.param(k, marks=m, id=k) for k, m in KINDS.items() if k != "sqlite"],
                         indirect=True)
def test_string_constants_reach_the_server_unchanged(server):
    """The checked query is what runs: its string constants must survive exactly, on each server."""
    from connectors.sql import checked_query, read_only_engine

    engine = read_only_engine(server.url)
    backend = engine.dialect.name

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=TEXT)
    @example(value="a\\")
    @example(value="';DELETE FROM t; --")
    @example(value="%s %(x)s :x $$ /* -- */ #")
    def check(value):
        sql = checked_query(f"SELECT {literal(value, server.kind)} AS x", backend, "q")
        with engine.connect() as conn:
            got = conn.execution_options(no_parameters=True).exec_driver_sql(sql).scalar()
        assert got == value

    try:
        check()
    finally:
        engine.dispose()
