"""File sources: CSV (encoding detected), XLSX/XLS (header row found), Parquet.

Every reader returns a :class:`SourceFrame`: the rows as text under canonical column
names, ``_row`` (the row number a person sees in the file), and metadata for run.json.
Values are never typed here (an ID read as a number is already lost); an ID that Excel
had already turned into a number is kept as the text Excel shows, e.g. ``5.22425E+17``,
so validation can name it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.csv_text import BREAK, EXPECTED, clean, count_breaks, decode_csv, line_offset
from connectors.errors import SourceError
from connectors.headers import find_header
from connectors.source_frame import SourceFrame, assemble, row_text
from schemas.config import SourceSpec


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _head_records(head: str, delimiter: str) -> tuple[list[list[str]], list[int], list[int]]:
    """The first records of the file, with the lines each starts and ends on."""
    rows, starts, ends = [], [], []
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            starts.append(ends[-1] + 1 if ends else 1)
            rows.append(row)
            ends.append(reader.line_num)
            if len(rows) == 40:
                break
    except csv.Error:  # a field over the csv limit in a title line: what was read is the head
        pass
    return rows, starts, ends


def read_csv(path: Path, spec: SourceSpec) -> SourceFrame:
    location = str(path)
    data = path.read_bytes()
    if not data.strip():
        raise SourceError(location, "the file is empty", expected="a header row and data rows")
    dec = decode_csv(data, location)
    text = None if dec.text is None else clean(dec.text)
    head = data[:65536].decode(dec.encoding, errors="ignore") if text is None else text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(head.split("\n", 40)[-2] if head.count("\n") > 40 else head,
                                        delimiters=",\t;|").delimiter
    except Exception:  # csv.Error, or anything the sniffer's regexes trip on in odd text
        delimiter = ","
    first_rows, starts, ends = _head_records(head, delimiter)
    try:
        header = find_header(first_rows, spec, location)
    except SourceError as e:  # the header finder counts records; a person counts lines
        row = starts[e.row - 1] if e.row is not None and e.row <= len(starts) else e.row
        raise SourceError(location, e.problem, row=row, column=e.column, expected=e.expected) from None
    header_end = ends[header.row]
    if text is None:  # the fast path: pandas decodes the file itself, one copy of the rows in memory
        offset = line_offset(data, header_end)
        lines = count_breaks(data) - header_end + (not data.endswith((b"\n", b"\r")) and len(data) > offset)
        del data
        with open(path, "rb") as f:
            f.seek(offset)
            parsed = _parse(f, dec.encoding, delimiter, len(header.names), header_end + 1, lines,
                            lambda: path.read_bytes()[offset:].decode(dec.encoding))
    else:
        offset = line_offset(text, header_end)
        region = text[offset:]
        lines = count_breaks(region) + (bool(region) and not region.endswith(("\n", "\r")))
        parsed = _parse(io.BytesIO(region.encode("utf-8")), "utf-8", delimiter, len(header.names), header_end + 1,
                        lines, lambda: region)
    cells, rows, record_starts, rejected = parsed
    cells, rows, rejected = _reject_bad_lines(cells, rows, record_starts, rejected, dec.bad_lines, header_end)
    frame, skipped = assemble(cells, header, header_end + 1, spec, location, rows=rows)
    _refuse_if_mostly_bad(location, dec, rejected, len(frame))
    return SourceFrame(frame, {"format": "csv", "encoding": dec.reported, "delimiter": delimiter,
                               "header_row": starts[header.row], "skipped_rows": skipped, "rejected_rows": rejected,
                               "unknown_columns": header.unknown})


def _parse(source, encoding: str, delimiter: str, width: int, first_line: int, lines: int, text):
    """Cells of the data records, the line each starts on, every record's start, and rejected records.

    pandas' C parser reads the records; the line of each is the count of line breaks before it,
    which only needs the cells when a quoted field spans lines. Whenever the records and lines
    do not add up exactly, or a record has more fields than the header, the csv module reads
    the text again, record by record (the slow path)."""
    try:
        cells = pd.read_csv(source, encoding=encoding, sep=delimiter, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, engine="c", skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return _read_ragged(text(), delimiter, first_line, width)
    n = len(cells)
    if cells.shape[1] > width and (cells.iloc[:, width:] != "").any(axis=None):
        return _read_ragged(text(), delimiter, first_line, width)
    if n == lines:
        rows = np.arange(first_line, first_line + n, dtype="int64")
        return cells, rows, rows, []
    extra = np.zeros(n, dtype="int64")
    for c in cells.columns:
        extra += cells[c].str.count(BREAK.pattern).to_numpy(dtype="int64")
    rows = first_line + np.concatenate([[0], np.cumsum(1 + extra)[:-1]]).astype("int64") if n else extra
    if n == 0 or rows[-1] + extra[-1] != first_line + lines - 1:
        return _read_ragged(text(), delimiter, first_line, width)
    return cells, rows, rows, []


def _read_ragged(text: str, delimiter: str, first_line: int, width: int):
    """Slow path: the csv module reads record by record; rows of the wrong length go to quarantine."""
    # A cell longer than the csv module's default limit (128 KB) is no reason to stop; the limit is
    # process-wide, so it is only ever raised, never lowered back (threads may be reading too).
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    lines = [m.group() for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)]
    reader = csv.reader(lines, delimiter=delimiter)
    kept, rows, starts, rejected = [], [], [], []
    last = 0
    for row in reader:
        start = first_line + last
        starts.append(start)
        if reader.line_num == len(lines) and reader.line_num - last > 1 and "".join(lines[last:]).count('"') % 2:
            rejected.append({"row": start, "reason": "a quoted field is never closed (runs to the end of the file)",
                             "text": row_text(delimiter.join(row))})
        elif len(row) > width and any(row[width:]):
            rejected.append({"row": start, "reason": f"{len(row)} fields, header has {width}",
                             "text": row_text(delimiter.join(row))})
        else:
            kept.append(row[:width] + [""] * (width - len(row)))
            rows.append(start)
        last = reader.line_num
    cells = pd.DataFrame(kept, columns=range(width)) if kept else pd.DataFrame(columns=range(width))
    return cells, np.array(rows, dtype="int64"), np.array(starts, dtype="int64"), rejected


def _reject_bad_lines(cells, rows, starts, rejected, bad_lines, header_end):
    """The record holding a line with NUL or undecodable bytes goes to quarantine, at the line it starts on."""
    data_bad = {line: v for line, v in bad_lines.items() if line > header_end}
    if not data_bad or len(starts) == 0:
        return cells, rows, rejected
    taken = {r["row"] for r in rejected}
    hit: dict[int, tuple[str, str]] = {}
    for line, (reason, content) in sorted(data_bad.items()):
        i = int(np.searchsorted(starts, line, side="right")) - 1
        if i >= 0 and int(starts[i]) not in taken:
            hit.setdefault(int(starts[i]), (reason, content))
    keep = ~np.isin(rows, list(hit))
    rejected = sorted(rejected + [{"row": r, "reason": why, "text": row_text(content)}
                                  for r, (why, content) in hit.items()], key=lambda r: r["row"])
    return cells[keep].reset_index(drop=True), rows[keep], rejected


def _refuse_if_mostly_bad(location: str, dec, rejected: list[dict], used: int) -> None:
    """A file whose data lines are mostly NUL or undecodable is no text in that encoding: one clear error."""
    bad = [r for r in rejected if "NUL bytes" in r["reason"] or "bytes not valid" in r["reason"]]
    if bad and len(bad) * 2 > used + len(rejected):
        first = bad[0]
        if "NUL" in first["reason"]:
            raise SourceError(location, "binary content (NUL bytes), not a CSV text file", row=first["row"],
                              expected="a CSV in GB18030, GBK, UTF-8 or UTF-16")
        raise SourceError(location, f"undecodable bytes: {first['reason']}", row=first["row"],
                          expected=EXPECTED)


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)):
        if abs(v) >= 1e15:  # more digits than a spreadsheet number keeps: show it as Excel does
            return f"{float(v):.15G}"
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    return str(v)


def _first_sheet_name(path: Path) -> str | None:
    """The first sheet's name from the workbook part, when that part is still readable (for the error)."""
    import zipfile
    from html import unescape

    try:
        with zipfile.ZipFile(path) as z:
            part = z.read("xl/workbook.xml").decode("utf-8", errors="replace")
    except Exception:  # not a zip, or no workbook part: the error names the file alone
        return None
    m = re.search(r"<(?:\w+:)?sheet\b[^>]*?\bname=\"([^\"]*)\"", part)
    return unescape(m.group(1)) if m else None


