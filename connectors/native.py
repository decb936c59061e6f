"""Writers for the agencies' own layouts: GB18030 CSV and XLSX with a title block.

Used for the agencies' correction packages and by the synthetic-data generator, which
must produce what the real web systems export. A person opens these files in a
spreadsheet: text that would start a formula is neutralised by ``connectors.cells`` (the
one rule, see there), and every text cell of a workbook is a text cell. The workbook's
look (bold frozen filtered header, fitted widths, typed dates and numbers, IDs as text)
is ``connectors.sheetstyle``'s, the same as every other workbook's.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.cells import csv_cells
from connectors.sheetstyle import Book, write_table, write_text

from schemas.defaults import EXCEL_MAX_ROWS  # noqa: E402  (one sheet's rows, re-exported)


def write_csv(frame: pd.DataFrame, path: Path, encoding: str = "gb18030") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = csv_cells(frame)
    text.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")


def csv_text(frame: pd.DataFrame, money=()) -> pd.DataFrame:
    """``frame`` as the text a system import expects: dates ``yyyy-mm-dd``, integers without
    ``.0``, money with two decimals; everything else (IDs, household numbers, codes) as the
    plain text it is, every digit kept."""
    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.dt.strftime("%Y-%m-%d").astype("string")
        elif c in money and pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype("Float64").map(lambda v: f"{v:.2f}", na_action="ignore").astype("string")
        elif pd.api.types.is_integer_dtype(s):
            out[c] = s.astype("Int64").astype("string")
        else:
            out[c] = s.map(_text, na_action="ignore").astype("string") if s.dtype == object else s.astype("string")
    return pd.DataFrame(out, index=frame.index)


def _text(v) -> str:
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def write_xlsx(frame: pd.DataFrame, path: Path, *, title: str | None = None, note: str | None = None,
               totals_label: str | None = "合计", sheet: str = "Sheet1", money=()) -> None:
    """One sheet: an optional title row, an optional note row (填报单位…), the header, the
    rows, and a totals row. Cell values keep their Python type: a date becomes a date cell
    (``yyyy-mm-dd``), a number a number cell (``money`` columns with two decimals),
    everything else a text cell (never a formula, see ``connectors.cells``)."""
    extra = sum(x is not None for x in (title, note, totals_label)) + 1
    if len(frame) + extra > EXCEL_MAX_ROWS:
        raise ValueError(f"{len(frame)} rows do not fit one Excel sheet ({EXCEL_MAX_ROWS} rows); "
                         "write Parquet or CSV instead")
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Book(path, constant_memory=True)
    ws = book.sheet(sheet)
    row = 0
    for line, fmt in ((title, book.format("text", bold=True, font_size=14)), (note, book.format("text"))):
        if line is not None:
            write_text(ws, row, 0, line, fmt)
            row += 1
    totals = [totals_label, f"共{len(frame)}户"] if totals_label is not None else None
    if totals is not None and len(frame.columns) >= 2:
        totals += [None] * (len(frame.columns) - 2)
    write_table(book, ws, frame, row, money=money, totals=totals if totals and len(frame.columns) >= 2 else None)
    if totals is not None and len(frame.columns) < 2:  # a one-column frame: the count goes in that column
        write_text(ws, row + len(frame) + 1, 0, f"{totals_label} 共{len(frame)}户", book.format("text", bold=True))
    book.close()
