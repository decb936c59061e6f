"""PostgreSQL's COPY text, column by column and as the lines sent (issue 20).

:func:`connectors.history._copy_text` takes a typed column from its buffers and escapes
text only where a column holds something to escape; :func:`connectors.history._copy_into`
sends a batch as one UTF-8 buffer. Both are held here to the definition they replaced:
every value made a Python object first (``_reference_text``, the earlier code, kept as
it was), and the lines joined by Python.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import history


def _reference_text(s: pd.Series, kind: str) -> list[str]:
    """A column's COPY text as first written: Python values, then Arrow."""
    if kind == "datetime":
        text = history.datetime_text(history._datetimes(s))
    elif kind == "bool":
        flags = pa.array(s.astype(object).where(s.notna(), None), type=pa.bool_())
        text = pc.if_else(flags, history._text("t"), history._text("f"))
    elif kind == "float":
        x = pa.array(pd.to_numeric(s.astype(object).where(s.notna(), None)), type=pa.float64(), from_pandas=True)
        text = pc.cast(x, pa.large_string())
        for arrow_spelling, pg in (("inf", "Infinity"), ("-inf", "-Infinity"), ("nan", "NaN")):
            text = pc.if_else(pc.equal(text, arrow_spelling), history._text(pg), text)
    elif kind == "int":
        text = pc.cast(pa.array(s.astype(object).where(s.notna(), None), type=pa.int64()), pa.large_string())
    else:
        text = history._arrow_text(s.astype(object).where(s.notna(), None))
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = pc.replace_substring(text, raw, escaped)
    return pc.fill_null(text, history._text("\\N")).to_pylist()


TEXT = st.lists(st.sampled_from(list("ab张\\\t\n\rN.𠀀") + ["\\N", "\x00"]), max_size=6).map("".join)
DTYPES = {
    "text": ["string[pyarrow]", "string[python]", object, "category", pd.ArrowDtype(pa.large_string())],
    "int": ["int64", "Int64", "int32", "Int16", object, "category", pd.ArrowDtype(pa.int64()),
            pd.SparseDtype("int64", 0)],
    "float": ["float64", "Float64", "float32", object, pd.ArrowDtype(pa.float64())],
    "bool": ["bool", "boolean", object, "category", pd.ArrowDtype(pa.bool_()), pd.SparseDtype(bool, False)],
}
NOT_NULLABLE = ("int64", "int32", "bool")


@st.composite
def columns(draw):
    kind = draw(st.sampled_from(sorted(DTYPES)))
    dtype = draw(st.sampled_from(DTYPES[kind]))
    n = draw(st.integers(0, 12))
    nullable = not (dtype in NOT_NULLABLE or isinstance(dtype, pd.SparseDtype))
    value = {"text": TEXT, "int": st.integers(-2**15, 2**15 - 1),
             "float": st.floats(allow_nan=dtype in ("float64", "float32"), width=32 if dtype == "float32" else 64),
             "bool": st.booleans()}[kind]
    values = draw(st.lists(st.one_of(value, st.none()) if nullable else value, min_size=n, max_size=n))
    s = pd.Series(values, dtype=dtype)
    if draw(st.booleans()):  # a batch of a bigger frame: an index that does not start at 0
        s.index = s.index + draw(st.integers(1, 5))
    return kind, s


@settings(max_examples=300, deadline=None)
@given(columns())
def test_copy_text_is_the_value_by_value_text(column):
    kind, s = column
    assert history._copy_text(s, kind).to_pylist() == _reference_text(s, kind)


def test_datetimes_and_an_all_null_text_column():
    when = pd.Series(pd.to_datetime(["2020-07-31 08:00:01", None]))
    assert history._copy_text(when, "datetime").to_pylist() == ["2020-07-31 08:00:01.000000", "\\N"]
    assert history._copy_text(pd.Series([None, None], dtype="string"), "text").to_pylist() == ["\\N", "\\N"]


class _Cursor:
    """What psycopg2's cursor is sent: the statement and the bytes read from the file."""

    def __init__(self):
        self.sent: list[tuple[str, bytes]] = []

    def copy_expert(self, sql, file, size=8192):
        chunks = iter(lambda: file.read(size), b"")
        self.sent.append((sql, b"".join(chunks)))

    def close(self):
        pass


class _Conn:
    def __init__(self, cursor):
        import sqlalchemy as sa

        self.dialect = sa.create_engine("postgresql+psycopg2://").dialect
        self.connection = type("C", (), {"dbapi_connection": type("D", (), {"cursor": lambda _s: cursor})()})()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(TEXT, st.none()), st.one_of(st.integers(-9, 9), st.none())), max_size=30),
       st.integers(1, 7))
def test_copy_into_sends_the_lines_python_would_join(rows, batch):
    import sqlalchemy as sa

    t = sa.Table("t", sa.MetaData(), sa.Column("name", sa.Text), sa.Column("n", sa.Integer))
    frame = pd.DataFrame({"name": pd.Series([r[0] for r in rows], dtype="string"),
                          "n": pd.Series([r[1] for r in rows], dtype="Int64")}, index=np.arange(len(rows)) * 3)
    cursor = _Cursor()
    was, history.COPY_ROWS = history.COPY_ROWS, batch
    try:
        history._copy_into(_Conn(cursor), t, frame)
    finally:
        history.COPY_ROWS = was
    expected = []
    for start in range(0, len(frame), batch):
        part = frame.iloc[start:start + batch].reset_index(drop=True)
        cols = [_reference_text(part["name"], "text"), _reference_text(part["n"], "int")]
        expected.append(("\n".join("\t".join(r) for r in zip(*cols)) + "\n").encode("utf-8"))
    assert [body for _, body in cursor.sent] == expected
    assert all(sql == "COPY t (name, n) FROM STDIN WITH (ENCODING 'UTF8')" for sql, _ in cursor.sent)


def test_copy_is_read_as_utf8_whatever_the_client_encoding(fresh_database):
    """The batch goes as UTF-8 bytes: a connection whose client encoding is GBK (as a Chinese
    server's may be) must still store 张三, not mojibake or an error."""
    import sqlalchemy as sa

    from connectors.store import Store

    url = sa.engine.make_url(fresh_database("postgres")).update_query_dict({"client_encoding": "GBK"})
    store = Store(url.render_as_string(hide_password=False))
    store.migrate()
    t, _ = store._history("matches")
    frame = pd.DataFrame({c.name: pd.Series([None] * 2, dtype="string") for c in t.columns})
    frame["household_no"] = pd.Series(["张三\t", "户口"], dtype="string")
    frame[["run_id", "valid_from", "row_key", "row_hash"]] = [["r", "2020-07-31", "k1", "h"], ["r", "2020-07-31", "k2", "h"]]
    frame["occurrence"] = pd.Series([0, 0], dtype="Int64")
    with store.engine.begin() as conn:
        assert conn.exec_driver_sql("SHOW client_encoding").scalar() == "GBK"
        history._copy_into(conn, t, frame)
        back = conn.exec_driver_sql("SELECT household_no FROM matches ORDER BY row_key").scalars().all()
    assert back == ["张三\t", "户口"]
