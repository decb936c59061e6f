"""The 台账 workbook: written for a county's staff, read back after they filled it in.

Written with xlsxwriter in the house layout (``connectors.sheetstyle``): Chinese headers,
frozen header and key column, the machine's columns locked under sheet protection (the
documented password of ``schemas/ledger_people.yaml``: it prevents slips, it is not
security), the people's columns unlocked, drop-down lists and real dates with Excel data
validation. Every text cell goes through the formula rule (``connectors.cells``). The rows
come shaped, labelled and ID-masked by ``reconcile.ledger_people.book_rows``.

Read with openpyxl, robust to what WPS, LibreOffice and people do to a workbook: the
sheet is found by its 问题编号 header (not its position), columns by their headers (moved
ones too), numbers typed as text and text typed as numbers, dates as real dates, Excel
serials or text (2020-09-30, 2020/9/30, 2020年9月30日), merged cells (the value fills the
whole range), and the apostrophe a neutralised cell carries. A cell that cannot be read
rejects its row, with one :class:`schemas.ledger_people.Reject` naming file, sheet, row
and column.
"""
from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from connectors.cells import FORMULA_START, PREFIX, RICH_START, text_column
from connectors.sheetstyle import Book, text_width
from schemas.config import fold
from schemas.ledger_people import (KEY, PROTECTION_PASSWORD, SHEET, Reject, header_index, header_of,
                                   ledger_columns)

STREAM_ROWS = 200_000  # a county's 台账 with more rows is written row by row (bounded memory)
HEADER_SCAN_ROWS = 30  # a person may put a title or notes above the header
EXCEL_EPOCH = date(1899, 12, 30)
MAX_SERIAL = 2_958_465  # 9999-12-31
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:0{2}(?::0{2})?)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


_BOOK_NAME = re.compile(r"台账_([0-9]{6})")


def book_name(county_code: str) -> str:
    return f"台账_{county_code}.xlsx"


def county_of_book(path, rows: pd.DataFrame) -> str | None:
    """The county a workbook is for: its name as exported (a copy's ``台账_522425 (1).xlsx``
    too), else the one county its 县代码 column holds; None when neither says.

    >>> county_of_book("台账_522425 (1).xlsx", pd.DataFrame())
    '522425'
    >>> county_of_book("填好的.xlsx", pd.DataFrame({"county_code": ["522425", "522425", None]}))
    '522425'
    """
    m = _BOOK_NAME.search(Path(path).name)
    if m:
        return m[1]
    counties = rows["county_code"].dropna().unique().tolist() if "county_code" in rows else []
    return str(counties[0]) if len(counties) == 1 else None


# --- writing -----------------------------------------------------------------------------
def _as_datetime(s: pd.Series) -> list:
    d = pd.to_datetime(s, errors="coerce")
    return [None if pd.isna(v) else v.to_pydatetime() for v in d]


def _as_text(s: pd.Series) -> list:
    if pd.api.types.is_bool_dtype(s) or s.map(lambda v: isinstance(v, bool)).any():
        s = s.map(lambda v: v if not isinstance(v, bool) else ("是" if v else "否"))
    return [None if v is pd.NA or v == "" else v for v in text_column(s.astype("string")).astype(object)]


