"""Analyst reports: the workbook reopened, masking, formula neutralisation, the HTML page in a browser."""
from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from connectors.cells import neutralise
from connectors.workbooks import write_progress, write_report_xlsx
from reconcile.report import analyst_view, summary
from tests.reconcile.builders import ID_A, ha, ps, run


@pytest.fixture(scope="module")
def tables():
    bad = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    return run([ps(householder_name="=HYPERLINK(\"http://x\")", housing_secured="否"),
                ps(household_no="H2", householder_id=bad, householder_name="李四")],
               [ha(householder_name="@SUM(A1)"), ha(archive_no="A2", householder_id=bad, householder_name="李四")])


def test_workbook_sheets_headers_masking_and_formulas(tables, tmp_path):
    d = tables.discrepancies
    rows = analyst_view(d)
    write_report_xlsx(tmp_path / "r.xlsx", summary(d, d.assign(status="new")), rows)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames[0] == "汇总"
    assert {"身份证号无效", "身份信息不一致", "保障认定不一致"} <= set(wb.sheetnames)
    ws = wb["身份证号无效"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["问题编号", "严重程度", "责任部门"] and ws.freeze_panes == "A2" and ws.auto_filter.ref
    values = [str(c.value) for row in wb.worksheets for r in row.iter_rows() for c in r if c.value is not None]
    assert not any(ID_A in v or v.startswith(("=", "@", "+")) for v in values)  # no full ID, no formula
    masked = [v for v in values if "********" in v]
    assert masked and all(len(v) == 18 for v in masked)
    ident = wb["身份信息不一致"]
    cells = [c.value for r in ident.iter_rows(min_row=2) for c in r]
    assert "'=HYPERLINK(\"http://x\")" in cells and "'@SUM(A1)" in cells
    col = header.index("首次发现") + 1
    dates = [r[0] for r in ws.iter_rows(min_row=2, min_col=col, max_col=col) if r[0].value is not None]
    assert dates and all(c.is_date for c in dates)


def test_rule_over_the_sheet_limit_is_split_not_truncated(tmp_path, monkeypatch):
    import connectors.workbooks as workbooks

    monkeypatch.setattr(workbooks, "SHEET_ROWS", 2)
    rows = pd.DataFrame({"规则": ["DUPLICATE"] * 5, "户编号": [f"H{i}" for i in range(5)]})
    write_report_xlsx(tmp_path / "r.xlsx", {"by_rule": pd.DataFrame({"rule": ["DUPLICATE"], "count": [5]})}, rows)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    parts = [n for n in wb.sheetnames if n.startswith("重复记录")]
    assert parts == ["重复记录_1", "重复记录_2", "重复记录_3"]
    assert sum(wb[n].max_row - 1 for n in parts) == 5


def test_neutralise():
    assert [neutralise(v) for v in ["=1+1", "-3", "-3+1", "张三", 5]] == ["'=1+1", "-3", "'-3+1", "张三", 5]


def test_progress_sheet_is_laid_out_as_a_province_sends_it(tmp_path):
    from reconcile.progress import monthly_progress

    ha_frame = pd.DataFrame({"county_code": ["522425"], "target_type": ["建档立卡贫困户"], "guarantee_method": ["农村危房改造"],
                             "task_source": ["年度计划"], "task_year": pd.array([2020], dtype="Int64"),
                             "start_date": [pd.Timestamp("2020-03-01")], "completion_date": [pd.NaT],
                             "acceptance_date": [pd.NaT]})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    files = write_progress(tmp_path, monthly_progress(ha_frame, unified, "2020-05-31", "2020-06-30"), "2020-05-31")
    assert [f.name for f in files] == ["progress.parquet", "progress.csv", "进度月报.xlsx"]
    ws = openpyxl.load_workbook(tmp_path / "进度月报.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    assert "2020-05-31" in rows[0][0] and rows[1][0].startswith("填报单位") and rows[2][0] == "层级"
    assert rows[-1][0] == "合计" and rows[-1][3] == 1  # national totals last


@pytest.mark.slow
def test_report_html_opens_offline_without_errors_or_requests(harness, tmp_path):
    from tests.connectors.browser import load, require_chromium

    require_chromium()
    from datetime import date

    from flows.reconcile_flow import reconcile  # the page a run writes
    from tests.conftest import SAMPLE

    reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ps_members=str(SAMPLE / "ps_members.csv"),
              ha_archive=str(SAMPLE / "ha_archive.xlsx"), as_of=date(2020, 7, 31), out=str(tmp_path))
    page = tmp_path / "2020-07-31" / "report.html"
    shot = Path(os.environ.get("ANJU_SCREENSHOT_DIR", tmp_path)) / "report.png"
    seen = load(page, shot, settle=5.0, evaluate={
        "rows_shown": "anjuGrid.getDataCount('active')",
        "cells": "[...document.querySelectorAll('.tabulator-cell')].map(c => c.textContent).join(' ')"})
    assert seen["errors"] == []
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in seen["requests"]), seen["requests"]
    disc = pd.read_parquet(tmp_path / "2020-07-31" / "discrepancies.parquet")
    assert seen["rows_shown"] == len(disc)  # every discrepancy of the run (this run resolved none)
    assert "EXITED_UNSECURED" not in seen["cells"] and "critical" not in seen["cells"] and "严重" in seen["cells"]
    assert not disc["message"].str.contains(r"[a-z]+_[a-z]+").any()  # Chinese messages name fields in Chinese
    assert shot.stat().st_size > 10_000
    text = page.read_text(encoding="utf-8")
    ids = pd.concat([pd.read_parquet(tmp_path / "2020-07-31" / f"records_{a}.parquet")["householder_id"]
                     for a in ("ps", "ha")])
    ids = ids[ids.str.len() >= 15]
    assert "********" in text  # masked IDs are shown...
    assert not any(i in text for i in ids)  # ...and no full one


