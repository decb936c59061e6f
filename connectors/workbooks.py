"""The analysts' workbooks: ``report.xlsx`` and the monthly progress sheet (``进度月报.xlsx``, CSV).

Report data comes shaped from ``reconcile.report`` / ``reconcile.progress``; this module lays
it out for people: Chinese headers (the progress sheet's from
``schemas/progress_labels.yaml``), codes shown as their labels (``schemas/labels.yaml``, the
catalog's ``label_zh``), the house table layout of ``connectors.sheetstyle`` (bold frozen
filtered header, fitted widths, typed dates and numbers, IDs as text). Codes stay in the
parquet tables. Text a spreadsheet would take for a formula is neutralised
(``connectors.cells``, the one rule).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.cells import neutralise_frame
from connectors.sheetstyle import Book, text_width, write_table, write_text
from schemas.config import load_catalog, load_labels
from schemas.defaults import REPORTING_UNIT
from schemas.field_labels import field_labels
from schemas.regions import county_table
from schemas.report_labels import progress_headers

SHEET_ROWS = 1_048_575  # one header row + the rest
SEVERITY_ORDER = ["critical", "high", "medium", "low"]
STATUS_ORDER = ["new", "open", "resolved", "reopened", "waived"]
# which label table relabels which column of the analyst rows (a label passes unchanged)
ROW_LABELS = {"严重程度": "severity", "责任部门": "owner", "记录所属": "agency", "状态": "status"}
PERCENT = ("开工率", "竣工率", "录入率", "整改完成率")


def _label(kind: str, code) -> str:
    return load_labels()[kind].get(code, code) if isinstance(code, str) else code


def _rule_code(value: str) -> str:
    """A rule's code from its code or its label (the rows may carry either)."""
    catalog = load_catalog()
    if value in catalog:
        return value
    return next((c for c, spec in catalog.items() if spec.label_zh == value), value)


def _map_unique(s: pd.Series, fn) -> pd.Series:
    """``fn`` over a column through its distinct values (a column of codes has a handful)."""
    table = {v: fn(v) for v in s.dropna().unique().tolist()}
    return s.map(table).astype(object).where(s.notna(), None)


def rule_order(rules) -> list[str]:
    """Rule codes by severity (严重 first), then by their Chinese label: how people scan them."""
    catalog = load_catalog()

    def key(code):
        spec = catalog.get(code)
        rank = SEVERITY_ORDER.index(spec.severity) if spec and spec.severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
        return rank, spec.label_zh if spec else code, code

    return sorted(rules, key=key)


def console_counts(summary: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """The counts the CLI prints (``run["discrepancies_by_rule"]``, ``run["ledger_changes"]``),
    rebuilt from the summary frames when the run's own are not passed."""
    by_rule = summary["by_rule"].groupby("rule")["count"].sum() if "by_rule" in summary else pd.Series(dtype=int)
    changes = summary.get("changes", pd.DataFrame({"status": [], "count": []}))
    return {"discrepancies_by_rule": {str(k): int(v) for k, v in by_rule.items()},
            "ledger_changes": {str(k): int(v) for k, v in zip(changes["status"], changes["count"]) if v}}


def _by_rule(summary: dict[str, pd.DataFrame], counts: dict[str, int]) -> pd.DataFrame:
    catalog = load_catalog()
    owners = {}
    if "by_rule" in summary and "owner" in summary["by_rule"]:
        for rule, part in summary["by_rule"].groupby("rule"):
            owners[rule] = "、".join(_label("owner", o) for o in sorted(part["owner"].dropna().unique()))
    rows = []
    for code in rule_order([r for r, n in counts.items()]):
        spec = catalog.get(code)
        rows.append({"规则": spec.label_zh if spec else code,
                     "严重程度": _label("severity", spec.severity) if spec else "",
                     "责任部门": owners.get(code) or (_label("owner", spec.owner) if spec else ""),
                     "问题数": int(counts[code]), "规则代码": code})
    return pd.DataFrame(rows, columns=["规则", "严重程度", "责任部门", "问题数", "规则代码"])


def _summary_sheet(book: Book, summary: dict[str, pd.DataFrame], counts: dict, as_of: str | None) -> None:
    """汇总: the counts the console prints (per rule, the ledger's statuses), then per owner."""
    ws = book.sheet("汇总")
    by_rule = _by_rule(summary, counts["discrepancies_by_rule"])
    changes = counts["ledger_changes"]
    ledger = pd.DataFrame({"状态": [_label("status", s) for s in sorted(changes, key=_status_rank)],
                           "数量": [int(changes[s]) for s in sorted(changes, key=_status_rank)]})
    owner = pd.DataFrame({"责任部门": [], "问题数": []})
    if "by_owner" in summary and len(summary["by_owner"]):
        o = summary["by_owner"]
        owner = pd.DataFrame({"责任部门": [_label("owner", v) for v in o["owner"]], "问题数": o["count"].astype(int)})
    blocks = [("按规则", by_rule), ("台账变化", ledger), ("按责任部门", owner)]
    ncols = max(len(f.columns) for _, f in blocks)
    title = f"安居核对报告 汇总（截至 {as_of}）" if as_of else "安居核对报告 汇总"
    ws.merge_range(0, 0, 0, ncols - 1, title, book.format("text", bold=True, font_size=14, align="center"))
    ws.set_row(0, 24)
    total = ["合计", None, None, int(by_rule["问题数"].sum()), None]
    for i in range(ncols):  # one width per column, fitted to every block
        w = max([text_width(t) for t, _ in blocks if i == 0] + [text_width(f.columns[i]) + 2 for _, f in blocks
                                                                 if i < len(f.columns)]
                + [text_width(v) for _, f in blocks if i < len(f.columns) for v in f.iloc[:, i].astype(str)])
        ws.set_column(i, i, min(max(w + 1, 6), 60))
    row, first = 2, True
    for name, frame in blocks:
        write_text(ws, row, 0, name, book.format("text", bold=True, font_size=12))
        # the per-rule table is the one frozen and filtered: it is what people sort
        row = write_table(book, ws, frame, row + 1, border=True, totals=total if first else None, freeze=first,
                          autofilter=first, set_widths=False) + 1
        first = False


def _status_rank(status: str) -> tuple:
    return (STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER), status)