def write_ledger_book(ledger_rows: pd.DataFrame, path) -> Path:
    """``ledger_rows`` (internal column names, one row per item) as the 台账 workbook at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ledger_columns()
    n = len(ledger_rows)
    # Shared strings (xlsxwriter's default) read back about twice as fast as the inline
    # strings of its constant_memory mode; only a county book past this many rows streams.
    book = Book(path, constant_memory=n > STREAM_ROWS)
    ws = book.sheet(SHEET)
    wb = book.wb
    base = {"font_name": "宋体", "font_size": 10}
    fmt = {(locked, kind): wb.add_format({**base, "locked": locked,
                                          "num_format": "yyyy-mm-dd" if kind == "date" else "@",
                                          **({} if locked else {"bg_color": "#FFF2CC"})})
           for locked in (True, False) for kind in ("text", "date")}
    header = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "align": "center", "valign": "vcenter",
                            "text_wrap": True, "border": 1, "locked": True, "num_format": "@"})
    values = []
    for i, c in enumerate(cols):
        s = ledger_rows[c.name] if c.name in ledger_rows else pd.Series(pd.NA, index=ledger_rows.index)
        kind = "date" if c.kind == "date" else "text"
        v = _as_datetime(s) if kind == "date" else _as_text(s)
        values.append((v, kind, fmt[(c.locked, kind)]))
        sample = [x for x in v[:2000] if x is not None]
        width = max([text_width(c.header) + 2, 12 if kind == "date" else 6]
                    + [text_width(x) for x in sample if isinstance(x, str)])
        ws.set_column(i, i, min(width + 1, 40), fmt[(c.locked, kind)])
    ws.set_row(0, 30)
    for i, c in enumerate(cols):
        ws.write_string(0, i, c.header, header)
    for r in range(n):
        for i, (v, kind, f) in enumerate(values):
            x = v[r]
            if x is None:
                ws.write_blank(r + 1, i, None, f)
            elif kind == "date":
                ws.write_datetime(r + 1, i, x, f)
            else:
                ws.write_string(r + 1, i, x, f)
    last = max(n, 1)
    for i, c in enumerate(cols):
        if c.kind == "list":
            ws.data_validation(1, i, last, i, {"validate": "list", "source": list(c.values),
                                               "error_title": c.header,
                                               "error_message": "请从下拉列表中选择：" + "、".join(c.values)})
        elif c.kind == "date" and not c.locked:
            ws.data_validation(1, i, last, i, {"validate": "date", "criteria": "between",
                                               "minimum": date(2000, 1, 1), "maximum": date(2099, 12, 31),
                                               "error_title": c.header,
                                               "error_message": "请填写日期，例如 2020-09-30"})
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, last, len(cols) - 1)
    ws.protect(PROTECTION_PASSWORD, {"autofilter": True, "sort": True, "format_columns": True,
                                     "format_rows": True, "select_locked_cells": True,
                                     "select_unlocked_cells": True})
    book.close()
    return path


# --- reading -----------------------------------------------------------------------------
class CellError(ValueError):
    """A cell whose value cannot be what its column holds."""


def read_text(v):
    """A cell as text: None for empty; numbers without a spurious ``.0``; the neutraliser's
    apostrophe taken off a value it protected.

    >>> [read_text(v) for v in [None, "  ", 522425.0, 1.5, "'=1+1", " 张三 ", True]]
    [None, None, '522425', '1.5', '=1+1', '张三', '是']
    """
    if v is None:
        return None
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    text = str(v).strip()
    if text.startswith(PREFIX) and text[1:].startswith((*FORMULA_START, RICH_START)):
        text = text[1:]
    return text or None


def read_date(v):
    """A cell as an ISO date, whatever form a spreadsheet or a person gave it.

    >>> [read_date(v) for v in [datetime(2020, 9, 30), 44104, "2020/9/30", "2020年9月30日", "20200930", None]]
    ['2020-09-30', '2020-09-30', '2020-09-30', '2020-09-30', '2020-09-30', None]
    """
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if 1 <= v <= MAX_SERIAL and float(v).is_integer():
            return (EXCEL_EPOCH + timedelta(days=int(v))).isoformat()
        raise CellError(f"「{read_text(v)}」不是日期，请填写如 2020-09-30")
    text = str(v).strip().lstrip(PREFIX).strip()
    m = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if m is None and text.isdigit() and 1 <= int(text) <= MAX_SERIAL and len(text) <= 7:
        return (EXCEL_EPOCH + timedelta(days=int(text))).isoformat()
    try:
        if m is None:
            raise ValueError
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise CellError(f"「{text}」不是日期，请填写如 2020-09-30") from None


def read_list(v, allowed: tuple[str, ...]):
    """A drop-down cell: its text with full-width forms and spaces folded; a value outside
    the list is kept as written (``reconcile.ledger_people.validate_import`` refuses it)."""
    text = read_text(v)
    if text is None:
        return None
    folded = fold(text)
    return folded if folded in allowed else text


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _merged_ranges(archive: zipfile.ZipFile, ws) -> list:
    """The merged ranges of a read-only sheet (openpyxl reads them only in its slower full
    mode): taken from the sheet's XML, where ``<mergeCell ref="F4:F6"/>`` lists each."""
    from openpyxl.worksheet.cell_range import CellRange

    try:
        xml = archive.read(ws._worksheet_path)
    except (KeyError, AttributeError):
        return []
    return [CellRange(ref.decode()) for ref in _MERGE.findall(xml)]


