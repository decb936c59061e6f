"""Ledger lifecycle, idempotent and scoped re-runs, killed and concurrent runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import database_url
from tests.flows.test_cli import PREFECT_HOME

pytestmark = pytest.mark.slow
D1, D2, D3 = date(2020, 7, 31), date(2020, 8, 31), date(2020, 9, 30)
TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "ledger")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    from anju_synth import build_world, write_world

    out = tmp_path_factory.mktemp("exports")
    write_world(build_world(800, seed=21), out, seed=21, fmt="parquet")
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, fresh_database):
    # None: the default, a SQLite file in the output folder
    return None if request.param == "sqlite" else fresh_database("postgres")


def run(src: Path, out: Path, as_of: date, store: str | None, **kw) -> dict:
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(src / "ps_households.parquet"), ps_members=str(src / "ps_members.parquet"),
                     ha_archive=str(src / "ha_archive.parquet"), as_of=as_of, out=str(out), store=store, **kw)


def table(out: Path, as_of: date, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / as_of.isoformat() / f"{name}.parquet")


def edited(src: Path, dest: Path, name: str, change) -> Path:
    """A copy of the exports with one file changed, as an agency's correction would."""
    dest.mkdir(exist_ok=True)
    for f in src.glob("*.parquet"):
        frame = pd.read_parquet(f)
        if f.stem == name:
            frame = change(frame)
        frame.to_parquet(dest / f.name, index=False)
    return dest


def test_two_runs_give_identical_outputs_and_ledger(harness, exports, tmp_path, store_url):
    run(exports, tmp_path / "a", D1, store_url)
    first = {n: (tmp_path / "a" / D1.isoformat() / f"{n}.parquet").read_bytes() for n in TABLES}
    run(exports, tmp_path / "a", D1, store_url)
    again = {n: (tmp_path / "a" / D1.isoformat() / f"{n}.parquet").read_bytes() for n in TABLES}
    assert first == again
    assert set(table(tmp_path / "a", D1, "ledger")["status"]) == {"new"}


@pytest.fixture(scope="module")
def resolved_by_time(harness, exports, tmp_path_factory) -> set[str]:
    """Control: what the uncorrected exports resolve at D2 by themselves (a later as_of
    settles some dates), run once for every store the correction test runs on."""
    control = tmp_path_factory.mktemp("control")
    run(exports, control, D1, None)
    run(exports, control, D2, None)
    return set(table(control, D2, "ledger").query("status == 'resolved'")["discrepancy_id"])


def test_correction_resolves_exactly_what_it_fixes_and_reintroduction_reopens(harness, exports, tmp_path, store_url,
                                                                             resolved_by_time):
    out = tmp_path / "out"
    run(exports, out, D1, store_url)
    disc = table(out, D1, "discrepancies")
    target = disc[disc["rule"] == "SECURED_CONFLICT"].iloc[0]
    hh = target["household_no"]

    def fix(ps):  # the poverty office sets the flag the archive proves
        ps = ps.copy()
        ps.loc[ps["户编号"] == hh, "住房安全有保障"] = "否" if target["ps_value"] == "是" else "是"
        return ps

    run(edited(exports, tmp_path / "fixed", "ps_households", fix), out, D2, store_url)
    ledger = table(out, D2, "ledger").set_index("discrepancy_id")
    resolved = ledger[ledger["status"] == "resolved"]
    by_time = resolved_by_time
    assert target["discrepancy_id"] not in by_time
    assert set(resolved.index) == by_time | {target["discrepancy_id"]}
    assert set(resolved["resolved_at"]) == {D2.isoformat()}
    assert set(ledger["status"]) == {"open", "resolved"}
    assert (ledger.loc[ledger["status"] == "open", "first_seen"] == D1.isoformat()).all()

    run(exports, out, D3, store_url)  # the old value comes back
    ledger3 = table(out, D3, "ledger").set_index("discrepancy_id")
    assert ledger3.loc[target["discrepancy_id"], "status"] == "reopened"
    assert ledger3.loc[target["discrepancy_id"], "first_seen"] == D1.isoformat()
    d3 = table(out, D3, "discrepancies").set_index("discrepancy_id")
    assert d3.loc[target["discrepancy_id"], "status"] == "reopened"


def test_scoped_rerun_touches_only_its_counties(harness, exports, tmp_path, store_url):
    out = tmp_path / "out"
    run(exports, out, D1, store_url)
    before = {n: table(out, D1, n) for n in TABLES}
    counties = sorted(before["unified"]["county_code"].unique())
    assert len(counties) >= 2
    scope, other = counties[0], counties[1:]
    disc = before["discrepancies"]
    target = disc[(disc["rule"] == "SUBSIDY_MISSING") & (disc["county_code"] == scope)].iloc[0]

    def fix(ha):
        ha = ha.copy()
        ha.loc[ha["档案编号"] == target["archive_no"], "补助资金(元)"] = "18000"
        return ha

    result = run(edited(exports, tmp_path / "fixed", "ha_archive", fix), out, D1, store_url, counties=[scope])
    assert result["scope"] == scope
    after = {n: table(out, D1, n) for n in TABLES}
    for name in TABLES:
        if name == "quarantine":
            continue
        keep_b = before[name][before[name]["county_code"].isin(other)].reset_index(drop=True)
        keep_a = after[name][after[name]["county_code"].isin(other)].reset_index(drop=True)
        pd.testing.assert_frame_equal(keep_a, keep_b, check_dtype=False, obj=name)
    assert target["discrepancy_id"] not in set(after["discrepancies"]["discrepancy_id"])
    led = after["ledger"].set_index("discrepancy_id")
    assert led.loc[target["discrepancy_id"], "status"] in ("resolved",)


