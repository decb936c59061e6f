"""How every workbook Anju writes for people looks: one table layout, written with xlsxwriter.

Bold header, frozen under the header, autofilter over the table, columns as wide as their
content (a CJK character counts double: it is two columns wide in Excel and WPS), dates as
real Excel dates shown ``yyyy-mm-dd``, integers as integers, money as numbers with two
decimals, and text as text cells formatted ``@``: an ID number, a household number or a
code is never a number, because Excel keeps 15 significant digits and drops leading
zeros. Text goes through ``connectors.cells`` (the one formula rule) and is written with
``write_string``, so no value from data ever becomes a formula.
"""
from __future__ import annotations

import math
import unicodedata
from datetime import date, datetime

import numpy as np
import pandas as pd

from connectors.cells import text_column, xlsx_text
from connectors.sheet_rows import write_rows

WIDTH_SAMPLE = 2_000  # rows measured per column: enough to fit, constant cost on a million rows
MIN_WIDTH, MAX_WIDTH = 6, 60
DATE_FORMAT = "yyyy-mm-dd"
FORMATS = {"text": "@", "date": DATE_FORMAT, "int": "0", "money": "#,##0.00", "float": "General",
           "percent": "0.0%"}


def text_width(text) -> int:
    """Display width: wide and full-width characters (CJK) count two."""
    text = str(text)
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def kind_of(s: pd.Series) -> str:
    """The column's kind from its dtype (the caller decides dtypes; ``money``/``percent`` are given)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if pd.api.types.is_bool_dtype(s):
        return "text"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_float_dtype(s):
        return "float"
    return "text"


def shown(v, kind: str) -> str:
    """The text a cell shows (for widths; for CSV see ``connectors.native.csv_text``)."""
    if _missing(v):
        return ""
    if isinstance(v, (datetime, date, pd.Timestamp, np.datetime64)):
        return "2020-01-01"
    if kind == "money" and isinstance(v, (int, float, np.number)):
        return f"{float(v):,.2f}"
    if kind == "percent" and isinstance(v, (int, float, np.number)):
        return f"{float(v):.1%}"
    return str(v)


class Book:
    """An xlsxwriter workbook with the house formats. ``constant_memory`` for big tables
    (rows must then be written in order, which every writer here does)."""

    def __init__(self, path, constant_memory: bool = False):
        import xlsxwriter

        self.wb = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory, "strings_to_formulas": False,
                                                  "strings_to_urls": False, "strings_to_numbers": False})
        self.fmt = {}

    def format(self, kind: str, *, bold: bool = False, border: bool = False, header: bool = False, **extra):
        key = (kind, bold, border, header, tuple(sorted(extra.items())))
        if key not in self.fmt:
            props = {"num_format": FORMATS.get(kind, "General"), "font_name": "宋体", "font_size": 10, **extra}
            if bold or header:
                props["bold"] = True
            if border:
                props["border"] = 1
            if header:
                props.update({"bg_color": "#D9E1F2", "align": "center", "valign": "vcenter", "text_wrap": True,
                              "num_format": "@"})
            self.fmt[key] = self.wb.add_format(props)
        return self.fmt[key]

    def sheet(self, name: str):
        return self.wb.add_worksheet(sheet_name(name))

    def close(self) -> None:
        self.wb.close()


def sheet_name(name: str) -> str:
    """A name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    for ch in "[]:*?/\\":
        name = name.replace(ch, "_")
    return name[:31] or "表"


def write_text(ws, row: int, col: int, value: str, fmt=None) -> None:
    ws.write_string(row, col, xlsx_text(str(value)), fmt)


def write_value(ws, row: int, col: int, v, kind: str, fmt, date_fmt) -> None:
    """One cell by its value's type: text stays text (never a formula), numbers and dates typed."""
    if _missing(v):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(v, str):
        write_text(ws, row, col, v, fmt)
    elif isinstance(v, (bool, np.bool_)):
        write_text(ws, row, col, "是" if v else "否", fmt)
    elif isinstance(v, (pd.Timestamp, datetime, date, np.datetime64)):
        ws.write_datetime(row, col, pd.Timestamp(v).to_pydatetime(), date_fmt)
    elif isinstance(v, (int, np.integer)):
        ws.write_number(row, col, int(v), fmt)
    elif isinstance(v, (float, np.floating)):
        f = float(v)
        ws.write_number(row, col, int(f) if kind == "int" and f.is_integer() else f, fmt)
    else:
        write_text(ws, row, col, str(v), fmt)


