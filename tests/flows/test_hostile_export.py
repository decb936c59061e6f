"""One export with every kind of hostile or careless cell, through the whole flow: the run
publishes, every row is accounted for, nothing runs in the page or the workbooks, no full
ID reaches quarantine or what analysts read."""
from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from tests.conftest import AS_OF, SAMPLE

pytestmark = pytest.mark.slow
SCRIPT = "</script><script>alert(1)</script>"
FULL_ID = "520628195812282431"


def _hostile_ps(path) -> int:
    """The sample's PS households with hostile rows appended; returns how many were added."""
    text = (SAMPLE / "ps_households.csv").read_bytes().decode("gb18030").splitlines()
    header, first = text[0], text[1].split(",")
    rows = []
    for i, change in enumerate([
        {7: SCRIPT},                         # a name that closes a script block
        {7: '=HYPERLINK("http://x","点我")'},  # a formula
        {7: FULL_ID},                        # a full ID typed into the name cell
        {12: ""},                            # an empty required cell (脱贫标志)
        {9: "1e400"},                        # an unreadable household size
    ]):
        cells = list(first)
        cells[6] = f"52062800009999{i:02d}"  # a household number of its own
        cells[8] = ""
        for pos, value in change.items():
            cells[pos] = f'"{value}"' if "," in value or '"' in value else value
            if '"' in value:
                cells[pos] = '"' + value.replace('"', '""') + '"'
        rows.append(",".join(cells))
    rows.insert(2, ",".join(first[:6] + ["5206280000999990"] + first[7:] + ["多余", FULL_ID]))  # ragged
    path.write_bytes(("\n".join([header, *text[1:], *rows]) + "\n").encode("gb18030"))
    return len(rows)


def test_a_hostile_export_publishes_with_every_row_accounted_and_nothing_live(harness, tmp_path):
    from flows.reconcile_flow import reconcile

    ps = tmp_path / "ps_households.csv"
    added = _hostile_ps(ps)
    run = reconcile(ps_households=str(ps), ps_members=str(SAMPLE / "ps_members.csv"),
                    ha_archive=str(SAMPLE / "ha_archive.xlsx"), as_of=AS_OF, out=str(tmp_path / "out"))
    live = tmp_path / "out" / AS_OF.isoformat()
    i = run["inputs"]["ps_households"]
    assert i["rows_read"] == i["rows_used"] + i["rows_quarantined"]
    quarantine = pd.read_parquet(live / "quarantine.parquet")
    q = quarantine[quarantine["source"] == "ps_households"]
    assert {"malformed_row", "missing", "range"} <= set(q["problem"])
    assert not quarantine.astype("string").apply(lambda c: c.str.contains(FULL_ID, regex=False)).any().any()

    page = (live / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in page and "<script>alert(1)" not in page
    policy = page.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    for sheet in openpyxl.load_workbook(live / "report.xlsx").worksheets:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row)
    shown = json.dumps(pd.read_parquet(live / "discrepancies.parquet")[["message", "action"]].to_dict("records"),
                       ensure_ascii=False)
    assert FULL_ID not in shown
    assert added == 6