def _county_sheet(book: Book, summary: dict[str, pd.DataFrame]) -> None:
    ws = book.sheet("按县")
    c = summary.get("by_county", pd.DataFrame({"county_code": []}))
    names = county_table()
    frame = pd.DataFrame({"县代码": c["county_code"].astype(str).tolist(),
                          "县名称": [names.get(str(v), "") for v in c["county_code"]]})
    for sev in SEVERITY_ORDER:
        frame[_label("severity", sev)] = (c[sev].astype(int).tolist() if sev in c else [0] * len(c))
    frame["合计"] = frame[[_label("severity", s) for s in SEVERITY_ORDER]].sum(axis=1).astype(int)
    write_table(book, ws, frame, 0, border=True)


def _blocks_sheet(book: Book, name: str, blocks: list[tuple[str, pd.DataFrame]], percent=()) -> None:
    """A sheet of titled tables one under the other (the first frozen and filtered)."""
    ws = book.sheet(name)
    ncols = max(len(f.columns) for _, f in blocks)
    for i in range(ncols):  # one width per column, fitted to every block
        w = max([text_width(f.columns[i]) + 2 for _, f in blocks if i < len(f.columns)]
                + [text_width(v) for _, f in blocks if i < len(f.columns) for v in f.iloc[:200, i].astype(str)])
        ws.set_column(i, i, min(max(w + 1, 8), 60))
    row, first = 0, True
    for title, frame in blocks:
        write_text(ws, row, 0, title, book.format("text", bold=True, font_size=12))
        row = write_table(book, ws, frame, row + 1, border=True, freeze=first, autofilter=first, set_widths=False,
                          percent=percent) + 1
        first = False


def _people_sheets(book: Book, rectification: pd.DataFrame | None, waived: pd.DataFrame | None,
                   alert_kinds: pd.DataFrame | None, alert_counties: pd.DataFrame | None,
                   alert_rows: pd.DataFrame | None) -> None:
    """整改情况 (the 台账 per county, 整改完成率 as a percentage), 已核销 (the waived items,
    apart), 预警汇总 (alerts by kind and by county) and 预警清单 (every alert): each only
    when its table was given (shaped and labelled by ``reconcile.report``)."""
    if rectification is not None:
        _blocks_sheet(book, "整改情况", [("各县整改情况（整改完成率 = 已解决 ÷（问题总数 − 已核销））", rectification)],
                      percent=("整改完成率",))
    if waived is not None:
        write_table(book, book.sheet("已核销"), waived)
    if alert_kinds is not None:
        blocks = [("按预警类型", alert_kinds)]
        if alert_counties is not None and len(alert_counties):
            blocks.append(("按县", alert_counties))
        _blocks_sheet(book, "预警汇总", blocks)
    if alert_rows is not None:
        body = alert_rows.reset_index(drop=True)
        chunks = range(0, max(len(body), 1), SHEET_ROWS)
        for n, start in enumerate(chunks):
            write_table(book, book.sheet("预警清单" + (f"_{n + 1}" if len(chunks) > 1 else "")),
                        body.iloc[start:start + SHEET_ROWS])