def test_report_page_sections_for_the_ledger_and_alerts_keep_hostile_cells_text(tmp_path):
    """Issues 18 and 19: the page has the per-county 台账 table, the waived items apart, the
    alerts by kind and county; a hostile 责任人 or 说明 is text in the grid's JSON and in the
    tables, never markup; without the 台账 or monitoring their sections are simply absent."""
    from connectors.reports import write_report_html
    from reconcile.report import (alert_kinds_table, alerts_by_county, rectification_by_county, report_grid,
                                  waived_items)
    from tests.reconcile.test_report_tables import HOSTILE, alert_frames, grid_discrepancies, people_ledger

    ledger = people_ledger()
    ledger.loc[1, "note"] = "<img src=x onerror=alert(1)>不属实"
    ledger.loc[1, "responsible_person"] = HOSTILE[1]
    alerts, alert_ledger = alert_frames()
    grid = report_grid(grid_discrepancies(ledger), ledger, "2020-07-31", alerts=alerts, alert_ledger=alert_ledger)
    page = tmp_path / "report.html"
    write_report_html(page, "安居 Anju 核对报告 2020-07-31", {"问题": "3"}, [], grid,
                      rectification=rectification_by_county(ledger), waived=waived_items(ledger),
                      alert_kinds=alert_kinds_table(alerts, alert_ledger, "2020-07-31"),
                      alert_counties=alerts_by_county(alerts))
    text = page.read_text(encoding="utf-8")
    for h in ("各县整改情况（台账）", "已核销的问题（共 1 项）", "动态监测预警", "整改完成率", "保障状态丢失", "50.0%"):
        assert h in text, h
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;不属实" in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "data-col='类别' data-value='动态预警'" in text and "data-col='逾期' data-value='是'" in text
    bare = tmp_path / "bare.html"
    write_report_html(bare, "安居 Anju 核对报告 2020-07-31", {"问题": "3"}, [], grid)
    assert "动态监测预警" not in bare.read_text(encoding="utf-8")
