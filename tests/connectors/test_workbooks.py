"""The workbooks people open, reopened with openpyxl: named sheets, Chinese headers and labels,
bold frozen filtered headers, widths that fit, real dates and numbers, IDs as text."""
from __future__ import annotations

import unicodedata

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.workbooks import write_progress, write_report_xlsx
from reconcile.report import analyst_view, summary
from schemas.config import load_catalog, load_labels
from tests.reconcile.builders import ID_A, ID_C, RENOVATED, ha, ps, run

LABELS = load_labels()
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def width_of(text) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def column_width(ws, index: int) -> float:
    """The width of column ``index`` (1-based): openpyxl keys a run of equal widths by its first column."""
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= index <= dim.max and dim.customWidth:
            return dim.width
    return 8.43  # Excel's default: no width set


def assert_table_header(ws, row: int):
    """The header of a table at ``row``: bold, frozen under, filtered, each column at least as wide as it."""
    header = [c for c in ws[row] if c.value is not None]
    assert header and all(c.font.b for c in header), ws.title
    assert ws.freeze_panes == f"A{row + 1}", ws.title
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith(f"A{row}:"), ws.title
    for c in header:
        assert column_width(ws, c.column) >= width_of(c.value), (ws.title, c.value)
    return [c.value for c in ws[row]]


@pytest.fixture(scope="module")
def tables():
    bad = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    return run([ps(housing_secured="否", is_dilapidated="是", dilapidation_grade="C级"),
                ps(household_no="H2", householder_id=bad, householder_name="李四"),
                ps(household_no="H3", householder_id=bad, householder_name="李四")],
               [ha(**RENOVATED), ha(archive_no="A2", householder_id=bad, householder_name="李四"),
                ha(archive_no="A3", householder_id=ID_C, householder_name="王五")])


@pytest.fixture(scope="module")
def report(tables, tmp_path_factory):
    d = tables.discrepancies
    statuses = ["new", "open", "reopened", "waived"]
    ledger = d[["discrepancy_id", "rule"]].assign(status=[statuses[i % 4] for i in range(len(d))])
    ledger = pd.concat([ledger, pd.DataFrame({"discrepancy_id": ["gone"], "rule": ["PS_MISSING"],
                                              "status": ["resolved"]})], ignore_index=True)
    path = tmp_path_factory.mktemp("report") / "report.xlsx"
    counts = {"discrepancies_by_rule": d["rule"].value_counts().sort_index().to_dict(),
              "ledger_changes": ledger["status"].value_counts().sort_index().to_dict()}
    write_report_xlsx(path, summary(d, ledger), analyst_view(d), counts=counts, as_of="2020-07-31")
    return openpyxl.load_workbook(path), d, ledger


