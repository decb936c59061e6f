"""``anju country``: folders of county files, every stage partitioned, on threads or on
Dask process workers, publish the single process's tables byte for byte; the ledger
follows from one date to the next; a failed run leaves nothing behind (issue 21)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
AS_OF, NEXT = date(2020, 7, 31), date(2020, 8, 31)
TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "records_ps", "records_ha", "ledger")


@pytest.fixture(scope="module")
def counties(tmp_path_factory) -> Path:
    """A generated world as a folder of county files per source, with a row to quarantine."""
    from anju_synth import build_world
    from anju_synth.layout import PS_HEADERS, write_world

    out = tmp_path_factory.mktemp("counties")
    write_world(build_world(3000, seed=11), out, seed=11, fmt="counties")
    first = sorted((out / "ps_households").glob("*.parquet"))[0]
    frame = pd.read_parquet(first)
    frame.loc[3, PS_HEADERS["household_no"]] = None  # a household without its key
    frame.to_parquet(first, index=False)
    return out


def run_country(world: Path, out: Path, as_of=AS_OF, **kw) -> dict:
    from flows.country_flow import country

    return country(ps_households=str(world / "ps_households"), ps_members=str(world / "ps_members"),
                   ha_archive=str(world / "ha_archive"), as_of=as_of, out=str(out), partition_records=1500, **kw)


def national(live: Path, name: str, path: Path) -> bytes:
    """A table of the whole run from its files by county, in the single process's order."""
    from connectors.datasets import read_shares, share_files
    from connectors.publish import write_parquet
    from reconcile.spread_plan import order_table

    write_parquet(order_table(name, read_shares(share_files(live, name))), path)
    return path.read_bytes()


def run_single(world: Path, out: Path, as_of=AS_OF) -> dict:
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(world / "ps_households"), ps_members=str(world / "ps_members"),
                     ha_archive=str(world / "ha_archive"), as_of=as_of, out=str(out))


@pytest.fixture(scope="module")
def single(harness, counties, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single")
    run_single(counties, out)
    return out / AS_OF.isoformat()


@pytest.mark.parametrize("dask", [None, "local"])
def test_partitions_on_threads_or_dask_workers_publish_the_single_process_tables(harness, counties, single,
                                                                                tmp_path, dask):
    run = run_country(counties, tmp_path, dask_address=dask)
    assert run["parameters"]["partitions"] == 2 and run["parameters"]["task_runner"] == ("dask" if dask else "threads")
    live = tmp_path / AS_OF.isoformat()
    for name in TABLES:
        assert national(live, name, tmp_path / f"{name}.parquet") == (single / f"{name}.parquet").read_bytes(), name
    # one province: its files are the tables but for rows of no county (orphan members)
    assert (live / "provinces" / "52" / "matches.parquet").read_bytes() == (single / "matches.parquet").read_bytes()
    assert set(pd.read_parquet(live / "provinces" / "none" / "quarantine.parquet")["problem"]) == {"orphan"}

    from connectors.datasets import share_files

    assert {p.parent.name for p in share_files(live, "matches")} == {"county=520302", "county=520303"}
    # every row read is used or quarantined; nothing of the exchange is left
    record = json.loads((live / "run.json").read_text(encoding="utf-8"))
    for name, i in record["inputs"].items():
        assert i["rows_read"] == i["rows_used"] + i["rows_quarantined"], name
    assert record["inputs"]["ps_households"]["rows_quarantined"] == 1
    assert record["gate"]["failed"] == [] and record["gate"]["evaluated"] > 20  # per partition and across
    assert not list((tmp_path / ".runs").rglob("*.exchange"))


def test_the_ledger_follows_from_one_date_to_the_next(harness, counties, tmp_path):
    run_country(counties, tmp_path)
    later = tmp_path / "later"
    for source in ("ps_households", "ps_members", "ha_archive"):
        (later / source).mkdir(parents=True)
        for f in sorted((counties / source).glob("*.parquet")):
            frame = pd.read_parquet(f)
            (frame.iloc[30:] if source == "ha_archive" else frame).to_parquet(later / source / f.name, index=False)
    out2 = tmp_path / "single"
    out2.mkdir()
    run_single(counties, out2)
    run_single(later, out2, NEXT)
    run = run_country(later, tmp_path, NEXT)
    led = pd.read_parquet(tmp_path / NEXT.isoformat() / "provinces" / "52" / "ledger.parquet")
    assert {"resolved", "open", "new"} <= set(led["status"])
    assert run["ledger_changes"]["resolved"] > 0
    assert national(tmp_path / NEXT.isoformat(), "ledger", tmp_path / "ledger.parquet") == \
        (out2 / NEXT.isoformat() / "ledger.parquet").read_bytes()


def test_a_failed_run_leaves_the_last_outputs_and_no_exchange(harness, counties, tmp_path, monkeypatch):
    import reconcile.spread_plan as plan

    run_country(counties, tmp_path)
    before = (tmp_path / AS_OF.isoformat()).resolve()

    def broken(*a, **k):
        raise RuntimeError("a worker died")

    monkeypatch.setattr(plan, "unify_part", broken)
    with pytest.raises(Exception):
        run_country(counties, tmp_path)
    assert (tmp_path / AS_OF.isoformat()).resolve() == before
    assert not list((tmp_path / ".runs").rglob("*.exchange")) and not list((tmp_path / ".runs").rglob("*.partial"))


def test_a_run_the_gate_stops_publishes_nothing(harness, counties, tmp_path, monkeypatch):
    import reconcile.spread_plan as plan
    from schemas.published import PublishGateError

    run_country(counties, tmp_path)
    before = (tmp_path / AS_OF.isoformat()).resolve()
    real = plan.published_tables

    def scores_out_of_range(*a, **k):  # a core that went wrong: the gate must catch it
        tables = real(*a, **k)
        tables["matches"] = tables["matches"].assign(score=2.0)
        return tables

    monkeypatch.setattr(plan, "published_tables", scores_out_of_range)
    with pytest.raises(PublishGateError, match="expect_column_values_to_be_between"):
        run_country(counties, tmp_path)
    assert (tmp_path / AS_OF.isoformat()).resolve() == before
    failed = next((tmp_path / ".failed" / AS_OF.isoformat()).iterdir())
    assert json.loads((failed / "gate.json").read_text("utf-8"))["failed_partitions"]
    assert list(failed.glob("datadocs/part-*/index.html"))
    assert not list((tmp_path / ".runs").rglob("*.exchange"))
