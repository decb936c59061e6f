"""The report files of a run: report.xlsx, report.html, progress.parquet and its sheet."""
from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from connectors.reports import figures, write_report_html
from connectors.workbooks import write_progress, write_report_xlsx
from reconcile import analyst_view, changes_since_last_run, chart_frames, report_grid, summary
from reconcile import (alert_kinds_table, alert_sheet_rows, alerts_by_county, rectification_by_county,
                              waived_items, with_people_columns)
from schemas.run_record import RunRecord

from flows.runtime import die_with_parent


def write_reports(folder: Path, tables: dict[str, pd.DataFrame], ledger: pd.DataFrame, progress: pd.DataFrame,
                  history: pd.DataFrame, run: RunRecord, deadline: str, rows: pd.DataFrame | None = None, *,
                  alerts: pd.DataFrame | None = None, alert_ledger: pd.DataFrame | None = None) -> Future:
    """Write the reports; the workbook (the slow part at a province's scale) is written by a
    second process while the caller stores the run. Wait on the returned future before
    publishing.

    ``ledger`` is this run's ledger snapshot (resolved entries included, the people's
    columns where the 台账 has them); ``history`` the open discrepancies per date over every
    date in the store, this run's included; ``alerts`` and ``alert_ledger`` the run's
    monitoring (issue 19), when it ran: the report's alert sections and rows.
    """
    disc = tables["discrepancies"]
    parts = summary(disc, ledger)
    rows = with_people_columns(analyst_view(disc) if rows is None else rows, ledger)
    grid = report_grid(disc, ledger, run.as_of, alerts=alerts, alert_ledger=alert_ledger)
    people = {"rectification": rectification_by_county(ledger), "waived": waived_items(ledger)}
    if alerts is not None:
        people |= {"alert_kinds": alert_kinds_table(alerts, alert_ledger, run.as_of),
                   "alert_counties": alerts_by_county(alerts)}
    # the worker ends with this process, even one killed with -9 (no orphan writing a workbook)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=die_with_parent)
    # 汇总 shows what the console printed: the run's own counts
    counts = {"discrepancies_by_rule": run.discrepancies_by_rule, "ledger_changes": run.ledger_changes}
    workbook = pool.submit(write_report_xlsx, folder / "report.xlsx", parts, rows, counts=counts, as_of=run.as_of,
                           alert_rows=alert_sheet_rows(grid) if alerts is not None else None, **people)
    pool.shutdown(wait=False)
    write_progress(folder, progress, run.as_of)
    write_report_page(folder / "report.html", tables, ledger, progress, history, run.as_of, deadline,
                      run.exports, grid=grid, sections=people)
    return workbook


EXPORT_NOTES = {"late": "迟到：用前一日的导出", "stale": "过期导出", "unchanged": "与上次读取的完全相同",
                "duplicate": "同日重复导出", "reused": "重跑：复用留存副本"}


def write_report_page(path: Path, tables: dict[str, pd.DataFrame], ledger: pd.DataFrame, progress: pd.DataFrame,
                      history: pd.DataFrame, as_of: str, deadline: str, exports: list[dict] | None = None, *,
                      grid: pd.DataFrame | None = None, sections: dict[str, pd.DataFrame] | None = None) -> None:
    """report.html: every discrepancy of the run (and every one it resolved) in the grid,
    with the alerts when ``grid`` holds them; ``sections``: the 台账 and alert tables."""
    disc, unified = tables["discrepancies"], tables["unified"]
    resolved_now = (ledger["status"] == "resolved") & (ledger["resolved_at"] == as_of)
    headline = {
        "建档立卡贫困户": f"{int(unified['in_ps'].sum()):,}",
        "住房安全有保障": f"{int(unified['housing_secured'].fillna(False).sum()):,}",
        "问题": f"{len(disc):,}",
        # against the latest earlier date (the ledger's own measure: a re-run of the same date
        # says the same); the console and 汇总 count what this run changed
        "新发现（较上一日期）": f"{int((ledger['status'] == 'new').sum()):,}",
        "重新出现（较上一日期）": f"{int((ledger['status'] == 'reopened').sum()):,}",
        "已解决（较上一日期）": f"{int(resolved_now.sum()):,}",
    }
    if "overdue" in ledger and ledger["overdue"].astype("boolean").fillna(False).any():
        headline["逾期未整改"] = f"{int(ledger['overdue'].astype('boolean').fillna(False).sum()):,}"
    if sections and "alert_kinds" in sections:
        headline["动态预警"] = f"{int(sections['alert_kinds']['本次预警数'].iloc[-1]):,}"
    # what a person must know about the exports this run read (late, stale, unchanged, duplicated)
    for f in exports or []:
        key, note = f"导出文件 {f['source']}", EXPORT_NOTES.get(f["kind"], f["kind"])
        headline[key] = f"{headline[key]}；{note}" if key in headline else note
    write_report_html(path, f"安居 Anju 核对报告 {as_of}", headline,
                      figures(chart_frames(disc, progress, history), deadline),
                      report_grid(disc, ledger, as_of) if grid is None else grid,
                      changes_since_last_run(disc, ledger, as_of), **(sections or {}))
