"""Small vectorized helpers the stages share: key membership and NFKC, asked of Arrow directly."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Regex pieces RE2 (Arrow) runs natively; ``\s`` and ``\d`` send pandas to Python's ``re``.
WS = r"[ \t\r\n\v\f]"
WS_BYTES = np.zeros(256, dtype=bool)  # the same characters, as bytes of UTF-8 (``bytes_absent``)
WS_BYTES[[ord(c) for c in " \t\r\n\v\f"]] = True


def _arrow(s) -> pa.Array:
    s = pd.Series(s) if not isinstance(s, pd.Series) else s
    return pa.array(s.astype("string").array).cast(pa.large_string())


def isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for string keys; NA is never in. pandas' ``isin`` on Arrow strings
    builds one Python scalar per value of the set: at a million keys that costs seconds.

    >>> isin(pd.Series(["a", None, "c"]), ["a", "b"]).tolist()
    [True, False, False]
    """
    if len(s) == 0:
        return pd.Series(False, index=s.index, dtype=bool)
    hit = pc.fill_null(pc.is_in(_arrow(s), value_set=_arrow(values), skip_nulls=True), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index, dtype=bool)


def positions(keys, among) -> np.ndarray:
    """Where each of ``keys`` stands in ``among`` (unique text keys), -1 where it does not;
    NA is never found. One hash lookup, reused for every column taken at these positions
    (``Series.map`` with a Series looks every key up again for each column).

    >>> positions(pd.Series(["b", None, "x"]), ["a", "b"]).tolist()
    [1, -1, -1]
    """
    keys = pd.Series(keys) if not isinstance(keys, pd.Series) else keys
    if len(keys) == 0 or len(among) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    found = pc.index_in(_arrow(keys), value_set=_arrow(pd.Series(among)), skip_nulls=True)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def taken(values: pd.Series, at: np.ndarray, index) -> pd.Series:
    """``values`` at positions ``at`` (from :func:`positions`; -1 gives NA), on ``index``.

    >>> taken(pd.Series(["p", "q"], dtype="string"), np.array([1, -1]), [7, 8]).tolist()
    ['q', <NA>]
    """
    return pd.Series(values.array.take(at, allow_fill=True), index=index)


def nfkc(s: pd.Series) -> pd.Series:
    """Unicode NFKC (full-width to half-width, compatibility forms) in Arrow, not per value."""
    s = s.astype("string")
    if len(s) == 0:
        return s
    out = pc.utf8_normalize(pa.array(s.array), form="NFKC")
    return pd.Series(pd.arrays.ArrowStringArray(out), index=s.index, dtype="string")


def bytes_absent(s: pd.Series, forbidden: np.ndarray) -> bool:
    """True when no value of the text column ``s`` holds a byte ``forbidden`` marks (a
    boolean table of 256): one pass over Arrow's UTF-8 buffer instead of a regex per value.
    Only ASCII bytes may be marked: in UTF-8 they stand for themselves alone, never inside
    another character. False says "maybe": the caller asks the exact question then.

    >>> bad = np.zeros(256, dtype=bool); bad[0] = True
    >>> bytes_absent(pd.Series(["甲", None, "b"]), bad), bytes_absent(pd.Series(["a" + chr(0)]), bad)
    (True, False)
    """
    if forbidden[128:].any():
        raise ValueError("only ASCII bytes can be looked for in UTF-8 text")
    return not any(_holds_any(data, forbidden) for _, data in utf8_buffers(s))


def _holds_any(data: np.ndarray, forbidden: np.ndarray) -> bool:
    """Whether ``data`` (bytes) holds a byte ``forbidden`` marks. Only the marked bytes
    between the buffer's least and greatest byte can be there (most often none, or one:
    DEL, a space), and each is looked for by one comparison; a lookup in the table per
    byte, five times slower, only when more than a few remain."""
    if not len(data):
        return False
    lo, hi = int(data.min()), int(data.max())
    left = np.flatnonzero(forbidden[lo:hi + 1]) + lo
    if len(left) > 3:
        return bool(forbidden[data].any())
    return any(bool((data == b).any()) for b in left.tolist())


def utf8_buffers(s: pd.Series):
    """Each Arrow chunk of the text column ``s`` as numpy views, no copy: its value offsets
    (n + 1, into the bytes) and the UTF-8 bytes of its values, the first value's first."""
    text = _arrow(s)
    for chunk in (text.chunks if isinstance(text, pa.ChunkedArray) else [text]):
        offsets_buf, data_buf = chunk.buffers()[1:3]
        offsets = np.frombuffer(offsets_buf, dtype=np.int64)[chunk.offset:chunk.offset + len(chunk) + 1] \
            if len(chunk) else np.zeros(1, dtype=np.int64)
        data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buf is not None \
            else np.zeros(0, dtype=np.uint8)
        yield offsets - offsets[0], data


def without_spaces(s: pd.Series) -> pd.Series:
    """``s`` with every space, tab and line break taken out (none to take: no regex run).

    >>> without_spaces(pd.Series(["张 伟", "李四", None], dtype="string")).tolist()
    ['张伟', '李四', <NA>]
    """
    return s if bytes_absent(s, WS_BYTES) else s.str.replace(WS + "+", "", regex=True)


