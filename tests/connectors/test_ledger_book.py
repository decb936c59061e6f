"""The 台账 workbook: written locked and validated, read back after people and other
spreadsheet programs had it (issue 18)."""
from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors.cells import FORMULA_START, PREFIX
from connectors.ledger_book import book_name, read_ledger_book, write_ledger_book
from schemas.ledger_people import PEOPLE, PROTECTION_PASSWORD, column, header_of, ledger_columns

IDS = ["0123456789abcdef", "00000000000000aa", "fedcba9876543210"]


def vals(s: pd.Series) -> list:
    return s.astype(object).where(s.notna(), None).tolist()


def rows(**people) -> pd.DataFrame:
    base = pd.DataFrame({"discrepancy_id": IDS, "county_code": ["522425"] * 3,
                         "rule": ["住房保障认定不一致", "待人工确认", "农户档案缺失"],
                         "household_no": ["H1", "H2", "=HYPERLINK(\"x\")"], "archive_no": ["A1", "A2", None],
                         "field": ["住房安全有保障", "证件号码,户主姓名", None],
                         "ps_value": ["522425********0017", "是", None], "ha_value": ["否", None, "+1"],
                         "status": ["新发现", "未解决", "重新出现"], "first_seen": ["2020-07-31"] * 3,
                         "overdue": [False, True, False]})
    for name in PEOPLE:
        base[name] = pd.Series(people.get(name, [None] * 3), dtype="string")
    return base


def test_book_is_locked_where_the_machine_writes_and_offers_lists_and_dates(tmp_path):
    path = write_ledger_book(rows(deadline=["2020-09-30", None, None]), tmp_path / book_name("522425"))
    assert path.name == "台账_522425.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers == [c.header for c in ledger_columns()]
    assert ws.protection.sheet and ws.protection.password  # protected, with the documented password
    assert ws.freeze_panes == "B2"
    col = {c.header: i + 1 for i, c in enumerate(ledger_columns())}
    assert ws.cell(2, col["问题编号"]).protection.locked
    assert ws.cell(2, col["扶贫系统值"]).protection.locked
    for name in PEOPLE:
        assert not ws.cell(2, col[header_of(name)]).protection.locked, name
    deadline = ws.cell(2, col["整改时限"])
    assert deadline.is_date and deadline.value == datetime(2020, 9, 30)
    lists = {next(iter(dv.sqref.ranges)).min_col: dv for dv in ws.data_validations.dataValidation if dv.type == "list"}
    for name in ("progress", "verdict", "same_household"):
        dv = lists[col[header_of(name)]]
        assert dv.formula1 == '"' + ",".join(column(name).values) + '"'
    dates = [dv for dv in ws.data_validations.dataValidation if dv.type == "date"]
    assert [next(iter(d.sqref.ranges)).min_col for d in dates] == [col["整改时限"]]
    # every text cell through the formula rule: the hostile household number is text, prefixed
    hostile = ws.cell(4, col["户编号"])
    assert hostile.data_type == "s" and hostile.value == "'=HYPERLINK(\"x\")"
    assert ws.cell(4, col["农户档案值"]).value == "'+1"
    assert ws.cell(3, col["是否逾期"]).value == "是"
    assert PROTECTION_PASSWORD  # documented in schemas/ledger_people.yaml


def test_written_book_reads_back_as_written(tmp_path):
    filled = rows(responsible_unit=["=镇政府", "住建局", None], deadline=["2020-09-30", None, "2021-01-05"],
                  progress=["整改中", None, "已完成"], verdict=[None, "不属实", None], note=[None, "已核实", None],
                  same_household=[None, "是", None])
    back, rejects = read_ledger_book(write_ledger_book(filled, tmp_path / "b.xlsx"))
    assert rejects == []
    assert back["row"].tolist() == [2, 3, 4]
    for name in PEOPLE:
        assert back[name].tolist() == filled[name].tolist(), name
    assert back["discrepancy_id"].tolist() == IDS


def _openpyxl_book(path, header_at=1, first_sheet=None, order=None, cells=None, merged=()):
    """A workbook as another program saved it: written cell by cell with openpyxl."""
    wb = openpyxl.Workbook()
    ws = wb.active
    if first_sheet:
        ws.title = first_sheet
        ws["A1"] = "说明：请填写黄色列"
        ws = wb.create_sheet("台账(1)")
    headers = order or [c.header for c in ledger_columns()]
    for i, h in enumerate(headers):
        ws.cell(header_at, i + 1, h)
    for r, row in enumerate(cells or []):
        for h, v in row.items():
            cell = ws.cell(header_at + 1 + r, headers.index(h) + 1, v)
            if isinstance(v, str):  # typed text, as a person's "=..." typed into a text cell stays
                cell.data_type = "s"
    for rng in merged:
        ws.merge_cells(rng)
    wb.save(path)
    return path


