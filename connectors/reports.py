"""Rendering of the analysts' page ``report.html`` (the workbooks: ``connectors.workbooks``).

Report data comes shaped from ``reconcile.report`` / ``reconcile.progress``; this module
only lays it out. Every value is hostile until written safely: in the workbooks and the
CSV, text a spreadsheet would take for a formula is neutralised (``connectors.cells``, the
one rule); in ``report.html`` rows travel as inert JSON and only the page's own scripts,
listed by hash in its Content-Security-Policy, run (``connectors.htmlsafety``).
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from connectors.htmlsafety import inline_scripts, policy, policy_meta, script_hash, script_json
from connectors.workbooks import write_progress, write_report_xlsx  # noqa: F401  (moved; old import path)
from reconcile.report import RULE_NAMES_ZH


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


ROWS_SCRIPT = """
const COLS=%s; const ROWS=%s;
const RULE=COLS.indexOf("规则"); const LIMIT=500;
const sel=document.getElementById("rule"); const body=document.querySelector("#t tbody");
[...new Set(ROWS.map(r=>r[RULE]))].sort().forEach(r=>{const o=document.createElement("option");o.value=o.textContent=r;sel.appendChild(o);});
function draw(){const q=document.getElementById("q").value.trim(); const rule=sel.value;
 const hits=ROWS.filter(r=>(!rule||r[RULE]===rule)&&(!q||r.some(v=>v.includes(q))));
 body.replaceChildren(...hits.slice(0,LIMIT).map(r=>{const tr=document.createElement("tr");
  r.forEach(v=>{const td=document.createElement("td");td.textContent=v;tr.appendChild(td);}); return tr;}));
 document.getElementById("count").textContent=hits.length+" 条"+(hits.length>LIMIT?"（显示前"+LIMIT+"条）":"");}
document.getElementById("q").addEventListener("input",draw); sel.addEventListener("change",draw); draw();
"""


def write_report_html(path: Path, title: str, headline: dict[str, str], figures: list, rows: pd.DataFrame) -> None:
    """One self-contained page: plotly.js inlined once, tables searchable, no request leaves.

    Rows reach the page only as inert JSON and are put in the table as text nodes; the
    policy lists the hash of each script this function assembled (plotly's and ours), so
    nothing else can run, inline handlers and ``javascript:`` URLs included.
    """
    parts = []
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}))
    cols = [str(c) for c in rows.columns]
    data = rows.astype("string").fillna("").values.tolist()
    script = ROWS_SCRIPT % (script_json(cols), script_json(data))
    hashes = [script_hash(s) for part in parts for s in inline_scripts(part)] + [script_hash(script)]
    heads = "".join(f"<div class='kpi'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>"
                    for k, v in headline.items())
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
{policy_meta(policy(hashes))}
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
<script>{script}</script></body></html>"""
    path.write_text(page, encoding="utf-8")
