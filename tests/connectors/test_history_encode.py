"""The store's row hashes never change (issue 20's vectorized encode, issue 23's history).

A stored row version is recognised on the next run by its key hash and value hash; were
either to change, every row of every store would count as changed the night after an
upgrade. This holds :func:`connectors.history.encode` (Arrow compute) to the definition it
was first written with, one cell at a time in plain Python (below), on random frames of
every column kind, null, lone surrogates (the per-cell fallback) and repeated keys
included.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors import history

KINDS = {"discrepancy_id": "text", "last_seen": "text", "county_code": "text", "n": "int", "x": "float",
         "flag": "bool", "when": "datetime", "mixed": "text"}
AS_OF = "2020-07-31"


def _reference_text(value, kind: str):
    """One cell's canonical text as first defined (None for null)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if kind == "datetime":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "bool":
        return "1" if bool(value) else "0"
    if kind == "int":
        return str(int(value))
    if kind == "float":
        return repr(float(value))
    return value if isinstance(value, str) else str(value)


def _reference(name: str, frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    seen_ledger = name in history.SEEN_LEDGERS
    canon = {}
    for col, kind in kinds.items():
        texts = [_reference_text(v, kind) for v in frame[col].astype(object).tolist()]
        if seen_ledger and col == "last_seen":
            texts = [history.SEEN_ON_THE_DATE if t == AS_OF else t for t in texts]
        canon[col] = ["N" if t is None else f"{len(t)}:{t}" for t in texts]
    keys = ["|".join(parts) for parts in zip(*[canon[c] for c in history.KEYS[name]])]
    seen: dict[str, int] = {}
    occurrence = []
    for k in keys:
        occurrence.append(seen.get(k, 0))
        seen[k] = occurrence[-1] + 1

    def digest(parts, size):
        return [hashlib.blake2b("|".join(p).encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()
                for p in zip(*parts)]

    hashed = [canon[c] for c in kinds if not (seen_ledger and c == "last_seen")]
    return pd.DataFrame({"occurrence": occurrence,
                         "row_key": digest([canon[c] for c in history.KEYS[name]] + [list(map(str, occurrence))], 16),
                         "row_hash": digest(hashed, 8)})


texts = st.one_of(st.none(), st.sampled_from(["D1", "D2", AS_OF, "", "|", "1:a", "N", "中文", "a|b"]),
                  st.text(max_size=6))
rows = st.fixed_dictionaries({
    "discrepancy_id": st.one_of(st.none(), st.sampled_from(["D1", "D2", "D3"])),
    "last_seen": st.one_of(st.none(), st.sampled_from([AS_OF, "2020-07-30"])),
    "county_code": texts,
    "n": st.one_of(st.none(), st.integers(-2**40, 2**40)),
    "x": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=True)),
    "flag": st.one_of(st.none(), st.booleans()),
    "when": st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))),
    "mixed": st.one_of(texts, st.integers(0, 99)),
})


def _frame(records: list[dict], string_dtype: bool) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(KINDS)).astype({"mixed": object})
    if string_dtype:  # as the pipeline hands them over: Arrow strings, nullable numbers
        frame = frame.astype({"discrepancy_id": "string", "last_seen": "string", "county_code": "string"})
    return frame


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(rows, max_size=12), string_dtype=st.booleans(),
       name=st.sampled_from(["discrepancy_ledger", "quarantine"]), hash_rows=st.sampled_from([1, 3, 100_000]))
def test_encode_hashes_as_first_defined(records, string_dtype, name, hash_rows):
    frame = _frame(records, string_dtype)
    kinds = KINDS if name == "discrepancy_ledger" else {**KINDS}
    if name == "quarantine":  # another key: (source, row_number, column) as published
        kinds = {c: KINDS.get(c, "text") for c in dict.fromkeys(history.KEYS[name] + list(KINDS))}
        for c in history.KEYS[name]:
            if c not in frame:
                frame[c] = frame["county_code"]
    block, history.HASH_ROWS = history.HASH_ROWS, hash_rows  # hashed a block of rows at a time
    try:
        got = history.encode(name, frame, kinds, AS_OF)
    finally:
        history.HASH_ROWS = block
    want = _reference(name, frame, kinds)
    assert got["occurrence"].tolist() == want["occurrence"].tolist()
    assert got["row_key"].tolist() == want["row_key"].tolist()
    assert got["row_hash"].tolist() == want["row_hash"].tolist()


