"""The report files of a run: report.xlsx, report.html, progress.parquet and its sheet."""
from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from connectors.reports import figures, write_report_html
from connectors.workbooks import write_progress, write_report_xlsx
from reconcile.report import analyst_view, summary

HTML_ROWS = 20_000  # the page stays light; the workbook and the parquet hold every row
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def write_reports(folder: Path, tables: dict[str, pd.DataFrame], ledger: pd.DataFrame, progress: pd.DataFrame,
                  history: pd.DataFrame, run: dict, deadline: str, rows: pd.DataFrame | None = None) -> Future:
    """Write the reports; the workbook (the slow part at a province's scale) is written by a
    second process while the caller stores the run. Wait on the returned future before
    publishing."""
    disc = tables["discrepancies"]
    parts = summary(disc, ledger)
    rows = analyst_view(disc) if rows is None else rows
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    workbook = pool.submit(write_report_xlsx, folder / "report.xlsx", parts, rows)
    pool.shutdown(wait=False)
    write_progress(folder, progress, run["as_of"])
    top = rows.iloc[disc["severity"].map(SEVERITY_ORDER).argsort(kind="stable")[:HTML_ROWS]]
    unified = tables["unified"]
    headline = {
        "建档立卡贫困户 / registered poor households": f"{int(unified['in_ps'].sum()):,}",
        "住房安全有保障 / housing secured": f"{int(unified['housing_secured'].fillna(False).sum()):,}",
        "问题 / discrepancies": f"{len(disc):,}",
        "新发现 / new": f"{int((ledger['status'] == 'new').sum()):,}",
        "已解决 / resolved": f"{int((ledger['status'] == 'resolved').sum()):,}",
    }
    write_report_html(folder / "report.html", f"安居 Anju 核对报告 {run['as_of']}", headline,
                      figures(parts, progress, history, deadline), top)
    return workbook