def _grid(ws, merged: list) -> list[list]:
    ws.reset_dimensions()  # a re-saving program may write a wrong dimension: read every row there is
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    for rng in merged:  # the value of a merged range is its top-left cell's
        if rng.min_row - 1 >= len(rows):
            continue
        first = rows[rng.min_row - 1]
        top = first[rng.min_col - 1] if rng.min_col - 1 < len(first) else None
        for r in range(rng.min_row - 1, min(rng.max_row, len(rows))):
            for c in range(rng.min_col - 1, rng.max_col):
                while len(rows[r]) <= c:
                    rows[r].append(None)
                rows[r][c] = top
    return rows


def _header(rows: list[list]) -> tuple[int, dict[int, str]] | None:
    index = header_index()
    key = fold(header_of(KEY))
    for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        folded = [fold(v) if isinstance(v, str) else None for v in row]
        if key in folded:
            names: dict[int, str] = {}
            for c, f in enumerate(folded):
                name = index.get(f) if f else None
                if name and name not in names.values():
                    names[c] = name
            return r, names
    return None


def read_ledger_book(path) -> tuple[pd.DataFrame, list[Reject]]:
    """The people's rows of a 台账 workbook and the cells refused.

    Rows: ``file``, ``sheet``, ``row`` (the sheet's row number), the key, ``county_code``
    when the column is there, and each people's column found (text; dates ISO). A column
    a person deleted is absent (unchanged, not emptied). Empty rows are skipped; a row
    with a refused cell is left out and every refused cell listed.
    """
    import openpyxl

    path = Path(path)
    people = {c.name: c for c in ledger_columns() if not c.locked}
    wanted = [KEY, "county_code", *people]
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)  # read-only: about twice as fast
        archive = zipfile.ZipFile(path)
    except Exception as e:  # not a workbook at all: one line, the file named
        return _empty(wanted), [Reject(path.name, "", None, header_of(KEY), f"无法打开工作簿（{type(e).__name__}）")]
    try:
        for ws in wb.worksheets:
            if not hasattr(ws, "iter_rows"):  # a chart sheet
                continue
            rows = _grid(ws, _merged_ranges(archive, ws))
            found = _header(rows)
            if found is not None:
                return _read_sheet(path.name, ws.title, rows, *found, people)
    finally:
        wb.close()
        archive.close()
    return _empty(wanted), [Reject(path.name, "", None, header_of(KEY),
                                   f"没有哪个工作表有「{header_of(KEY)}」表头，请使用导出的台账工作簿")]


def _empty(columns) -> pd.DataFrame:
    f = pd.DataFrame({c: pd.Series(dtype="string") for c in ["file", "sheet", *columns]})
    f.insert(2, "row", pd.Series(dtype="int64"))
    return f


def _read_sheet(file: str, sheet: str, rows: list[list], header_row: int, names: dict[int, str],
                people: dict) -> tuple[pd.DataFrame, list[Reject]]:
    by_name = {name: c for c, name in names.items()}
    present = [n for n in [KEY, "county_code", *people] if n in by_name]
    out, rejects = [], []
    for r in range(header_row + 1, len(rows)):
        cells = rows[r]
        record, bad = {}, []
        for name in present:
            c = by_name[name]
            v = cells[c] if c < len(cells) else None
            try:
                if name in people and people[name].kind == "date":
                    record[name] = read_date(v)
                elif name in people and people[name].kind == "list":
                    record[name] = read_list(v, people[name].values)
                elif name == KEY and isinstance(v, (int, float)) and not isinstance(v, bool):
                    # an all-digit 问题编号 a spreadsheet turned into a number lost its leading zeros
                    record[name] = read_text(v).zfill(16)
                else:
                    record[name] = read_text(v)
            except CellError as e:
                record[name] = None
                bad.append(Reject(file, sheet, r + 1, header_of(name), str(e)))
        content = any(record.get(n) is not None for n in people) or bad
        if record.get(KEY) is None:
            if content:
                rejects.append(Reject(file, sheet, r + 1, header_of(KEY), "问题编号为空，无法对应台账条目"))
            continue
        if bad:
            rejects.extend(bad)
            continue
        record[KEY] = record[KEY].lower()
        out.append({"file": file, "sheet": sheet, "row": r + 1, **record})
    if KEY not in by_name:  # unreachable: the header row is found by this column
        return _empty(present), rejects
    frame = pd.DataFrame(out, columns=["file", "sheet", "row", *present])
    frame = frame.astype({c: "string" for c in frame.columns if c != "row"}).astype({"row": "int64"})
    return frame, rejects
