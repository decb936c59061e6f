"""Big SQLite inserts through a stage file (connectors.sqlite_stage): the same stored
values, type for type, as row by row; stages detached and removed whatever happens."""
import math
import os
import sqlite3
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors import sqlite_stage
from connectors.history import History
from connectors.store import Store

KINDS = {"t": sa.Text(), "i": sa.Integer(), "f": sa.Double(asdecimal=False), "b": sa.Boolean(), "d": sa.DateTime()}


def _table(name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *[sa.Column(c, typ) for c, typ in KINDS.items()])


texts = st.one_of(st.none(), st.text(max_size=12),
                  st.sampled_from(["", "\x00", "a\x00b", "中文", " x ", "1", "1.0", "2020-07-31", "NULL", "'--"]))
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 1e300]))
dates = st.one_of(st.none(), st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                                          max_value=pd.Timestamp("2100-12-31").to_pydatetime()))
rows = st.lists(st.tuples(texts, st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)), floats,
                          st.one_of(st.none(), st.booleans()), dates), min_size=1, max_size=30)


def _frame(records, arrow_text: bool) -> pd.DataFrame:
    t, i, f, b, d = zip(*records)
    return pd.DataFrame({
        "t": pd.Series(t, dtype="string[pyarrow]" if arrow_text else object),
        "i": pd.array(i, dtype="Int64"),
        "f": pd.array([None if x is None or math.isnan(x) else x for x in f], dtype="Float64"),
        "b": pd.array(b, dtype="boolean"),
        "d": pd.to_datetime(pd.Series(d, dtype=object)),
    })


def _stored(conn, name: str) -> list[tuple]:
    """Every value with its storage class; reals by their bytes (-0.0 apart from 0.0)."""
    cols = ", ".join(f"typeof({c}), {c}" for c in KINDS)
    out = []
    for row in conn.exec_driver_sql(f"SELECT {cols} FROM {name} ORDER BY rowid"):
        out.append(tuple(struct.pack("<d", v) if isinstance(v, float) else v for v in row))
    return out


def _attached(conn) -> list[str]:
    return [r[1] for r in conn.exec_driver_sql("PRAGMA database_list") if r[1] not in ("main", "temp")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=rows, arrow_text=st.booleans())
def test_staged_rows_are_stored_as_row_by_row(tmp_path_factory, monkeypatch, records, arrow_text):
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    folder = tmp_path_factory.mktemp("stage")
    engine = sa.create_engine(f"sqlite:///{folder / 's.sqlite'}")
    staged, plain = _table("staged"), _table("plain")
    staged.metadata.create_all(engine), plain.metadata.create_all(engine)
    frame = _frame(records, arrow_text)
    used = []
    real = sqlite_stage._Stages.insert
    monkeypatch.setattr(sqlite_stage._Stages, "insert", lambda self, *a: used.append(1) or real(self, *a))
    with engine.connect() as conn:
        with sqlite_stage.staging(conn), conn.begin():
            History._insert(conn, staged, frame)
        with conn.begin():
            History._insert(conn, plain, frame)
        assert used == [1]
        assert _stored(conn, "staged") == _stored(conn, "plain")
        assert _attached(conn) == []
    engine.dispose()
    assert not list(folder.glob(".anju-stage-*"))


def test_a_lone_surrogate_goes_row_by_row_as_before(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    t = _table("t")
    t.metadata.create_all(engine)
    frame = _frame([("ok", 1, 1.0, True, None), ("\ud800", 2, 2.0, False, None)], arrow_text=False)
    with engine.connect() as conn, sqlite_stage.staging(conn):
        with pytest.raises(UnicodeEncodeError):  # what sqlite3 says of it, staged or not
            with conn.begin():
                History._insert(conn, t, frame)
    engine.dispose()
    assert not list(tmp_path.glob(".anju-stage-*"))


def test_a_run_stored_through_stages_reads_back_and_leaves_nothing(tmp_path, monkeypatch):
    """A first night big enough to stage: the tables read back as written, the stage
    files are gone and the pooled connection has nothing attached; a stopped write
    stores nothing and removes its stages too."""
    import threading

    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 2)
    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    n = 5
    unified = pd.DataFrame({"unified_id": [f"U{i}" for i in range(n)], "household_no": [f"H{i}" for i in range(n)],
                            "county_code": ["522425"] * n, "in_ps": [True] * n, "in_ha": [i % 2 == 0 for i in range(n)],
                            "household_size": pd.array(range(n), dtype="Int64")})
    record = {"run_id": "r1", "as_of": "2020-07-31", "scope": "all", "status": "ok", "started_at": "2020-08-01 00:00:00"}
    store.save_run(record, {"unified": unified})
    got = store.table_as_of("unified", "2020-07-31")
    assert got["unified_id"].tolist() == unified["unified_id"].tolist()
    assert got["in_ha"].tolist() == unified["in_ha"].tolist()
    assert got["household_size"].astype(int).tolist() == list(range(n))
    assert not list(tmp_path.glob(".anju-stage-*"))
    with store.engine.connect() as conn:
        assert _attached(conn) == []
    stop = threading.Event()

    def stopped():
        assert list(tmp_path.glob(".anju-stage-*/*.sqlite"))  # the stage is there while the write is open
        stop.set()
        raise RuntimeError("gate failed")

    with pytest.raises(RuntimeError, match="gate failed"):
        changed = unified.assign(household_size=unified["household_size"] + 1)  # every row a new version
        store.save_run({**record, "run_id": "r2", "as_of": "2020-08-31"}, {"unified": changed}, before_commit=stopped)
    assert store.snapshot_dates("unified") == ["2020-07-31"]
    assert not list(tmp_path.glob(".anju-stage-*"))
    store.engine.dispose()


