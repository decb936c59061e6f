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