def _xlsx_rows(path: Path, location: str):
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zip, XML and openpyxl's own errors alike: a damaged file is one clear error
        raise SourceError(location, f"not a readable XLSX workbook ({type(e).__name__}: {e})",
                          sheet=_first_sheet_name(path), expected="an .xlsx file saved by Excel or WPS") from None
    try:
        ws = wb.worksheets[0]
        title = ws.title
    except Exception as e:  # no sheet, or a sheet the workbook lists but does not hold
        wb.close()
        raise SourceError(location, f"not a readable XLSX workbook ({type(e).__name__}: {e})",
                          expected="an .xlsx file with at least one sheet") from None
    return title, ([_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)), wb


def _xls_rows(path: Path, location: str):
    import xlrd

    try:
        book = xlrd.open_workbook(str(path))
    except Exception as e:  # xlrd raises bare XLRDError and struct errors for corrupt files
        raise SourceError(location, f"not a readable XLS workbook ({type(e).__name__}: {e})",
                          expected="a legacy .xls file") from None
    sh = book.sheet_by_index(0)

    def gen():
        for r in range(sh.nrows):
            out = []
            for c in sh.row(r):
                if c.ctype == xlrd.XL_CELL_DATE:
                    out.append(xlrd.xldate_as_datetime(c.value, book.datemode).strftime("%Y-%m-%d"))
                else:
                    out.append(_cell_text(c.value if c.value != "" else None))
            yield out
    return sh.name, gen(), None


