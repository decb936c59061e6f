"""History as changes: each stored table as row versions with validity intervals by as_of
date (SCD type 2), not a copy per run (issue 23).

A row version holds a row's values from the as_of ``valid_from`` (included) to
``valid_to`` (excluded; NULL: still valid). The state of a table as of a date D is the
versions with valid_from <= D < valid_to: what the latest snapshot on or before D held,
since every boundary is a snapshot date (``history_snapshots`` lists them per table).
A key's adjacent versions always differ (writes merge equal neighbours), so a version
valid at two dates means the row did not change between them. A run writes only the rows
that differ from the state as of its date (:meth:`History.write_snapshot`);
:meth:`History.table_as_of`, :meth:`History.ledger_as_of` and
:meth:`History.changes_between` read any date back in one query.

:class:`connectors.store.Store` is a :class:`History`: it brings the engine, the
migrations and the error wrapping.
"""
from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from connectors import sqlite_stage
from schemas.published import KEYS as PUBLISHED_KEYS
from schemas.published import LEDGER_COLUMNS
from schemas.published import ORDER as PUBLISHED_ORDER

LEDGER = "discrepancy_ledger"
ALIASES = {"ledger": LEDGER}
# The tables of a run the store keeps history of (``save_run``'s ``tables``), the ledger apart.
STORED = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "records_ha", "alerts",
          "alert_ledger")
HISTORY_COLUMNS = ("run_id", "valid_from", "valid_to", "row_key", "occurrence", "row_hash")
# A row's identity from run to run (schemas.published KEYS; a table it does not name is
# keyed by its ORDER); a key seen twice in one snapshot is told apart by its occurrence in
# the table's order. The ledger under its store table name.
KEYS = {ALIASES.get(n, n): PUBLISHED_KEYS.get(n) or PUBLISHED_ORDER[n] for n in (*STORED, "ledger")}
ORDER = {ALIASES.get(n, n): PUBLISHED_ORDER[n] for n in (*STORED, "ledger")}
# Ledgers whose last_seen is the date of the run that saw the item: stored as this mark
# when it is its snapshot's own date, so an item seen night after night is one version.
# The row hash leaves last_seen out; versions are told apart by both (see ``token``).
SEEN_ON_THE_DATE = "@"
SEEN_LEDGERS = (LEDGER, "alert_ledger")
# A datetime as text: its canonical form in the row hash, and as SQLAlchemy stores it in SQLite.
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"


def token(name: str, versions: pd.DataFrame) -> pd.Series:
    """What tells two versions of a row apart: the hash of its values, and for a ledger
    the stored last_seen (a mark or a date)."""
    if name not in SEEN_LEDGERS:
        return versions["row_hash"].astype(object)
    seen = versions["last_seen"].astype(object).fillna("N").astype(str)
    return (versions["row_hash"].astype(str) + "|" + seen).astype(object)


def table_name(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in KEYS:
        raise ValueError(f"no history is kept for table {name!r} (kept: {', '.join(sorted(KEYS))})")
    return name


def _kind(col_type) -> str:
    from sqlalchemy.dialects import mysql

    if isinstance(col_type, sa.Boolean) or (isinstance(col_type, mysql.TINYINT)
                                           and getattr(col_type, "display_width", None) == 1):
        return "bool"
    if isinstance(col_type, sa.Integer):
        return "int"
    if isinstance(col_type, (sa.Float, sa.Numeric)):
        return "float"
    if isinstance(col_type, sa.DateTime):
        return "datetime"
    return "text"


def _cells(s: pd.Series, kind: str) -> tuple[pd.Series, pa.Array]:
    """A column's values to store (text stays a pandas string column, datetimes datetime64,
    numbers and flags nullable pandas arrays: :meth:`History._insert` makes the rows it
    writes SQL-ready, the night after usually none) and their canonical text (an Arrow
    string array, null for null).

    The canonical text is what the row hashes are made of: it must never change, or every
    stored row would count as changed on the next run (``tests/connectors/test_history_encode.py``
    holds it to the original per-cell definition)."""
    s = s.reset_index(drop=True)
    na = s.isna().to_numpy(dtype=bool)
    if kind == "datetime":
        ts = pd.Series(pd.to_datetime(s))
        return ts, datetime_text(ts)
    if kind == "text":
        if not isinstance(s.dtype, pd.StringDtype):
            v = s.to_numpy(dtype=object).copy()
            v[na] = None
            if not all(type(x) is str for x in v[~na]):  # numbers, flags ...: as the string dtype writes them
                v = s.astype("string").to_numpy(dtype=object, na_value=None)
            s = pd.Series(v, dtype=object)
        return s, _arrow_text(s)
    raw = _filled(s, na, kind)
    if kind == "bool":
        text = pc.if_else(pa.array(raw, mask=na), _text("1"), _text("0"))
        return pd.Series(pd.arrays.BooleanArray(raw, na)), text
    if kind == "int":
        return pd.Series(pd.arrays.IntegerArray(raw, na)), pc.cast(pa.array(raw, mask=na), pa.large_string())
    text = np.array([repr(x) for x in raw.tolist()], dtype=object)  # Python's shortest repr: "1.0", not "1"
    text[na] = None
    return pd.Series(pd.arrays.FloatingArray(raw, na)), _arrow_text(pd.Series(text, dtype=object))


NUMPY_OF_KIND = {"bool": "bool", "int": "int64", "float": "float64"}


def _filled(s: pd.Series, na: np.ndarray, kind: str) -> np.ndarray:
    """A column of flags or numbers as one numpy array, 0 where null: straight from a typed
    column; value by value (as ``bool()`` and ``to_numeric`` read them) from any other."""
    typed = pd.api.types.is_bool_dtype(s.dtype) if kind == "bool" else (
        pd.api.types.is_integer_dtype(s.dtype) if kind == "int" else
        pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))
    if typed and not isinstance(s.dtype, pd.ArrowDtype):  # numpy or pandas' masked arrays
        return s.to_numpy(dtype=NUMPY_OF_KIND[kind], na_value=0)
    filled = pd.Series(s.to_numpy(dtype=object), dtype=object).where(~na, 0)
    if kind == "bool":
        return filled.astype(bool).to_numpy()
    return pd.to_numeric(filled).astype(NUMPY_OF_KIND[kind]).to_numpy()