def test_run_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    from connectors.store import RunLocked, Store

    urls = [f"sqlite:///{tmp_path / 'l.sqlite'}", database_url("postgres"), database_url("mariadb")]
    for url in urls:
        a, b = Store(url), Store(url)
        with a.run_lock("2020-07-31"):
            with pytest.raises(RunLocked, match="another run for as_of 2020-07-31"):
                with b.run_lock("2020-07-31"):
                    pass
            with b.run_lock("2020-08-31"):  # another date is free
                pass
        with b.run_lock("2020-07-31"):  # released with its holder
            pass


def _cli(src: Path, out: Path, as_of: date, env_extra: dict) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "reconcile", "--ps-households", str(src / "ps_households.parquet"),
         "--ps-members", str(src / "ps_members.parquet"), "--ha-archive", str(src / "ha_archive.parquet"),
         "--as-of", as_of.isoformat(), "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 240) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def test_killed_run_leaves_last_good_outputs_and_a_concurrent_run_stops_cleanly(exports, tmp_path):
    out = tmp_path / "out"
    first = _cli(exports, out, D1, {})
    assert first.wait(timeout=300) == 0, first.stdout.read()
    good = (out / D1.isoformat() / "run.json").read_text()
    store = sa.create_engine(f"sqlite:///{out / 'anju.sqlite'}")
    with store.connect() as conn:
        runs_before = conn.execute(sa.text("select count(*) from runs")).scalar()

    victim = _cli(exports, out, D1, {"ANJU_FAULT_PAUSE_BEFORE_COMMIT": "120"})
    _wait_for(victim, "fault point")
    rival = _cli(exports, out, D1, {})
    rival_out, _ = rival.communicate(timeout=300)
    assert rival.returncode == 2 and "another run for as_of 2020-07-31 is in progress" in rival_out
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)

    assert (out / D1.isoformat() / "run.json").read_text() == good
    pd.read_parquet(out / D1.isoformat() / "unified.parquet")  # still readable
    with store.connect() as conn:
        assert conn.execute(sa.text("select count(*) from runs")).scalar() == runs_before

    again = _cli(exports, out, D1, {})  # no manual cleanup: the lock died with its holder
    assert again.wait(timeout=300) == 0, again.stdout.read()
    assert not list((out / ".runs" / D1.isoformat()).glob("*.partial"))
    with store.connect() as conn:
        assert conn.execute(sa.text("select count(*) from runs")).scalar() == runs_before + 1


def test_rerun_summaries_count_only_what_the_run_changed_in_its_scope(harness, tmp_path):
    """Re-running the same inputs for the same date, whole or for one county, claims no new
    problem; the ledger itself stays byte-identical. Links go under ``report_url``."""
    from prefect.artifacts import Artifact

    from flows.cli import _summary
    from tests.flows.conftest import run_sample

    out = tmp_path / "out"
    first = run_sample(out)
    disc = table(out, D1, "discrepancies")
    assert first["ledger_changes"] == {"new": len(disc), "open": 0, "resolved": 0, "reopened": 0, "waived": 0}
    ledger = (out / D1.isoformat() / "ledger.parquet").read_bytes()

    again = run_sample(out, report_url="https://reports.example/anju/")
    assert (out / D1.isoformat() / "ledger.parquet").read_bytes() == ledger
    assert again["ledger_changes"] == {"new": 0, "open": len(disc), "resolved": 0, "reopened": 0, "waived": 0}
    assert "new 0," in _summary(again)
    text = Artifact.get("reconcile-summary").data
    assert "new 0," in text and f"new {len(disc):,}" not in text
    assert "(https://reports.example/anju/2020-07-31/report.html)" in Artifact.get("reconcile-report").data
    assert "(https://reports.example/anju/2020-07-31/)" in Artifact.get("reconcile-outputs").data

    county = disc["county_code"].value_counts().index[0]
    mine = disc[disc["county_code"] == county]
    scoped = run_sample(out, counties=[county])
    assert (out / D1.isoformat() / "ledger.parquet").read_bytes() == ledger
    assert scoped["ledger_changes"] == {"new": 0, "open": len(mine), "resolved": 0, "reopened": 0, "waived": 0}
    assert sum(scoped["discrepancies_by_rule"].values()) == len(mine)
    lines = _summary(scoped).splitlines()
    assert any(line.split()[:2] == ["discrepancies", f"{len(mine):,}"] for line in lines), lines
    assert f"ledger ({county}): new 0, open {len(mine):,}, resolved 0, reopened 0" in lines[
        [i for i, line in enumerate(lines) if line.strip().startswith("ledger")][0]]
    text = Artifact.get("reconcile-summary").data
    assert f"{len(mine):,} discrepancies" in text and "new 0," in text
    others = set(disc["county_code"]) - {county}
    assert others and not any(f"| {c} |" in text for c in others)  # the per-county table: the scope only
    for rule, n in mine["rule"].value_counts().items():
        assert f"| {rule} |" in text