def test_lone_surrogate_takes_the_per_cell_path():
    """A cell Arrow cannot hold (a lone surrogate: an undecodable byte as the CSV reader
    marks it) is hashed as before instead of failing the store write."""
    frame = pd.DataFrame({"discrepancy_id": ["D1", "D2"], "last_seen": [AS_OF, None],
                          "n": [1, 2], "x": [0.1, None], "flag": [True, False], "when": [None, None],
                          "mixed": ["x", 3]}).astype({"mixed": object})
    frame["county_code"] = pd.Series(["a\udc80", "b"], dtype=object)  # pandas' str dtype cannot hold it
    got = history.encode("discrepancy_ledger", frame, KINDS, AS_OF)
    want = _reference("discrepancy_ledger", frame, KINDS)
    assert got[["row_key", "row_hash"]].values.tolist() == want[["row_key", "row_hash"]].values.tolist()


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))),
                       max_size=6),
       unit=st.sampled_from(["us", "ns", "s"]), nanos=st.integers(0, 999))
@example(values=[datetime(1900, 1, 1)], unit="ns", nanos=500)  # Arrow would round it toward 1970
def test_datetime_text_is_pandas_strftime(values, unit, nanos):
    """Arrow's spelling of a stored datetime is pandas' (the definition), or pandas' is used."""
    if unit == "ns":
        values = [v for v in values if v is None or datetime(1678, 1, 1) <= v <= datetime(2261, 12, 31)]
    ts = pd.Series(pd.to_datetime(pd.Series(values, dtype=object))).astype(f"datetime64[{unit}]")
    if unit == "ns":
        ts = ts + pd.Timedelta(nanoseconds=nanos)
    want = ts.dt.strftime(history.DATETIME_TEXT).astype(object).where(ts.notna(), None).tolist()
    assert history.datetime_text(ts).to_pylist() == want


def test_a_text_column_is_read_where_it_lies():
    """The store takes a pandas Arrow-string column's text from the column's own buffers:
    it holds every text column of a table at once while it hashes the rows, and a copy of
    each was a copy of the table (0.4 GB at a million households). Several chunks become one."""
    from connectors.history import _arrow_text, _utf8_rows

    s = pd.Series(["a", None, "张三"], dtype="string[pyarrow]")
    text = _arrow_text(s)
    assert text.buffers()[2].address == s.array._pa_array.chunk(0).buffers()[2].address
    assert text.to_pylist() == ["a", None, "张三"]
    two = pd.concat([s, s], ignore_index=True)
    assert _arrow_text(two).to_pylist() == ["a", None, "张三"] * 2
    tail = s.iloc[1:].reset_index(drop=True)  # a slice: its one chunk starts past the buffer's first row
    assert _arrow_text(tail).offset == 1 and _arrow_text(tail).to_pylist() == [None, "张三"]
    offsets, data = _utf8_rows(_arrow_text(tail).fill_null(""))
    assert [bytes(data[a:b]).decode() for a, b in zip(offsets[:-1], offsets[1:])] == ["", "张三"]


@given(st.lists(st.sampled_from(["", "a", "b", "张", "a|b", "N", "1:a"]), max_size=60), st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_occurrences_count_each_keys_earlier_rows(keys, start):
    """A row's occurrence (part of its row key, so it must never change) is the number of
    earlier rows with its key, as pandas' cumulative count per key first defined it: on
    Arrow text (a slice too) by a stable sort, and on the per-cell path."""
    from connectors.history import occurrences

    codes = pd.factorize(pd.Series(keys, dtype=object))[0]
    expected = pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy(dtype=np.int64)
    padded = pa.array(["x"] * start + keys, pa.large_string()).slice(start)
    assert occurrences(padded).tolist() == expected.tolist()
    assert occurrences(np.array(keys, dtype=object)).tolist() == expected.tolist()
    assert occurrences(padded).dtype == np.int64