def matches_regex(s: pd.Series, pattern: str) -> np.ndarray:
    """Which values of the text column ``s`` contain ``pattern`` (RE2, in Arrow); NA never."""
    if len(s) == 0:
        return np.zeros(0, dtype=bool)
    hit = pc.fill_null(pc.match_substring_regex(_arrow(s), pattern), False)
    return hit.to_numpy(zero_copy_only=False).astype(bool)


def per_distinct(s: pd.Series, fn, dtype: str = "string") -> pd.Series:
    """``fn`` applied to each distinct non-null value of ``s`` once, spread back over the
    rows (NA stays NA): a county's million names or vocabulary cells hold far fewer distinct
    values than rows, and ``fn`` may be plain Python.

    >>> per_distinct(pd.Series(["a", None, "a", "b"], dtype="string"), str.upper).tolist()
    ['A', <NA>, 'A', 'B']
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    done = pd.array([fn(u) for u in uniques], dtype=dtype)
    return pd.Series(done.take(codes, allow_fill=True), index=s.index, dtype=dtype)


def _sort_key(s) -> pa.Array | None:
    """The column as Arrow orders it exactly as pandas does (text by code point, integers,
    flags, 32- and 64-bit floats, naive datetimes; NA and NaN as null), or None: categoricals
    (ordered by their categories), nullable floats (NaN apart from NA), objects of other or
    mixed types, anything Arrow will not take."""
    if not isinstance(s, pd.Series):  # a label naming several columns, or none
        return None
    dtype = s.dtype
    objects = isinstance(dtype, np.dtype) and dtype.kind == "O"  # not the extension dtypes, whose kind is "O" too
    masked = (pd.Int64Dtype, pd.Int32Dtype, pd.Int16Dtype, pd.Int8Dtype, pd.BooleanDtype,
              pd.UInt64Dtype, pd.UInt32Dtype, pd.UInt16Dtype, pd.UInt8Dtype)
    orderable = (isinstance(dtype, (pd.StringDtype, *masked))
                 or (isinstance(dtype, np.dtype) and (dtype.kind in "iubMO" or (dtype.kind == "f" and dtype.itemsize >= 4)))
                 or (isinstance(dtype, pd.ArrowDtype) and (pa.types.is_string(dtype.pyarrow_dtype)
                                                           or pa.types.is_large_string(dtype.pyarrow_dtype)
                                                           or pa.types.is_integer(dtype.pyarrow_dtype)
                                                           or pa.types.is_boolean(dtype.pyarrow_dtype))))
    if not orderable:
        return None
    try:
        arrow = pa.array(s.to_numpy() if objects else s.array, from_pandas=True)  # text: Arrow's own buffers
        if isinstance(arrow, pa.ChunkedArray):
            arrow = arrow.combine_chunks()
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # a lone surrogate, mixed objects, a big int
        return None
    t = arrow.type
    if objects and not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
                                  or pa.types.is_boolean(t) or pa.types.is_null(t)):
        return None  # objects Arrow made floats or dates of: pandas' rules for those differ at the edges
    return arrow


def sort_rows(frame: pd.DataFrame, by: str | list[str], ascending: bool | list[bool] = True,
              na_position: str = "last") -> pd.DataFrame:
    """``frame.sort_values(by, ascending=..., na_position=..., kind="stable")``, index kept,
    ordered by Arrow in one pass over every key. pandas sorts several keys by turning each
    into a sorted categorical first: about 2 s at a million text keys, against 0.3 s here.
    ``by``: column names (or one). A key Arrow cannot order as pandas does (``_sort_key``)
    leaves the sort to pandas.

    >>> f = pd.DataFrame({"a": ["y", None, "x", "y"], "b": [2, 1, 3, 1]}).astype({"a": "string"})
    >>> sort_rows(f, ["a", "b"], ascending=[True, False]).index.tolist()
    [2, 0, 3, 1]
    """
    by = [by] if isinstance(by, str) else list(by)
    ascending = [ascending] * len(by) if isinstance(ascending, bool) else list(ascending)
    if len(ascending) != len(by):
        raise ValueError(f"Length of ascending ({len(ascending)}) != length of by ({len(by)})")
    if na_position not in ("first", "last"):
        raise ValueError(f"invalid na_position: {na_position}")
    keys = [_sort_key(frame[k]) if k in frame.columns else None for k in by] if len(by) > 1 else [None]
    if len(frame) > 1 and all(k is not None for k in keys):
        names = [f"k{i}" for i in range(len(by))]
        nulls = "at_end" if na_position == "last" else "at_start"
        try:
            order = pc.sort_indices(pa.table(keys, names=names), options=pc.SortOptions(
                [(n, "ascending" if up else "descending", nulls) for n, up in zip(names, ascending)]))
            return frame.take(order.to_numpy())
        except pa.ArrowException:  # a type Arrow's sort does not take: pandas' sort below
            pass
    return frame.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
