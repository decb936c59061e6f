"""The analysts' workbooks: ``report.xlsx`` and the monthly progress sheet (``进度月报.xlsx``, CSV).

Report data comes shaped from ``reconcile.report`` / ``reconcile.progress``; this module only
lays it out. Text a spreadsheet would take for a formula is neutralised (``connectors.cells``,
the one rule).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.cells import neutralise, neutralise_column, neutralise_frame, text_cell, xml_safe
from reconcile.progress import HEADERS_ZH as PROGRESS_HEADERS
from reconcile.report import RULE_NAMES_ZH

SHEET_ROWS = 1_048_575  # one header row + the rest


def _sheet(wb, title: str, frame: pd.DataFrame) -> None:
    """One sheet, streamed (constant memory): frozen header, filter, widths, dates as dates."""
    ws = wb.add_worksheet(title[:31])
    for i, col in enumerate(frame.columns):
        width = max([len(str(col)) * 2] + [len(str(v)) for v in frame.iloc[:200, i].tolist()])
        ws.set_column(i, i, min(max(width + 2, 8), 60))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(frame), 1), max(len(frame.columns) - 1, 0))
    ws.write_row(0, 0, [neutralise(str(c)) for c in frame.columns])
    body = frame.apply(neutralise_column)
    for c in body.columns:
        if pd.api.types.is_datetime64_any_dtype(body[c]):
            body[c] = body[c].dt.to_pydatetime()
    values = body.astype(object).where(body.notna(), None).to_numpy()
    for i, row in enumerate(values, start=1):
        ws.write_row(i, 0, row)


def write_report_xlsx(path: Path, summary: dict[str, pd.DataFrame], rows: pd.DataFrame, rule_col: str = "规则") -> None:
    """Summary sheet, then one sheet per rule; a rule over Excel's row limit gets more sheets."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False,
                                         "default_date_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("汇总")
    titles = {"by_rule": "按规则 / by rule", "by_county": "按县 / by county", "by_owner": "按责任部门 / by owner",
              "changes": "较上次运行的变化 / changes since the last run"}
    r = 0
    for part, frame in summary.items():
        ws.write_row(r, 0, [titles[part]])
        ws.write_row(r + 1, 0, [neutralise(str(c)) for c in frame.columns])
        for i, row in enumerate(frame.astype(object).to_numpy(), start=r + 2):
            ws.write_row(i, 0, [neutralise(v) if isinstance(v, str) else v for v in row])
        r += len(frame) + 3
    for rule, part in rows.groupby(rule_col, sort=True):
        body = part.drop(columns=[rule_col]).reset_index(drop=True)
        chunks = range(0, max(len(body), 1), SHEET_ROWS)
        for n, start in enumerate(chunks):
            name = RULE_NAMES_ZH.get(rule, rule) + (f"_{n + 1}" if len(chunks) > 1 else "")
            _sheet(wb, name, body.iloc[start:start + SHEET_ROWS])
    wb.close()


def write_progress(folder: Path, progress: pd.DataFrame, as_of: str, unit: str = "省住房和城乡建设厅") -> list[Path]:
    """``progress.parquet``, a CSV, and the sheet a province sends: title, unit, date, totals."""
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    progress.to_parquet(folder / "progress.parquet", index=False)
    zh = progress.rename(columns=PROGRESS_HEADERS)
    neutralise_frame(zh).to_csv(folder / "progress.csv", index=False, encoding="utf-8-sig")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "进度月报"

    def append(values: list) -> None:  # text cells stay text, never a formula; control characters never abort
        ws.append([xml_safe(neutralise(v)) if isinstance(v, str) else v for v in values])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                text_cell(cell, cell.value)

    append([f"建档立卡贫困户等重点对象农村危房改造进度表（截至{as_of}）"])
    append([f"填报单位：{unit}", None, None, f"截至日期：{as_of}"])
    append(list(zh.columns))
    body = zh[zh["层级"] != "national"]
    for r in body.itertuples(index=False, name=None):
        append(list(r))
    total = zh[zh["层级"] == "national"].iloc[0].tolist()
    append(["合计", *total[1:]])
    for col in ("K", "L", "P"):
        for c in ws[col][3:]:
            c.number_format = "0.0%"
    ws.freeze_panes = "A4"
    path = folder / "进度月报.xlsx"
    wb.save(path)
    return [folder / "progress.parquet", folder / "progress.csv", path]