def test_stages_a_killed_run_left_are_swept_and_a_live_ones_kept(tmp_path, monkeypatch):
    """A stage folder untouched for ten minutes whose lock is free (or that has none) was
    left by a run that did not end: removed at the next write. One whose lock is held
    (another run's, now) stays, and so does a young one, locked or not yet (a run takes
    its lock just after making its folder)."""
    from filelock import FileLock

    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    names = ("dead", "live", "unlocked_old", "unlocked_young", "free_young")
    dirs = {n: tmp_path / f".anju-stage-{n}" for n in names}
    for n, d in dirs.items():
        d.mkdir()
        (d / "anju_stage_0.sqlite").write_bytes(b"")
        if not n.startswith("unlocked"):
            (d / "stage.lock").write_bytes(b"")
    held = FileLock(str(dirs["live"] / "stage.lock"))
    held.acquire()
    for n in ("dead", "live", "unlocked_old"):
        os.utime(dirs[n], (1_000_000_000, 1_000_000_000))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    t = _table("t")
    t.metadata.create_all(engine)
    with engine.connect() as conn, sqlite_stage.staging(conn), conn.begin():
        History._insert(conn, t, _frame([("x", 1, 1.0, True, None)], arrow_text=True))
    engine.dispose()
    held.release()
    assert sorted(p.name for p in tmp_path.glob(".anju-stage-*")) == [
        ".anju-stage-free_young", ".anju-stage-live", ".anju-stage-unlocked_young"]
    assert sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_a_folder_the_sweep_cannot_read_or_a_stage_it_cannot_make_does_not_stop_the_write(tmp_path, monkeypatch):
    """Another user's stage folder (no permission to look in it) is left alone; a folder
    for the stages that cannot be made (read-only, full) leaves the rows to go row by row."""
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    real_exists = Path.exists

    def denied(self, *a, **k):
        if self.name == "stage.lock":
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self, *a, **k)

    other = tmp_path / ".anju-stage-other"
    other.mkdir()
    os.utime(other, (1_000_000_000, 1_000_000_000))
    monkeypatch.setattr(Path, "exists", denied)

    def no_room(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sqlite_stage.tempfile, "mkdtemp", no_room)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    t = _table("t")
    t.metadata.create_all(engine)
    with engine.connect() as conn:
        with sqlite_stage.staging(conn), conn.begin():
            History._insert(conn, t, _frame([("x", 1, 1.0, True, None)], arrow_text=True))
            History._insert(conn, t, _frame([("y", 2, 2.0, False, None)], arrow_text=True))
        assert conn.exec_driver_sql("SELECT t FROM t ORDER BY rowid").scalars().all() == ["x", "y"]
    engine.dispose()
    assert other.exists()