def _column_writer(ws, s: pd.Series, kind: str, fmt, date_fmt):
    """A column's values ready to write (``None`` for missing) and the one call that writes
    each: whole columns are converted at once, so a million-row sheet is not a million
    type dispatches per column."""
    if kind == "date":
        values = [None if pd.isna(v) else v.to_pydatetime() for v in pd.to_datetime(s)]
        return values, ws.write_datetime, date_fmt
    if kind in ("int", "float", "money", "percent") and pd.api.types.is_numeric_dtype(s):
        as_int = kind == "int"
        values = [None if pd.isna(v) else (int(v) if as_int else float(v)) for v in s.astype(object)]
        return values, ws.write_number, fmt
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        values = [None if v is pd.NA else v for v in text_column(s).astype(object)]
        return values, ws.write_string, fmt
    values = [None if _missing(v) else v for v in s.astype(object)]  # mixed: each value by its type
    return values, lambda r, c, v, f: write_value(ws, r, c, v, kind, f, date_fmt), fmt


def widths(frame: pd.DataFrame, kinds: list[str], extra_rows: list[list] = ()) -> list[float]:
    """Column widths that fit the header and the first rows (CJK double), within bounds."""
    out = []
    head = frame.iloc[:WIDTH_SAMPLE]
    for i, c in enumerate(frame.columns):
        w = text_width(c) + 2  # the filter button sits on the header
        for v in set(head.iloc[:, i].tolist()):  # a column repeats itself: measure each value once
            w = max(w, text_width(shown(v, kinds[i])))
        for r in extra_rows:
            if i < len(r) and r[i] is not None:
                w = max(w, text_width(shown(r[i], kinds[i])))
        out.append(float(min(max(w + 1, MIN_WIDTH), MAX_WIDTH)))
    return out


def _write_cells(ws, frame: pd.DataFrame, row: int, kinds: list[str], cell_fmt: list, date_fmt, border: bool) -> int:
    """The rows of ``frame`` from ``row`` on, cell by cell; returns the next free row."""
    writers = [_column_writer(ws, frame[c], kinds[i], cell_fmt[i], date_fmt) for i, c in enumerate(frame.columns)]
    blank = [(ws.write_blank, fmt) if border else None for fmt in cell_fmt]
    calls = [(write, fmt) for _, write, fmt in writers]
    for values in zip(*[values for values, _, _ in writers]):
        for i, v in enumerate(values):
            if v is None:
                if blank[i] is not None:
                    blank[i][0](row, i, None, blank[i][1])
            else:
                write, fmt = calls[i]
                write(row, i, v, fmt)
        row += 1
    return row


def write_table(book: Book, ws, frame: pd.DataFrame, first_row: int = 0, *, money=(), percent=(),
                border: bool = False, totals: list | None = None, freeze: bool = True,
                autofilter: bool = True, set_widths: bool = True, bulk: bool = True) -> int:
    """``frame`` as a table at ``first_row`` (0-based): header, rows, an optional totals row
    (bold). Returns the next free row. The rows of a streamed (constant_memory) book are
    written a column at a time (``connectors.sheet_rows``): the same bytes as cell by cell
    (``bulk=False``), in a fraction of the time."""
    kinds = ["money" if c in money else "percent" if c in percent else kind_of(frame[c]) for c in frame.columns]
    # text columns carry "@" on the column (what a person types there stays text); the cells
    # themselves need no style then, which halves the writing time of a big sheet
    col_fmt = [book.format(k) if k == "text" else None for k in kinds]
    if set_widths:
        for i, w in enumerate(widths(frame, kinds, [totals] if totals else [])):
            ws.set_column(i, i, w, col_fmt[i])
    header_fmt = book.format("text", header=True, border=border)
    for i, c in enumerate(frame.columns):
        write_text(ws, first_row, i, c, header_fmt)
    cell_fmt = [None if k == "text" and not border else book.format(k, border=border) for k in kinds]
    date_fmt = book.format("date", border=border)
    done = write_rows(ws, frame, first_row + 1, kinds, [date_fmt if k == "date" else f for k, f in zip(kinds, cell_fmt)],
                      cell_fmt if border else [None] * len(kinds)) if bulk else 0
    row = _write_cells(ws, frame.iloc[done:], first_row + 1 + done, kinds, cell_fmt, date_fmt, border)
    last_data = row - 1
    if totals is not None:
        bold = [book.format(k, bold=True, border=border) for k in kinds]
        for i, v in enumerate(totals):
            write_value(ws, row, i, v, kinds[i], bold[i], book.format("date", bold=True, border=border))
        row += 1
    if freeze:
        ws.freeze_panes(first_row + 1, 0)
    if autofilter and len(frame.columns):
        ws.autofilter(first_row, 0, max(last_data, first_row), len(frame.columns) - 1)
    return row
