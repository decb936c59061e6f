"""A run whose outputs fail the Great Expectations gate publishes nothing: the last good
outputs and the store stay as they were, and the error names the failed expectation."""
from __future__ import annotations

import json
from datetime import date

import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow
AS_OF = date(2020, 7, 31)


def run(out):
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ps_members=str(SAMPLE / "ps_members.csv"),
                     ha_archive=str(SAMPLE / "ha_archive.xlsx"), as_of=AS_OF, out=str(out))


def test_a_failed_gate_keeps_the_last_good_outputs(harness, tmp_path, monkeypatch):
    import flows.reconcile_flow as rf
    from connectors.store import Store, default_url
    from schemas.published import PublishGateError

    good = run(tmp_path)
    live = (tmp_path / AS_OF.isoformat()).resolve()
    before = {p.relative_to(live): p.read_bytes() for p in live.rglob("*") if p.is_file()}
    assert good["gate"]["failed"] == [] and good["gate"]["evaluated"] >= 30

    # a regression that stops masking IDs in the analysts' rows
    monkeypatch.setattr(rf.core, "analyst_view", lambda d: d[["discrepancy_id", "rule", "ps_value", "ha_value"]]
                        .rename(columns={"ha_value": "农户档案值"}))
    with pytest.raises(PublishGateError) as e:
        run(tmp_path)
    message = str(e.value)
    assert "analyst_view: expect_column_values_to_not_match_regex(农户档案值)" in message
    assert "last good outputs kept" in message

    assert (tmp_path / AS_OF.isoformat()).resolve() == live  # the link still points at the good run
    after = {p.relative_to(live): p.read_bytes() for p in live.rglob("*") if p.is_file()}
    assert after == before
    assert Store(default_url(tmp_path)).run_history()["run_id"].tolist() == [good["run_id"]]
    assert not list((tmp_path / ".runs" / AS_OF.isoformat()).glob("*.partial"))

    failed = next((tmp_path / ".failed" / AS_OF.isoformat()).iterdir())
    assert (failed / "datadocs" / "index.html").is_file()
    gate = json.loads((failed / "gate.json").read_text(encoding="utf-8"))
    assert [f["expectation"] for f in gate["failed"]] == [
        "analyst_view: expect_column_values_to_not_match_regex(ps_value)",
        "analyst_view: expect_column_values_to_not_match_regex(农户档案值)"]
    # the suites ran over row positions first (issue 20); the failure ran them again so
    # that every unexpected row names its record
    records = [r for f in gate["failed"] for r in f["records"]]
    assert records and all(r.startswith("discrepancy_id=") for r in records), records


def test_a_report_that_fails_stores_nothing(harness, tmp_path, monkeypatch):
    """The report files are written beside the store's write (issue 20): the store commits
    only once they are done, so a failing report leaves the store as the last good run."""
    import flows.reconcile_flow as rf
    from connectors.store import Store, default_url

    good = run(tmp_path)
    live = (tmp_path / AS_OF.isoformat()).resolve()

    def broken(*args, **kwargs):
        raise RuntimeError("the report could not be written")

    monkeypatch.setattr(rf, "write_reports", broken)
    with pytest.raises(RuntimeError, match="the report could not be written"):
        run(tmp_path)
    assert (tmp_path / AS_OF.isoformat()).resolve() == live
    assert Store(default_url(tmp_path)).run_history()["run_id"].tolist() == [good["run_id"]]
