"""report.html as an analyst sees it (issue 17), asked of the page itself in headless
Chromium at 1366x768 and 1920x1080: the grid fits the window, every column shows its
header, the first screen shows rows, filters and scrolling reach every row, codes are
shown as Chinese labels, the export holds no formula. Built from frames, not a run.
Screenshots: the test's tmp folder, copied to /tmp/anju_shots/17/."""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.connectors.report_frames import COUNTIES, HOSTILE_MESSAGE, frames

SHOTS = Path("/tmp/anju_shots/17")
AS_OF = "2020-07-31"
N, RESOLVED = 600, 40
RAW_CODES = ["EXITED_UNSECURED", "INVALID_ID", "critical", "high", "medium", "household_size", "housing_secured",
             "check_digit", "reopened", "resolved"]
VENDOR = Path(__file__).resolve().parents[2] / "connectors" / "report_vendor"


def _shot(session, name: str, tmp: Path) -> Path:
    path = session.screenshot(tmp / f"{name}.png")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from connectors.reports import figures, write_report_html
    from reconcile.report import changes_since_last_run, chart_frames, report_grid

    d, ledger = frames(N, AS_OF, resolved=RESOLVED)
    grid = report_grid(d, ledger, AS_OF)
    progress = pd.DataFrame({"level": ["county"] * 2, "code": COUNTIES[:2], "name": ["紫云苗族布依族自治县", "松桃苗族自治县"],
                             "completion_rate": [0.5, 0.97]})
    history = pd.DataFrame({"as_of": [AS_OF], "open": [N]})
    page = tmp_path_factory.mktemp("layout") / "report.html"
    write_report_html(page, f"安居 Anju 核对报告 {AS_OF}", {"问题": f"{N:,}"},
                      figures(chart_frames(d, progress, history), "2020-06-30"), grid,
                      changes_since_last_run(d, ledger, AS_OF))
    return page, grid, d


