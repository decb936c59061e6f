"""Rendering of the analysts' reports: ``report.xlsx``, ``report.html``, the progress sheet.

Report data comes shaped from ``reconcile.report`` / ``reconcile.progress``; this module
only lays it out. Every cell an analyst sees is text we control: values that a
spreadsheet would take for a formula (``= + - @``) are neutralised.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from reconcile.progress import HEADERS_ZH as PROGRESS_HEADERS
from reconcile.report import RULE_NAMES_ZH

SHEET_ROWS = 1_048_575  # one header row + the rest
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(v):
    """A text cell that starts like a formula gets a leading apostrophe-quote."""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def neutralise_column(s: pd.Series) -> pd.Series:
    """:func:`neutralise` over a column at once."""
    if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
        return s
    text = s.astype("string")
    risky = text.str.match(r"^[=+\-@\t\r]").fillna(False)
    return text.mask(risky, "'" + text)


def _sheet(wb, title: str, frame: pd.DataFrame) -> None:
    """One sheet, streamed (constant memory): frozen header, filter, widths, dates as dates."""
    ws = wb.add_worksheet(title[:31])
    for i, col in enumerate(frame.columns):
        width = max([len(str(col)) * 2] + [len(str(v)) for v in frame.iloc[:200, i].tolist()])
        ws.set_column(i, i, min(max(width + 2, 8), 60))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(frame), 1), max(len(frame.columns) - 1, 0))
    ws.write_row(0, 0, list(frame.columns))
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
        ws.write_row(r + 1, 0, [str(c) for c in frame.columns])
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


def figures(summary: dict[str, pd.DataFrame], progress: pd.DataFrame, history: pd.DataFrame, deadline: str) -> list:
    import plotly.graph_objects as go

    layout = dict(height=360, margin=dict(l=40, r=20, t=50, b=80), template="plotly_white")
    by_rule = summary["by_rule"].groupby("rule")["count"].sum().sort_values(ascending=False)
    f1 = go.Figure(go.Bar(x=[RULE_NAMES_ZH.get(r, r) for r in by_rule.index], y=by_rule.values))
    f1.update_layout(title="按规则的问题数 / discrepancies by rule", **layout)
    county = summary["by_county"].set_index("county_code")
    f2 = go.Figure([go.Bar(name=s, x=county.index.astype(str), y=county[s]) for s in county.columns])
    f2.update_layout(title="按县的问题数 / discrepancies by county", barmode="stack", **layout)
    pc = progress[progress["level"] == "county"]
    f3 = go.Figure(go.Bar(x=pc["name"], y=pc["completion_rate"], name="竣工率"))
    f3.add_hline(y=1.0, line_dash="dash", annotation_text=f"截止 {deadline} 应全部竣工")
    f3.update_layout(title="各县危房改造竣工率 / completion rate by county", yaxis_tickformat=".0%", **layout)
    f4 = go.Figure(go.Scatter(x=history["as_of"], y=history["open"], mode="lines+markers"))
    f4.update_layout(title="未解决问题数（历次运行）/ open discrepancies over the runs", xaxis_type="category", **layout)
    return [f1, f2, f3, f4]


def write_progress(folder: Path, progress: pd.DataFrame, as_of: str, unit: str = "省住房和城乡建设厅") -> list[Path]:
    """``progress.parquet``, a CSV, and the sheet a province sends: title, unit, date, totals."""
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    progress.to_parquet(folder / "progress.parquet", index=False)
    zh = progress.rename(columns=PROGRESS_HEADERS)
    zh.to_csv(folder / "progress.csv", index=False, encoding="utf-8-sig")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "进度月报"
    ws.append([f"建档立卡贫困户等重点对象农村危房改造进度表（截至{as_of}）"])
    ws.append([f"填报单位：{unit}", None, None, f"截至日期：{as_of}"])
    ws.append(list(zh.columns))
    body = zh[zh["层级"] != "national"]
    for r in body.itertuples(index=False, name=None):
        ws.append(list(r))
    total = zh[zh["层级"] == "national"].iloc[0].tolist()
    ws.append(["合计", *total[1:]])
    for col in ("K", "L", "P"):
        for c in ws[col][3:]:
            c.number_format = "0.0%"
    ws.freeze_panes = "A4"
    path = folder / "进度月报.xlsx"
    wb.save(path)
    return [folder / "progress.parquet", folder / "progress.csv", path]


def write_report_html(path: Path, title: str, headline: dict[str, str], figures: list, rows: pd.DataFrame) -> None:
    """One self-contained page: plotly.js inlined once, tables searchable, no request leaves."""
    parts = []
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}))
    cols = list(rows.columns)
    data = rows.astype("string").fillna("").values.tolist()
    heads = "".join(f"<div class='kpi'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>"
                    for k, v in headline.items())
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval';
 style-src 'unsafe-inline'; img-src data:; font-src data:">
<title>{html.escape(title)}</title><style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222}}
.kpis{{display:flex;gap:16px;flex-wrap:wrap}}.kpi{{border:1px solid #ddd;border-radius:6px;padding:10px 16px}}
.kpi b{{display:block;font-size:24px}}.kpi span{{color:#666;font-size:13px}}
table{{border-collapse:collapse;font-size:12px;width:100%}}td,th{{border:1px solid #ddd;padding:3px 6px}}
th{{background:#f3f3f3;position:sticky;top:0}}#filters{{margin:12px 0}}</style></head><body>
<h1>{html.escape(title)}</h1><div class="kpis">{heads}</div>
{''.join(parts)}
<h2>问题清单 / Discrepancies</h2>
<div id="filters">搜索 / search <input id="q" size="30"> 规则 / rule <select id="rule"><option value="">全部 / all</option></select>
<span id="count"></span></div>
<table id="t"><thead><tr>{''.join(f'<th>{html.escape(c)}</th>' for c in cols)}</tr></thead><tbody></tbody></table>
<script>
const COLS={json.dumps(cols, ensure_ascii=False)}; const ROWS={json.dumps(data, ensure_ascii=False)};
const RULE=COLS.indexOf("规则"); const LIMIT=500;
const sel=document.getElementById("rule");
[...new Set(ROWS.map(r=>r[RULE]))].sort().forEach(r=>{{const o=document.createElement("option");o.value=o.textContent=r;sel.appendChild(o);}});
function esc(s){{return s.replace(/[&<>"]/g,c=>({{"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}})[c]);}}
function draw(){{const q=document.getElementById("q").value.trim(); const rule=sel.value;
 const hits=ROWS.filter(r=>(!rule||r[RULE]===rule)&&(!q||r.some(v=>v.includes(q))));
 document.querySelector("#t tbody").innerHTML=hits.slice(0,LIMIT).map(r=>"<tr>"+r.map(v=>"<td>"+esc(v)+"</td>").join("")+"</tr>").join("");
 document.getElementById("count").textContent=hits.length+" 条"+(hits.length>LIMIT?"（显示前"+LIMIT+"条）":"");}}
document.getElementById("q").addEventListener("input",draw); sel.addEventListener("change",draw); draw();
</script></body></html>"""
    path.write_text(page, encoding="utf-8")
