"""Database sources on SQLite and on the real PostgreSQL and MariaDB servers."""
from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors import SourceError, read_source
from connectors.native import write_csv
from tests.conftest import database_url
from tests.connectors.test_files import HEADERS, canonical, frame

PINYIN = ["dabh", "cjqhdm", "hzxm", "sfzhm", "jtrk", "nhlx", "jgrq"]


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'src.sqlite'}" if request.param == "sqlite" else database_url(request.param)
    engine = sa.create_engine(url)
    with engine.connect():  # the SQLite file exists, as a real one would (a missing file is its own error)
        pass
    created = []
    yield url, engine, created
    with engine.begin() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(name)}'))
    engine.dispose()


def _load(engine, created, columns, name=None) -> str:
    name = name or f"ha_{uuid.uuid4().hex[:8]}"
    f = frame().copy()
    f.columns = columns
    f["家庭人口" if "家庭人口" in columns else "jtrk"] = f[columns[4]].astype(int)  # a real integer column
    f.to_sql(name, engine, index=False)
    created.append(name)
    return name


@pytest.mark.parametrize("columns", [HEADERS, PINYIN], ids=["chinese", "pinyin"])
def test_table_reads_to_the_same_frame_as_the_csv(db, tmp_path, specs, columns):
    url, engine, created = db
    name = _load(engine, created, columns)
    write_csv(frame(), tmp_path / "a.csv")
    from_csv = canonical(read_source(tmp_path / "a.csv", specs["ha_archive"]))
    src = read_source(f"{url}#{name}", specs["ha_archive"])
    pd.testing.assert_frame_equal(canonical(src), from_csv)
    assert src.meta["format"] == "sql" and src.meta["rows_read"] == 2 and len(src.meta["sha256"]) == 64


def test_read_only_query(db, specs):
    url, engine, created = db
    name = _load(engine, created, HEADERS)
    quoted = engine.dialect.identifier_preparer.quote(name)
    src = read_source(f"{url}#query=SELECT * FROM {quoted} WHERE {engine.dialect.identifier_preparer.quote('农户类型')}"
                      f" = '低保户'", specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA2"]


def test_missing_table_is_a_clear_error(db, specs):
    url, _, _ = db
    with pytest.raises(SourceError, match="the table does not exist"):
        read_source(f"{url}#no_such_table_{uuid.uuid4().hex[:6]}", specs["ha_archive"])


def test_hostile_table_name_is_quoted_not_executed(db, specs):
    url, engine, created = db
    name = _load(engine, created, HEADERS)
    with pytest.raises(SourceError):
        read_source(f"{url}#{name}; DROP TABLE {name}", specs["ha_archive"])
    assert sa.inspect(engine).has_table(name)


def test_refused_connection_is_retried_then_reported():
    from connectors.sql import read_db
    from schemas import load_source_specs

    with pytest.raises(SourceError, match="refused the connection 2 times") as e:
        read_db("postgresql+psycopg2://nobody@127.0.0.1:1/x#t", load_source_specs()["ha_archive"], attempts=2,
                backoff=0.01)
    assert e.value.transient


def test_password_comes_from_the_environment_and_is_never_shown(monkeypatch, specs):
    from connectors.sql import parse_location

    monkeypatch.setenv("ANJU_TEST_PW", "s3cret")
    src = parse_location("postgresql://anju:${ANJU_TEST_PW}@db/ps#public.households")
    assert "s3cret" in src.url and "s3cret" not in src.display and src.schema == "public"
    monkeypatch.delenv("ANJU_TEST_PW")
    with pytest.raises(SourceError, match="ANJU_TEST_PW is not set"):
        parse_location("postgresql://anju:${ANJU_TEST_PW}@db/ps#t")
