"""A table read a range at a time (a country run's partitions): the ranges together are
the whole read, row for row and row number for row number, rows without a key included,
on SQLite, PostgreSQL and MariaDB (issue 21)."""
from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import SourceError, read_source
from connectors.sql import read_db
from connectors.sql_ranges import KeyRange, count_rows, plan_ranges
from tests.connectors.test_files import HEADERS, ROWS
from tests.connectors.test_sql import db  # noqa: F401  (a fixture: sqlite, postgres, mariadb)


def table_of(keys: list[str | None]) -> pd.DataFrame:
    rows = [[k, *ROWS[i % 2][1:]] for i, k in enumerate(keys)]
    return pd.DataFrame(rows, columns=HEADERS)


def ranged(location: str, spec, pieces: int) -> tuple[pd.DataFrame, list[KeyRange], dict]:
    ranges, found = plan_ranges(location, spec, pieces, count_rows(location, spec))
    parts = [read_db(location, spec, part=r).frame for r in ranges]
    return pd.concat(parts, ignore_index=True), ranges, found


def test_ranges_of_a_table_are_its_whole_read(db, specs):
    url, engine, created = db
    name = f"ha_{uuid.uuid4().hex[:8]}"
    keys = [f"DA{i:04d}" for i in range(0, 400, 3)] + [None, None] + [f"DB{i}" for i in range(40)]
    table_of(keys).to_sql(name, engine, index=False)
    created.append(name)
    location = f"{url}#{name}"
    whole = read_source(location, specs["ha_archive"])
    got, ranges, found = ranged(location, specs["ha_archive"], 7)
    assert len(ranges) == 7 and sum(r.nulls for r in ranges) == 1
    assert [r.rows for r in ranges] == [len(p) for p in (read_db(location, specs["ha_archive"], part=r).frame
                                                          for r in ranges)]
    pd.testing.assert_frame_equal(got, whole.frame)
    assert found["rows_read"] == whole.meta["rows_read"] == len(keys)
    assert found["sha256"] == whole.meta["sha256"]


def test_a_query_source_is_refused_for_a_national_run(db, specs):
    url, _, _ = db
    with pytest.raises(SourceError, match="a query cannot be read a partition at a time"):
        plan_ranges(f"{url}#query=SELECT 1 AS x", specs["ha_archive"], 3, 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.one_of(st.none(), st.text(alphabet="AB0１户 ", min_size=0, max_size=4)),
                     min_size=1, max_size=60),
       pieces=st.integers(1, 70))
def test_any_keys_any_cut_read_as_the_whole(tmp_path_factory, specs, keys, pieces):
    """Keys of any text (empty, blank, full-width, repeated, missing), any number of
    ranges: the ranges read back the whole table in order, each row under its number."""
    path = tmp_path_factory.mktemp("ranges") / "t.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    table_of(keys).to_sql("t", engine, index=False)
    engine.dispose()
    location = f"sqlite:///{path}#t"
    ranges, found = plan_ranges(location, specs["ha_archive"], pieces, count_rows(location, specs["ha_archive"]))
    parts = [read_db(location, specs["ha_archive"], part=r).frame for r in ranges]
    whole = read_db(location, specs["ha_archive"]).frame
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert found["rows_read"] == len(keys)


def test_a_table_changed_after_the_plan_fails_the_read(tmp_path, specs):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    table_of([f"DA{i:03d}" for i in range(30)]).to_sql("t", engine, index=False)
    location = f"sqlite:///{tmp_path / 't.sqlite'}#t"
    ranges, _ = plan_ranges(location, specs["ha_archive"], 3, count_rows(location, specs["ha_archive"]))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM t WHERE \"档案编号\" = 'DA005'"))
    engine.dispose()
    read_db(location, specs["ha_archive"], part=ranges[2])  # a range the change did not touch
    with pytest.raises(SourceError, match="the table changed while the run read it: a range of 10 rows"):
        read_db(location, specs["ha_archive"], part=ranges[0])
