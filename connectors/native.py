"""Writers for the agencies' own layouts: GB18030 CSV and XLSX with a title block.

Used for the agencies' correction packages and by the synthetic-data generator, which
must produce what the real web systems export. A person opens these files in a
spreadsheet: text that would start a formula is neutralised by ``connectors.cells`` (the
one rule, see there), and every text cell of a workbook is a text cell.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from connectors.cells import csv_cells, needs_text_cell, text_cell

EXCEL_MAX_ROWS = 1_048_576


def write_csv(frame: pd.DataFrame, path: Path, encoding: str = "gb18030") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = csv_cells(frame)
    text.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")


def write_xlsx(frame: pd.DataFrame, path: Path, *, title: str | None = None, note: str | None = None,
               totals_label: str | None = "合计", sheet: str = "Sheet1") -> None:
    """One sheet: an optional title row, an optional note row (填报单位…), the header, the
    rows, and a totals row. Cell values keep their Python type: ``datetime`` becomes a
    date cell, ``float``/``int`` a number cell, everything else a text cell (never a
    formula, see ``connectors.cells``)."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    extra = sum(x is not None for x in (title, note, totals_label)) + 1
    if len(frame) + extra > EXCEL_MAX_ROWS:
        raise ValueError(f"{len(frame)} rows do not fit one Excel sheet ({EXCEL_MAX_ROWS} rows); "
                         "write Parquet or CSV instead")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(sheet)

    def text(v) -> WriteOnlyCell:
        return text_cell(WriteOnlyCell(ws), str(v))

    if title is not None:
        ws.append([text(title)])
    if note is not None:
        ws.append([text(note)])
    ws.append([text(c) for c in frame.columns])
    date_cols = {i for i, c in enumerate(frame.columns) if "日期" in str(c)}
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for i, v in enumerate(row):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append(None)
            elif isinstance(v, (datetime, pd.Timestamp)) and i in date_cols:
                c = WriteOnlyCell(ws, value=pd.Timestamp(v).to_pydatetime())
                c.number_format = "yyyy-mm-dd"
                cells.append(c)
            elif isinstance(v, str):
                cells.append(text(v) if needs_text_cell(v) else v)
            else:
                cells.append(v)
        ws.append(cells)
    if totals_label is not None:
        ws.append([text(totals_label), text(f"共{len(frame)}户")])
    wb.save(path)
