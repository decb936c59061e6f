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


@given(st.lists(st.text(max_size=10), max_size=40))
def test_any_other_keys_come_in_text_order(keys):
    order = history.key_order(pd.DataFrame({"row_key": pd.Series(keys, dtype=object)}))
    assert sorted(order.tolist()) == list(range(len(keys)))
    if any(not k.isascii() for k in keys):  # the fallback: Arrow's order of the UTF-8 bytes
        got = [keys[i].encode("utf-8", "surrogatepass") for i in order]
        assert got == sorted(got)


def test_rows_without_a_key_keep_their_order():
    assert history.key_order(pd.DataFrame({"x": [3, 1, 2]})).tolist() == [0, 1, 2]


def _record(as_of: str) -> dict:
    return {"run_id": f"t-{uuid.uuid4().hex[:12]}", "as_of": as_of, "scope": "all", "status": "stored",
            "started_at": "2021-01-01T00:00:00", "finished_at": None, "parameters": {}, "inputs": {},
            "counts": {}, "timings": {}}


def _matches(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "household_no": pd.Series([f"H{i:06d}" for i in range(n)], dtype="string"),
        "archive_no": pd.Series([f"A{i:06d}" for i in range(n)], dtype="string"),
        "county_code": pd.Series(rng.choice(["522425", "522426"], n), dtype="string"),
        "method": pd.Series(["id_exact"] * n, dtype="string"),
        "score": pd.Series(rng.random(n), dtype="float64"),
    })


@pytest.fixture(params=["sqlite-stage", "sqlite-rows", "postgres"])
def store(request, tmp_path, fresh_database, monkeypatch):
    if request.param == "postgres":
        return request.param, Store(fresh_database("postgres"))
    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1 if request.param == "sqlite-stage" else 10**9)
    return request.param, Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")


def test_a_first_night_lands_in_key_order_and_reads_back_unchanged(store, monkeypatch):
    kind, s = store
    monkeypatch.setattr(history, "COPY_ROWS", 70)  # several COPY batches and stage blocks
    monkeypatch.setattr(history, "STAGE_BLOCK", 70)
    frame = _matches(500)
    s.save_run(_record("2021-01-03"), {"matches": frame})
    physical = "ctid" if kind == "postgres" else "rowid"
    with s.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(sa.text(f"SELECT row_key FROM matches ORDER BY {physical}"))]
    assert len(keys) == len(frame)
    assert keys == sorted(keys), f"{kind}: rows stored out of key order"
    back = s.table_as_of("matches", "2021-01-03")
    pd.testing.assert_frame_equal(back[frame.columns].reset_index(drop=True), frame, check_dtype=False)
