"""Nothing Anju writes runs code: not in a browser (report.html, the Data Docs), not in a
spreadsheet (every XLSX and CSV a person may open). Hostile values go in; the pages are
opened in headless Chromium and asked whether anything injected exists, and every
spreadsheet is read back cell by cell."""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cells import FORMULA_START, neutralise
from tests.reconcile.builders import ID_A, ID_C, ha, ps, published_world, run

SHOTS = Path("/tmp/anju_shots")
SCRIPT_BREAK = "</script><img src=x onerror=alert(1)>"
COMMENT_TRAP = "<!--<script>"
# names lose their spaces to normalisation: these still break out of a script or an attribute
HOSTILE = ["</script><svg/onload=alert(1)>", COMMENT_TRAP + "李\u2028四", "\"'><svg/onload=alert(2)>&amp;"]
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx",
            "＝1+1", "＋1", "－1", "＠SUM(A1)"]
RISKY = tuple(FORMULA_START)
CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_strict_policy(page_text: str, where: str) -> None:
    """One CSP meta; scripts by hash or file only, every inline script's hash listed; no
    network source; no inline event handler or javascript: URL left to be blocked."""
    found = CSP.findall(page_text)
    assert len(found) == 1, f"{where}: {len(found)} CSP metas"
    d = directives(html.unescape(found[0]))
    assert d["default-src"] == ["'none'"], where
    assert "'unsafe-inline'" not in d["script-src"], where
    for name, sources in d.items():
        assert not any(re.match(r"(https?|wss?|ftp):|\*", s) for s in sources), f"{where}: {name} {sources}"
    for body in INLINE.findall(page_text):
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        assert f"'sha256-{base64.b64encode(digest).decode()}'" in d["script-src"], f"{where}: unhashed script"
    outside = re.sub(r"<script.*?</script>", "", page_text, flags=re.S)
    assert not re.search(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", outside), where  # no inline event handler
    assert "javascript:" not in outside.lower(), where


# --- report.html -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_tables():
    return run([ps(householder_name=HOSTILE[0]), ps(household_no="H2", householder_name=HOSTILE[1], householder_id=ID_C,
                   village_code="522425100202")],
               [ha(householder_name=FORMULAS[0]), ha(archive_no="A2", householder_name=HOSTILE[2], householder_id=ID_C,
                   village_code="522425100202")])


@pytest.fixture(scope="module")
def report_page(hostile_tables, tmp_path_factory):
    from connectors.reports import figures, write_report_html
    from reconcile.progress import monthly_progress
    from reconcile.report import changes_since_last_run, chart_frames, report_grid

    d = hostile_tables.discrepancies
    ledger = d[["discrepancy_id", "rule", "county_code", "household_no", "archive_no", "field", "status",
                "first_seen"]].assign(last_seen="2020-07-31", resolved_at=pd.NA)
    grid = report_grid(d, ledger, "2020-07-31")
    grid.loc[0, "问题说明"] = "quarantined value " + SCRIPT_BREAK  # as a quarantine value reaches a row
    ha_frame = pd.DataFrame({"county_code": ["522425"], "target_type": ["建档立卡贫困户"], "guarantee_method": ["农村危房改造"],
                             "task_source": ["年度计划"], "task_year": pd.array([2020], dtype="Int64"),
                             "start_date": [pd.Timestamp("2020-03-01")], "completion_date": [pd.NaT],
                             "acceptance_date": [pd.NaT]})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    progress = monthly_progress(ha_frame, unified, "2020-05-31", "2020-06-30")
    history = pd.DataFrame({"as_of": ["2020-06-30", "2020-07-31"], "open": [3, len(d)]})
    changes = changes_since_last_run(d, ledger, "2020-07-31")
    changes.loc[0, "规则"] = HOSTILE[2]
    page = tmp_path_factory.mktemp("report") / "report.html"
    write_report_html(page, "安居 " + SCRIPT_BREAK, {SCRIPT_BREAK: "1"},
                      figures(chart_frames(d, progress, history), "2020-06-30"), grid, changes)
    return page, grid


def test_report_html_embeds_rows_as_inert_json_under_a_strict_policy(report_page):
    from connectors.reports import grid_payload

    page, grid = report_page
    text = page.read_text(encoding="utf-8")
    assert_strict_policy(text, "report.html")
    assert "<img src=x" not in text and "<svg/onload" not in text and "<!--<script>" not in text
    assert "\u2028" not in text and "\u2029" not in text
    data = re.search(r'<script type="application/json" id="anju-grid">(.*?)</script>', text, re.S).group(1)
    sent = json.loads(data)
    assert sent["columns"] == grid_payload(grid, sent["file"])["columns"]  # escaped, not altered
    rows = [[c["k"][c["i"][r]] if "k" in c else c["v"][r] for c in sent["columns"]] for r in range(sent["n"])]
    assert rows == grid.astype("string").fillna("").values.tolist()


def test_report_html_in_chromium_shows_hostile_text_literally_and_runs_nothing(report_page):
    from tests.connectors.browser import ALERTS, CSP_VIOLATIONS, load, require_chromium

    require_chromium()
    page, grid = report_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    cells = ("[...document.querySelectorAll('.tabulator-row')].map(r => [...r.querySelectorAll('.tabulator-cell')]"
             ".map(td => td.textContent.replace(/^\\u00a0$/, '')))")  # an empty cell holds a no-break space
    seen = load(page, SHOTS / "report-hostile.png", evaluate={
        "rows_shown": "anjuGrid.getDataCount('active')", "alerts": ALERTS, "csp": CSP_VIOLATIONS, "cells": cells,
        "injected": "document.querySelectorAll('#grid img, body > img, img[src=x], svg[onload], [onerror]').length",
        "charts": "document.querySelectorAll('.js-plotly-plot .main-svg').length",
        "changes": "[...document.querySelectorAll('table.small td')].map(td => td.textContent)",
        "policy": "document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content",
        "title": "document.title"})
    assert seen["errors"] == [] and seen["csp"] == [], (seen["errors"], seen["csp"])
    assert seen["alerts"] == [] and seen["injected"] == 0
    assert seen["rows_shown"] == len(grid)
    assert seen["cells"] == grid.astype("string").fillna("").values.tolist()  # every cell, as text
    shown = [v for r in seen["cells"] for v in r]
    assert any(HOSTILE[0] in v for v in shown) and any(HOSTILE[1] in v for v in shown)  # shown literally
    assert "quarantined value " + SCRIPT_BREAK in shown
    assert HOSTILE[2] in seen["changes"]
    assert seen["charts"] >= 4  # plotly ran under the policy
    assert "'unsafe-inline'" not in directives(seen["policy"])["script-src"]
    assert seen["title"] == "安居 " + SCRIPT_BREAK


# --- Data Docs of a failed gate ----------------------------------------------------------------

@pytest.fixture(scope="module")
def failed_docs(tmp_path_factory):
    from connectors.datadocs import run_gate
    from reconcile.gate import gate_frames
    from reconcile.masking import mask_full_ids
    from reconcile.report import analyst_view

    tables, accounting = published_world()
    view = analyst_view(tables["discrepancies"])
    view["农户档案值"] = [f"{HOSTILE[i % 3]}{ID_C}" for i in range(len(view))]
    view["扶贫系统值"] = [f"{SCRIPT_BREAK}{COMMENT_TRAP}\u2028" for _ in range(len(view))]  # not failing: shown nowhere
    site = tmp_path_factory.mktemp("failed") / ".failed" / "2020-07-31" / "run-x" / "datadocs"
    outcome = run_gate(gate_frames(tables, view, accounting), site, "run</script>x", mask_ids=mask_full_ids)
    assert not outcome.success
    return site


def test_failed_docs_escape_values_and_carry_a_strict_policy(failed_docs):
    pages = sorted(failed_docs.rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert_strict_policy(text, str(page.relative_to(failed_docs)))
        assert "<img src=x" not in text and "<svg/onload" not in text and "<!--<script>" not in text, page
        assert "run</script>" not in text, page
    failing = next(failed_docs.glob("validations/analyst_view/**/*.html")).read_text(encoding="utf-8")
    assert html.escape(HOSTILE[0]) in failing and html.escape(HOSTILE[1]) in failing  # shown, as text
    assert ID_C not in failing and ID_C[:6] + "********" + ID_C[-4:] in failing


def test_failed_docs_in_chromium_show_values_as_text_and_run_only_their_own_scripts(failed_docs):
    from tests.connectors.browser import ALERTS, CSP_VIOLATIONS, load, require_chromium

    require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    failing = next(failed_docs.glob("validations/analyst_view/**/*.html"))
    checks = {"alerts": ALERTS, "csp": CSP_VIOLATIONS,
              "libraries": "[typeof jQuery, typeof vegaEmbed, typeof jQuery.fn.bootstrapTable].join()",
              "navbar": "getComputedStyle(document.querySelector('nav.navbar')).display",
              "rows": "document.querySelectorAll('table tbody tr').length",
              "injected": "document.querySelectorAll('img[src=x], svg[onload], [onerror], [onload]').length",
              "cells": "[...document.querySelectorAll('td')].map(td => td.textContent.trim())",
              "handler": "(() => { const b = document.querySelector('[data-anju-call=hideSucceededValidations]');"
                         " if (!b) return 'none'; b.click(); return 'clicked'; })()"}
    for page, name in ((failed_docs / "index.html", "index"), (failing, "failed-analyst_view")):
        seen = load(page, SHOTS / f"datadocs-{name}.png", evaluate=checks)
        assert seen["errors"] == [] and seen["csp"] == [], (name, seen["errors"], seen["csp"])
        assert seen["failed"] == [] and seen["alerts"] == [] and seen["injected"] == 0, name
        assert seen["libraries"] == "function,function,function", name  # vendored scripts ran
        assert seen["navbar"] == "flex", name  # vendored CSS applied
        assert seen["rows"] > 0, name  # on the index, rows come from an inline (hashed) script
    masked = ID_C[:6] + "********" + ID_C[-4:]
    assert HOSTILE[0] + masked in seen["cells"] and HOSTILE[1] + masked in seen["cells"]
    assert seen["handler"] == "clicked"


# --- spreadsheets ------------------------------------------------------------------------------

def xlsx_cells(path: Path):
    wb = openpyxl.load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def assert_no_formula_xlsx(path: Path) -> list:
    cells = xlsx_cells(path)
    assert not [c.coordinate for c in cells if c.data_type == "f"], path
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(RISKY) and not re.fullmatch(r"-\d+(\.\d+)?", t)], path
    return cells


def assert_no_formula_csv(path: Path, encoding: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as f:
        fields = [v for row in csv.reader(f) for v in row]
    assert not [v for v in fields if v.startswith(RISKY) and not re.fullmatch(r"-\d+(\.\d+)?", v)], path
    return fields


def test_feedback_packages_and_cleaned_extracts_hold_no_formula(tmp_path):
    from connectors.feedback import write_packages
    from tests.connectors.test_feedback import package

    pkg = package(len(FORMULAS))
    pkg["当前值"] = pd.array(FORMULAS, dtype="string")
    pkg["原因"] = pd.array(HOSTILE * 4, dtype="string")[:len(FORMULAS)]
    cleaned = pd.DataFrame({"户编号": ["H0", "H1", "H2"], "户主姓名": ["=1+1", "@A1", "张三"],
                            "补助金额": ["-12.5", "-3", "20000"], "户主证件号码": [ID_A, "'" + ID_A, "+86 138"]},
                           dtype="string")
    files = write_packages(tmp_path, "ps", pkg, cleaned, pd.Series(["522425"] * 3))
    assert {f.suffix for f in files} == {".csv", ".xlsx"}
    for f in files:
        if f.suffix == ".xlsx":
            values = [c.value for c in assert_no_formula_xlsx(f)]
        else:
            values = assert_no_formula_csv(f, "gb18030")
        if f.name.startswith("纠错清单"):
            assert "'=HYPERLINK(\"http://x\",\"y\")" in values and "'\tx" in values and "'＝1+1" in values
        else:
            assert "'=1+1" in values and "'@A1" in values and "'+86 138" in values
            assert "-12.5" in values and "-3" in values and ID_A in values  # numbers and IDs untouched


def test_native_xlsx_keeps_numbers_numbers_and_text_text(tmp_path):
    from connectors.native import write_csv, write_xlsx

    frame = pd.DataFrame({"金额": [-12.5, 3.0], "名称": ["=1+1", "-12.5"], "编号": ["\x01bad", "ok"]})
    write_xlsx(frame, tmp_path / "a.xlsx", title="=TITLE()", totals_label=None)
    cells = {c.coordinate: c for c in assert_no_formula_xlsx(tmp_path / "a.xlsx")}
    assert cells["A3"].value == -12.5 and cells["A3"].data_type == "n"
    assert cells["B3"].value == "'=1+1" and cells["B3"].data_type == "s"
    assert cells["B4"].value == "-12.5" and cells["B4"].data_type == "s"
    assert cells["A1"].value == "'=TITLE()"
    write_csv(frame, tmp_path / "a.csv", "utf-8")
    assert assert_no_formula_csv(tmp_path / "a.csv", "utf-8")[3:6] == ["-12.5", "'=1+1", "\ufffdbad"]


def test_report_workbook_and_progress_hold_no_formula(hostile_tables, tmp_path):
    from connectors.workbooks import write_progress, write_report_xlsx
    from reconcile.progress import monthly_progress
    from reconcile.report import analyst_view, summary

    d = hostile_tables.discrepancies
    rows = analyst_view(d)
    rows["问题说明"] = [FORMULAS[i % len(FORMULAS)] for i in range(len(rows))]
    write_report_xlsx(tmp_path / "report.xlsx", summary(d, d.assign(status="new")), rows)
    texts = [c.value for c in assert_no_formula_xlsx(tmp_path / "report.xlsx") if isinstance(c.value, str)]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in texts
    ha_frame = pd.DataFrame({"county_code": ["522425"], "target_type": ["建档立卡贫困户"], "guarantee_method": ["农村危房改造"],
                             "task_source": ["年度计划"], "task_year": pd.array([2020], dtype="Int64"),
                             "start_date": [pd.Timestamp("2020-03-01")], "completion_date": [pd.NaT],
                             "acceptance_date": [pd.NaT]})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ha_determination"]})
    progress = monthly_progress(ha_frame, unified, "2020-05-31", "2020-06-30")
    progress["name"] = progress["name"].astype("object")
    progress.loc[progress["level"] == "county", "name"] = "=cmd|' /C calc'!A0"
    files = write_progress(tmp_path / "p", progress, "2020-05-31", unit="@unit")
    for f in files:
        if f.suffix == ".xlsx":
            cells = assert_no_formula_xlsx(f)
            assert "'=cmd|' /C calc'!A0" in [c.value for c in cells]
            assert any(c.data_type == "n" for c in cells)  # counts stay numbers
        elif f.suffix == ".csv":
            assert "'=cmd|' /C calc'!A0" in assert_no_formula_csv(f, "utf-8-sig")


@given(st.text(max_size=12))
def test_neutralise_prefixes_exactly_the_risky_text(v):
    out = neutralise(v)
    number = re.fullmatch(r"-(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", v, re.ASCII) is not None
    if v.startswith(RISKY) and not number:
        assert out == "'" + v
    else:
        assert out == v


def test_neutralise_examples():
    assert [neutralise(v) for v in ("-12.5", "-3", "-1e5", "-1+1", "＝1", "＠A1", "\tx", "张三", "'=1")] == \
        ["-12.5", "-3", "-1e5", "'-1+1", "'＝1", "'＠A1", "'\tx", "张三", "'=1"]
    assert [neutralise(v) for v in (5, -3.5, None, date(2020, 1, 1))] == [5, -3.5, None, date(2020, 1, 1)]


GRID_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "张三", "</script>", "<!--", "&amp;", "\u2028", "\\\"'"]),
                      st.text(max_size=6))


