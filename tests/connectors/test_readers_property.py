"""Property tests of the file readers: no file breaks them, every row is accounted for.

Invariants, for any bytes under any name:
- ``read_source`` returns a SourceFrame or raises SourceError naming the file; nothing else escapes;
- rows read = rows in the frame + rows rejected, and every data record under the header is in exactly
  one of frame, rejected rows, skipped rows (totals, notes, blank lines) — at the line where it starts;
- row numbers strictly increase;
- no rejected or skipped text holds a full 18-character resident ID.
"""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from connectors import SourceError, read_source
from schemas import load_source_specs
from reconcile.masking import masked_rows
from schemas.gate import full_id_pattern

SPECS = load_source_specs()
SOURCES = ("ps_households", "ps_members", "ha_archive")
FULL_ID = re.compile(full_id_pattern())
BREAKS = re.compile(r"\r\n|\r|\n")
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16")
BOUNDED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])


def header(source: str) -> list[str]:
    """The first alias of every column: the layout the sample exports use."""
    return [c.aliases[0] for c in SPECS[source].columns]


def read(path, source: str):
    """read_source, with the only failure allowed: a SourceError that names the file."""
    try:
        src = read_source(path, SPECS[source])
    except SourceError as e:
        assert path.name in str(e)
        event(f"SourceError: {e.problem[:30]}")
        return None
    event(f"read, {'with' if src.meta['rejected_rows'] else 'no'} rejected rows")
    return src


def check_accounting(src) -> None:
    rows = src.frame["_row"].tolist()
    rejected = [r["row"] for r in src.meta["rejected_rows"]]
    skipped = [r["row"] for r in src.meta["skipped_rows"]]
    assert src.meta["rows_read"] == len(src.frame) + len(rejected)
    assert rows == sorted(set(rows)) and rejected == sorted(set(rejected))
    assert not (set(rows) & set(rejected)) and not (set(rows) & set(skipped)) and not (set(rejected) & set(skipped))
    header_row = src.meta.get("header_row", 0)
    assert all(r > header_row for r in rows + rejected + skipped)
    for r in masked_rows(src.meta["rejected_rows"] + src.meta["skipped_rows"]):  # as the core shows them
        assert not FULL_ID.search(r["text"]), r
        assert not FULL_ID.search(r["reason"]), r


# --- random bytes and random text -------------------------------------------------------------

@BOUNDED
@given(source=st.sampled_from(SOURCES), prefix=st.booleans(), body=st.binary(max_size=3000))
def test_random_bytes_as_csv(tmp_path_factory, source, prefix, body):
    path = tmp_path_factory.mktemp("b") / "x.csv"
    path.write_bytes((",".join(header(source)) + "\n").encode("utf-8") * prefix + body)
    src = read(path, source)
    if src is not None:
        check_accounting(src)


@BOUNDED
@given(source=st.sampled_from(SOURCES), encoding=st.sampled_from(ENCODINGS),
       lines=st.lists(st.text(max_size=80), max_size=30), newline=st.sampled_from(["\n", "\r\n"]))
def test_random_text_in_random_encodings(tmp_path_factory, source, encoding, lines, newline):
    path = tmp_path_factory.mktemp("t") / "x.csv"
    text = newline.join([",".join(header(source)), *lines]) + newline
    data = text.encode(encoding, errors="ignore")
    path.write_bytes(data)
    src = read(path, source)
    if src is None:
        return
    check_accounting(src)
    decoded = data.decode(encoding, errors="strict") if "\x00" not in text else None
    if decoded is not None and src.meta["encoding"].replace(" with BOM", "-sig") == encoding:
        # an independent oracle: where each record starts, by the csv module on the whole text
        reader = csv.reader(io.StringIO(decoded.lstrip("\ufeff"), newline=""), delimiter=src.meta["delimiter"])
        starts, last = [], 0
        for _ in reader:
            starts.append(last + 1)
            last = reader.line_num
        found = src.frame["_row"].tolist() + [r["row"] for r in src.meta["rejected_rows"]]
        assert set(found) <= set(starts)


# --- random cells under a valid header, as CSV and as XLSX --------------------------------------

