"""A table's rows straight into a streamed xlsxwriter sheet, a column at a time (issue 20).

xlsxwriter writes a cell in about 7 µs of Python (checks, a row dict, XML escaping), so a
report of 550,000 rows and 23 columns took 80 s, most of it there. In its constant_memory
mode a sheet's rows are XML text appended to a temporary file as the rows are finished;
:func:`write_rows` appends the same text for a whole table, built with Arrow's string
kernels over each column, and leaves the sheet as if each cell had been written one by
one: the same bytes (``tests/connectors/test_sheet_rows.py`` compares every part of the
file with xlsxwriter's own, cell by cell writing), dimensions, styles and their numbering.
The table's last row with cells is left to the caller to write cell by cell: xlsxwriter
keeps that row pending (and numbers its styles) until the sheet's next write or the
book's close, and so it stays.

It covers what the house tables hold: text (already through ``connectors.cells``), whole
and decimal numbers, dates. Anything else (mixed columns, infinities, text past Excel's
limit, custom row heights) is left to the caller whole.
"""
from __future__ import annotations

import re
import sys
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from xlsxwriter.utility import xl_col_to_name

from connectors.cells import text_column

ROWS_PER_BLOCK = 20_000  # rows whose XML is held at once (a few MB), not the whole sheet's
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))]  # xlsxwriter's _xHHHH_ escapes
_ESCAPED = "[\\x00-\\x08\\x0b-\\x1f\\x{fffe}\\x{ffff}]"
MAX_CHARS = 32_767 // 2  # below this no text can pass Excel's 32,767 UTF-16 units (xlsxwriter truncates)


@cache
def _space() -> str:
    """Python's ``\\s`` (xlsxwriter's "keep the spaces" test) as a character class RE2 reads."""
    return "".join(f"\\x{{{c:x}}}" for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c)))


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _replace(text: pa.Array, old: str, new: str) -> pa.Array:
    return pc.replace_substring(text, old, new) if pc.any(pc.match_substring(text, old)).as_py() else text


def _inline_text(text: pa.Array) -> pa.Array:
    """The rest of each text cell as xlsxwriter writes it after ``<c r=".." s=".."`` (null for none)."""
    # as xlsxwriter's _escape_control_characters: the escape's own look-alikes first
    if pc.any(pc.match_substring_regex(text, "_x[0-9a-fA-F]{4}_")).as_py():
        text = pc.replace_substring_regex(text, "(_x[0-9a-fA-F]{4}_)", "_x005F\\1")
    if pc.any(pc.match_substring_regex(text, _ESCAPED)).as_py():  # one pass to learn that none is there
        for ch in _CONTROL:
            text = _replace(text, ch, f"_x{ord(ch):04X}_")
        text = _replace(_replace(text, "\ufffe", "_xFFFE_"), "\uffff", "_xFFFF_")
    keep = pc.or_(pc.match_substring_regex(text, f"^[{_space()}]"), pc.match_substring_regex(text, f"[{_space()}]$"))
    if pc.any(pc.match_substring_regex(text, "[&<>]")).as_py():
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            text = _replace(text, raw, escaped)
    open_t = pc.if_else(keep, _s('<t xml:space="preserve">'), _s("<t>"))
    return pc.binary_join_element_wise(_s(' t="inlineStr"><is>'), open_t, text, _s("</t></is></c>"), _s(""))


def _number_cells(numbers: np.ndarray, na: np.ndarray) -> pa.Array:
    """The rest of each number cell as xlsxwriter writes it (``{:.16G}``; null for none),
    spelled once per distinct value: by bit pattern, so -0.0 stays apart from 0.0."""
    bits = np.where(na, 0, numbers).astype(np.float64).view(np.int64)
    codes, uniques = pd.factorize(bits)
    spelled = pa.array([f"><v>{v:.16G}</v></c>" for v in uniques.view(np.float64).tolist()], type=pa.large_string())
    return spelled.take(pa.array(codes, mask=na))


def _prepared(ws, frame: pd.DataFrame, kinds: list[str]) -> list[tuple[str, object]] | None:
    """Each column as the cells take it, or None when one cannot be written here: text
    (through ``connectors.cells``) as an Arrow array, numbers as float64 (xlsxwriter's
    ``{:.16G}`` spells a whole number through a float too), dates as Excel's day numbers;
    mixed columns, infinities and over-long text are not."""
    out = []
    for i, kind in enumerate(kinds):
        s = frame.iloc[:, i]
        if kind == "date":
            ts = pd.Series(pd.to_datetime(s))
            codes, uniques = pd.factorize(ts)
            days = np.array([ws._convert_date_time(v.to_pydatetime()) for v in pd.Series(uniques)], dtype=np.float64)
            x = np.full(len(codes), np.nan)
            x[codes >= 0] = days[codes[codes >= 0]]
            out.append(("number", x))
        elif kind in ("int", "float", "money", "percent") and pd.api.types.is_numeric_dtype(s):
            x = pd.to_numeric(s).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isinf(x).any():
                return None  # xlsxwriter refuses infinities
            out.append(("number", x))
        elif pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
            text = text_column(s)
            arrow = getattr(text.array, "_pa_array", None)
            text = (pa.chunked_array(arrow).combine_chunks() if arrow is not None
                    else pa.array(text.to_numpy(dtype=object, na_value=None))).cast(pa.large_string())
            if len(text) and (pc.max(pc.utf8_length(text)).as_py() or 0) > MAX_CHARS:
                return None
            out.append(("text", text))
        else:
            return None  # mixed: each value by its type, cell by cell
    return out


