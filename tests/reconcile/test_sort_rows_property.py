"""Property (issue 20): ``sort_rows`` orders a frame exactly as pandas' stable
``sort_values`` does, row for row and index kept, whatever the keys' kinds (text with
nulls and characters outside the BMP, in pandas' and Arrow's dtypes and in several Arrow
chunks, nullable and plain integers, unsigned ones past 2**63, flags, 16-, 32- and 64-bit
floats with NaN, datetimes with NaT, objects and categoricals, which go to pandas), their
directions and where NA goes; the fast path is the one taken for the kinds it serves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.frames import sort_rows

WORDS = st.one_of(st.none(), st.text(alphabet=st.sampled_from("ab张張𠀀 \x00é"), max_size=3))
SMALL = st.one_of(st.none(), st.integers(-2, 2))


def _frame(rows: int, draw) -> pd.DataFrame:
    text = draw(st.lists(WORDS, min_size=rows, max_size=rows))
    ints = draw(st.lists(SMALL, min_size=rows, max_size=rows))
    flags = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    floats = draw(st.lists(st.one_of(st.just(float("nan")), st.floats(-2, 2, allow_nan=False), st.just(-0.0)),
                           min_size=rows, max_size=rows))
    days = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=rows, max_size=rows))
    cut = draw(st.integers(0, rows))
    chunked = pd.concat([pd.Series(text[:cut], dtype=pd.ArrowDtype(pa.string())),
                         pd.Series(text[cut:], dtype=pd.ArrowDtype(pa.string()))], ignore_index=True)
    return pd.DataFrame({
        "arrow_text": chunked.array,
        "big": pd.Series([2**63 + (i or 0) for i in ints], dtype="uint64"),
        "big_obj": pd.Series([2**63 + (i or 0) for i in ints], dtype=object),
        "f32": pd.Series(floats, dtype="float32"),
        "f16": pd.Series(floats, dtype="float16"),
        "text": pd.Series(text, dtype="string"),
        "text_py": pd.Series(text, dtype="string[python]"),
        "obj": pd.Series([t if t is not None else None for t in text], dtype=object),
        "nint": pd.Series(ints, dtype="Int64"),
        "int": pd.Series([0 if i is None else i for i in ints], dtype="int64"),
        "flag": pd.Series(flags, dtype=bool),
        "nflag": pd.Series([None if i is None else i > 0 for i in ints], dtype="boolean"),
        "float": pd.Series(floats, dtype="float64"),
        "when": pd.to_datetime(pd.Series([None if d is None else f"2020-07-{d + 1:02d}" for d in days])),
        "cat": pd.Series(text, dtype="category"),
        "mixed": pd.Series([t if i is None else i for t, i in zip(text, ints)], dtype=object),
    }).set_axis(np.random.default_rng(rows).permutation(rows) * 3)  # labels apart from positions


@st.composite
def cases(draw):
    rows = draw(st.integers(0, 25))
    frame = _frame(rows, draw)
    by = draw(st.lists(st.sampled_from(list(frame.columns)), min_size=1, max_size=4))
    ascending = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=len(by), max_size=len(by))))
    return frame, by, ascending, draw(st.sampled_from(["last", "first"]))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_sort_rows_is_pandas_stable_sort(case):
    frame, by, ascending, na_position = case
    try:
        want = frame.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    except TypeError:  # text beside numbers in one object column: pandas cannot order it, nor may sort_rows
        with pytest.raises(TypeError):
            sort_rows(frame, by, ascending=ascending, na_position=na_position)
        return
    got = sort_rows(frame, by, ascending=ascending, na_position=na_position)
    assert got.index.tolist() == want.index.tolist()
    pd.testing.assert_frame_equal(got, want)


FAST = ["text", "text_py", "obj", "nint", "int", "flag", "nflag", "float", "when", "arrow_text", "big", "f32"]


@settings(max_examples=50, deadline=None)
@given(cases())
def test_the_kinds_it_serves_are_ordered_by_arrow_not_pandas(case):
    """Text, integers, flags, floats and datetimes never reach pandas' sort."""
    frame, _, ascending, na_position = case
    frame, ascending = frame[FAST], ascending if isinstance(ascending, bool) else ascending[0]
    want = frame.sort_values(FAST, ascending=ascending, na_position=na_position, kind="stable")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pd.DataFrame, "sort_values", lambda *a, **k: pytest.fail("pandas was asked to sort"))
        got = sort_rows(frame, FAST, ascending=ascending, na_position=na_position) if len(frame) > 1 else want
    pd.testing.assert_frame_equal(got, want)


def test_arguments_pandas_refuses_are_refused():
    frame = pd.DataFrame({"a": [2, 1], "b": [1, 2]})
    with pytest.raises(ValueError, match="Length of ascending"):
        sort_rows(frame, ["a", "b"], ascending=[True])
    with pytest.raises(ValueError, match="na_position"):
        sort_rows(frame, ["a", "b"], na_position="middle")