IDS = ["522425198001010011", "52242519820202002X", "5.22425198001010E+17", "'522425198001010011",
       "身份证522425198001010011有误", "522425800101001"]
CHARS = st.sampled_from(list("aZ09 ,;|\t\"'\n\r\x00=+-@张三李四合计填报单位：\u2028\x85𠀀"))
CELL = st.one_of(st.just(""), st.text(CHARS, max_size=12), st.sampled_from(IDS),
                 st.sampled_from(["=SUM(A1:A2)", "+1", "-1", "@x", "合计", "填报人：张三"]),
                 st.integers(1000, 6000).map(lambda n: "长" * n))


def table(source: str):
    width = len(header(source))
    row = st.lists(CELL, min_size=0, max_size=width + 2)
    return st.lists(row, max_size=8)


def _encodable(cell: str, encoding: str) -> str:
    return cell.encode(encoding, errors="ignore").decode(encoding).lstrip("\ufeff")


@BOUNDED
@given(data=st.data(), source=st.sampled_from(SOURCES), encoding=st.sampled_from(ENCODINGS),
       title=st.booleans(), terminator=st.sampled_from(["\r\n", "\n"]))
def test_random_cells_as_csv(tmp_path_factory, data, source, encoding, title, terminator):
    rows = [[_encodable(c, encoding) for c in r] for r in data.draw(table(source))]
    out = io.StringIO(newline="")
    # with LF line ends the csv writer leaves a lone CR unquoted (a line break to any reader): quote all then
    writer = csv.writer(out, lineterminator=terminator,
                        quoting=csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL)
    if title:
        writer.writerow(["某县农户信息表"])
    writer.writerow(header(source))
    for r in rows:
        writer.writerow(r)
    path = tmp_path_factory.mktemp("c") / "x.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    src = read(path, source)
    if src is None:
        return
    check_accounting(src)
    # where each written record starts: after the title and header, one line plus its cells' line breaks
    starts, line = [], 1 + title
    for r in rows:
        starts.append(line + 1)
        line += 1 + sum(len(BREAKS.findall(c)) for c in r)
    if src.meta["delimiter"] != ",":
        return  # the sniffer was fooled by the cells: the file then reads as what it looks like
    seen = src.frame["_row"].tolist() + [r["row"] for r in src.meta["rejected_rows"] + src.meta["skipped_rows"]]
    assert sorted(seen) == starts
    # what the frame holds is what was written, cell for cell
    names, index = header(source), SPECS[source].alias_index()
    by_start = dict(zip(starts, rows))
    for _, got in src.frame.iterrows():
        written = by_start[got["_row"]] + [""] * len(names)
        for i, name in enumerate(names):
            assert got[index[name]] == written[i], (index[name], got["_row"])


@BOUNDED
@given(data=st.data(), source=st.sampled_from(SOURCES), title=st.booleans())
def test_random_cells_as_xlsx(tmp_path_factory, data, source, title):
    rows = [[ILLEGAL_CHARACTERS_RE.sub("", c)[:32000] for c in r] for r in data.draw(table(source))]
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append(["某县农户档案信息表"])
    ws.append(header(source))
    for r in rows:
        ws.append([c or None for c in r])
    path = tmp_path_factory.mktemp("x") / "x.xlsx"
    wb.save(path)
    src = read(path, source)
    if src is None:
        return
    check_accounting(src)
    first = 1 + title  # the header row
    seen = src.frame["_row"].tolist() + [r["row"] for r in src.meta["skipped_rows"]]
    # a row of empty cells may not be stored in the sheet at all: then there is nothing to account for
    holding = {first + 1 + i for i, r in enumerate(rows) if any(r)}
    assert holding <= set(seen) <= set(range(first + 1, first + 1 + len(rows)))


@pytest.mark.parametrize("source", SOURCES)
def test_sample_layout_reads_clean(sample_dir, source):
    name = {"ha_archive": "ha_archive.xlsx"}.get(source, f"{source}.csv")
    src = read_source(sample_dir / name, SPECS[source])
    check_accounting(src)
    assert src.meta["rejected_rows"] == [] and len(src.frame) > 1000