def _table(ws, title: str) -> list[tuple]:
    """Rows of the titled block of the 汇总 sheet: its header, then rows up to a blank row."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == title)
    out = []
    for r in rows[start + 1:]:
        if all(v is None for v in r):
            break
        out.append(r)
    return out


def test_report_summary_is_chinese_and_counts_what_the_console_prints(report):
    wb, d, ledger = report
    assert wb.sheetnames[0] == "汇总" and "Sheet1" not in wb.sheetnames and "按县" in wb.sheetnames
    ws = wb["汇总"]
    assert "2020-07-31" in ws["A1"].value and ws.merged_cells.ranges
    by_rule = _table(ws, "按规则")
    header = by_rule[0]
    assert header[:4] == ("规则", "严重程度", "责任部门", "问题数")
    assert_table_header(ws, next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "规则"))
    body = [r for r in by_rule[1:] if r[0] != "合计"]
    labels = LABELS["rule"]
    expected = {labels[k]: v for k, v in d["rule"].value_counts().items()}
    assert {r[0]: r[3] for r in body} == expected  # one row per rule, the console's count
    assert by_rule[-1][0] == "合计" and by_rule[-1][3] == len(d)
    assert {r[1] for r in body} <= set(LABELS["severity"].values())
    ranks = [SEVERITY_RANK[next(k for k, v in LABELS["severity"].items() if v == r[1])] for r in body]
    assert ranks == sorted(ranks)
    changes = _table(ws, "台账变化")
    assert changes[0][:2] == ("状态", "数量")
    assert {r[0]: r[1] for r in changes[1:]} == {LABELS["status"][k]: v
                                                 for k, v in ledger["status"].value_counts().items()}
    text = [v for r in ws.iter_rows(values_only=True) for v in r if isinstance(v, str)]
    assert not {"critical", "high", "medium", "low", "both", "ha", "ps", "new", "open", "count", "rule"} & set(text)


def test_report_rule_sheets_by_severity_then_label_with_labels_and_typed_cells(report):
    wb, d, _ = report
    catalog = load_catalog()
    rules = sorted(d["rule"].unique(), key=lambda r: (SEVERITY_RANK[catalog[r].severity], catalog[r].label_zh))
    assert wb.sheetnames[2:] == [catalog[r].label_zh for r in rules]
    for name in wb.sheetnames[2:]:
        ws = wb[name]
        header = assert_table_header(ws, 1)
        col = {h: i for i, h in enumerate(header)}
        rows = list(ws.iter_rows(min_row=2))
        assert {r[col["严重程度"]].value for r in rows} <= set(LABELS["severity"].values())
        assert {r[col["责任部门"]].value for r in rows} <= set(LABELS["owner"].values())
        assert {r[col["状态"]].value for r in rows} <= set(LABELS["status"].values()) | {None}
        # 住房安全有保障, not housing_secured
        assert not any(str(r[col["字段"]].value).isascii() for r in rows if r[col["字段"]].value)
        assert all(r[col["首次发现"]].is_date and r[col["首次发现"]].number_format == "yyyy-mm-dd"
                   for r in rows if r[col["首次发现"]].value is not None)
        for key in ("县代码", "户编号", "档案编号", "问题编号"):
            assert all(isinstance(r[col[key]].value, str) for r in rows if r[col[key]].value is not None)
    ws = wb["按县"]
    header = assert_table_header(ws, 1)
    assert header[:2] == ["县代码", "县名称"] and isinstance(ws["A2"].value, str) and ws["A2"].value == "522425"
    assert all(isinstance(c.value, int) for c in ws[2][2:])


def progress_frame():
    from reconcile.progress import monthly_progress

    ha_frame = pd.DataFrame({"county_code": ["522425", "522222", "520628"], "target_type": ["建档立卡贫困户"] * 3,
                             "guarantee_method": ["农村危房改造"] * 3, "task_source": ["年度计划"] * 3,
                             "task_year": pd.array([2020] * 3, dtype="Int64"),
                             "start_date": [pd.Timestamp("2020-03-01")] * 3, "completion_date": [pd.NaT] * 3,
                             "acceptance_date": [pd.NaT] * 3})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    return monthly_progress(ha_frame, unified, "2020-05-31", "2020-06-30")


def test_progress_workbook_is_an_official_table(tmp_path):
    write_progress(tmp_path, progress_frame(), "2020-05-31", unit="贵州省住房和城乡建设厅")
    wb = openpyxl.load_workbook(tmp_path / "进度月报.xlsx")
    assert wb.sheetnames == ["进度月报"]
    ws = wb["进度月报"]
    title = next(r for r in ws.merged_cells.ranges if r.min_row == 1)
    header = assert_table_header(ws, 3)
    assert title.min_col == 1 and title.max_col == len([h for h in header if h is not None])
    assert ws["A1"].font.b and "2020-05-31" in ws["A1"].value
    assert "填报单位：贵州省住房和城乡建设厅" in ws["A2"].value
    assert any("截至日期：2020-05-31" in str(c.value) for c in ws[2])
    body = list(ws.iter_rows(min_row=4, max_row=ws.max_row))
    assert all(c.border.left.style and c.border.bottom.style for r in [ws[3], *body] for c in r)
    levels = [r[0].value for r in body]
    assert set(levels) <= {"县", "市", "省", "全国", "合计"} and levels.count("合计") == 1 and levels[-1] == "合计"
    assert "全国" not in levels  # one province: its row is the total
    total = body[-1]
    assert total[1].value == "520000" and total[2].value == "贵州省" and total[3].value == 3
    col = {h: i for i, h in enumerate(header)}
    assert all(r[col["开工率"]].number_format.endswith("%") and isinstance(r[col["开工率"]].value, (int, float))
               for r in body)
    assert all(isinstance(r[col["区划代码"]].value, str) for r in body)
    names = {}
    for r in body[:-1]:
        names.setdefault(r[col["区划代码"]].value, set()).add(r[col["名称"]].value)
    assert all(len(v) == 1 for v in names.values())
    cities = [r[col["名称"]].value for r in body if r[0].value == "市"]
    assert len(cities) == len(set(cities)) and "铜仁地区" not in cities  # one row per prefecture
    assert ws.page_setup.orientation == "landscape"


def test_progress_with_two_provinces_has_province_rows_and_one_national_total(tmp_path):
    from reconcile.progress import monthly_progress

    ha_frame = pd.DataFrame({"county_code": ["522425", "530102"], "target_type": ["建档立卡贫困户"] * 2,
                             "guarantee_method": ["农村危房改造"] * 2, "task_source": ["年度计划"] * 2,
                             "task_year": pd.array([2020] * 2, dtype="Int64"),
                             "start_date": [pd.NaT] * 2, "completion_date": [pd.NaT] * 2,
                             "acceptance_date": [pd.NaT] * 2})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    write_progress(tmp_path, monthly_progress(ha_frame, unified, "2020-05-31", "2020-06-30"), "2020-05-31")
    ws = openpyxl.load_workbook(tmp_path / "进度月报.xlsx")["进度月报"]
    levels = [r[0] for r in ws.iter_rows(min_row=4, values_only=True)]
    assert levels.count("省") == 2 and levels.count("合计") == 1 and levels[-1] == "合计"
    last = [c for c in ws[ws.max_row]]
    assert last[2].value == "全国" and last[3].value == 2
    csv = pd.read_csv(tmp_path / "progress.csv", encoding="utf-8-sig", dtype=str)
    assert set(csv["层级"]) <= {"县", "市", "省", "全国"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.from_regex(r"0{0,3}[0-9]{1,20}[Xx]?", fullmatch=True), min_size=1, max_size=5),
       money=st.lists(st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False), min_size=1,
                      max_size=5))
def test_digit_strings_stay_text_with_every_digit_and_money_stays_a_number(tmp_path_factory, ids, money):
    from connectors.native import csv_text, write_xlsx

    n = min(len(ids), len(money))
    frame = pd.DataFrame({"户主证件号码": pd.array(ids[:n], dtype="string"),
                          "补助资金(元)": pd.array([float(m) for m in money[:n]], dtype="Float64")})
    path = tmp_path_factory.mktemp("p") / "a.xlsx"
    write_xlsx(frame, path, title="标题", totals_label=None, sheet="清洗数据", money=["补助资金(元)"])
    rows = list(openpyxl.load_workbook(path)["清洗数据"].iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in rows] == ids[:n]  # text, leading zeros and all 18+ digits kept
    assert [r[1] for r in rows] == pytest.approx([float(m) for m in money[:n]])
    assert csv_text(frame, ["补助资金(元)"])["补助资金(元)"].tolist() == [f"{m:.2f}" for m in money[:n]]


def test_summary_without_the_runs_counts_still_has_one_row_per_rule(tables, tmp_path):
    """DUPLICATE and INVALID_ID are owned per record (ha, ps): still one row each, the console's total."""
    d = tables.discrepancies
    assert d.groupby("rule")["owner"].nunique().max() > 1  # the case that split a rule in two rows
    write_report_xlsx(tmp_path / "r.xlsx", summary(d, d.assign(status="new")), analyst_view(d))
    by_rule = _table(openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"], "按规则")
    body = [r for r in by_rule[1:] if r[0] != "合计"]
    assert {r[0]: r[3] for r in body} == {LABELS["rule"][k]: v for k, v in d["rule"].value_counts().items()}


def test_report_workbook_has_the_ledgers_people_and_the_alerts(tmp_path):
    """Issues 18 and 19: per-rule rows carry 责任单位, 责任人, 整改时限, 是否逾期 (a hostile
    责任人 stays text); 整改情况 per county with 整改完成率 as a percentage; the waived
    items apart; alerts by kind and county, and every alert, with Chinese labels."""
    from reconcile.report import (alert_kinds_table, alert_sheet_rows, alerts_by_county, rectification_by_county,
                                  report_grid, waived_items, with_people_columns)
    from tests.reconcile.test_report_tables import HOSTILE, alert_frames, grid_discrepancies, people_ledger

    ledger = people_ledger()
    d = grid_discrepancies(ledger).assign(explanation=pd.NA)
    alerts, alert_ledger = alert_frames()
    grid = report_grid(d, ledger, "2020-07-31", alerts=alerts, alert_ledger=alert_ledger)
    path = tmp_path / "report.xlsx"
    write_report_xlsx(path, summary(d, ledger), with_people_columns(analyst_view(d), ledger), as_of="2020-07-31",
                      rectification=rectification_by_county(ledger), waived=waived_items(ledger),
                      alert_kinds=alert_kinds_table(alerts, alert_ledger, "2020-07-31"),
                      alert_counties=alerts_by_county(alerts), alert_rows=alert_sheet_rows(grid))
    wb = openpyxl.load_workbook(path)
    assert {"整改情况", "已核销", "预警汇总", "预警清单"} <= set(wb.sheetnames)
    rows = list(wb["整改情况"].iter_rows(values_only=True))
    header = list(rows[1])
    assert header[:8] == ["县", "问题总数", "未解决", "逾期", "已核销", "已解决", "自报已完成", "整改完成率"]
    zy = next(r for r in rows if r[0] == "522425 织金县")
    assert zy[3] == 1 and zy[7] == 0.5
    rate = next(c for c in wb["整改情况"][3] if c.column == 8)
    assert "%" in rate.number_format
    waived = list(wb["已核销"].iter_rows(values_only=True))
    assert waived[0][0] == "问题编号" and [r[0] for r in waived[1:]] == ["b"] and "不属实" in waived[1]
    kinds = list(wb["预警汇总"].iter_rows(values_only=True))
    assert ("保障状态丢失", "严重", 2, 1, 0, 0) in [r[:6] for r in kinds] and any(r[0] == "522425 织金县" for r in kinds)
    listed = list(wb["预警清单"].iter_rows(values_only=True))
    assert listed[0][:3] == ("预警编号", "状态", "预警类型") and len(listed) == 5
    assert {r[2] for r in listed[1:]} == {"保障状态丢失", "新增农户", "危房等级上升"}
    sheet = wb["保障认定不一致"]  # SECURED_CONFLICT: item a, overdue, with a formula for a 责任人
    head = [c.value for c in sheet[1]]
    assert {"整改责任单位", "责任人", "整改时限", "是否逾期"} <= set(head)
    row = {h: c for h, c in zip(head, sheet[2])}
    assert row["状态"].value == "未解决" and row["是否逾期"].value == "是" and row["整改责任单位"].value == "镇住建所"
    assert row["责任人"].value == "'" + HOSTILE[0] and row["责任人"].data_type == "s"
    waived_row = {h: c.value for h, c in zip(head, wb["重复记录"][2])}
    assert waived_row["状态"] == "已核销"
    cells = [c for ws in wb.worksheets for r in ws.iter_rows() for c in r if isinstance(c.value, str)]
    assert not [c.value for c in cells if c.value.startswith(("=", "@", "+"))]
    assert any(c.value == HOSTILE[1] for c in cells)  # <script> is text in a cell, nothing more


def test_progress_workbook_shows_rectification_and_new_alerts(tmp_path):
    from reconcile.progress import monthly_progress

    ha_frame = pd.DataFrame({"county_code": ["522425"], "target_type": ["建档立卡贫困户"],
                             "guarantee_method": ["农村危房改造"], "task_source": ["年度计划"],
                             "task_year": pd.array([2020], dtype="Int64"), "start_date": [pd.Timestamp("2020-03-01")],
                             "completion_date": [pd.NaT], "acceptance_date": [pd.NaT]})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    ledger = pd.DataFrame({"county_code": ["522425"] * 4, "status": ["open", "resolved", "new", "waived"],
                           "overdue": [True, False, False, False]})
    alert_ledger = pd.DataFrame({"county_code": ["522425"] * 3,
                                 "first_seen": ["2020-07-31", "2020-07-01", "2020-06-30"]})
    frame = monthly_progress(ha_frame, unified, "2020-07-31", "2020-06-30", ledger=ledger, alert_ledger=alert_ledger)
    write_progress(tmp_path, frame, "2020-07-31")
    ws = openpyxl.load_workbook(tmp_path / "进度月报.xlsx")["进度月报"]
    header = [c.value for c in ws[3]]
    assert header[-5:] == ["台账问题数", "已整改", "整改逾期", "整改完成率", "本月新增预警"]
    first = {h: c for h, c in zip(header, ws[4])}
    assert first["层级"].value == "县" and first["台账问题数"].value == 3 and first["已整改"].value == 1
    assert first["整改完成率"].value == round(1 / 3, 4) and "%" in first["整改完成率"].number_format
    assert first["本月新增预警"].value == 2 and first["整改逾期"].value == 1
    csv = pd.read_csv(tmp_path / "progress.csv", dtype=str)
    assert list(csv.columns[-5:]) == header[-5:] and csv.loc[0, "本月新增预警"] == "2"
