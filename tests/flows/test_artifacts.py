"""Each run leaves Prefect artifacts: a markdown summary (counts only) and links to its outputs."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import AS_OF

pytestmark = pytest.mark.slow


def test_summary_and_links_are_published_with_the_run(published):
    from prefect.artifacts import Artifact

    out, run = published
    summary = Artifact.get("reconcile-summary")
    text = summary.data
    assert text.startswith(f"# Anju reconcile {AS_OF}")
    disc = pd.read_parquet(out / AS_OF.isoformat() / "discrepancies.parquet")
    for rule, n in disc["rule"].value_counts().items():  # per-rule counts, as published
        assert f"| {rule} |" in text and f"| {n:,} |" in text
    for county in disc["county_code"].unique():
        assert f"| {county} |" in text
    assert f"new {len(disc):,}" in text  # first run: everything is new

    records = pd.concat([pd.read_parquet(out / AS_OF.isoformat() / f"records_{a}.parquet") for a in ("ps", "ha")])
    names = records["householder_name"].dropna()
    ids = records["householder_id"].dropna()
    assert not any(i in text for i in ids[ids.str.len() >= 15])
    assert not any(n in text for n in names[names.str.len() >= 2])

    live = (out / AS_OF.isoformat()).absolute()
    assert f"({(live / 'report.html').as_uri()})" in Artifact.get("reconcile-report").data  # a markdown link
    assert f"({live.as_uri()})" in Artifact.get("reconcile-outputs").data
    for key in ("reconcile-report", "reconcile-outputs"):  # a file:// link opens only where the run ran
        assert "opens only on the machine that ran" in Artifact.get(key).description


def test_links_point_under_report_url_when_it_is_set(tmp_path):
    from flows.artifacts import links
    from schemas.run_record import RunRecord

    run = RunRecord(run_id="20200731-x", as_of="2020-07-31", scope="all", started_at="2020-07-31T00:00:00+00:00",
                    published=str(tmp_path / "2020-07-31"))
    served = {k: v for k, v in links(run, "https://reports.example/anju/").items()}
    assert served["reconcile-report"]["link"] == "https://reports.example/anju/2020-07-31/report.html"
    assert served["reconcile-outputs"]["link"] == "https://reports.example/anju/2020-07-31/"
    assert "machine that ran" not in served["reconcile-report"]["description"]
    local = links(run, None)
    assert local["reconcile-report"]["link"] == (tmp_path / "2020-07-31" / "report.html").absolute().as_uri()
    assert "opens only on the machine that ran" in local["reconcile-report"]["description"]
    assert links(run, "https://reports.example/anju")["reconcile-report"]["link"] == \
        "https://reports.example/anju/2020-07-31/report.html"



def test_serve_settings_report_url_reaches_the_nightly_run(tmp_path):
    from pathlib import Path

    from connectors.errors import SourceError
    from flows.serve import deployments, load_settings

    example = (Path(__file__).resolve().parents[2] / "anju.example.yaml").read_text(encoding="utf-8")
    settings = tmp_path / "anju.yaml"
    settings.write_text(example + "\nreport_url: https://reports.example/anju\n", encoding="utf-8")
    deps = {d.name: d for d in deployments(load_settings(settings)) if d.schedules}
    assert deps["nightly"].parameters["report_url"] == "https://reports.example/anju"
    settings.write_text(example + "\nreport_url: reports.example/anju\n", encoding="utf-8")
    with pytest.raises(SourceError, match="report_url 'reports.example/anju': expected an http"):
        load_settings(settings)


def test_summary_counts_alerts_by_kind_and_overdue_items_per_county_in_chinese():
    """Issues 18 and 19: the summary artifact counts the alerts by kind (Chinese names) and
    by county, and the 台账's overdue and waived items per county with the 整改完成率;
    counts only: no 责任人, no ID, no code a person would have to look up."""
    from flows.artifacts import summary_markdown
    from schemas.run_record import RunRecord
    from tests.reconcile.test_report_tables import HOSTILE, alert_frames, grid_discrepancies, people_ledger

    moves = people_ledger().astype("string")  # as the flow passes its changes: every column text ("True")
    alerts, alert_ledger = alert_frames()
    disc = grid_discrepancies(moves)
    unified = pd.DataFrame({"county_code": ["522425", "520628"]})
    run = RunRecord(run_id="20200731-x", as_of="2020-07-31", scope="all", started_at="2020-07-31T00:00:00+00:00")
    text = summary_markdown(run, disc, moves, unified, alerts, alert_ledger)
    assert "## 动态监测预警（按类型）" in text and "## 各县整改情况（逾期、已核销、整改完成率）" in text
    assert "| 保障状态丢失 | 严重 | 2 | 1 | 0 | 0 |" in text and "| 危房等级上升 | 高 | 0 | 0 | 0 | 1 |" in text
    assert "| 522425 织金县 | 3 | 1 | 1 | 1 | 1 | 0 | 50.0% |" in text
    assert "| 合计 | 4 | 2 | 1 | 1 | 1 | 0 | 33.3% |" in text
    assert "| 522425 织金县 | 1 | 0 | 0 | 0 | 0 | 1 | 2 |" in text  # alerts per county, by kind
    assert not any(h in text for h in (*HOSTILE, "张三", "SECURED_LOST", "NEW_HOUSEHOLD"))
    before = summary_markdown(run, disc, moves.drop(columns="overdue").assign(status="open"), unified)
    assert "动态监测预警" not in before and "整改情况" not in before  # a run before the 台账 and the monitoring