def test_vendored_files_are_the_ones_sources_md_lists():
    sources = (VENDOR / "SOURCES.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"\| `([\w.-]+)` \| `([0-9a-f]{64})` \|", sources))
    assert set(listed) == {"tabulator.min.js", "tabulator.min.css", "xlsx.mini.min.js", "plotly-basic.min.js"}
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert len(list((VENDOR / "licenses").glob("*.LICENSE"))) == 3
    assert not re.search(r"https?://|registry|npmjs", sources)  # no registry's host name
    pyproject = (VENDOR.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"report_vendor/*"' in pyproject and '"report_page.js"' in pyproject


def test_the_page_carries_every_row_and_only_labels(built):
    page, grid, d = built
    text = page.read_text(encoding="utf-8")
    assert len(grid) == N + RESOLVED and (grid["状态"] == "已解决").sum() == RESOLVED
    for code in ("EXITED_UNSECURED", "critical", "household_size"):
        assert not grid.apply(lambda c: c.str.contains(code, regex=False)).any().any(), code
    assert {"严重", "高", "中", "低"} >= set(grid["严重程度"]) and "新发现" in set(grid["状态"])
    assert "plotly.js (basic - minified) v4" in text and "Tabulator v6" in text
    assert len(text.encode()) < 3_000_000  # the basic plotly bundle, not the full one


@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_grid_layout_in_chromium(built, tmp_path, width, height):
    from tests.connectors.browser import require_chromium
    from tests.connectors.report_browser import session

    require_chromium()
    page, grid, _ = built
    with session(page, width, height) as (s, _):
        s.wait_for("document.body && document.body.dataset.gridReady === '1'", limit=120)
        s.frames()
        _shot(s, f"report-{width}x{height}", tmp_path)
        seen = s.js("""(() => {
          const grid = document.querySelector('#grid').getBoundingClientRect();
          const cols = [...document.querySelectorAll('.tabulator-col')].filter(c => c.offsetParent !== null);
          const narrow = cols.map(c => { const t = c.querySelector('.tabulator-col-title');
              return t.scrollWidth > t.clientWidth + 1 ? t.textContent : null; }).filter(Boolean);
          const outside = cols.filter(c => c.getBoundingClientRect().right > grid.right + 1).map(c => c.textContent);
          const rows = [...document.querySelectorAll('.tabulator-row')]
              .filter(r => r.getBoundingClientRect().bottom <= innerHeight && r.getBoundingClientRect().top >= 0);
          const cells = [...document.querySelectorAll('.tabulator-cell')].map(c => c.textContent);
          return {pageScroll: document.documentElement.scrollWidth - innerWidth, narrow, outside,
                  firstScreenRows: rows.length, cols: cols.length, cells, csp: window.__anju_csp,
                  alerts: window.__anju_alerts, rowHeight: rows.length ? rows[0].getBoundingClientRect().height : 0};
        })()""")
        assert s.seen["errors"] == [] and seen["csp"] == [] and seen["alerts"] == [], (s.seen["errors"], seen["csp"])
        assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in s.seen["requests"]), s.seen["requests"]
        assert seen["pageScroll"] <= 0, seen["pageScroll"]  # no horizontal page scroll
        assert seen["narrow"] == [] and seen["outside"] == [], (seen["narrow"], seen["outside"])
        assert seen["cols"] >= 12
        assert seen["firstScreenRows"] >= 10, seen["firstScreenRows"]
        assert seen["rowHeight"] < 40  # one line per row, not 200 px
        shown = " ".join(seen["cells"])
        assert not [c for c in RAW_CODES if re.search(rf"\b{c}\b", shown)], [c for c in RAW_CODES if c in shown]
        assert "严重" in shown and "新发现" in shown and "脱贫户住房未保障" in shown
        assert re.search(r"5\d{5} \S+县", shown)  # county code and name side by side


def test_filters_scrolling_and_export_in_chromium(built, tmp_path):
    from tests.connectors.browser import require_chromium
    from tests.connectors.report_browser import session

    require_chromium()
    page, grid, d = built
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    county = sorted(grid["县"].unique())[1]
    expect_county = int((grid["县"] == county).sum())
    expect_both = int(((grid["县"] == county) & (grid["严重程度"] == "中")).sum())
    with session(page, 1366, 768, downloads) as (s, _):
        s.wait_for("document.body && document.body.dataset.gridReady === '1'", limit=120)
        assert s.js("anjuGrid.getDataCount('active')") == len(grid)
        s.js(f"anjuFilter('县', {county!r})")
        assert s.js("anjuGrid.getDataCount('active')") == expect_county
        s.js("anjuFilter('严重程度', '中')")
        assert s.js("anjuGrid.getDataCount('active')") == expect_both
        s.frames()
        assert s.js("document.querySelector('#count').textContent").startswith(f"{expect_both:,} / ")
        _shot(s, "report-1366-filtered", tmp_path)
        s.js("document.querySelector('#clear').click()")
        # a header filter typed by code finds the county too (name and code share the cell)
        code = county.split()[0]
        col = s.js(f"anjuGrid.getColumns().find(c => c.getDefinition().title === '县').getField()")
        s.js(f"anjuGrid.setHeaderFilterValue({col!r}, {code!r})")
        assert s.js("anjuGrid.getDataCount('active')") == expect_county
        s.js("document.querySelector('#clear').click()")
        s.js("document.querySelector('button[data-status=\"已解决\"]').click()")
        assert s.js("anjuGrid.getDataCount('active')") == RESOLVED
        s.js("document.querySelector('#clear').click()")
        # the last row is reached by scrolling the grid itself
        to_end = "(() => { const h = document.querySelector('.tabulator-tableholder'); h.scrollTop = h.scrollHeight; })()"
        for _ in range(5):  # the virtual renderer settles its heights as it renders: scroll until at the end
            s.js(to_end)
            s.frames(4)
        last = grid.iloc[-1]
        visible = s.js("""(() => { const h = document.querySelector('.tabulator-tableholder').getBoundingClientRect();
            return [...document.querySelectorAll('.tabulator-row')].filter(r => {
              const b = r.getBoundingClientRect(); return b.top >= h.top - 1 && b.bottom <= h.bottom + 1; })
              .map(r => r.textContent); })()""")
        assert any(last["户编号"] in v and last["县"] in v for v in visible), (last.tolist(), visible[-2:])
        _shot(s, "report-1366-last-row", tmp_path)
        # export of the filtered rows: text cells, the formula neutralised
        s.js("anjuFilter('规则', " + repr(grid.loc[grid["问题说明"] == HOSTILE_MESSAGE, "规则"].iloc[0]) + ")")
        shown = s.js("anjuGrid.getDataCount('active')")
        s.js("document.querySelector('#export').click()")
        for _ in range(200):
            files = [f for f in downloads.glob("*.xlsx")]
            if files:
                break
            s.frames(5)
        assert files, list(downloads.iterdir())
    ws = openpyxl.load_workbook(files[0]).active
    rows = list(ws.iter_rows())
    assert len(rows) == shown + 1 and rows[0][0].value == "状态"
    cells = [c for r in rows for c in r if c.value is not None]
    assert all(c.data_type == "s" for c in cells)  # text stays text: no number, no formula
    values = [c.value for c in cells]
    assert "'" + HOSTILE_MESSAGE in values and HOSTILE_MESSAGE not in values


def test_charts_in_chromium_have_labels_and_integer_ticks(built, tmp_path):
    from tests.connectors.browser import require_chromium
    from tests.connectors.report_browser import session

    require_chromium()
    page, _, _ = built
    with session(page, 1920, 1080) as (s, _):
        s.wait_for("document.body && document.body.dataset.gridReady === '1'", limit=120)
        s.wait_for("document.querySelectorAll('.main-svg').length >= 8", limit=60)
        s.js("document.querySelector('.charts').scrollIntoView()")
        s.frames()
        _shot(s, "report-1920-charts", tmp_path)
        seen = s.js("""(() => ({
          legend: [...document.querySelectorAll('#fig1 .legendtext')].map(t => t.textContent),
          countyTicks: [...document.querySelectorAll('#fig1 .xtick text')].map(t => t.textContent),
          ruleTicks: [...document.querySelectorAll('#fig0 .xtick text')].map(t => t.textContent),
          trendY: [...document.querySelectorAll('#fig3 .ytick text')].map(t => t.textContent),
          trendX: [...document.querySelectorAll('#fig3 .xtick text')].map(t => t.textContent),
          trendBars: document.querySelectorAll('#fig3 .point').length,
          progressTicks: [...document.querySelectorAll('#fig2 .xtick text')].map(t => t.textContent)}))()""")
    assert seen["legend"] == ["严重", "高", "中", "低"]
    assert all(re.fullmatch(r"5\d{5} \S+", t) for t in seen["countyTicks"]), seen["countyTicks"]
    assert all(re.fullmatch(r"5\d{5} \S+", t) for t in seen["progressTicks"]), seen["progressTicks"]
    assert not [t for t in seen["ruleTicks"] if re.search(r"[A-Z_]{4,}", t)]
    assert all(re.fullmatch(r"[0-9,]+", t) for t in seen["trendY"]) and len(set(seen["trendY"])) == len(seen["trendY"])
    assert seen["trendX"] == [AS_OF] and seen["trendBars"] == 1


# --- issues 18 and 19: the 台账's people's columns and the alerts on the page ----------------

HOSTILE_PERSON = "<script>alert(1)</script>"


def people_and_alerts(ledger: pd.DataFrame, n_alerts: int = 60) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``ledger`` with the people's columns as county staff fill them (six in ten items
    assigned, their deadline passed; ten waived; hostile 责任人 on two), and ``n_alerts``
    alerts over every kind with their alert ledger."""
    from schemas.alerts import load_alert_kinds

    led = ledger.copy()
    assigned = pd.Series([i % 5 < 3 for i in range(len(led))], index=led.index)
    led["responsible_unit"] = pd.Series("镇住建所", index=led.index, dtype="string").where(assigned)
    led["responsible_person"] = pd.Series("张三", index=led.index, dtype="string").where(assigned)
    led.loc[0, "responsible_person"], led.loc[1, "responsible_person"] = HOSTILE_MESSAGE, HOSTILE_PERSON
    led["deadline"] = pd.Series("2020-07-15", index=led.index, dtype="string").where(assigned)
    for c in ("measures", "progress", "verdict", "note", "same_household"):
        led[c] = pd.Series(pd.NA, index=led.index, dtype="string")
    waived = led.index[led["status"].isin(["open"])][:10]
    led.loc[waived, ["status", "verdict", "note"]] = ["waived", "不属实", "重复录入，已核实为同一户"]
    led["overdue"] = (led["status"].isin(["new", "open", "reopened"]) & led["deadline"].notna()).astype(bool)
    kinds = load_alert_kinds()
    codes = list(kinds)
    alerts = pd.DataFrame({"alert_id": [f"{0xa000 + i:016x}" for i in range(n_alerts)],
                           "alert": [codes[i % len(codes)] for i in range(n_alerts)],
                           "household_no": [f"{COUNTIES[(i * 3) % 8]}0{i:010d}" for i in range(n_alerts)],
                           "archive_no": pd.NA, "county_code": [COUNTIES[(i * 3) % 8] for i in range(n_alerts)],
                           "previous_as_of": "2020-06-30", "previous_value": "true", "value": "false", "since": AS_OF})
    alerts["severity"] = alerts["alert"].map({c: k.severity for c, k in kinds.items()})
    alerts["message_zh"] = alerts["alert"].map({c: k.label_zh + "：该户情况变差" for c, k in kinds.items()})
    alerts["action_zh"] = alerts["alert"].map({c: k.action_zh for c, k in kinds.items()})
    alert_ledger = alerts[["alert_id", "alert", "county_code", "household_no", "archive_no"]].assign(
        status="new", first_seen=AS_OF, last_seen=AS_OF, resolved_at=pd.NA, changed_by_run="r")
    return led, alerts.astype("string"), alert_ledger.astype("string")


@pytest.fixture(scope="module")
def built_people(tmp_path_factory):
    from connectors.reports import figures, write_report_html
    from reconcile.report import (alert_kinds_table, alerts_by_county, changes_since_last_run, chart_frames,
                                  rectification_by_county, report_grid, waived_items)

    d, ledger = frames(N, AS_OF, resolved=RESOLVED)
    led, alerts, alert_ledger = people_and_alerts(ledger)
    grid = report_grid(d, led, AS_OF, alerts=alerts, alert_ledger=alert_ledger)
    progress = pd.DataFrame({"level": ["county"] * 2, "code": COUNTIES[:2], "name": ["紫云苗族布依族自治县", "松桃苗族自治县"],
                             "completion_rate": [0.5, 0.97]})
    history = pd.DataFrame({"as_of": [AS_OF], "open": [N]})
    page = tmp_path_factory.mktemp("layout-people") / "report.html"
    write_report_html(page, f"安居 Anju 核对报告 {AS_OF}", {"问题": f"{N:,}", "逾期未整改": f"{int(led['overdue'].sum()):,}",
                                                          "动态预警": f"{len(alerts):,}"},
                      figures(chart_frames(d, progress, history), "2020-06-30"), grid,
                      changes_since_last_run(d, led, AS_OF), rectification=rectification_by_county(led),
                      waived=waived_items(led), alert_kinds=alert_kinds_table(alerts, alert_ledger, AS_OF),
                      alert_counties=alerts_by_county(alerts))
    return page, grid, led


def test_people_columns_and_alert_sections_fit_1366_in_chromium(built_people, tmp_path):
    """At 1366x768 the grid shows 责任人, 整改时限 and 逾期 beside the columns that were there
    and still fits; the 台账, waived and alert sections fit the page width; their buttons
    filter the grid; a hostile 责任人 is shown as the text it is."""
    from tests.connectors.browser import require_chromium
    from tests.connectors.report_browser import session

    require_chromium()
    page, grid, led = built_people
    with session(page, 1366, 768) as (s, _):
        s.wait_for("document.body && document.body.dataset.gridReady === '1'", limit=120)
        s.frames()
        _shot(s, "report-people-1366x768", tmp_path)
        seen = s.js("""(() => {
          const grid = document.querySelector('#grid').getBoundingClientRect();
          const cols = [...document.querySelectorAll('.tabulator-col')].filter(c => c.offsetParent !== null);
          const narrow = cols.map(c => { const t = c.querySelector('.tabulator-col-title');
              return t.scrollWidth > t.clientWidth + 1 ? t.textContent : null; }).filter(Boolean);
          const tables = [...document.querySelectorAll('section.more table')]
              .map(t => t.getBoundingClientRect().right).filter(r => r > innerWidth);
          return {pageScroll: document.documentElement.scrollWidth - innerWidth, narrow, tables,
                  titles: cols.map(c => c.querySelector('.tabulator-col-title').textContent),
                  outside: cols.filter(c => c.getBoundingClientRect().right > grid.right + 1).map(c => c.textContent),
                  filtersHeight: document.querySelector('#filters').getBoundingClientRect().height,
                  alerts: window.__anju_alerts, csp: window.__anju_csp};
        })()""")
        assert s.seen["errors"] == [] and seen["alerts"] == [] and seen["csp"] == [], (s.seen["errors"], seen)
        assert seen["pageScroll"] <= 0 and seen["tables"] == [], seen
        assert seen["narrow"] == [] and seen["outside"] == [], (seen["narrow"], seen["outside"])
        assert {"责任人", "整改时限", "逾期", "状态", "规则", "县", "户编号", "问题说明"} <= set(seen["titles"])
        assert seen["filtersHeight"] < 40  # the selects (类别 and 逾期 added) stay on one line
        s.js("document.querySelector('button[data-col=\"逾期\"]').click()")
        assert s.js("anjuGrid.getDataCount('active')") == int((grid["逾期"] == "是").sum()) == int(led["overdue"].sum())
        s.js("document.querySelector('button[data-col=\"类别\"]').click()")
        assert s.js("anjuGrid.getDataCount('active')") == int((grid["类别"] == "动态预警").sum()) == 60
        s.js("document.querySelector('button[data-col=\"状态\"][data-value=\"已核销\"]').click()")
        assert s.js("anjuGrid.getDataCount('active')") == 10
        s.js("document.querySelector('#clear').click()")
        col = s.js("anjuGrid.getColumns().find(c => c.getDefinition().title === '责任人').getField()")
        s.js(f"anjuGrid.setHeaderFilterValue({col!r}, 'script')")
        s.frames()
        cells = s.js("[...document.querySelectorAll('.tabulator-cell')].map(c => c.textContent)")
        assert HOSTILE_PERSON in cells and s.js("window.__anju_alerts") == []
        s.js("document.querySelector('#clear').click()")
        s.js("document.querySelector('section.more h2:last-of-type').scrollIntoView()")
        s.frames()
        _shot(s, "report-people-1366-alerts", tmp_path)
