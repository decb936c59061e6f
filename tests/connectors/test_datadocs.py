"""Data Docs of the publishing gate: offline, styled, and never showing a full ID."""
from __future__ import annotations

import html
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from connectors.datadocs import run_gate
from reconcile.gate import gate_frames
from reconcile.masking import mask_full_ids
from reconcile.report import analyst_view
from tests.conftest import SAMPLE
from tests.reconcile.builders import ID_C, published_world

ASSET = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"#]+)"')


@pytest.fixture(scope="module")
def leaky_docs(tmp_path_factory):
    """Docs of a gate that fails because a full ID reached the analysts' rows."""
    tables, accounting = published_world()
    view = analyst_view(tables["discrepancies"])
    view["农户档案值"] = ID_C
    site = tmp_path_factory.mktemp("docs") / "datadocs"
    outcome = run_gate(gate_frames(tables, view, accounting), site, "leak-test", mask_ids=mask_full_ids)
    return outcome, site


def test_every_page_loads_its_assets_from_the_site_itself(leaky_docs):
    _, site = leaky_docs
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 3 and (site / "index.html") in pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for ref in ASSET.findall(html):
            assert not re.match(r"[a-z]+://", ref), f"{page.relative_to(site)} loads {ref} from the network"
            assert (page.parent / ref).resolve().is_file(), f"{page.relative_to(site)}: {ref} is missing"
        assert "integrity=" not in html


def test_a_failed_value_is_shown_masked_never_in_full(leaky_docs):
    outcome, site = leaky_docs
    assert not outcome.success
    assert outcome.failed[0]["expectation"] == "analyst_view: expect_column_values_to_not_match_regex(农户档案值)"
    pages = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    masked = ID_C[:6] + "*" * 8 + ID_C[-4:]
    assert ID_C not in pages and masked in pages


def test_a_failed_gate_names_the_record_never_the_full_id(leaky_docs):
    outcome, _ = leaky_docs
    text = outcome.describe()
    assert "discrepancy_id=" in text, text
    assert ID_C not in text


@pytest.mark.slow
def test_data_docs_of_a_run_open_from_disk_styled_and_offline(harness, tmp_path):
    from tests.connectors.browser import load, require_chromium

    require_chromium()
    from flows.reconcile_flow import reconcile

    run = reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ps_members=str(SAMPLE / "ps_members.csv"),
                    ha_archive=str(SAMPLE / "ha_archive.xlsx"), as_of=date(2020, 7, 31), out=str(tmp_path))
    site = tmp_path / "2020-07-31" / "datadocs"
    assert run["gate"]["failed"] == [] and (site / "index.html").is_file()
    pages = [site / "index.html", site / "expectations" / "analyst_view.html",
             next((site / "validations").rglob("*-matches.html"))]
    checks = {"libraries": "[typeof jQuery, typeof vegaEmbed, typeof jQuery.fn.bootstrapTable].join()",
              "navbar": "getComputedStyle(document.querySelector('nav.navbar')).display",
              "rows": "document.querySelectorAll('table tbody tr').length"}
    shots = Path(os.environ.get("ANJU_SCREENSHOT_DIR", tmp_path))
    for page in pages:
        seen = load(page, shots / f"datadocs-{page.stem}.png", evaluate=checks)
        where = page.relative_to(site)
        assert seen["errors"] == [], where
        assert seen["failed"] == [], where
        assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in seen["requests"]), seen["requests"]
        assert seen["libraries"] == "function,function,function", where  # the vendored scripts ran
        assert seen["navbar"] == "flex", where  # bootstrap's CSS applied
        assert seen["rows"] > 0, where
    ids = pd.concat([pd.read_parquet(tmp_path / "2020-07-31" / f"records_{a}.parquet")["householder_id"]
                     for a in ("ps", "ha")])
    text = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert not any(i in text for i in ids[ids.str.len() >= 15])


def test_lock_down_moves_known_handlers_drops_others_and_is_idempotent():
    from connectors.datadocs import HANDLERS_SCRIPT, lock_down
    from connectors.htmlsafety import script_hash

    page = ('<html><head><title>x</title></head><body><a href="javascript:void(0)" '
            'onclick="clearTableFilters(\'t-1\')">c</a><button onmouseover="steal()" onclick="steal()">b</button>'
            '<script>if (a < b) { x.y = " onclick=\\"z\\""; }</script></body></html>')
    once = lock_down(page)
    assert lock_down(once) == once
    assert '<a href="#" data-anju-call="clearTableFilters" data-anju-arg="t-1">' in once
    assert "<button>b</button>" in once and "javascript:" not in once
    assert 'x.y = " onclick=\\"z\\""' in once  # script text is not rewritten
    assert once.count("Content-Security-Policy") == 1
    meta = html.unescape(re.search(r'Content-Security-Policy" content="([^"]*)"', once).group(1))
    assert script_hash('if (a < b) { x.y = " onclick=\\"z\\""; }') in meta and script_hash(HANDLERS_SCRIPT) in meta