def positions(keys: pd.Series, among: pd.Series) -> np.ndarray:
    """Where each of ``keys`` stands in ``among`` (unique text), -1 where it does not.

    >>> positions(pd.Series(["b", "x"]), pd.Series(["a", "b"])).tolist()
    [1, -1]
    """
    if not len(keys) or not len(among):
        return np.full(len(keys), -1, dtype=np.int64)
    found = pc.index_in(_arrow_text(keys.astype(object)), value_set=_arrow_text(among.astype(object)))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _arrow_text(s: pd.Series) -> pa.Array:
    """Strings (None or NA for null) as one Arrow string array; Python's strings when Arrow
    cannot hold them (a lone surrogate), so the hash falls back to the per-cell path."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return _one_array(pa.chunked_array(s.array._pa_array)).cast(pa.large_string())
    try:
        return pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    except (pa.ArrowException, UnicodeEncodeError):
        return s.to_numpy(dtype=object, na_value=None)  # type: ignore[return-value]


def _one_array(chunked: pa.ChunkedArray) -> pa.Array:
    """A chunked array as one array: its only chunk as it is, where Arrow's
    ``combine_chunks`` copies even that one (the store holds every text column of a
    table at once while it hashes the rows: a copy of the table, 0.4 GB at a million
    households).

    >>> col = pa.chunked_array([pa.array(["a", "b"])])
    >>> _one_array(col).buffers()[2].address == col.chunk(0).buffers()[2].address
    True
    """
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


def _text(x: str) -> pa.Scalar:
    return pa.scalar(x, pa.large_string())


def _canonical(text) -> pa.Array | np.ndarray:
    """Length-prefixed, so no value can pass for two, and null apart from every string
    (``N``); ``len:value`` with the length in code points."""
    if isinstance(text, np.ndarray):  # the per-cell path
        return np.array(["N" if x is None else f"{len(x)}:{x}" for x in text], dtype=object)
    prefixed = pc.binary_join_element_wise(pc.cast(pc.utf8_length(text), pa.large_string()), text, _text(":"))
    return pc.fill_null(prefixed, _text("N"))


def _joined(parts: list) -> pa.Array | np.ndarray:
    """Each row's parts joined by ``|``."""
    if any(isinstance(p, np.ndarray) for p in parts):
        cols = [p if isinstance(p, np.ndarray) else np.array(p.to_pylist(), dtype=object) for p in parts]
        return np.array(list(map("|".join, zip(*cols))) if len(cols) > 1 else cols[0], dtype=object)
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _text("|"))