def _present(column: tuple[str, object]) -> np.ndarray:
    kind, values = column
    if kind == "text":
        return values.is_valid().to_numpy(zero_copy_only=False)
    return ~np.isnan(values)


def _bodies(column: tuple[str, object], start: int, stop: int) -> pa.Array:
    kind, values = column
    if kind == "text":
        return _inline_text(values.slice(start, stop - start))
    part = values[start:stop]
    return _number_cells(part, np.isnan(part))


def write_rows(ws, frame: pd.DataFrame, first_row: int, kinds: list[str], cell_formats: list,
               blank_formats: list) -> int:
    """Write the rows of ``frame`` placed at ``first_row`` of ``ws``, a constant_memory
    worksheet, as ``write_table``'s cell-by-cell loop would, up to (not including) its last
    row with cells; returns how many of ``frame``'s rows are done (0: none, the table is not
    one this writes). ``cell_formats`` per column (None: the column's own), ``blank_formats``
    the format a missing value is written with (None: nothing written)."""
    if not ws.constant_memory or len(frame) < 2 or not len(frame.columns):
        return 0
    last = first_row + len(frame) - 1
    if (ws.default_row_height != ws.original_row_height or ws.excel_version == 2010 or first_row <= ws.previous_row
            or any(first_row <= r <= last for r in ws.row_info) or last >= ws.xls_rowmax):
        return 0
    columns = _prepared(ws, frame, kinds)
    if columns is None:
        return 0
    present = np.column_stack([_present(c) for c in columns])
    written = present | np.array([f is not None for f in blank_formats])[None, :]
    rows_with_cells = np.flatnonzero(written.any(axis=1))
    if len(rows_with_cells) < 2:
        return 0
    done = int(rows_with_cells[-1])  # the last row with cells stays the caller's (see the module's doc)
    present, written = present[:done], written[:done]
    ws._write_single_row(first_row + int(rows_with_cells[0]))  # what is pending (the header) goes first
    # style numbers as xlsxwriter hands them out, to each format when a cell first uses it
    column_formats = [ws.col_info[i].column_format if i in ws.col_info else None for i in range(len(kinds))]
    firsts = []
    for i in range(len(kinds)):
        for is_value in (True, False):
            cells = written[:, i] & (present[:, i] == is_value)
            if cells.any():
                firsts.append((int(np.argmax(cells)), i, is_value))
    style = {}
    for _, i, is_value in sorted(firsts):
        own = cell_formats[i] if cell_formats[i] is not None else column_formats[i]
        fmt = own if is_value else blank_formats[i]
        style[(i, is_value)] = None if fmt is None else fmt._get_xf_index()
    ws.fh.flush()
    out = ws.fh.buffer
    for start in range(0, done, ROWS_PER_BLOCK):
        stop = min(start + ROWS_PER_BLOCK, done)
        keep = written[start:stop].any(axis=1)
        if not keep.any():
            continue
        numbers = pa.array(np.arange(first_row + 1 + start, first_row + 1 + stop)).cast(pa.large_string())
        cells = []
        for i, column in enumerate(columns):
            open_c = pc.binary_join_element_wise(_s(f'<c r="{xl_col_to_name(i)}'), numbers, _s('"'), _s(""))
            value_attr = f' s="{style[(i, True)]}"' if style.get((i, True)) is not None else ""
            value = pc.binary_join_element_wise(open_c, _s(value_attr), _bodies(column, start, stop), _s(""))
            if (i, False) in style:  # a missing value written as a styled blank
                value = pc.coalesce(value, pc.binary_join_element_wise(open_c, _s(f' s="{style[(i, False)]}"/>'),
                                                                       _s("")))
            cells.append(pc.fill_null(value, _s("")))
        rows = pc.binary_join_element_wise(_s('<row r="'), numbers, _s('">'), *cells, _s("</row>"), _s(""))
        rows = rows.filter(pa.array(keep))
        data = rows.buffers()[2]
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
        out.write(memoryview(data)[offsets[0]:offsets[-1]])
    out.flush()
    used_rows = first_row + rows_with_cells[:-1]
    used_cols = np.flatnonzero(written.any(axis=0))
    ws.dim_rowmin = int(used_rows[0]) if ws.dim_rowmin is None else min(ws.dim_rowmin, int(used_rows[0]))
    ws.dim_rowmax = int(used_rows[-1]) if ws.dim_rowmax is None else max(ws.dim_rowmax, int(used_rows[-1]))
    ws.dim_colmin = int(used_cols[0]) if ws.dim_colmin is None else min(ws.dim_colmin, int(used_cols[0]))
    ws.dim_colmax = int(used_cols[-1]) if ws.dim_colmax is None else max(ws.dim_colmax, int(used_cols[-1]))
    ws.previous_row = int(used_rows[-1])  # written: nothing of it is pending
    return done
