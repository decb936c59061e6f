"""report.html at a province's scale (issue 17): N synthetic discrepancies (default
500,000) shaped by reconcile.report, rendered by connectors.reports, then opened in
headless Chromium at 1366x768: file size, seconds to write, to the first rendered grid,
to filter by a county and to scroll to the last row, and the page's JS heap. Figures, not
a test: `python bench/report_html_bench.py [N] [OUT.html]`, or
`python bench/report_html_bench.py OUT/<as_of>/report.html` to time a real run's page."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from connectors.reports import figures, write_report_html  # noqa: E402
from reconcile.report import changes_since_last_run, chart_frames, report_grid  # noqa: E402
from tests.connectors.report_browser import session  # noqa: E402
from tests.connectors.report_frames import frames  # noqa: E402


def main(n: int, out: Path) -> None:
    t = time.monotonic()
    d, ledger = frames(n, resolved=n // 50)
    t_frames = time.monotonic() - t
    t = time.monotonic()
    grid = report_grid(d, ledger, "2020-07-31")
    t_grid = time.monotonic() - t
    progress = pd.DataFrame({"level": ["county"], "code": ["522425"], "completion_rate": [0.9]})
    history = pd.DataFrame({"as_of": ["2020-06-30", "2020-07-31"], "open": [n - 1000, n]})
    t = time.monotonic()
    write_report_html(out, "安居 Anju 核对报告 2020-07-31", {"问题": f"{n:,}"},
                      figures(chart_frames(d, progress, history), "2020-06-30"), grid,
                      changes_since_last_run(d, ledger, "2020-07-31"))
    t_write = time.monotonic() - t
    print(f"rows {len(grid):,}; synth {t_frames:.1f}s; report_grid {t_grid:.1f}s; write_report_html {t_write:.1f}s; "
          f"file {out.stat().st_size / 1e6:.1f} MB")
    measure(out, grid.iloc[-1]["户编号"], out.with_suffix(".png"))


def measure(out: Path, last_key: str | None = None, shot: Path | None = None) -> None:
    """Open a written report.html in Chromium at 1366x768 and time what a person waits for."""
    with session(out, 1366, 768) as (s, start):
        s.wait_for("document.body && document.body.dataset.gridReady === '1'", limit=600)
        s.frames()
        ready = time.monotonic() - start
        marks = s.js("Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime / 1000]))")
        print("page clock (s since navigation): rows decoded", round(marks["anju-rows"], 1), "grid built",
              round(marks["anju-grid"], 1))
        heap = s.call("Performance.enable") or s.call("Performance.getMetrics")["metrics"]
        used = next(m["value"] for m in heap if m["name"] == "JSHeapUsedSize")
        t = time.monotonic()
        s.js("anjuFilter('县', document.querySelector('#filters select').options[2].value)")
        s.frames()
        t_filter = time.monotonic() - t
        count = s.js("anjuGrid.getDataCount('active')")
        s.js("document.querySelector('#clear').click()")
        s.frames()
        t = time.monotonic()
        to_end = "(() => { const h = document.querySelector('.tabulator-tableholder'); h.scrollTop = h.scrollHeight; })()"
        for _ in range(5):
            s.js(to_end)
            s.frames(4)
        t_scroll = time.monotonic() - t
        last = s.js("[...document.querySelectorAll('.tabulator-row')].pop().textContent")
        if shot is not None:  # never into a published run's folder
            s.screenshot(shot)
    print(f"first render {ready:.1f}s; JS heap {used / 1e6:.0f} MB; county filter {t_filter:.2f}s ({count:,} rows); "
          f"scroll to the end {t_scroll:.2f}s; last row shown: {last_key in last if last_key else last[:60]!r}; "
          f"errors {s.seen['errors'][:3]}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].endswith(".html"):  # a real run's page: open and time it
        page = Path(sys.argv[1])
        print(f"file {page.stat().st_size / 1e6:.1f} MB")
        measure(page)
        sys.exit(0)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000,
         Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/anju17/report-500k.html"))
