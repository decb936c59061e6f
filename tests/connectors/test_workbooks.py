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
