"""The reconcile flow under Prefect's test harness, on the bundled sample."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from schemas.published import MODELS
from tests.conftest import AS_OF, SAMPLE, precision_recall

pytestmark = pytest.mark.slow


from tests.flows.conftest import run_sample as _run

def test_outputs_follow_their_contracts(published):
    out, run = published
    live = out / AS_OF.isoformat()
    for name, model in MODELS.items():
        model.validate(pd.read_parquet(live / f"{name}.parquet"))
    meta = json.loads((live / "run.json").read_text(encoding="utf-8"))
    for key in ("run_id", "as_of", "started_at", "finished_at", "inputs", "tables", "seconds", "versions"):
        assert key in meta
    for name, i in meta["inputs"].items():
        assert i["rows_read"] == i["rows_used"] + i["rows_quarantined"], name
        assert len(i["sha256"]) == 64


def test_sample_matches_and_discrepancies_against_truth(published):
    out, run = published
    live = out / AS_OF.isoformat()
    matches = pd.read_parquet(live / "matches.parquet")
    truth = pd.read_csv(SAMPLE / "truth" / "pairs.csv", dtype=str)
    p, r = precision_recall(matches, truth, ["household_no", "archive_no"])
    print(f"\nsample match precision {p:.4f} recall {r:.4f}")
    assert p >= 0.9995
    assert r >= 0.85  # exact-ID and roster passes; broken IDs await the fuzzy passes
    disc = pd.read_parquet(live / "discrepancies.parquet")
    exp = pd.read_csv(SAMPLE / "truth" / "discrepancies.csv", dtype=str)
    for rule in ("INVALID_ID", "DUPLICATE", "RENOVATION_OVERDUE", "DATE_ANOMALY", "SUBSIDY_MISSING"):
        p, r = precision_recall(disc[disc["rule"] == rule], exp[exp["rule"] == rule], ["household_no", "archive_no"])
        print(f"{rule}: precision {p:.4f} recall {r:.4f}")
        assert p == 1.0 and r == 1.0, rule


def test_store_holds_the_run(published):
    import sqlalchemy as sa

    out, run = published
    eng = sa.create_engine(f"sqlite:///{out / 'anju.sqlite'}")
    with eng.connect() as conn:
        n = conn.execute(sa.text("select count(*) from discrepancies where run_id = :r"), {"r": run["run_id"]}).scalar()
    assert n == run["tables"]["discrepancies"]


def test_rerun_gives_byte_identical_tables(published, tmp_path):
    out, _ = published
    _run(tmp_path)
    for name in ("matches", "discrepancies", "unified", "quarantine", "other_groups"):
        a = (out / AS_OF.isoformat() / f"{name}.parquet").read_bytes()
        b = (tmp_path / AS_OF.isoformat() / f"{name}.parquet").read_bytes()
        assert a == b, name


def test_bad_source_fails_cleanly_and_keeps_last_good_outputs(published, tmp_path):
    from connectors.errors import SourceError
    from flows.reconcile_flow import reconcile

    out, run = published
    bad = tmp_path / "ha.xlsx"
    bad.write_bytes(b"not a workbook")
    before = (out / AS_OF.isoformat()).resolve()
    with pytest.raises(SourceError, match="not a readable XLSX"):
        reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ha_archive=str(bad), as_of=AS_OF, out=str(out))
    assert (out / AS_OF.isoformat()).resolve() == before


def test_monthly_progress_flow_publishes_the_month(published):
    from flows.progress_flow import month_end, monthly_progress, previous_month
    from reconcile.progress import monthly_progress as table

    out, _ = published
    r = monthly_progress(out=str(out), month="2020-07")
    assert r["as_of"] == "2020-07-31" and r["source_run"] == "2020-07-31"
    live = out / "progress" / "2020-07"
    got = pd.read_parquet(live / "progress.parquet")
    run_dir = out / "2020-07-31"
    want = table(pd.read_parquet(run_dir / "records_ha.parquet"), pd.read_parquet(run_dir / "unified.parquet"),
                 "2020-07-31", "2020-06-30")
    pd.testing.assert_frame_equal(got, want)
    assert (live / "进度月报.xlsx").exists() and (live / "progress.csv").exists()
    assert previous_month(AS_OF.replace(day=3)) == "2020-06" and str(month_end("2020-02")) == "2020-02-29"
    from connectors.errors import SourceError

    with pytest.raises(SourceError, match="no published run on or before 2020-05-31"):
        monthly_progress(out=str(out), month="2020-05")


def test_a_first_run_publishes_no_alert_and_an_empty_alert_ledger(published):
    from schemas.alerts import ALERT_COLUMNS, ALERT_LEDGER_COLUMNS, Alerts

    out, run = published
    live = out / AS_OF.isoformat()
    alerts = Alerts.validate(pd.read_parquet(live / "alerts.parquet"))
    assert alerts.empty and list(alerts.columns) == ALERT_COLUMNS  # nothing earlier to compare with
    ledger = pd.read_parquet(live / "alert_ledger.parquet")
    assert ledger.empty and list(ledger.columns) == [c for c in ALERT_LEDGER_COLUMNS if c != "changed_by_run"]
    assert run["tables"]["alerts"] == 0 and "monitor" in run["seconds"]


def test_an_unknown_monitoring_threshold_fails_before_anything_is_read(harness, tmp_path):
    from flows.reconcile_flow import reconcile

    # the settings' mistake is named before any export is read (this one does not exist)
    with pytest.raises(ValueError, match="monitoring: RENOVATION_STALLED: unknown threshold days; expected "
                                         "days_after_start"):
        reconcile(ps_households=str(tmp_path / "missing.csv"), ha_archive=str(SAMPLE / "ha_archive.xlsx"),
                  as_of=AS_OF, out=str(tmp_path), monitoring={"RENOVATION_STALLED": {"days": 90}})
    assert not (tmp_path / AS_OF.isoformat()).exists()
