"""A streamed sheet's rows written a column at a time are the bytes xlsxwriter writes cell by cell."""
from __future__ import annotations

import zipfile
from datetime import datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import sheet_rows
from connectors.sheetstyle import Book, write_table, write_text
from connectors.workbooks import write_report_xlsx

# what a hostile or odd export cell may hold: XML's specials, xlsxwriter's own escape
# look-alikes, control characters, spaces that need keeping, CJK, rich text's markers
PIECES = ["a", "张", "&", "<", ">", '"', "_x0041_", "_X00e9_", "\x01", "\x0b", "\r", "\n", "\t", " ", "\u3000",
          "\xa0", "\ufffe", "=", "-", "@", "＝", "<r>", "</r>", "<t>", "'", "1", "."]
TEXT = st.one_of(st.none(), st.just(""), st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join))


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:  # core.xml holds the time of writing
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _book(path, frames, bulk, border, widths, title, totals, after=True):
    book = Book(path, constant_memory=True)
    for n, frame in enumerate(frames):
        ws = book.sheet(f"表{n}")
        first = 0
        if title:
            write_text(ws, 0, 0, "标题", book.format("text", bold=True))
            first = 2
        row = write_table(book, ws, frame, first, border=border, set_widths=widths, bulk=bulk,
                          money=("金额",), totals=["合计"] + [None] * (len(frame.columns) - 1) if totals else None)
        if after:  # else the table's last row is pending when the next sheet's formats are numbered
            write_text(ws, row + 1, 0, "之后")
    book.close()


def _frame(rows: list[tuple]) -> pd.DataFrame:
    text, other, num, amount, day = zip(*rows) if rows else ((), (), (), (), ())
    return pd.DataFrame({
        "文本": pd.Series(text, dtype="string"),
        "另一列": pd.Series(other, dtype="string"),
        "整数": pd.array(num, dtype="Int64"),
        "金额": pd.Series(amount, dtype="float64"),
        "日期": pd.to_datetime(pd.Series(day, dtype="object")),
    })


ROW = st.tuples(TEXT, TEXT, st.one_of(st.none(), st.integers(-10**15, 10**15)),
                st.one_of(st.sampled_from([np.nan, 0.0, -0.0]), st.floats(-1e12, 1e12, allow_nan=False)),
                st.one_of(st.none(), st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=25), border=st.booleans(), widths=st.booleans(), title=st.booleans(),
       totals=st.booleans(), after=st.booleans())
def test_column_at_a_time_is_byte_for_byte_cell_by_cell(tmp_path, rows, border, widths, title, totals, after):
    frame = _frame(rows)
    # sheets of other columns after it: formats first used in one sheet's last row are numbered
    # when xlsxwriter finally writes that row, which may be after the next sheet's
    frames = [frame, frame[["整数", "金额"]].iloc[::-1], frame.iloc[:3], frame[["日期", "文本"]]]
    _book(tmp_path / "cells.xlsx", frames, False, border, widths, title, totals, after)
    _book(tmp_path / "columns.xlsx", frames, True, border, widths, title, totals, after)
    assert _parts(tmp_path / "columns.xlsx") == _parts(tmp_path / "cells.xlsx")


def test_the_bulk_path_is_the_one_taken(tmp_path, monkeypatch):
    taken = []
    real = sheet_rows.write_rows
    monkeypatch.setattr("connectors.sheetstyle.write_rows", lambda *a: taken.append(real(*a)) or taken[-1])
    frame = _frame([("a", None, 1, 2.5, datetime(2020, 7, 31)), (None, "b", None, np.nan, None)] * 3)
    _book(tmp_path / "b.xlsx", [frame], True, True, True, False, False)
    mixed = pd.DataFrame({"旗": [True, None], "文本": ["x", "y"]})  # a mixed column: cell by cell
    book = Book(tmp_path / "m.xlsx", constant_memory=True)
    write_table(book, book.sheet("m"), mixed)
    book.close()
    assert taken == [5, 0]  # all but the last row; the mixed table cell by cell
    assert [c.value for c in openpyxl.load_workbook(tmp_path / "m.xlsx").active[2]] == ["是", "x"]


EVIL = ('<r><t>x</t></r></is></c><c r="B2"><f>HYPERLINK("http://e.vil","点击")</f><v>0</v></c>'
        '<c r="C2" t="inlineStr"><is><r><t>y</t></r>')
# ends otherwise, until xlsxwriter cuts it to Excel's 32,767 characters: then in </r>
LONG_EVIL = EVIL[:-4] + "y" * (32_767 - len(EVIL)) + "</r>" + "zzz"


@pytest.mark.parametrize("bulk", [True, False])
@pytest.mark.parametrize("evil", [EVIL, LONG_EVIL], ids=["rich", "cut-to-rich"])
def test_a_cell_cannot_add_cells_or_formulas(tmp_path, bulk, evil):
    """xlsxwriter writes text that starts with <r> and ends with </r> as raw XML (rich
    text): unguarded, this one cell put a live HYPERLINK formula into the report."""
    frame = pd.DataFrame({"说明": pd.Series([evil, "普通", "其他"], dtype="string")})
    book = Book(tmp_path / "r.xlsx", constant_memory=True)
    write_table(book, book.sheet("r"), frame, bulk=bulk)
    write_text(book.sheet("t"), 0, 0, evil)
    book.close()
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert [c.value for c in wb["r"]["A"]] == ["说明", ("'" + evil)[:32_767], "普通", "其他"]
    assert wb["t"]["A1"].value == ("'" + evil)[:32_767]


def test_report_workbook_rows_hold_a_hostile_cell_as_text(tmp_path):
    evil = '<r><t>a</t></r></is></c><c r="Z9"><f>1+1</f></c><c r="Y9" t="inlineStr"><is><r><t>b</t></r>'
    rows = pd.DataFrame({"问题编号": ["D1"], "规则": ["id_mismatch"], "扶贫系统值": [evil], "首次发现": [pd.Timestamp("2020-07-31")]})
    write_report_xlsx(tmp_path / "report.xlsx", {}, rows.astype({"问题编号": "string", "扶贫系统值": "string"}),
                      counts={"discrepancies_by_rule": {"id_mismatch": 1}, "ledger_changes": {}})
    with zipfile.ZipFile(tmp_path / "report.xlsx") as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert "'" + evil in values