@given(st.lists(st.sampled_from(["县", "规则", "状态", "问题说明", "户编号", "逾期", "类别", "x<y"]), min_size=0, max_size=5,
                unique=True).flatmap(lambda names: st.tuples(st.just(names), st.lists(
                    st.tuples(*[GRID_TEXT for _ in names]), max_size=12))),
       st.sampled_from(["问题清单_x.xlsx", "</script>.xlsx"]), st.sampled_from([object, "string[pyarrow]"]),
       st.sampled_from([None, [], ["县", "问题说明"], ["不是列"]]))
@settings(max_examples=80, deadline=None)
def test_grid_payload_made_a_column_at_a_time_is_the_payload_made_at_once(shape, file, dtype, hidden):
    """report.html's grid data, made and hashed a column at a time (so a province's rows
    are never one text in memory), is byte for byte the payload made whole, escaped by
    ``script_json``, and its policy hash that text's hash: hostile text, nulls, columns
    sent as distinct values or value by value, no column, no row, text as objects or as Arrow
    strings, columns hidden or not."""
    from connectors.htmlsafety import script_hash, script_hash_utf8, script_json
    from connectors.reports import grid_payload, grid_payload_json

    names, rows = shape
    grid = pd.DataFrame(rows, columns=names, dtype=dtype) if names else pd.DataFrame(index=range(len(rows)))
    whole = script_json(grid_payload(grid, file, hidden))
    parts = grid_payload_json(grid, file, hidden)
    assert b"".join(parts) == whole.encode("utf-8")
    assert script_hash_utf8(parts) == script_hash(whole)


def test_script_hash_utf8_refuses_a_raw_carriage_return():
    from connectors.htmlsafety import script_hash_utf8

    with pytest.raises(ValueError, match="carriage return"):
        script_hash_utf8([b'{"a": "x\r\ny"}'])


@given(st.lists(st.lists(st.sampled_from(list("<>&\u2028\u2029/\\\"'a张") + ["</script>", "<!--"])).map("".join)))
def test_script_json_escapes_exactly_the_unsafe_characters(values):
    """Every ``<``, ``>``, ``&``, U+2028 and U+2029 of the JSON, and nothing else, becomes
    its ``\\uXXXX`` escape (held to the regex it replaced); the JSON reads back as it was."""
    from connectors.htmlsafety import script_json

    text = json.dumps(values, ensure_ascii=False)
    expected = re.sub("[<>&\u2028\u2029]", lambda m: f"\\u{ord(m.group(0)):04x}", text)
    got = script_json(values)
    assert got == expected
    assert json.loads(got) == values
    assert not re.search("[<>&\u2028\u2029]", got)