def test_stages_of_a_store_in_memory_go_to_the_system_temp(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    monkeypatch.setattr(sqlite_stage.tempfile, "tempdir", str(tmp_path))
    seen = []
    real = sqlite_stage._write
    monkeypatch.setattr(sqlite_stage, "_write", lambda path, blocks: seen.append(path.parent.parent) or real(path, blocks))
    for url in ("sqlite://", "sqlite:///file:memdb1?mode=memory&cache=shared&uri=true"):
        engine = sa.create_engine(url, poolclass=sa.pool.SingletonThreadPool)
        t = _table("t")
        t.metadata.create_all(engine)
        with engine.connect() as conn:
            with sqlite_stage.staging(conn), conn.begin():
                History._insert(conn, t, _frame([("x", 1, 1.0, True, None)], arrow_text=True))
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        engine.dispose()
    assert seen == [tmp_path, tmp_path]
    assert not list(tmp_path.glob(".anju-stage-*"))


ODD = [None, 0, 1, -1, 2**62, 1.5, -0.0, float("nan"), float("inf"), True, False, "7", "", "a\x00", b"abc",
       np.int64(3), np.float64(2.5), np.float32(0.1), np.bool_(True), Decimal("1.7"), pd.NA,
       pd.Timestamp("2020-07-31 08:00:01.5")]


# a column's values drawn from a few of the odd ones, so a column can be all fractions, all bytes ...
_column = st.lists(st.sampled_from(ODD), min_size=1, max_size=3).flatmap(
    lambda pool: st.lists(st.sampled_from(pool), min_size=3, max_size=3))
PLAIN = {"t": ["a", None, "b"], "i": [1, None, 2], "f": [1.5, None, 2.0], "b": [True, None, False],
         "d": [pd.Timestamp("2020-07-31"), None, pd.Timestamp("2020-08-31")]}


def _outcome(conn, table: sa.Table, frame: pd.DataFrame):
    try:
        with conn.begin():
            History._insert(conn, table, frame)
    except Exception as e:  # noqa: BLE001  (the old path's error is part of what it did)
        return type(e).__name__
    return _stored(conn, table.name)


@pytest.mark.filterwarnings("ignore:Could not infer format")  # odd values in the datetime column, both ways
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.fixed_dictionaries({c: _column for c in KINDS}),
       dtypes=st.fixed_dictionaries({c: st.sampled_from([object, "infer"]) for c in KINDS}))
@example(columns={**PLAIN, "i": [1.5, 2.9, None]}, dtypes={c: "infer" for c in KINDS})  # fractions, cut by a cast
@example(columns={**PLAIN, "i": [Decimal("1.7"), 2, None]}, dtypes={c: object for c in KINDS})
@example(columns={**PLAIN, "t": [b"abc", None, "x"]}, dtypes={c: object for c in KINDS})  # bytes: a BLOB
@example(columns={**PLAIN, "f": [np.float32(0.1), np.int64(3), None]}, dtypes={c: object for c in KINDS})
def test_any_python_value_is_stored_as_row_by_row_stores_it(tmp_path_factory, monkeypatch, columns, dtypes):
    """Whatever a column holds (bytes, a fraction in an integer column, NumPy scalars,
    Decimals ...), staged or not, the same values of the same storage class are stored,
    or the same error is raised: a value a stage would hold otherwise goes row by row."""
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    folder = tmp_path_factory.mktemp("odd")
    engine = sa.create_engine(f"sqlite:///{folder / 's.sqlite'}")
    staged, plain = _table("staged"), _table("plain")
    staged.metadata.create_all(engine), plain.metadata.create_all(engine)
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) if dtypes[c] is object else _inferred(v)
                          for c, v in columns.items()})
    with engine.connect() as conn:
        with sqlite_stage.staging(conn):
            got = _outcome(conn, staged, frame)
        want = _outcome(conn, plain, frame)
        assert got == want
        assert _attached(conn) == []
    engine.dispose()
    assert not list(folder.glob(".anju-stage-*"))


def _inferred(values: list) -> pd.Series:
    try:
        return pd.Series(values)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object)


@pytest.mark.parametrize("failure", ["disk", "driver"])
def test_a_stage_that_cannot_be_written_leaves_the_rows_to_go_row_by_row(tmp_path, monkeypatch, failure):
    import errno

    from adbc_driver_manager import AdbcStatusCode, OperationalError

    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)

    def full(path, blocks):
        path.write_bytes(b"partial")
        if failure == "disk":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise OperationalError("IO: disk I/O error", status_code=AdbcStatusCode.IO)

    monkeypatch.setattr(sqlite_stage, "_write", full)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    staged, plain = _table("staged"), _table("plain")
    staged.metadata.create_all(engine), plain.metadata.create_all(engine)
    frame = _frame([("x", 1, 1.0, True, None), (None, None, None, None, None)], arrow_text=True)
    with engine.connect() as conn:
        with sqlite_stage.staging(conn), conn.begin():
            History._insert(conn, staged, frame)
        with conn.begin():
            History._insert(conn, plain, frame)
        assert _stored(conn, "staged") == _stored(conn, "plain") and len(_stored(conn, "plain")) == 2
        assert _attached(conn) == []
    engine.dispose()
    assert not list(tmp_path.glob(".anju-stage-*"))
