"""Property (issue 20): ``sort_rows`` orders a frame exactly as pandas' stable
``sort_values`` does, row for row and index kept, whatever the keys' kinds (text with
nulls and characters outside the BMP, nullable and plain integers, flags, floats with NaN,
datetimes with NaT, objects and categoricals, which go to pandas), their directions and
where NA goes."""
from __future__ import annotations

import numpy as np
import pandas as pd
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
    return pd.DataFrame({
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
    }, index=np.random.default_rng(rows).permutation(rows) * 3)


@st.composite
def cases(draw):
    rows = draw(st.integers(0, 25))
    frame = _frame(rows, draw)
    by = draw(st.lists(st.sampled_from(list(frame.columns)), min_size=2, max_size=4, unique=True))
    ascending = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=len(by), max_size=len(by))))
    return frame, by, ascending, draw(st.sampled_from(["last", "first"]))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_sort_rows_is_pandas_stable_sort(case):
    frame, by, ascending, na_position = case
    want = frame.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    got = sort_rows(frame, by, ascending=ascending, na_position=na_position)
    assert got.index.tolist() == want.index.tolist()
    pd.testing.assert_frame_equal(got, want)


def test_many_text_keys_are_ordered_by_arrow_not_pandas(monkeypatch):
    """The fast path is the one taken for text and number keys (pandas is not asked)."""
    frame = pd.DataFrame({"a": pd.Series(["b", "a", None, "a"], dtype="string"), "n": [1, 2, 3, 1]})
    monkeypatch.setattr(pd.DataFrame, "sort_values", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert sort_rows(frame, ["a", "n"]).index.tolist() == [3, 1, 0, 2]
