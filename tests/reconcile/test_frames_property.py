"""Property (issue 20): the one-pass byte check over a text column says "no control
character" exactly when the regex finds none in any value, whatever the text, the nulls,
and the slice of an Arrow buffer the column is (the fast path only skips the regex)."""
from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from reconcile.frames import bytes_absent
from reconcile.parse import CONTROL, CONTROL_BYTES, _control_characters

TEXT = st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30)


@given(TEXT, st.integers(min_value=0, max_value=5))
def test_bytes_absent_agrees_with_the_regex(values, cut):
    column = pd.Series(pd.arrays.ArrowStringArray(pa.array(["\x01x", *values], pa.large_string()).slice(1)),
                       dtype="string")  # a slice: the buffer holds a control character before it
    column = column.iloc[min(cut, len(column)):]
    found = any(v is not None and re.search(CONTROL, v) for v in values[min(cut, len(values)):])
    assert bytes_absent(column, CONTROL_BYTES) is (not found)


@given(TEXT)
def test_control_characters_per_cell(values):
    got = _control_characters(pd.Series(values, dtype=object))
    assert got.tolist() == [v is not None and bool(re.search(CONTROL, v)) for v in values]


TRADITIONAL = "張偉國東陳劉•·．.‧ 　\t"


@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(TRADITIONAL + "张伟李四ab１"), max_size=8),
                          st.text(max_size=6)), max_size=25))
def test_clean_names_folds_as_translating_every_name(values):
    """Only names holding a character to fold are translated; the result is as if all were."""
    import unicodedata

    from reconcile.frames import WS
    from reconcile.names import _t2s_table, clean_names

    want = []
    for v in values:
        if v is None:
            want.append(None)
            continue
        t = re.sub(WS + "+", "", unicodedata.normalize("NFKC", v)).translate(_t2s_table())
        want.append(t or None)
    got = clean_names(pd.Series(values, dtype="string"))
    assert [None if x is pd.NA else x for x in got.tolist()] == want


@given(st.lists(st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,18}\Z"), st.sampled_from(
    ["007", "1e400", "inf", "-5", "+5", " 5", "5 ", "2.5", "1,000", "nan", "", "0x10", "٣"]), st.text(max_size=5)),
    max_size=25))
def test_to_float_reads_as_pandas_to_numeric(values):
    from reconcile.parse import _to_float

    t = pd.Series(values, dtype="string")
    want = pd.to_numeric(t, errors="coerce").astype("Float64")
    assert _to_float(t).tolist() == want.tolist() or _to_float(t).equals(want)


@given(st.lists(st.one_of(st.none(), st.text(max_size=10), st.binary(max_size=8).map(lambda b: b.decode("latin-1"))),
                max_size=30),
       st.sets(st.integers(0, 127), max_size=40))
def test_bytes_absent_agrees_with_looking_at_every_value(values, marked):
    """However many bytes are marked and wherever they fall against the column's least and
    greatest byte, the answer is the one a look at every value's bytes gives."""
    import numpy as np

    forbidden = np.zeros(256, dtype=bool)
    forbidden[list(marked)] = True
    found = any(v is not None and any(b in marked for b in v.encode("utf-8")) for v in values)
    assert bytes_absent(pd.Series(values, dtype="string"), forbidden) is (not found)