def test_resaved_book_sheet_found_by_header_columns_moved_types_loosened_merged(tmp_path):
    order = ["说明", "整改时限", "责任人", "问题编号", "整改进展", "整改责任单位", "县代码", "是否同一户"]
    cells = [{"问题编号": "0123456789ABCDEF", "整改时限": "2020/9/30", "责任人": 13800000000, "整改进展": " 整改中 ",
              "整改责任单位": "某某镇", "县代码": 522425, "说明": "'=SUM(A1)"},
             {"问题编号": "00000000000000aa", "整改时限": 44104, "责任人": "王五", "是否同一户": "否"},
             {"问题编号": "fedcba9876543210", "整改时限": datetime(2021, 1, 5), "整改进展": "已完成"},
             {"问题编号": 1234567, "整改进展": "未开始"}]  # an all-digit id a spreadsheet made a number
    path = _openpyxl_book(tmp_path / "r.xlsx", header_at=3, first_sheet="填表说明", order=order, cells=cells,
                          merged=["F4:F6"])  # one 整改责任单位 for all three rows
    back, rejects = read_ledger_book(path)
    assert rejects == []
    assert back["sheet"].unique().tolist() == ["台账(1)"]
    assert back["row"].tolist() == [4, 5, 6, 7]
    assert back["discrepancy_id"].tolist() == IDS + ["0000000001234567"]
    assert vals(back["deadline"]) == ["2020-09-30", "2020-09-30", "2021-01-05", None]
    assert vals(back["responsible_person"]) == ["13800000000", "王五", None, None]
    assert vals(back["responsible_unit"]) == ["某某镇"] * 3 + [None]
    assert vals(back["progress"]) == ["整改中", None, "已完成", "未开始"]
    assert back["county_code"].tolist()[0] == "522425"
    assert back["note"].tolist()[0] == "=SUM(A1)"  # the neutraliser's apostrophe taken off
    assert "measures" not in back  # a deleted column: unchanged, not emptied


def test_unreadable_cells_are_rejected_one_line_each_naming_file_sheet_row_column(tmp_path):
    cells = [{"问题编号": IDS[0], "整改时限": "下个月"},
             {"问题编号": None, "责任人": "张三"},
             {"问题编号": IDS[2], "整改时限": "2020-13-45"},
             {"问题编号": IDS[1], "整改时限": "2020-10-01"}]
    back, rejects = read_ledger_book(_openpyxl_book(tmp_path / "bad.xlsx", cells=cells))
    assert back["discrepancy_id"].tolist() == [IDS[1]]
    msgs = [str(r) for r in rejects]
    assert len(msgs) == 3
    assert msgs[0].startswith("bad.xlsx，工作表「Sheet」，第 2 行，列「整改时限」") and "下个月" in msgs[0]
    assert "第 3 行，列「问题编号」" in msgs[1]
    assert "第 4 行，列「整改时限」" in msgs[2]


def test_workbook_without_the_header_and_a_non_workbook_are_refused_with_a_message(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "编号"
    wb.save(tmp_path / "x.xlsx")
    back, rejects = read_ledger_book(tmp_path / "x.xlsx")
    assert back.empty and len(rejects) == 1 and "问题编号" in str(rejects[0])
    (tmp_path / "y.xlsx").write_text("not a zip")
    back, rejects = read_ledger_book(tmp_path / "y.xlsx")
    assert back.empty and "y.xlsx" in str(rejects[0])


# --- property: what a person (or a program) writes is what comes back ---------------------
_plain = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
# text a spreadsheet would take for a formula, often: the neutraliser's apostrophe must come off
_text = st.one_of(_plain, st.builds(lambda head, tail: head + tail, st.sampled_from(FORMULA_START[:4] + FORMULA_START[6:]),
                                    _plain))
_dates = st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31))


def _expected_text(v):
    v = v.strip()
    if v.startswith(PREFIX) and v[1:].startswith(FORMULA_START):
        v = v[1:]
    return v or None


@st.composite
def people_rows(draw):
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        row = {"问题编号": f"{i:016x}"}
        for c in ledger_columns():
            if c.locked:
                continue
            if c.kind == "list":
                row[c.header] = draw(st.one_of(st.none(), st.sampled_from(c.values)))
            elif c.kind == "date":
                row[c.header] = draw(st.one_of(st.none(), _dates))
            else:
                row[c.header] = draw(st.one_of(st.none(), _text, st.integers(-10**12, 10**12)))
        out.append(row)
    return out