def read_excel(path: Path, spec: SourceSpec) -> SourceFrame:
    location = str(path)
    if path.stat().st_size == 0:
        raise SourceError(location, "the file is empty", expected="an Excel workbook")
    sheet, rows, wb = (_xls_rows if path.suffix.lower() == ".xls" else _xlsx_rows)(path, location)
    try:
        rows = list(rows)
    except Exception as e:  # a truncated archive or damaged XML fails while streaming
        raise SourceError(location, f"the workbook is truncated or corrupt ({type(e).__name__}: {e})",
                          sheet=sheet, expected="a complete workbook") from None
    finally:
        if wb is not None:
            try:
                wb.close()
            except Exception:  # closing a damaged archive may fail too; the read has already failed or ended
                pass
    if not rows:
        raise SourceError(location, "the sheet is empty", sheet=sheet, expected="a header row and data rows")
    header = find_header(rows, spec, location, sheet)
    first = header.row + 1
    width = max(len(header.names), *(len(r) for r in rows[first:])) if len(rows) > first else len(header.names)
    cells = pd.DataFrame([r + [""] * (width - len(r)) for r in rows[first:]], columns=range(width))
    frame, skipped = assemble(cells, header, first + 1, spec, location)
    return SourceFrame(frame, {"format": path.suffix.lower().lstrip("."), "sheet": sheet,
                               "header_row": header.row + 1, "header_rows": header.span,
                               "skipped_rows": skipped, "rejected_rows": [], "unknown_columns": header.unknown})


def read_parquet(path: Path, spec: SourceSpec) -> SourceFrame:
    import pyarrow.parquet as pq

    from connectors.headers import map_headers

    location = str(path)
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError variants
        raise SourceError(location, f"not a readable Parquet file ({type(e).__name__}: {e})",
                          expected="a Parquet file") from None
    names = table.column_names
    header = map_headers(names, spec, location)
    try:
        cells = pd.DataFrame({i: table.column(n).to_pandas().astype("string").fillna("")
                              for i, n in enumerate(names)})
    except Exception as e:  # a column of a type with no text form (nested, binary): the file, not a crash
        raise SourceError(location, f"a column cannot be read as text ({type(e).__name__}: {e})",
                          expected="a Parquet file of text or number columns") from None
    frame, skipped = assemble(cells, header, 1, spec, location)
    return SourceFrame(frame, {"format": "parquet", "skipped_rows": skipped, "rejected_rows": [],
                               "unknown_columns": header.unknown})


READERS = {".csv": read_csv, ".txt": read_csv, ".tsv": read_csv, ".xlsx": read_excel, ".xlsm": read_excel,
           ".xls": read_excel, ".parquet": read_parquet, ".pq": read_parquet}


# Sources that may hold no data row at all: a members roster can be empty (no member exported yet)
# and the matching runs without it. PS households and the HA archive are what a run reconciles:
# an export of either with only its header is a failed export, not an empty county.
MAY_BE_EMPTY = frozenset({"ps_members"})


def _refuse_if_empty(src: SourceFrame, spec: SourceSpec, location: str) -> None:
    if len(src.frame) or spec.name in MAY_BE_EMPTY:
        return
    sheet = src.meta.get("sheet")
    rejected = src.meta.get("rejected_rows", [])
    if rejected:
        first = rejected[0]
        raise SourceError(location, f"no data rows under the header that can be used: all {len(rejected)} rejected, "
                          f"the first: {first['reason']}", sheet=sheet, row=first["row"],
                          expected=f"rows of {spec.name} under the header")
    raise SourceError(location, "no data rows under the header", sheet=sheet, row=src.meta.get("header_row"),
                      expected=f"rows of {spec.name} under the header")


def read_source(location: str | Path, spec: SourceSpec) -> SourceFrame:
    """Read one export by its file type; metadata says what was found and how."""
    from connectors.sql import is_db_location, read_db  # SQLAlchemy loads only for a database source

    if is_db_location(str(location)):
        started = time.perf_counter()
        src = read_db(str(location), spec)
        src.meta.update({"location": src.meta.pop("location_display"), "source": spec.name,
                         "rows_read": len(src.frame), "read_seconds": round(time.perf_counter() - started, 3)})
        _refuse_if_empty(src, spec, src.meta["location"])
        return src
    path = Path(location)
    if not path.exists():
        raise SourceError(str(location), "no such file", expected="the path of an export file")
    if path.is_dir():  # a folder of Parquet files, one per county or province (``connectors.datasets``)
        from connectors.datasets import read_dataset

        src = read_dataset(path, spec)
        _refuse_if_empty(src, spec, str(location))
        return src
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceError(str(location), f"unknown file type {path.suffix!r}",
                          expected="one of " + ", ".join(sorted(READERS)))
    started = time.perf_counter()
    src = reader(path, spec)
    _refuse_if_empty(src, spec, str(location))
    src.meta.update({"location": str(path.resolve()), "source": spec.name, "rows_read": len(src.frame)
                     + len(src.meta["rejected_rows"]), "sha256": sha256_file(path),
                     "read_seconds": round(time.perf_counter() - started, 3)})
    return src
