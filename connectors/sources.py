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
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from connectors.errors import SourceError
from connectors.headers import TOTALS, HeaderMatch, find_header, is_skippable
from schemas.config import SourceSpec

ENCODINGS = ("utf-8", "gbk", "gb18030")


@dataclass
class SourceFrame:
    frame: pd.DataFrame
    meta: dict = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_encoding(data: bytes, location: str) -> str:
    """The first of UTF-8 (BOM or not), GBK, GB18030 that decodes every byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    errors = []
    for enc in ENCODINGS:
        try:
            data.decode(enc)
            return enc
        except UnicodeDecodeError as e:
            errors.append(e)
    e = errors[-1]
    line = data[: e.start].count(b"\n") + 1
    raise SourceError(location, f"undecodable bytes {data[e.start:e.start + 4]!r} at byte {e.start}", row=line,
                      expected="text in GB18030, GBK, UTF-8 or UTF-8 with BOM")


def _assemble(data: pd.DataFrame, header: HeaderMatch, first_row: int, spec: SourceSpec,
              location: str) -> tuple[pd.DataFrame, list[dict]]:
    """Canonical-named text frame from positional data cells; non-data rows set aside."""
    data = data.reindex(columns=range(len(header.names))).fillna("").astype("string")
    data.index = pd.RangeIndex(first_row, first_row + len(data))
    anchor_col = spec.key or spec.required[0]
    anchor_pos = next(p for p, c in header.mapping.items() if c == anchor_col)
    anchor = data[anchor_pos].str.strip()
    suspect = data.index[(anchor == "") | anchor.str.match(TOTALS.pattern)]
    skipped = []
    for r in suspect:  # few rows: totals, notes, blank lines
        why = is_skippable(data.loc[r].tolist())
        if why:
            skipped.append({"row": int(r), "reason": why, "text": " ".join(x for x in data.loc[r] if x)[:80]})
    data = data.drop(index=[s["row"] for s in skipped])
    out = pd.DataFrame({canon: data[pos] for pos, canon in header.mapping.items()})
    for pos, name in enumerate(header.names):
        if pos not in header.mapping and name.strip():
            out[f"extra:{name.strip()}"] = data[pos]
    out.insert(0, "_row", data.index.astype("int64"))
    return out.reset_index(drop=True), skipped


def read_csv(path: Path, spec: SourceSpec) -> SourceFrame:
    location = str(path)
    data = path.read_bytes()
    if not data.strip():
        raise SourceError(location, "the file is empty", expected="a header row and data rows")
    if b"\x00" in data[:65536]:
        raise SourceError(location, "binary content (NUL bytes), not a CSV text file",
                          expected="a CSV in GB18030, GBK or UTF-8")
    encoding = detect_encoding(data, location)
    head = data[:65536].decode(encoding, errors="ignore")
    del data  # pandas decodes from the file itself: one copy of the rows in memory, not three
    try:
        delimiter = csv.Sniffer().sniff(head.split("\n", 40)[-2] if head.count("\n") > 40 else head,
                                        delimiters=",\t;|").delimiter
    except csv.Error:
        delimiter = ","
    first_lines = list(csv.reader(io.StringIO("\n".join(head.splitlines()[:40])), delimiter=delimiter))
    header = find_header(first_lines, spec, location)
    skip = header.row + 1
    try:
        cells = pd.read_csv(path, encoding=encoding, sep=delimiter, header=None, skiprows=skip, dtype=str,
                            keep_default_na=False, na_filter=False, engine="c", skip_blank_lines=False)
        rejected: list[dict] = []
    except pd.errors.ParserError:
        cells, rejected = _read_ragged(path.read_text(encoding=encoding), delimiter, skip, len(header.names))
    frame, skipped = _assemble(cells, header, skip + 1, spec, location)
    return SourceFrame(frame, {"format": "csv", "encoding": encoding.replace("-sig", " with BOM"),
                               "delimiter": delimiter, "header_row": header.row + 1,
                               "skipped_rows": skipped, "rejected_rows": rejected,
                               "unknown_columns": header.unknown})


def _read_ragged(text: str, delimiter: str, skip: int, width: int) -> tuple[pd.DataFrame, list[dict]]:
    """Slow path for a CSV with rows of the wrong length: those go to quarantine."""
    rows, rejected, index = [], [], []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for i, row in enumerate(reader):
        if i < skip:
            continue
        if len(row) > width and any(row[width:]):
            rejected.append({"row": reader.line_num, "reason": f"{len(row)} fields, header has {width}",
                             "text": delimiter.join(row)[:80]})
            continue
        rows.append(row[:width])
        index.append(i)
    frame = pd.DataFrame(rows, index=index).reset_index(drop=True)
    return frame, rejected


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


def _xlsx_rows(path: Path, location: str):
    import zipfile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise SourceError(location, f"not a readable XLSX workbook ({type(e).__name__}: {e})",
                          expected="an .xlsx file saved by Excel or WPS") from None
    ws = wb.worksheets[0]
    return ws.title, ([_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)), wb


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
    except Exception as e:  # a truncated archive fails while streaming
        raise SourceError(location, f"the workbook is truncated or corrupt ({type(e).__name__})", sheet=sheet,
                          expected="a complete workbook") from None
    finally:
        if wb is not None:
            wb.close()
    if not rows:
        raise SourceError(location, "the sheet is empty", sheet=sheet, expected="a header row and data rows")
    header = find_header(rows, spec, location, sheet)
    first = header.row + 1
    width = max(len(header.names), *(len(r) for r in rows[first:])) if len(rows) > first else len(header.names)
    cells = pd.DataFrame([r + [""] * (width - len(r)) for r in rows[first:]], columns=range(width))
    frame, skipped = _assemble(cells, header, first + 1, spec, location)
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
    cells = pd.DataFrame({i: table.column(n).to_pandas().astype("string").fillna("") for i, n in enumerate(names)})
    frame, skipped = _assemble(cells, header, 1, spec, location)
    return SourceFrame(frame, {"format": "parquet", "skipped_rows": skipped, "rejected_rows": [],
                               "unknown_columns": header.unknown})


READERS = {".csv": read_csv, ".txt": read_csv, ".tsv": read_csv, ".xlsx": read_excel, ".xlsm": read_excel,
           ".xls": read_excel, ".parquet": read_parquet, ".pq": read_parquet}


def read_source(location: str | Path, spec: SourceSpec) -> SourceFrame:
    """Read one export by its file type; metadata says what was found and how."""
    from connectors.sql import is_db_location, read_db

    if is_db_location(str(location)):
        started = time.perf_counter()
        src = read_db(str(location), spec)
        src.meta.update({"location": src.meta.pop("location_display"), "source": spec.name,
                         "rows_read": len(src.frame), "read_seconds": round(time.perf_counter() - started, 3)})
        return src
    path = Path(location)
    if not path.exists():
        raise SourceError(str(location), "no such file", expected="the path of an export file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceError(str(location), f"unknown file type {path.suffix!r}",
                          expected="one of " + ", ".join(sorted(READERS)))
    started = time.perf_counter()
    src = reader(path, spec)
    src.meta.update({"location": str(path.resolve()), "source": spec.name, "rows_read": len(src.frame)
                     + len(src.meta["rejected_rows"]), "sha256": sha256_file(path),
                     "read_seconds": round(time.perf_counter() - started, 3)})
    return src
