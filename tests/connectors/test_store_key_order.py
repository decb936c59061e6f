"""Version rows go into the store in the order of their row key (``connectors.history.key_order``),
so each insert extends the primary key's B-tree at its end (issue 20): the order the rows
physically land in follows the key, on every path (SQLite's stage and row by row,
PostgreSQL's COPY), and what is stored is the same as before."""
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st

from connectors import history, sqlite_stage
from connectors.store import Store


def _prefix(key: str) -> bytes:
    return key.encode("ascii")[:8]


@given(st.lists(st.text(alphabet="0123456789abcdef", min_size=1, max_size=32), max_size=60))
@example(["b7", "a9", "b1"])
@example(["aaaaaaaa1", "aaaaaaaa0", "0"])  # alike in their first eight characters: kept in their order
def test_hex_keys_come_in_the_order_of_their_first_eight_characters(keys):
    order = history.key_order(pd.DataFrame({"row_key": pd.Series(keys, dtype=object)}))
    assert sorted(order.tolist()) == list(range(len(keys)))  # a permutation
    ordered = [keys[i] for i in order]
    assert [_prefix(k) for k in ordered] == sorted(_prefix(k) for k in keys)
    for a, b in zip(order[:-1], order[1:]):  # stable: equal prefixes keep their order
        if _prefix(keys[a]) == _prefix(keys[b]):
            assert a < b


@given(st.lists(st.one_of(st.text(max_size=10), st.none(), st.integers()), max_size=40))
@example(["é", None, "z"])
def test_any_other_keys_never_fail_and_keep_their_order_when_not_text(keys):
    order = history.key_order(pd.DataFrame({"row_key": pd.Series(keys, dtype=object)}))
    assert sorted(order.tolist()) == list(range(len(keys)))  # a permutation, whatever the keys
    if any(type(k) is not str or not k.isascii() for k in keys):
        assert order.tolist() == list(range(len(keys)))


def test_rows_without_a_key_keep_their_order():
    assert history.key_order(pd.DataFrame({"x": [3, 1, 2]})).tolist() == [0, 1, 2]


def _record(as_of: str) -> dict:
    return {"run_id": f"t-{uuid.uuid4().hex[:12]}", "as_of": as_of, "scope": "all", "status": "stored",
            "started_at": "2021-01-01T00:00:00", "finished_at": None, "parameters": {}, "inputs": {},
            "counts": {}, "timings": {}}


def _unified(n: int) -> pd.DataFrame:
    """Rows of every kind of column the store keeps, on an index that is not 0..n-1."""
    rng = np.random.default_rng(5)
    pick = lambda *vals: [vals[i] for i in rng.integers(0, len(vals), n)]  # noqa: E731
    ids = [f"U{i:05d}" for i in range(n)]
    return pd.DataFrame({
        "unified_id": pd.Series(ids, dtype="string"),
        "household_no": pd.Series([i.replace("U", "H") for i in ids], dtype=object),
        "county_code": pd.Series(pick("522425", "522426", None), dtype="string"),
        "householder_name": pd.Series(pick("张三", "a\tb", None, "=1+1", "\\N"), dtype="string"),
        "household_size": pd.Series(pick(1, 3, None), dtype="Int64"),
        "in_ps": pd.Series(pick(True, False), dtype=bool),
        "housing_secured": pd.Series(pick(True, False, None), dtype="boolean"),
        "completion_date": pd.to_datetime(pd.Series(pick("2020-05-01 00:00:00", None, "2020-06-30 12:00:00")),
                                          format="%Y-%m-%d %H:%M:%S"),
        "subsidy_yuan": pd.Series(pick(0.1, 35000.0, None), dtype="Float64"),
        "match_score": pd.Series(pick(0.1 + 0.2, 1.0, np.nan), dtype="float64"),
        "open_discrepancies": pd.Series(pick(0, 2), dtype="int64"),
    }).set_axis(rng.permutation(n) + 1000)


@pytest.fixture(params=["sqlite-stage", "sqlite-rows", "postgres", "mariadb"])
def store(request, tmp_path, fresh_database, monkeypatch):
    monkeypatch.setattr(history, "COPY_ROWS", 70)  # several COPY batches, stage blocks, executemany batches
    monkeypatch.setattr(history, "STAGE_BLOCK", 70)
    monkeypatch.setattr(history, "ROW_BATCH", {"sqlite": 70, "other": 70})
    if request.param in ("postgres", "mariadb"):
        return request.param, Store(fresh_database(request.param))
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1 if request.param == "sqlite-stage" else 10**9)
    return request.param, Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")


def test_a_first_night_lands_in_key_order_each_row_with_its_own_key(store):
    kind, s = store
    frame = _unified(500)
    s.save_run(_record("2021-01-03"), {"unified": frame})
    t, kinds = s._history("unified")
    with s.engine.connect() as conn:
        if kind != "mariadb":  # MariaDB's table is its primary key's B-tree: rows sit in key order whatever came first
            physical = "ctid" if kind == "postgres" else "rowid"
            keys = [r[0] for r in conn.execute(sa.text(f"SELECT row_key FROM unified ORDER BY {physical}"))]
            assert len(keys) == len(frame)
            if kind == "postgres":  # a later COPY may fill space an earlier one left on a page: a few steps back
                descents = sum(a > b for a, b in zip(keys, keys[1:]))
                assert descents <= len(frame) // 70 + 1, f"{kind}: {descents} rows stored out of key order"
            else:
                assert keys == sorted(keys), f"{kind}: rows stored out of key order"
        stored = pd.DataFrame(conn.execute(sa.text("SELECT row_key, row_hash, occurrence, unified_id FROM unified"))
                              .fetchall(), columns=["row_key", "row_hash", "occurrence", "unified_id"])
    # each row stored with its own key and hash: as encoding the snapshot gives them
    want = history.encode("unified", frame, kinds, "2021-01-03")[["row_key", "row_hash", "occurrence", "unified_id"]]
    got = stored.astype(str).sort_values("row_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want.astype(str).sort_values("row_key").reset_index(drop=True))
    back = s.table_as_of("unified", "2021-01-03")
    as_values = lambda f: f.astype(object).where(f.notna(), None).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(as_values(back[frame.columns]), as_values(frame.sort_values("unified_id")))
    s.save_run(_record("2021-01-09"), {"unified": frame})  # the night after, nothing changed: nothing written
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM unified")).scalar() == len(frame)