def _digest(parts: list, size: int) -> list[str]:
    """The hash (blake2b, ``size`` bytes, hex) of each row's canonical parts joined by ``|``."""
    blake = hashlib.blake2b
    joined = _joined(parts)
    if isinstance(joined, np.ndarray):
        return [blake(x.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest() for x in joined]
    offsets, data = _utf8_rows(joined)  # each row a view of the one buffer: no bytes object per row
    return [blake(data[a:b], digest_size=size).hexdigest() for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _utf8_rows(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, memoryview]:
    """An Arrow text array's UTF-8 buffer and the offsets of its rows in it (row ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``), without a Python object per row.

    >>> offsets, data = _utf8_rows(pa.array(["ab", "", "c"]).slice(1))
    >>> [bytes(data[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
    [b'', b'c']
    """
    text = (_one_array(text) if isinstance(text, pa.ChunkedArray) else text).cast(pa.large_binary())
    if text.null_count:  # never null here; were a row null, it would read as no bytes
        raise ValueError("a row's text is null")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    return offsets, memoryview(text.buffers()[2] or b"")


HASH_ROWS = 100_000  # rows whose canonical text is held at once while hashing


def _rows(text, start: int, n: int):
    """``n`` rows of a column's text from ``start`` (an Arrow array or, per cell, a NumPy one)."""
    return text[start:start + n] if isinstance(text, np.ndarray) else text.slice(start, n)


def encode(name: str, frame: pd.DataFrame, kinds: dict[str, str], as_of: str) -> pd.DataFrame:
    """A snapshot as version rows: the table's columns, with each row's key, occurrence and
    the hash of its values (what tells a changed row).

    >>> e = encode("matches", pd.DataFrame({"household_no": ["H1"], "archive_no": ["A1"]}),
    ...            {"household_no": "text", "archive_no": "text"}, "2020-07-31")
    >>> e[["occurrence", "row_key", "row_hash"]].values.tolist()
    [[0, '8db9df70a63cf4258a8ab31513ac3bb3', 'b1708f9731ac9454']]
    """
    frame = frame.reset_index(drop=True)
    out, texts = {}, {}
    for col, kind in kinds.items():
        src = frame[col] if col in frame.columns else pd.Series([None] * len(frame), dtype=object)
        values, text = _cells(src, kind)
        if name in SEEN_LEDGERS and col == "last_seen":
            if isinstance(text, np.ndarray):
                here = np.array([x == as_of for x in text], dtype=bool)
                text = np.where(here, SEEN_ON_THE_DATE, text)
            else:
                here = pc.fill_null(pc.equal(text, as_of), False)
                text = pc.if_else(here, _text(SEEN_ON_THE_DATE), text)
                here = here.to_numpy(zero_copy_only=False)
            values = values.mask(here, SEEN_ON_THE_DATE)
        out[col], texts[col] = values, text
    result = pd.DataFrame(out, index=range(len(frame)))
    keys = [_canonical(texts[c]) for c in KEYS[name]]
    key_text = _joined(keys)
    result["occurrence"] = occurrences(key_text)
    if len(frame):
        occurrence = pa.array(result["occurrence"].to_numpy()).cast(pa.large_string())
        if any(isinstance(k, np.ndarray) for k in keys):
            occurrence = np.array(occurrence.to_pylist(), dtype=object)
        result["row_key"] = _digest(keys + [occurrence], 16)
        hashed = [texts[c] for c in kinds if not (name in SEEN_LEDGERS and c == "last_seen")]
        # a block of rows at a time: the canonical text of every column of a million rows
        # would hold about as much memory again as the table itself
        result["row_hash"] = [h for start in range(0, len(frame), HASH_ROWS)
                              for h in _digest([_canonical(_rows(t, start, HASH_ROWS)) for t in hashed], 8)]
    else:
        result["row_key"], result["row_hash"] = pd.Series(dtype=object), pd.Series(dtype=object)
    return result


def occurrences(key_text: pa.Array | np.ndarray) -> np.ndarray:
    """How many earlier rows hold each row's key (0 for its first row), in the table's order.

    Found by a stable sort, where equal keys stand side by side in the table's order: a
    row's occurrence is its place in its run. A hash table of the keys (Arrow's
    ``dictionary_encode``) took 1.4 s and 236 MB for a million keys, nearly always all
    distinct; the sort 0.35 s and 40 MB.

    >>> occurrences(pa.array(["b", "a", "b", "b", "a"], pa.large_string())).tolist()
    [0, 0, 1, 2, 1]
    """
    n = len(key_text)
    if isinstance(key_text, np.ndarray):  # the per-cell path (text Arrow cannot hold)
        codes = pd.factorize(key_text)[0]
        return pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy(dtype=np.int64)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    order = pc.sort_indices(key_text).to_numpy()  # stable: equal keys keep the table's order
    ordered = key_text.take(order)
    # a key's text is never null (``_canonical`` writes null as N), so neither is a comparison
    starts = np.concatenate(([True], ~pc.equal(ordered.slice(1), ordered.slice(0, n - 1))
                                        .to_numpy(zero_copy_only=False)))
    if starts.all():
        return np.zeros(n, dtype=np.int64)
    run_start = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - run_start
    return occurrence


def datetime_text(ts: pd.Series) -> pa.Array:
    """Datetimes spelled as :data:`DATETIME_TEXT` (null for none), by Arrow's cast of a
    microsecond timestamp to text (``YYYY-MM-DD HH:MM:SS.ffffff``, as its ``strftime``
    spells it, ten times faster); pandas' (a Python call per value) for what Arrow would
    spell otherwise: a time zone, nanoseconds, a year outside 1000-9999.

    >>> datetime_text(pd.Series(pd.to_datetime(["2020-07-31 08:00:01.5", None]))).to_pylist()
    ['2020-07-31 08:00:01.500000', None]
    """
    t = pa.array(ts, from_pandas=True)
    if pa.types.is_timestamp(t.type) and t.type.tz is None:
        try:
            t = t.cast(pa.timestamp("us"))  # refuses to drop nanoseconds
            years = pc.year(t)
            if len(t) == t.null_count or (pc.min(years).as_py() >= 1000 and pc.max(years).as_py() <= 9999):
                return t.cast(pa.large_string())  # Arrow spells it so, 10x faster than its strftime
        except pa.ArrowInvalid:
            pass
    text = ts.dt.strftime(DATETIME_TEXT).astype(object).where(ts.notna(), None)
    return pa.array(text, type=pa.large_string())


def _datetimes(s: pd.Series) -> pd.Series:
    """A column of datetimes as datetime64 (as encoded, or as fetched back: Python datetimes, None)."""
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s
    return pd.Series(pd.to_datetime(s.astype(object).where(s.notna(), None)), index=s.index)


def _sql_values(s: pd.Series, is_datetime: bool, sqlite: bool) -> list:
    """A column as the driver takes it: Python values, None for null; a datetime as
    SQLAlchemy stores it in SQLite (text) or as a Python datetime elsewhere."""
    if is_datetime:
        ts = _datetimes(s)
        if sqlite:
            return datetime_text(ts).to_pylist()
        v = pd.Series(list(ts.dt.to_pydatetime()), index=ts.index, dtype=object)
        return v.astype(object).where(ts.notna(), None).tolist()
    arrow = getattr(s.array, "_pa_array", None)
    if arrow is not None:
        return arrow.to_pylist()
    return s.astype(object).where(s.notna(), None).tolist()


ROW_BATCH = {"sqlite": 50_000, "other": 20_000}  # rows per executemany where nothing faster serves
COPY_ROWS = 100_000  # rows per COPY: the text of one batch is held in memory at a time
COPY_READ_BYTES = 1 << 20  # what the driver reads of a batch at a time


def _copy_text(s: pd.Series, kind: str) -> pa.Array:
    """A column in COPY's text format: ``\\N`` for null, backslash, tab and line ends escaped,
    flags ``t``/``f``, numbers as Arrow writes them (infinities and NaN spelled out).

    A typed column goes to Arrow from its buffers; only an untyped (object) one is read a
    Python value at a time (``tests/connectors/test_copy_text.py`` holds both to the
    original value-by-value definition)."""
    # categorical and sparse columns pass pandas' dtype tests but not Arrow's buffers
    typed = not isinstance(s.dtype, (pd.CategoricalDtype, pd.SparseDtype))
    if kind == "datetime":
        text = datetime_text(_datetimes(s))
    elif kind == "bool":
        flags = (pa.array(s, from_pandas=True) if typed and pd.api.types.is_bool_dtype(s.dtype)
                 else pa.array(s.astype(object).where(s.notna(), None), type=pa.bool_()))
        text = pc.if_else(flags, _text("t"), _text("f"))
    elif kind == "float":
        x = (s.to_numpy(dtype="float64", na_value=np.nan) if typed and pd.api.types.is_float_dtype(s.dtype)
             else pd.to_numeric(s.astype(object).where(s.notna(), None)))
        text = pc.cast(pa.array(x, type=pa.float64(), from_pandas=True), pa.large_string())
        for arrow_spelling, pg in (("inf", "Infinity"), ("-inf", "-Infinity"), ("nan", "NaN")):
            text = pc.if_else(pc.equal(text, arrow_spelling), _text(pg), text)
    elif kind == "int":
        ints = (pa.array(s, from_pandas=True) if typed and pd.api.types.is_integer_dtype(s.dtype)
                else pa.array(s.astype(object).where(s.notna(), None), type=pa.int64()))
        text = pc.cast(ints.cast(pa.int64()), pa.large_string())
    else:
        text = _arrow_text(s)
        if isinstance(text, np.ndarray):  # a lone surrogate: no UTF-8 for PostgreSQL to take
            raise ValueError(f"store: column {s.name!r} holds text that is not valid Unicode (a lone surrogate)")
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            if pc.any(pc.match_substring(text, raw)).as_py():  # most columns hold none: no copy
                text = pc.replace_substring(text, raw, escaped)
    return pc.fill_null(text, _text("\\N"))


STAGE_BLOCK = 100_000  # rows turned into Arrow at a time for a stage


class NotStaged(Exception):
    """A value ``sqlite3`` would bind as another storage class than its column's stage
    holds (a fraction in an integer column, bytes in a text one, a NumPy scalar in an
    object column ...): those rows go row by row, as before."""


# per kind: the Arrow type a stage holds, the Python types sqlite3 binds to the same
# storage class, and the Arrow types a typed column may come in
_STAGED = {
    "text": (pa.large_string(), (str,), lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "int": (pa.int64(), (int,), pa.types.is_integer),
    "float": (pa.float64(), (float, int), lambda t: pa.types.is_floating(t) or pa.types.is_integer(t)),
    "bool": (pa.bool_(), (bool,), pa.types.is_boolean),
}


def _stage_column(s: pd.Series, kind: str) -> pa.Array:
    """A column as its stage holds it: each value as ``_sql_values`` hands it to
    ``sqlite3`` (flags as 0/1, datetimes as their text), or :class:`NotStaged`."""
    if kind == "datetime":
        return datetime_text(_datetimes(s))
    typ, python, family = _STAGED[kind]
    arrow = None
    if s.dtype != object:  # a typed column: Arrow takes its buffers, no Python value each
        try:
            arrow = pa.array(s, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            arrow = None
        if arrow is not None and not family(arrow.type):
            arrow = None
    if arrow is None:  # Python values, exactly the types sqlite3 binds as the column's class
        values = s.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        if not {type(v) for v in values if v is not None} <= set(python):
            raise NotStaged(f"column {s.name}")
        arrow = pa.array(values, type=typ, from_pandas=True)
    arrow = arrow.cast(typ)  # safe: what would change a value raises
    return pc.cast(arrow, pa.int64()) if kind == "bool" else arrow


def _stage_block(part: pd.DataFrame, t: sa.Table) -> pa.Table:
    """Rows as a stage holds them, typed by the table's columns."""
    return pa.table([_stage_column(part[c.name].reset_index(drop=True), _kind(c.type)) for c in t.columns],
                    names=[c.name for c in t.columns])


def _copy_into(conn, t: sa.Table, frame: pd.DataFrame) -> None:
    """The rows of ``frame`` into ``t`` by COPY FROM STDIN (text format), in batches: each
    batch's lines joined by Arrow into one UTF-8 buffer, sent as it is."""
    q = conn.dialect.identifier_preparer.quote
    # the bytes are UTF-8 whatever the connection's client encoding (a GBK client, say)
    sql = f"COPY {q(t.name)} ({', '.join(q(c.name) for c in t.columns)}) FROM STDIN WITH (ENCODING 'UTF8')"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        for part in in_key_blocks(frame, COPY_ROWS):
            cols = [_copy_text(part[c.name].reset_index(drop=True), _kind(c.type)) for c in t.columns]
            lines = pc.binary_join_element_wise(*cols, _text("\t")) if len(cols) > 1 else cols[0]
            offsets, data = _utf8_rows(pc.binary_join_element_wise(lines, _text(""), _text("\n")))
            cursor.copy_expert(sql, io.BytesIO(data[offsets[0]:offsets[-1]]), size=COPY_READ_BYTES)
    finally:
        cursor.close()


def decode(rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Stored values as pandas columns: text as ``string``, numbers and flags nullable."""
    out = {}
    for col, kind in kinds.items():
        s = rows[col] if col in rows.columns else pd.Series([None] * len(rows), dtype=object)
        if kind == "bool":  # True/False, 0/1 or Decimal by driver; vectorized: millions of rows in monitoring
            v = pd.to_numeric(s.astype(object).where(s.notna(), None))
            out[col] = pd.arrays.BooleanArray(v.fillna(0).to_numpy() != 0, v.isna().to_numpy())
        elif kind == "int":
            out[col] = pd.to_numeric(s.astype(object).where(s.notna(), None)).astype("Int64")
        elif kind == "float":
            out[col] = pd.to_numeric(s.astype(object).where(s.notna(), None)).astype("float64")
        elif kind == "datetime":
            out[col] = pd.to_datetime(s.astype(object).where(s.notna(), None))
        else:
            out[col] = s.astype(object).where(s.notna(), None).astype("string")
    return pd.DataFrame(out, index=rows.index)


KEY_CHARS = 32  # a row key: a 16-byte digest in hex


def key_order(versions: pd.DataFrame) -> np.ndarray:
    """The positions of ``versions`` in the order of their row key, which leads the primary
    key (row_key, valid_from). Inserted so, each row extends that B-tree at its end instead
    of landing on a random page of it (the keys are hashes): a 1M-row table into SQLite
    4.2 -> 1.5 s, a 1M run's first night into PostgreSQL 69 -> 57 s of inserting.

    The order need not be exact (it is for locality, never meaning): the keys' first eight
    characters as one number order them; keys alike there keep their order. Keys that are
    not all text keep the frame's order.

    >>> key_order(pd.DataFrame({"row_key": ["b7", "a9", "b1"]})).tolist()
    [1, 2, 0]
    """
    n = len(versions)
    if "row_key" not in versions or n < 2:
        return np.arange(n)
    try:
        keys = _arrow_text(versions["row_key"])
        if isinstance(keys, pa.Array) and not keys.null_count and pc.all(
                pc.equal(pc.binary_length(keys), KEY_CHARS)).as_py():
            # every key a digest's hex: their first bytes read off Arrow's buffer, no Python string each
            offsets, data = _utf8_rows(keys)
            rows = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(n, KEY_CHARS)
            prefix = rows[:, :8].copy().view(">u8").ravel()
        else:
            raw = versions["row_key"].to_numpy(dtype=object)
            if not all(type(k) is str for k in raw):
                return np.arange(n)
            prefix = np.array(raw, dtype="S8").view(">u8")
        return np.argsort(prefix, kind="stable")
    except Exception:  # noqa: BLE001  (not text, not ASCII: the order is for speed only)
        return np.arange(n)


def in_key_blocks(versions: pd.DataFrame, size: int):
    """``versions`` in blocks of ``size`` rows, in :func:`key_order`: the reordered rows
    are made a block at a time, never a second copy of the whole table."""
    order = key_order(versions)
    for start in range(0, len(versions), size):
        yield versions.iloc[order[start:start + size]]


def in_table_order(name: str, frame: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    occurrence = ["occurrence"] if "occurrence" in frame else []
    by = list(dict.fromkeys(ORDER[name] + KEYS[name] + occurrence + (extra or [])))
    return frame.sort_values(by, na_position="first", kind="stable").reset_index(drop=True)


def covers(t, d, strict: bool = False):
    """The versions valid as of ``d`` (``strict``: as of the latest snapshot before ``d``)."""
    if strict:
        return sa.and_(t.c.valid_from < d, sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= d))
    return sa.and_(t.c.valid_from <= d, sa.or_(t.c.valid_to.is_(None), t.c.valid_to > d))


def _holding(versions: pd.DataFrame, as_of: str) -> pd.Series:
    """Which of the versions read back hold on ``as_of`` (``covers``, on a frame)."""
    return (versions["valid_from"] <= as_of) & (versions["valid_to"].isna() | (versions["valid_to"] > as_of))


# A write this large into a table holding nothing near its date (a first run) goes in
# without the secondary indexes, which are built again afterwards in the same transaction:
# SQLite sorts once instead of updating three B-trees a row at a time.
BULK_ROWS = 100_000
# Row keys per IN list when a share of a re-run date looks its new keys up elsewhere.
KEY_BATCH = 1_000


@contextmanager
def _indexes_rebuilt(conn, table: str, bulk: bool):
    """On SQLite, when ``bulk``: drop ``table``'s secondary indexes for the block, then
    create them again exactly as declared (their DDL as SQLite keeps it)."""
    # only inside an open transaction (the run's row is inserted first): the DDL is then
    # rolled back with the rest if anything fails; outside one, SQLite would commit each
    if not bulk or conn.dialect.name != "sqlite" or not conn.connection.dbapi_connection.in_transaction:
        yield
        return
    indexes = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                   "AND sql IS NOT NULL ORDER BY name", (table,)).fetchall()
    q = conn.dialect.identifier_preparer.quote
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {q(name)}")
    yield
    for _, ddl in indexes:
        conn.exec_driver_sql(ddl)


SNAPSHOTS = sa.Table(
    "history_snapshots", sa.MetaData(),
    sa.Column("table_name", sa.String(64), primary_key=True), sa.Column("as_of", sa.String(10), primary_key=True),
    sa.Column("run_id", sa.String(64)),
)


class History:
    """The history side of :class:`connectors.store.Store` (which brings ``engine`` and
    ``migrate``). Public reads here are wrapped there so database errors name the store."""

    engine: sa.engine.Engine
    _reflected: dict[str, tuple[sa.Table, dict[str, str]]]

    # --- history tables -----------------------------------------------------------------
    def _history(self, name: str) -> tuple[sa.Table, dict[str, str]]:
        """The history table of ``name`` as the migrations left it, and its columns' kinds."""
        name = table_name(name)
        if name not in self._reflected:
            self.migrate()
            t = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
            kinds = {c.name: _kind(c.type) for c in t.columns if c.name not in HISTORY_COLUMNS}
            for c in t.columns:  # as declared, not as reflected (MariaDB: DOUBLE as Decimal, flags as TINYINT)
                if kinds.get(c.name, "text") != "text":
                    c.type = {"bool": sa.Boolean(), "int": sa.Integer(), "float": sa.Double(asdecimal=False),
                              "datetime": sa.DateTime()}[kinds[c.name]]
            self._reflected[name] = (t, kinds)
        return self._reflected[name]

    def _state_select(self, name: str, as_of: str, *, strict: bool = False, counties=None, columns=None):
        """One SELECT of the rows of ``name`` as of ``as_of``, last_seen resolved (only
        ``columns`` when given)."""
        name = table_name(name)
        t, kinds = self._history(name)
        if columns is not None:
            kinds = {c: k for c, k in kinds.items() if c in columns}
        return sa.select(*self._resolved(t, name, kinds, as_of, strict), t.c.occurrence).where(
            covers(t, as_of, strict), *([t.c.county_code.in_(list(counties))] if counties is not None else []))

    @staticmethod
    def _resolved(t, name, kinds, as_of, strict=False):
        cols = []
        for c in kinds:
            if name in SEEN_LEDGERS and c == "last_seen":
                date = SNAPSHOTS.c.as_of < as_of if strict else SNAPSHOTS.c.as_of <= as_of
                snap = (sa.select(sa.func.max(SNAPSHOTS.c.as_of))
                        .where(SNAPSHOTS.c.table_name == name, date).scalar_subquery())
                cols.append(sa.case((t.c.last_seen == SEEN_ON_THE_DATE, snap), else_=t.c.last_seen).label(c))
            else:
                cols.append(t.c[c])
        return cols

    def _frame(self, conn, name: str, stmt, extra: list[str] | None = None) -> pd.DataFrame:
        _, kinds = self._history(name)
        result = conn.execute(stmt)
        # plain tuples: pandas probes a Row object per row (2 exceptions each: seconds a million rows)
        rows = pd.DataFrame.from_records(list(map(tuple, result.fetchall())), columns=list(result.keys()),
                                         coerce_float=False)
        kinds = {c: k for c, k in kinds.items() if c in rows.columns}
        frame = decode(rows, kinds)
        for c in ["occurrence", *(extra or [])]:
            frame[c] = rows[c]
        frame = in_table_order(name, frame, extra)
        return frame.drop(columns="occurrence")

    # --- the as-of queries ------------------------------------------------------------------
    def table_as_of(self, name: str, as_of: str, counties: list[str] | None = None,
                    columns: list[str] | None = None) -> pd.DataFrame:
        """Table ``name`` as a full snapshot of ``as_of`` would hold it (the latest run on or
        before that date): same columns and rows, in the published order. One query.
        ``columns``: only these (monitoring reads a few columns of millions of rows); the
        rows keep the published order, read off its sort columns, which are dropped again
        unless asked for."""
        name = table_name(name)
        wanted = None
        if columns is not None:
            wanted = list(dict.fromkeys(columns))
            columns = list(dict.fromkeys(wanted + ORDER[name] + KEYS[name]))
        with self.engine.connect() as conn:
            frame = self._frame(conn, name, self._state_select(name, as_of, counties=counties, columns=columns))
        return frame if wanted is None else frame[wanted]

    def ledger_as_of(self, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """The discrepancy ledger as of ``as_of``, every stored column. One query."""
        return self.table_as_of(LEDGER, as_of, counties)

    def changes_between(self, name: str, d1: str, d2: str) -> pd.DataFrame:
        """The rows of ``name`` that differ between its states as of ``d1`` and ``d2``: the
        row as of ``d1`` (``side`` "before": changed or removed) and as of ``d2`` ("after":
        changed or added), in the published order. One query.

        Rows are compared as multisets per key: a key's rows of one date and the other that
        are equal pair off whatever their occurrence (a row moved within a repeated key is
        no change), the ones left over are the changes."""
        name = table_name(name)
        t, kinds = self._history(name)
        key = KEYS[name]

        def state(alias: str, d: str):
            v = t.alias(alias)
            same_rows = [v.c[c] for c in key] + [v.c.row_hash] + ([v.c.last_seen] if name in SEEN_LEDGERS else [])
            rank = sa.func.row_number().over(partition_by=same_rows, order_by=v.c.occurrence)
            return sa.select(*self._resolved(v, name, kinds, d), v.c.occurrence, v.c.row_hash,
                             rank.label("_rank")).where(covers(v, d)).subquery(alias)

        sides = []
        for here_d, there_d in ((d1, d2), (d2, d1)):
            here, there = state("here", here_d), state("there", there_d)
            same = [there.c[c].is_not_distinct_from(here.c[c]) for c in key]
            same += [there.c.row_hash == here.c.row_hash, there.c._rank == here.c._rank]
            if name in SEEN_LEDGERS:  # last_seen as each date reads it
                same.append(there.c.last_seen.is_not_distinct_from(here.c.last_seen))
            unchanged = sa.exists(sa.select(sa.literal(1)).select_from(there).where(*same))
            sides.append(sa.select(*[here.c[c] for c in kinds], here.c.occurrence,
                                   sa.literal(len(sides)).label("side")).where(sa.not_(unchanged)))
        with self.engine.connect() as conn:
            frame = self._frame(conn, name, sa.union_all(*sides), extra=["side"])
        frame["side"] = frame["side"].map({0: "before", 1: "after"}).astype("string")
        return frame

    def check_columns(self, name: str, frame: pd.DataFrame) -> None:
        """A snapshot of ``name`` must carry its key and every column the table requires
        (NOT NULL); the columns the table has and the frame lacks are stored as null,
        the frame's columns the table lacks are not stored."""
        t, _ = self._history(name)
        required = dict.fromkeys(KEYS[name] + [c.name for c in t.columns
                                               if not c.nullable and c.name not in HISTORY_COLUMNS])
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ValueError(f"store: table {name}: the snapshot lacks required column(s) {', '.join(missing)}; "
                             f"it has {', '.join(map(str, frame.columns)) or 'none'}")

    def write_snapshot(self, conn, name: str, as_of: str, run_id: str, frame: pd.DataFrame,
                       counties: list[str] | None, share: list[str | None] | None = None,
                       date_stored: bool = False) -> None:
        """Store ``frame`` as the snapshot of ``name`` as of ``as_of`` (with ``counties``:
        those counties' rows, the others carried over), writing only what changed.

        ``share``: ``frame`` is exactly the rows of these counties (None: the rows of no
        county) in a snapshot written a share at a time (a national run): it is compared
        with what the store holds of those counties, and a row that moved county ends in
        its old county's share and starts in its new one's. ``date_stored``: the date was
        stored before (a re-run), so the version holding on it may sit in another county:
        the share's keys with no version holding on the date in its counties are looked
        up by key, and such a version is ended or replaced here, whichever share (or the
        pass over counties gone) comes first."""
        t, kinds = self._history(name)
        if counties is not None:  # rows outside the scope as the store holds them as of the date
            state = self._frame(conn, name, self._state_select(name, as_of))
            kept = state[~state["county_code"].isin(list(counties)).fillna(False).astype(bool)]
            frame = in_table_order(name, pd.concat([kept, frame.reindex(columns=list(kinds))], ignore_index=True))
        new = encode(name, frame, kinds, as_of)
        new["run_id"] = run_id
        nxt = conn.execute(sa.select(sa.func.min(SNAPSHOTS.c.as_of)).where(
            SNAPSHOTS.c.table_name == name, SNAPSHOTS.c.as_of > as_of)).scalar()
        near = [sa.or_(covers(t, as_of), t.c.valid_to == as_of, *([t.c.valid_from == nxt] if nxt else []))]
        if share is not None:
            codes = [c for c in share if c is not None]
            near.append(sa.or_(*([t.c.county_code.in_(codes)] if codes else []),
                               *([t.c.county_code.is_(None)] if None in share else [])))
        narrow = [t.c.row_key, t.c.valid_from, t.c.valid_to, t.c.row_hash] + ([t.c.last_seen] if name in SEEN_LEDGERS else [])
        # text columns only, so the driver's own tuples serve: no SQLAlchemy Row per stored row
        found = conn.execute(sa.select(*narrow).where(*near))
        old = pd.DataFrame.from_records(found.cursor.fetchall() if found.cursor is not None else [],
                                        columns=[c.name for c in narrow], coerce_float=False)
        if share is not None and date_stored:
            elsewhere = new.loc[~new["row_key"].isin(old.loc[_holding(old, as_of), "row_key"]), "row_key"].tolist()
            got = [conn.execute(sa.select(*narrow).where(near[0], t.c.row_key.in_(elsewhere[i:i + KEY_BATCH])))
                   .fetchall() for i in range(0, len(elsewhere), KEY_BATCH)]
            if any(got):
                moved = pd.DataFrame.from_records([tuple(r) for rows in got for r in rows],
                                                  columns=[c.name for c in narrow], coerce_float=False)
                old = pd.concat([old, moved], ignore_index=True).drop_duplicates(["row_key", "valid_from"])
        old["row_hash"] = token(name, old)
        new["token"] = token(name, new)
        covering = _holding(old, as_of)
        ending = old[old["valid_to"] == as_of].set_index("row_key")
        starting = old[old["valid_from"] == nxt].set_index("row_key") if nxt else ending.iloc[:0]
        # a version holding on the date stays when the snapshot has its key with the same
        # token; row keys are unique on both sides (the occurrence is part of the key), so a
        # lookup of positions does what an outer join would, without sorting a million keys
        held = old[covering.to_numpy(dtype=bool)]
        at = positions(held["row_key"], new["row_key"])
        same = at >= 0
        same[same] = held["row_hash"].to_numpy(dtype=object)[same] == new["token"].to_numpy(dtype=object)[at[same]]
        gone = held[~same]  # its version no longer holds from as_of on
        unchanged = np.zeros(len(new), dtype=bool)
        unchanged[at[same]] = True
        shorten = gone[gone["valid_from"] < as_of]
        tail = gone[gone["valid_to"].isna() | (gone["valid_to"] > nxt)] if nxt else gone.iloc[:0]
        deleted = [(k, f) for k, f in zip(gone.loc[gone["valid_from"] == as_of, "row_key"],
                                          gone.loc[gone["valid_from"] == as_of, "valid_from"])]
        # the new rows whose version is new, in the snapshot's order
        # (every row on a first night: the snapshot itself, not a copy of a million rows)
        fresh = new if not unchanged.any() else new.iloc[np.flatnonzero(~unchanged)].copy()
        fresh["valid_from"], fresh["valid_to"] = as_of, nxt
        if len(ending):  # merge with an equal predecessor (none ends on the date but on a re-run of it:
            # the lookup of a million keys in nothing cost a second and a copy of the keys)
            back = (fresh["row_key"].map(ending["row_hash"]) == fresh["token"]).fillna(False).astype(bool)
            merged = fresh.loc[back, "row_key"]
            deleted += list(zip(merged, merged.map(ending["valid_from"])))
            fresh.loc[back, "valid_from"] = fresh.loc[back, "row_key"].map(ending["valid_from"])
        if nxt:  # ... and with an equal successor
            ahead = (fresh["row_key"].map(starting["row_hash"]) == fresh["token"]).fillna(False).astype(bool)
            ahead &= ~fresh["row_key"].isin(tail["row_key"])
            deleted += [(k, nxt) for k in fresh.loc[ahead, "row_key"]]
            fresh.loc[ahead, "valid_to"] = fresh.loc[ahead, "row_key"].map(starting["valid_to"])
        rows = [fresh.drop(columns="token")]
        if len(tail):  # a later snapshot still holds the old version: it resumes there
            keys = tail["row_key"].tolist()
            for start in range(0, len(keys), 500):
                got = conn.execute(sa.select(t).where(covers(t, as_of), t.c.row_key.in_(keys[start:start + 500])))
                piece = pd.DataFrame(got.fetchall(), columns=list(got.keys()))
                piece["valid_from"] = nxt
                rows.append(piece)
        if deleted:
            conn.execute(t.delete().where(t.c.row_key == sa.bindparam("k"), t.c.valid_from == sa.bindparam("f")),
                         [{"k": k, "f": f} for k, f in deleted])
        if len(shorten):
            conn.execute(t.update().where(t.c.row_key == sa.bindparam("k"), t.c.valid_from == sa.bindparam("f"))
                         .values(valid_to=as_of),
                         [{"k": k, "f": f} for k, f in zip(shorten["row_key"], shorten["valid_from"])])
        columns = [c.name for c in t.columns]
        bulk = share is None and old.empty and sum(map(len, rows)) >= BULK_ROWS
        # the encoded snapshot lives on only in the rows to insert, and each of those goes once
        # inserted: a million rows' versions are not held while SQLite rebuilds the indexes
        # (its sorter and page cache then take up to a few hundred megabytes of their own)
        del new, fresh, old, held, gone
        with _indexes_rebuilt(conn, t.name, bulk):
            while rows:
                part = rows.pop(0)
                if len(part):
                    self._insert(conn, t, part.reindex(columns=columns))
                del part
        conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.table_name == name, SNAPSHOTS.c.as_of == as_of))
        conn.execute(SNAPSHOTS.insert().values(table_name=name, as_of=as_of, run_id=run_id))

    @staticmethod
    def _insert(conn, t: sa.Table, frame: pd.DataFrame) -> None:
        """Bulk, in the open transaction: PostgreSQL's COPY; on SQLite, a big block staged
        from Arrow (``connectors.sqlite_stage``), else plain tuples to the driver's
        executemany (5-10x faster than through SQLAlchemy's parameters); batched
        multi-row VALUES on MariaDB. A batch's columns become Python values a column at a
        time (Arrow's ``to_pylist``), and only one batch is held as Python objects at once."""
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":  # copy_expert is psycopg2's
            _copy_into(conn, t, frame)
            return
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            blocks = (_stage_block(part, t) for part in in_key_blocks(frame, STAGE_BLOCK))
            try:
                if sqlite_stage.insert(conn, t, len(frame), blocks):
                    return
            except (NotStaged, pa.ArrowException, UnicodeEncodeError):  # a lone surrogate Arrow cannot hold ...
                pass
        names = [c.name for c in t.columns]
        q = conn.dialect.identifier_preparer.quote
        sql = (f"INSERT INTO {q(t.name)} ({', '.join(q(c) for c in names)}) "
               f"VALUES ({', '.join('?' * len(names))})")
        for part in in_key_blocks(frame, ROW_BATCH["sqlite" if sqlite else "other"]):
            rows = list(zip(*[_sql_values(part[c.name], isinstance(c.type, sa.DateTime), sqlite) for c in t.columns]))
            if sqlite:
                conn.exec_driver_sql(sql, rows)
            else:
                conn.execute(t.insert(), [dict(zip(names, r)) for r in rows])

    def _ledger(self, stmt) -> pd.DataFrame:
        with self.engine.connect() as conn:
            frame = self._frame(conn, LEDGER, stmt)
        frame = frame[LEDGER_COLUMNS].astype("string")
        if "overdue" in frame:  # a flag, stored as text by some backends
            frame["overdue"] = frame["overdue"].str.lower().map({"true": True, "1": True, "false": False, "0": False}
                                                                ).astype("boolean")
        return frame

    def ledger_before(self, as_of: str, counties: list[str] | None = None) -> pd.DataFrame:
        """The ledger as the latest snapshot before ``as_of`` left it (the base of a run)."""
        return self._ledger(self._state_select(LEDGER, as_of, strict=True, counties=counties))

    def ledger_at(self, as_of: str) -> pd.DataFrame:
        """The ledger a run for ``as_of`` itself stored; empty when no run for that date did."""
        ran = sa.exists(sa.select(sa.literal(1)).where(SNAPSHOTS.c.table_name == LEDGER, SNAPSHOTS.c.as_of == as_of))
        return self._ledger(self._state_select(LEDGER, as_of).where(ran))

    def ledger_history(self) -> pd.DataFrame:
        """Open discrepancies per date in the ledger: the trend analysts follow. One query:
        the open items gained and lost at each snapshot date, summed in order."""
        t, _ = self._history(LEDGER)
        is_open = t.c.status.in_(["new", "open", "reopened"])
        moves = sa.union_all(
            sa.select(t.c.valid_from.label("as_of"), sa.literal(1).label("d")).where(is_open),
            sa.select(t.c.valid_to.label("as_of"), sa.literal(-1).label("d")).where(is_open, t.c.valid_to.is_not(None)),
            sa.select(SNAPSHOTS.c.as_of, sa.literal(0).label("d")).where(SNAPSHOTS.c.table_name == LEDGER),
        ).subquery()
        stmt = (sa.select(moves.c.as_of, sa.func.sum(moves.c.d).label("d"))
                .group_by(moves.c.as_of).order_by(moves.c.as_of))
        with self.engine.connect() as conn:
            f = pd.DataFrame(conn.execute(stmt).fetchall(), columns=["as_of", "d"])
        f["open"] = pd.to_numeric(f["d"]).cumsum().astype("int64")
        return f.loc[f["open"] > 0, ["as_of", "open"]].reset_index(drop=True)


    def snapshot_dates(self, name: str = LEDGER) -> list[str]:
        """The as_of dates a run stored ``name`` for, oldest first."""
        self.migrate()
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(SNAPSHOTS.c.as_of).where(SNAPSHOTS.c.table_name == table_name(name))
                                     .order_by(SNAPSHOTS.c.as_of)).scalars())

    def kept_history(self) -> list[dict]:
        """What ``anju history`` shows of the store: per history table, its snapshot dates
        (how many, the first and the last), its row versions and the rows valid now."""
        self.migrate()
        out = []
        with self.engine.connect() as conn:
            dates = pd.DataFrame(conn.execute(sa.select(SNAPSHOTS.c.table_name, sa.func.count(),
                                                        sa.func.min(SNAPSHOTS.c.as_of), sa.func.max(SNAPSHOTS.c.as_of))
                                              .group_by(SNAPSHOTS.c.table_name)).fetchall(),
                                 columns=["table", "snapshots", "first", "last"]).set_index("table")
            for name in sorted(KEYS):
                t, _ = self._history(name)
                versions = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                current = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.valid_to.is_(None))).scalar()
                row = dates.loc[name] if name in dates.index else None
                out.append({"table": name, "snapshots": int(row["snapshots"]) if row is not None else 0,
                            "first": row["first"] if row is not None else None,
                            "last": row["last"] if row is not None else None,
                            "versions": int(versions), "current_rows": int(current)})
        return out

