"""Rendering of the analysts' page ``report.html`` (the workbooks: ``connectors.workbooks``).

Report data comes shaped and labelled from ``reconcile.report``; this module only lays it
out. The page is one self-contained offline file: a data grid (Tabulator, every row of
the run reachable by virtual scrolling, sorting, header filters, a column chooser, XLSX
export of the filtered rows through SheetJS), and charts (plotly.js basic). The vendored
libraries (``report_vendor/``, sources and licences in its ``SOURCES.md``) and the page's
own script are inlined and listed by hash in its Content-Security-Policy; rows and chart
data travel as inert JSON (``connectors.htmlsafety``) and reach the page as text only.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from connectors.htmlsafety import policy, policy_meta, script_hash, script_hash_utf8, script_json

HERE = Path(__file__).parent
VENDOR = HERE / "report_vendor"
LIBRARIES = ["tabulator.min.js", "xlsx.mini.min.js", "plotly-basic.min.js"]
# Shown at first; the column chooser shows the others. Chosen so the grid fits 1366 px
# (责任部门 stays a filter above the grid).
HIDDEN = ["问题编号", "责任部门", "记录所属", "匹配依据", "处理建议", "解决日期"]
# The 台账's people's columns (issue 18) are offered in the chooser; once county staff have
# filled any, 责任人, 整改时限 and 逾期 are shown and 档案编号 and 首次发现 give way to them.
PEOPLE = ["整改责任单位", "责任人", "整改时限", "逾期", "整改进展", "核实结论", "说明"]
PEOPLE_SHOWN = ["责任人", "整改时限", "逾期"]
GIVE_WAY = ["档案编号", "首次发现"]
# Least width (px) that shows a typical value whole (16-digit keys, a masked ID, a date);
# longer text ends in "…" with the whole value in its tooltip. Header text is the floor.
MIN_WIDTH = {"状态": 64, "规则": 112, "县": 124, "户编号": 122, "档案编号": 122, "字段": 104, "扶贫系统值": 96,
             "农户档案值": 96, "建议值": 128, "问题说明": 150, "匹配依据": 150, "处理建议": 150, "首次发现": 84, "解决日期": 84,
             "问题编号": 124, "责任人": 72, "整改时限": 84, "整改责任单位": 110, "说明": 120}
FILTERS = ["县", "规则", "严重程度", "责任部门", "状态"]  # the selects above the grid
# shown as selects too when they say something: alerts in the grid, overdue items
OPTIONAL_FILTERS = {"类别": "动态预警", "逾期": "是"}
# Header filters: a list of the labels for these; typed text ("like") for the others, so
# 县 finds a county by its name or its code.
CHOICES = ["状态", "规则", "严重程度", "责任部门", "记录所属", "逾期", "整改进展", "核实结论", "类别"]
ORDERS = {"严重程度": ["严重", "高", "中", "低"], "状态": ["新发现", "重新出现", "未解决", "已解决", "已核销"]}
GROW = {"问题说明": 4, "规则": 2, "县": 2, "字段": 2, "建议值": 3, "扶贫系统值": 2, "农户档案值": 2,
        "户编号": 2, "档案编号": 2}
SEVERITY_COLOURS = {"严重": "#b2182b", "高": "#ef8a62", "中": "#f4c542", "低": "#92c5de"}
FONT = '"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif'
DAY_MS = 86_400_000


def _layout(title: str, **extra) -> dict:
    return {"title": {"text": title, "font": {"size": 15}, "x": 0, "xref": "paper", "xanchor": "left"},
            "height": 340, "template": None,
            "margin": {"l": 56, "r": 16, "t": 48, "b": 96}, "font": {"family": FONT, "size": 12},
            "paper_bgcolor": "#fff", "plot_bgcolor": "#fff", **extra}


def _count_axis(top: int) -> dict:
    """Integer ticks only: a count axis never shows 0.5 (nor two ticks both labelled 1)."""
    step = 1 if top <= 5 else int(10 ** math.floor(math.log10(top / 5)))
    while top / step > 8:
        step *= 2 if str(step)[0] == "1" else 2.5 if str(step)[0] == "2" else 2
        step = int(step)
    return {"tickformat": ",d", "dtick": step, "tick0": 0, "rangemode": "tozero", "gridcolor": "#eee"}


def figures(charts: dict[str, pd.DataFrame], deadline: str) -> list[dict]:
    """The four charts as Plotly figure JSON (data and layout), from ``reconcile.report.chart_frames``."""
    rules, counties, completion, trend = (charts[k] for k in ("rules", "counties", "completion", "trend"))
    f1 = {"data": [{"type": "bar", "x": rules["规则"].tolist(), "y": rules["问题数"].tolist(),
                    "text": rules["问题数"].tolist(), "textposition": "outside", "marker": {"color": "#4575b4"},
                    "hovertemplate": "%{x}: %{y:,d}<extra></extra>"}],
          "layout": _layout("按规则的问题数", yaxis=_count_axis(int(rules["问题数"].max() if len(rules) else 1) * 1.15),
                            xaxis={"tickangle": -35, "automargin": True})}
    severities = [c for c in counties.columns if c != "县"]
    f2 = {"data": [{"type": "bar", "name": s, "x": counties["县"].tolist(), "y": counties[s].tolist(),
                    "marker": {"color": SEVERITY_COLOURS.get(s)},
                    "hovertemplate": f"%{{x}} {s}: %{{y:,d}}<extra></extra>"}
                   for s in severities],
          "layout": _layout("按县的问题数（按严重程度）", barmode="stack",
                            legend={"traceorder": "normal", "orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
                            yaxis=_count_axis(int(counties[severities].sum(axis=1).max() if len(counties) else 1)),
                            xaxis={"type": "category", "automargin": True})}
    f3 = {"data": [{"type": "bar", "x": completion["县"].tolist(), "y": completion["竣工率"].tolist(), "name": "竣工率",
                    "text": [f"{v:.1%}" for v in completion["竣工率"]], "textposition": "outside",
                    "marker": {"color": "#66a61e"}, "hovertemplate": "%{x}: %{y:.1%}<extra></extra>"}],
          "layout": _layout("各县危房改造竣工率", yaxis={"tickformat": ".0%", "range": [0, 1.3], "gridcolor": "#eee",
                                                       "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1]},
                            xaxis={"type": "category", "automargin": True},
                            shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                                     "line": {"dash": "dash", "color": "#999"}}],
                            annotations=[{"xref": "paper", "x": 1, "y": 1.2, "yanchor": "bottom", "xanchor": "right",
                                          "text": f"截止 {deadline} 应全部竣工", "showarrow": False}])}
    dates, counts = trend["日期"].tolist(), [int(v) for v in trend["未解决问题数"]]
    if len(dates) == 1:  # one run: one labelled bar, not a dot on a date axis of hours
        data = [{"type": "bar", "x": dates, "y": counts, "text": [f"{counts[0]:,}"], "textposition": "outside",
                 "width": [0.4], "marker": {"color": "#4575b4"}}]
        xaxis = {"type": "category"}
    else:
        data = [{"type": "scatter", "mode": "lines+markers+text", "x": dates, "y": counts,
                 "text": [f"{c:,}" for c in counts], "textposition": "top center", "line": {"color": "#4575b4"}}]
        span = (pd.Timestamp(dates[-1]) - pd.Timestamp(dates[0])).days if dates else 0
        xaxis = {"type": "date", "tickformat": "%Y-%m-%d", "automargin": True,
                 **({"dtick": DAY_MS} if span <= 10 else {})}
    f4 = {"data": data, "layout": _layout("未解决问题数（历次运行）", xaxis=xaxis,
                                          yaxis=_count_axis(int(max(counts, default=1) * 1.2)))}
    return [f1, f2, f3, f4]


def default_hidden(grid: pd.DataFrame) -> list[str]:
    """The columns the chooser offers but the grid does not show at first: the people's
    columns are shown once any of them holds something (and two others make room)."""
    filled = any(c in grid and (grid[c].astype("string").fillna("") != "").any() for c in PEOPLE)
    if not filled:
        return [*HIDDEN, *PEOPLE, "类别"]
    return [*HIDDEN, *GIVE_WAY, *[c for c in PEOPLE if c not in PEOPLE_SHOWN], "类别"]


def grid_filters(grid: pd.DataFrame) -> list[str]:
    optional = [c for c, v in OPTIONAL_FILTERS.items() if c in grid and (grid[c] == v).any()]
    return [f for f in FILTERS if f in grid.columns] + optional


def grid_payload(grid: pd.DataFrame, file: str, hidden: list[str] | None = None) -> dict:
    """The grid's rows column by column; a column whose values repeat is sent as its
    distinct values and one index per row (a province's rows in a fraction of the bytes)."""
    hidden = default_hidden(grid) if hidden is None else hidden
    filters = grid_filters(grid)
    return {"n": len(grid), "columns": list(_grid_columns(grid, hidden, filters)), "filters": filters, "file": file}


def grid_payload_json(grid: pd.DataFrame, file: str, hidden: list[str] | None = None) -> list[bytes]:
    """:func:`grid_payload` as the page carries it, ``script_json`` in UTF-8, made a column
    at a time: the same bytes as the whole payload made at once, without a province's rows
    held as Python values and then as one text, a copy or two of it, and its UTF-8 (about
    a gigabyte at a million rows, the peak of publishing).

    >>> g = pd.DataFrame({"县": ["a</script>", "b"], "问题说明": ["\u2028&", None]})
    >>> b"".join(grid_payload_json(g, "x.xlsx")) == script_json(grid_payload(g, "x.xlsx")).encode()
    True
    """
    hidden = default_hidden(grid) if hidden is None else hidden
    filters = grid_filters(grid)
    # json.dumps' own layout of the payload's dict: ", " between items, ": " after keys
    parts = [f'{{"n": {len(grid)}, "columns": ['.encode()]
    for i, col in enumerate(_grid_columns(grid, hidden, filters)):
        parts.append(((", " if i else "") + script_json(col)).encode("utf-8"))
    parts.append(f'], "filters": {script_json(filters)}, "file": {script_json(file)}}}'.encode("utf-8"))
    return parts


def _grid_columns(grid: pd.DataFrame, hidden: list[str], filters: list[str]):
    """Each column of the grid as the page's script reads it, one at a time."""
    for name in grid.columns:
        s = grid[name].astype("string").fillna("")
        col: dict = {"title": str(name), "hidden": name in hidden, "grow": GROW.get(name, 1),
                     "min": MIN_WIDTH.get(name, 0)}
        codes, keys = pd.factorize(s, sort=True)
        if name in filters or name in CHOICES or len(keys) * 4 < max(len(s), 1):
            col["k"], col["i"], col["choose"] = [str(k) for k in keys], codes.tolist(), name in CHOICES
            if name in ORDERS:
                col["order"] = ORDERS[name]
        else:
            col["v"] = s.tolist()
        yield col


def _cell(v, rate: bool) -> str:
    if rate and isinstance(v, float):
        return f"{v:.1%}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)


def _table(frame: pd.DataFrame, css: str = "small") -> str:
    rates = [str(c).endswith("率") for c in frame.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    number = (int, float)  # numbers right-aligned, text (names, labels) left
    body = "".join("<tr>" + "".join(f"<td{' class=n' if isinstance(v, number) else ''}>{html.escape(_cell(v, r))}</td>"
                                    for v, r in zip(row, rates)) + "</tr>"
                   for row in frame.astype(object).itertuples(index=False))
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


WAIVED_SHOWN = 200  # the waived items listed on the page; the grid holds them all (状态 已核销)


def _button(column: str, value: str, text: str) -> str:
    """A button that filters the grid (``column`` = ``value``); both escaped, read as text by the script."""
    return (f"<button type='button' data-col='{html.escape(column, quote=True)}' "
            f"data-value='{html.escape(value, quote=True)}'>{html.escape(text)}</button>")


def people_sections(rectification: pd.DataFrame | None, waived: pd.DataFrame | None,
                    alert_kinds: pd.DataFrame | None, alert_counties: pd.DataFrame | None) -> str:
    """The 台账's per-county table, the waived items apart, and the alerts (counts by kind
    and by county): each section only when its table was given."""
    out = []
    if rectification is not None:
        overdue = int(rectification["逾期"].iloc[-1]) if len(rectification) else 0
        out.append("<h2>各县整改情况（台账）</h2><p class='note'>整改完成率 = 已解决 ÷（问题总数 − 已核销）；"
                   "逾期：整改时限已过仍未解决；自报已完成：整改进展填“已完成”而数据仍有问题。"
                   + (" " + _button("逾期", "是", "只看逾期") if overdue else "") + "</p>"
                   + _table(rectification))
    if waived is not None and len(waived):
        more = (f"（共 {len(waived):,} 项，此处列出前 {WAIVED_SHOWN} 项）" if len(waived) > WAIVED_SHOWN
                else f"（共 {len(waived):,} 项）")
        out.append(f"<h2>已核销的问题{more}</h2><p class='note'>核实结论为“不属实”并有说明的问题，不计入未解决，"
                   "也不计入整改完成率的分母；其值再变化时重新出现。 "
                   + _button("状态", "已核销", "在表格中只看已核销") + "</p>"
                   + _table(waived.head(WAIVED_SHOWN), "small text"))
    if alert_kinds is not None:
        total = int(alert_kinds["本次预警数"].iloc[-1]) if len(alert_kinds) else 0
        out.append("<h2>动态监测预警</h2><p class='note'>与此前各日期比较，住房安全状况变差的农户；"
                   "预警也在上方表格中（类别：动态预警）。"
                   + (" " + _button("类别", "动态预警", "在表格中只看预警") if total else
                      "本次没有预警（没有更早的日期可比较时也没有）。") + "</p>"
                   + "<div class='pair'>" + _table(alert_kinds)
                   + (_table(alert_counties) if alert_counties is not None and len(alert_counties) else "")
                   + "</div>")
    return "".join(out)


STYLE = """
*{box-sizing:border-box}body{font-family:%(font)s;margin:0;padding:8px 16px;color:#222;font-size:13px}
header{display:flex;align-items:baseline;gap:18px;flex-wrap:wrap}h1{font-size:18px;margin:4px 0}
h2{font-size:16px;margin:18px 0 8px}.kpis{display:flex;gap:14px;flex-wrap:wrap}
.kpi{white-space:nowrap}.kpi b{font-size:16px;margin-right:4px}.kpi span{color:#666}
#filters{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;margin:6px 0}
#filters select{max-width:170px}#count{font-weight:bold}
details{display:inline-block;position:relative}details>div{position:absolute;z-index:20;background:#fff;
border:1px solid #ccc;padding:8px;display:grid;grid-template-columns:repeat(3,max-content);gap:4px 12px}
#grid-section{height:calc(100vh - 96px);min-height:420px;display:flex;flex-direction:column}
#grid{flex:1;min-height:0;font-size:12px}.tabulator .tabulator-cell{height:26px;white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
table.small{border-collapse:collapse}table.small td,table.small th{border:1px solid #ddd;padding:2px 8px}
table.small td.n{text-align:right}table.small th{background:#f3f3f3}
table.small.text td{max-width:320px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.pair{display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-start}
section.more{max-width:100%%;overflow-x:auto}
.note{color:#666}button{font:inherit}
"""


def write_report_html(path: Path, title: str, headline: dict[str, str], figures: list[dict], grid: pd.DataFrame,
                      changes: pd.DataFrame | None = None, hidden: list[str] | None = None, *,
                      rectification: pd.DataFrame | None = None, waived: pd.DataFrame | None = None,
                      alert_kinds: pd.DataFrame | None = None, alert_counties: pd.DataFrame | None = None) -> None:
    """One self-contained page: the grid first (every row of ``grid``), then what changed
    since the last run, the 台账 per county, the waived items, the alerts, then the
    charts. Nothing is requested from anywhere.

    The policy lists the hash of every script block this function assembled (the
    libraries, our script, the JSON data blocks, which never run), so nothing else can
    run, inline handlers and ``javascript:`` URLs included.
    """
    payload = grid_payload_json(grid, f"问题清单_{_file_safe(title)}.xlsx", hidden)
    figs = script_json(figures)
    code = [(VENDOR / name).read_text(encoding="utf-8") for name in LIBRARIES]
    own = (HERE / "report_page.js").read_text(encoding="utf-8")
    for text in (*code, own):  # inlined code must not be able to end or nest a script element
        if "</script" in text.lower() or "<script" in text.lower():
            raise ValueError("an inlined script holds a script tag")
    css = (VENDOR / "tabulator.min.css").read_text(encoding="utf-8")
    hashes = [script_hash(s) for s in (*code, own, figs)] + [script_hash_utf8(payload)]
    heads = "".join(f"<div class='kpi'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>"
                    for k, v in headline.items())
    moved = ""
    if changes is not None:
        buttons = "".join(f"<button type='button' data-status='{s}'>只看{s}</button> " for s in ("新发现", "重新出现", "已解决"))
        moved = (f"<h2>较上次运行的变化</h2><p class='note'>已解决的问题本次不再出现，只在台账中；表格中可按状态筛选。"
                 f" {buttons}<button type='button' data-status=''>全部</button></p>{_table(changes)}")
    charts = "".join(f"<div id='fig{i}'></div>" for i in range(len(figures)))
    scripts = "".join(f"<script>{s}</script>" for s in code)
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
{policy_meta(policy(hashes))}
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{css}</style><style>{STYLE % {"font": FONT}}</style></head><body>
<header><h1>{html.escape(title)}</h1><div class="kpis">{heads}</div></header>
<section id="grid-section"><div id="filters"><span id="count"></span>
<details><summary>显示列</summary><div id="columns"></div></details>
<button type="button" id="export">导出筛选结果 XLSX</button><button type="button" id="clear">清除筛选</button></div>
<div id="grid"></div></section>
<section class="more">{moved}{people_sections(rectification, waived, alert_kinds, alert_counties)}</section>
<h2>图表</h2><div class="charts">{charts}</div>
<script type="application/json" id="anju-grid">"""
    rest = f"""</script>
<script type="application/json" id="anju-figs">{figs}</script>
{scripts}<script>{own}</script></body></html>"""
    with open(path, "wb") as f:  # the grid's rows as they were made, never joined into one text
        f.write(page.encode("utf-8"))
        f.writelines(payload)
        f.write(rest.encode("utf-8"))


def _file_safe(text: str) -> str:
    return "".join(ch for ch in text.split()[-1] if ch.isalnum() or ch in "-_")[:40] or "report"