def _cell_form(v, form):
    """A date as one of the forms a re-saving program or a person leaves it."""
    if not isinstance(v, date):
        return v
    return {"date": datetime(v.year, v.month, v.day), "serial": (v - date(1899, 12, 30)).days,
            "iso": v.isoformat(), "slash": f"{v.year}/{v.month}/{v.day}",
            "cn": f"{v.year}年{v.month}月{v.day}日"}[form]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people_rows(), st.sampled_from(["date", "serial", "iso", "slash", "cn"]), st.permutations(range(9)))
def test_property_openpyxl_written_values_read_back_equal(tmp_path, data, form, perm):
    headers = ["问题编号"] + [c.header for c in ledger_columns() if not c.locked]
    order = [headers[i] for i in perm]
    cells = [{h: _cell_form(v, form) for h, v in row.items()} for row in data]
    for row in cells:  # a text like "_x0041_" is an OOXML escape to every reader: not a person's text
        for v in row.values():
            assume(not (isinstance(v, str) and "_x" in v))
    back, rejects = read_ledger_book(_openpyxl_book(tmp_path / "p.xlsx", order=order, cells=cells))
    # an all-empty row is skipped only when its key is empty: every row has a key here
    assert rejects == []
    assert back["discrepancy_id"].tolist() == [r["问题编号"] for r in data]
    for c in ledger_columns():
        if c.locked:
            continue
        want = [r[c.header] for r in data]
        if c.kind == "date":
            want = [v.isoformat() if v else None for v in want]
        elif c.kind == "text":
            want = [None if v is None else _expected_text(str(v)) for v in want]
        assert vals(back[c.name]) == want, c.header


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_text, _dates), min_size=1, max_size=5))
def test_property_book_written_by_us_reads_back_equal(tmp_path, values):
    for text, _ in values:
        assume("_x" not in text)
    n = len(values)
    frame = pd.DataFrame({"discrepancy_id": [f"{i:016x}" for i in range(n)],
                          "measures": pd.Series([t for t, _ in values], dtype="string"),
                          "deadline": [d.isoformat() for _, d in values]})
    back, rejects = read_ledger_book(write_ledger_book(frame, tmp_path / "w.xlsx"))
    assert rejects == []
    assert vals(back["measures"]) == \
        [_expected_text(t) for t, _ in values]
    assert back["deadline"].tolist() == [d.isoformat() for _, d in values]


def test_county_officer_round_trip_export_fill_import(tmp_path):
    """Export, fill the workbook with openpyxl as a county officer would, read and check it."""
    from reconcile.ledger_people import (apply_people, book_rows, empty_state, people_events, people_state_after,
                                         validate_import)

    ledger = pd.DataFrame({"discrepancy_id": IDS, "county_code": ["522425", "522425", "522426"],
                           "rule": ["SECURED_CONFLICT", "REVIEW_MATCH", "HA_MISSING"],
                           "household_no": ["H1", "H2", "H3"], "archive_no": ["A1", "A2", None],
                           "field": ["housing_secured", "id,name", None], "status": ["new", "open", "new"],
                           "first_seen": ["2020-07-31"] * 3, "resolved_at": [None] * 3}).astype("string")
    disc = pd.DataFrame({"discrepancy_id": IDS, "ps_value": ["是", None, None], "ha_value": ["否", None, None],
                         "agency": ["both"] * 3, "field": ["housing_secured", "id,name", None]})
    shown = book_rows(apply_people(ledger, empty_state(), "2020-07-31"), disc)
    path = write_ledger_book(shown[shown["county_code"] == "522425"], tmp_path / book_name("522425"))
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    col = {c.value: c.column for c in ws[1]}
    ids = [ws.cell(r, col["问题编号"]).value for r in (2, 3)]
    first = ids.index(IDS[0]) + 2
    ws.cell(first, col["整改责任单位"], "某某镇人民政府")
    ws.cell(first, col["整改时限"], datetime(2020, 8, 15))
    ws.cell(first, col["整改进展"], "整改中")
    ws.cell(5 - first, col["是否同一户"], "是")
    ws.cell(4, col["问题编号"], IDS[2])  # a row pasted from another county's book
    ws.cell(4, col["责任人"], "赵六")
    wb.save(path)
    rows, rejects = read_ledger_book(path)
    assert rejects == []
    accepted, refused = validate_import(rows, ledger, "522425")
    assert [(r.row, r.column) for r in refused] == [(4, "问题编号")]
    events = people_events(accepted, empty_state(), path.name, "sha", "2020-08-01T09:00:00")
    assert sorted(events["field"]) == ["deadline", "progress", "responsible_unit", "same_household"]
    state = people_state_after(empty_state(), accepted, events)
    assert people_events(accepted, state, path.name, "sha", "2020-08-01T09:00:00").empty
    after = apply_people(ledger, state, "2020-08-31").set_index("discrepancy_id")
    assert after.loc[IDS[0], "overdue"] and after.loc[IDS[1], "same_household"] == "是"