def write_report_xlsx(path: Path, summary: dict[str, pd.DataFrame], rows: pd.DataFrame, rule_col: str = "规则", *,
                      counts: dict | None = None, as_of: str | None = None,
                      rectification: pd.DataFrame | None = None, waived: pd.DataFrame | None = None,
                      alert_kinds: pd.DataFrame | None = None, alert_counties: pd.DataFrame | None = None,
                      alert_rows: pd.DataFrame | None = None) -> None:
    """汇总 (the console's counts: ``counts`` is the run's ``discrepancies_by_rule`` and
    ``ledger_changes``, rebuilt from ``summary`` when not given), 按县, the 台账's and the
    alerts' sheets (:func:`_people_sheets`), then one sheet per rule by severity and label;
    a rule over Excel's row limit gets more sheets. ``rows`` may carry the people's columns
    (责任单位, 责任人, 整改时限, 逾期, ...): they are written as they come, as text."""
    book = Book(path, constant_memory=True)
    counts = counts or console_counts(summary)
    _summary_sheet(book, summary, counts, as_of)
    _county_sheet(book, summary)
    _people_sheets(book, rectification, waived, alert_kinds, alert_counties, alert_rows)
    body_all = rows.copy()
    if "字段" in body_all:  # the column under the record's agency's own header (one place: schemas.field_labels)
        agency = body_all["记录所属"] if "记录所属" in body_all else pd.Series("", index=body_all.index)
        body_all["字段"] = field_labels(body_all["字段"], agency).where(body_all["字段"].notna(), None)
    relabel = {col: (lambda v, k=kind: _label(k, v)) for col, kind in ROW_LABELS.items()}
    for col, fn in relabel.items():
        if col in body_all:
            body_all[col] = _map_unique(body_all[col], fn)
    codes = _map_unique(body_all[rule_col], _rule_code)
    catalog = load_catalog()
    for rule in rule_order(codes.unique().tolist()):
        body = body_all[codes == rule].drop(columns=[rule_col]).reset_index(drop=True)
        chunks = range(0, max(len(body), 1), SHEET_ROWS)
        label = catalog[rule].label_zh if rule in catalog else str(rule)
        for n, start in enumerate(chunks):
            ws = book.sheet(label + (f"_{n + 1}" if len(chunks) > 1 else ""))
            write_table(book, ws, body.iloc[start:start + SHEET_ROWS])
    book.close()


def progress_rows(progress: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """The table a province sends: levels in Chinese, and exactly one total row (合计). With
    one province the national total repeats it, so the province row is the total; with
    several, the provinces stay and the national row is the total."""
    zh = progress.rename(columns=dict(progress_headers()))
    provinces = zh[zh["层级"] == "province"]
    total_level = "province" if len(provinces) == 1 else "national"
    total = zh[zh["层级"] == total_level]
    body = zh[~zh["层级"].isin([total_level, "national"])].copy()
    body["层级"] = body["层级"].map(lambda v: _label("level", v))
    totals = total.iloc[0].tolist() if len(total) else [None] * len(zh.columns)
    totals[0] = "合计"
    return body.reset_index(drop=True), totals


def write_progress(folder: Path, progress: pd.DataFrame, as_of: str, unit: str = REPORTING_UNIT) -> list[Path]:
    """``progress.parquet``, a CSV, and the sheet a province sends: a merged title across the
    table, the 填报单位 and 截至日期 line, a bordered table with one 合计 row, rates as
    percentages, landscape and fitted to one page wide for printing."""
    folder.mkdir(parents=True, exist_ok=True)
    progress.to_parquet(folder / "progress.parquet", index=False)
    zh = progress.rename(columns=dict(progress_headers()))
    zh["层级"] = zh["层级"].map(lambda v: _label("level", v))
    neutralise_frame(zh).to_csv(folder / "progress.csv", index=False, encoding="utf-8-sig")
    path = folder / "进度月报.xlsx"
    body, totals = progress_rows(progress)
    book = Book(path)
    ws = book.sheet("进度月报")
    last = len(body.columns) - 1
    ws.merge_range(0, 0, 0, last, "", book.format("text", bold=True, font_size=16, align="center",
                                                  valign="vcenter"))
    write_text(ws, 0, 0, f"建档立卡贫困户等重点对象农村危房改造进度表（截至{as_of}）",
               book.format("text", bold=True, font_size=16, align="center", valign="vcenter"))
    ws.set_row(0, 30)
    half = max(last // 2, 1)
    ws.merge_range(1, 0, 1, half - 1, "", book.format("text"))
    write_text(ws, 1, 0, f"填报单位：{unit}", book.format("text"))
    ws.merge_range(1, half, 1, last, "", book.format("text", align="right"))
    write_text(ws, 1, half, f"截至日期：{as_of}", book.format("text", align="right"))
    ws.set_row(2, 32)  # the header wraps rather than being cut
    write_table(book, ws, body, 2, border=True, totals=totals, percent=PERCENT)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(2)
    ws.center_horizontally()
    book.close()
    return [folder / "progress.parquet", folder / "progress.csv", path]
