"""The ``country`` flow: a national run, every stage partitioned, on threads or a Dask cluster.

Each source is a folder of Parquet files (one per county or province,
``connectors.datasets``) or a database table (``connectors.sql_ranges``); the run is cut
into partitions of whole files, or ranges of a table's key, of about
``partition_records`` rows. Every stage of ``reconcile.spread_plan`` runs on the
partitions (or on buckets of hashed keys) where the runner puts them: a thread pool, or
the workers of a Dask cluster. Frames go from stage to stage through files in the run's
own folder under ``OUT`` (``connectors.mailbox``), so no worker and not the flow's own
process ever holds more than one partition or bucket; the flow holds counts.

Published (``OUT/AS_OF``, swapped in whole as every run is): each table as a dataset by
province and county (``TABLE/province=PP/county=CCCCCC/part-NNNNN.parquet``), one file
per table and province (``provinces/PP/TABLE.parquet``, what an analyst opens for one
province), the ledger the same way, and ``run.json``. The ledger of a county follows it
from run to run through the ledger the last published run of an earlier date left.
Before anything is swapped in, the publishing gate runs per partition and across
partitions (``flows.country_gate``), and with ``store_url`` the run is loaded into the
SQL store a share of counties at a time (``flows.country_store``). Not in a country run
yet: the reports and workbooks, the alerts, the volume guard, and the people's columns
of the 台账 (verdicts, REVIEW_MATCH answers); the ledger it follows is its own published
one, not the store's (see README, "A national run, every stage partitioned").
"""
from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import uuid4

import flows.runtime  # noqa: F401  (offline Prefect defaults, before prefect is imported)
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

import reconcile as core
from connectors import datasets
from flows import country_gate, country_store
from connectors.errors import ClusterError
from connectors.mailbox import FileBox
from connectors.publish import Staging, prepare_out
from connectors.store import Store, default_url, shown_url
from reconcile.spread_plan import TABLE_ORDER, SpreadSettings, order_table, run_spread
from schemas.config import load_source_specs
from schemas.defaults import DEADLINE, PARTITION_RECORDS

TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "records_ps", "records_ha")
LEDGER_TABLES = ("ledger",)
STORED_NAMES = country_store.stored_names(TABLES)
THREADS = 2
CONNECT_SECONDS = 10



class PublishedLedger:
    """The ledger of some counties as the last published run of an earlier date left it,
    and as a run of this date left it (``spread_plan.run_spread``'s ``ledger_for``)."""

    def __init__(self, out: str, as_of: str):
        self.out, self.as_of = out, as_of
        dates = sorted(p.name for p in Path(out).iterdir() if p.name[:4].isdigit() and len(p.name) == 10
                       and p.name < as_of and (p / "ledger").is_dir()) if Path(out).is_dir() else []
        self.earlier = str(Path(out, dates[-1])) if dates else None
        self.today = str(Path(out, as_of)) if (Path(out, as_of) / "ledger").is_dir() else None

    def counties(self) -> list[str]:
        return sorted(set(datasets.counties_in(Path(self.earlier), "ledger") if self.earlier else [])
                      | set(datasets.counties_in(Path(self.today), "ledger") if self.today else []))

    def __call__(self, counties: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        def read(folder):
            return datasets.read_shares(datasets.share_files(Path(folder), "ledger", counties=counties)) \
                if folder else pd.DataFrame()
        return read(self.earlier), read(self.today)


def write_part(box, i: int, folder: str, store_folder: str | None = None) -> dict:
    """Partition ``i``'s share of every table into the staged datasets (and, for the
    store, its ledger with the run that changed each item into ``store_folder``); what it
    counted."""
    tables, led, canon = box.kept("tables", i), box.kept("ledger", i), box.kept("canon", i)
    rows, county_rows = {}, {}
    ledger = led["ledger"].drop(columns=["changed_by_run"])  # as ledger.parquet: the run id is the store's
    for name, frame in [*tables.items(), ("ledger", ledger)]:
        if len(frame):
            by_county = datasets.write_share(Path(folder), name, order_table(name, frame), i)
            rows[name] = sum(by_county.values())
            if name in STORED_NAMES:
                for county, n in by_county.items():
                    county_rows[county] = county_rows.get(county, 0) + n
    if store_folder is not None and len(led["ledger"]):
        datasets.write_share(Path(store_folder), "ledger", order_table("ledger", led["ledger"]), i)
    q = canon["quarantine"]["source"].value_counts().to_dict() if "quarantine" in canon else {}
    used = {"ps_households": len(canon.get("ps", ())), "ps_members": len(canon.get("members", ())),
            "ha_archive": len(canon.get("ha", ()))}
    matched = tables.get("matches", pd.DataFrame({"method": []}))["method"].value_counts().to_dict()
    rules = tables.get("discrepancies", pd.DataFrame({"rule": []}))["rule"].value_counts().to_dict()
    read = canon["read"].iloc[0].to_dict() if "read" in canon and len(canon["read"]) else {}
    return {"rows": rows, "county_rows": county_rows, "read": read, "used": used, "quarantined": q,
            "matches_by_method": matched,
            "discrepancies_by_rule": rules, "ledger_changes": led["changes"]["status"].value_counts().to_dict()}


def province_files(folder: str, province: str) -> dict[str, int]:
    """One file per table for one province, rows in the single process's order."""
    target = Path(folder, "provinces", province)
    target.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in (*TABLES, *LEDGER_TABLES):
        files = datasets.share_files(Path(folder), name, province=province)
        if files:
            rows[name] = datasets.write_ordered(files, TABLE_ORDER[name], target / f"{name}.parquet")
    return rows


class Runner:
    """Runs a stage's calls and times each stage: threads, or a Dask cluster's workers."""

    def __init__(self, dask_address: str | None, workers: int = 2):
        self.seconds: dict[str, float] = {}
        self.client = self.cluster = None
        if dask_address:
            from distributed import Client, LocalCluster

            try:
                if dask_address == "local":  # process workers: each its own memory, as on a cluster
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
                    self.client = Client(self.cluster)
                else:
                    self.client = Client(dask_address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as e:
                self.close()
                raise ClusterError(f"--dask-address {dask_address}: no Dask scheduler answers there "
                                   f"({type(e).__name__}: {e})") from None
        self.name = "dask" if self.client else "threads"

    def __call__(self, fn, calls):
        started = time.perf_counter()
        if self.client is not None:
            from distributed import wait

            futures = [self.client.submit(fn, *c, pure=False) for c in calls]
            try:
                out = self.client.gather(futures)
            except BaseException:
                # the other calls of the stage may still be running: stop them and wait, so
                # none writes into the run's folder once it is removed
                self.client.cancel(futures)
                wait(futures, timeout=CONNECT_SECONDS)
                raise
        else:
            with ThreadPoolExecutor(THREADS) as pool:
                out = list(pool.map(lambda c: fn(*c), calls))
        stage = fn.__name__.removesuffix("_part").removesuffix("_bucket")
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - started, 3)
        return out

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@task(name="spread-stages", cache_policy=NO_CACHE)
def stages(slices, settings, box, runner, run_id, ledger):
    specs = load_source_specs(slices[0].mapping if slices else None)
    cfg = SpreadSettings(settings, specs, parts=len(slices), buckets=max(1, len(slices)))
    return run_spread(slices, cfg, runner, box, run_id=run_id, ledger_for=ledger,
                      ledger_counties=ledger.counties())


@flow(name="country", validate_parameters=True)
def country(ps_households: str, ha_archive: str, out: str, as_of: date, ps_members: str | None = None,
            deadline: date = DEADLINE, mapping: str | None = None, partition_records: int = PARTITION_RECORDS,
            dask_address: str | None = None, store_url: str | None = None) -> dict:
    """Reconcile the country's exports (folders or tables) as of a date, partition by
    partition; with ``store_url``, load the run into that SQL store too."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    prepare_out(Path(out))
    sources = {"ps_households": ps_households, "ha_archive": ha_archive}
    if ps_members:
        sources["ps_members"] = ps_members
    slices, found = datasets.plan_partitions(sources, partition_records, mapping)
    run_id = f"{as_of:%Y%m%d}-{uuid4().hex[:12]}"
    # the locks `anju reconcile` takes on this store: no two runs of a date, no ledger import, under this one
    lock = Store(store_url or default_url(Path(out)))
    with lock.run_lock(as_of.isoformat()), lock.run_lock("ledger"):
        return _run(slices, found, out, as_of, deadline, mapping, partition_records, dask_address, run_id, started_at,
                    lock if store_url else None)


def _run(slices, found, out, as_of, deadline, mapping, partition_records, dask_address, run_id, started_at,
         store: Store | None) -> dict:
    log = get_run_logger()
    runner = Runner(dask_address)
    log.info("country: %d partitions of about %d records on %s", len(slices), partition_records, runner.name)
    try:
        with Staging(Path(out), as_of.isoformat(), run_id) as staging:
            box = FileBox(staging.runs / f"{run_id}.exchange")
            store_folder = Path(box.root, country_store.STORE_FOLDER) if store is not None else None
            try:
                run = stages(slices, core.Settings(as_of=as_of, deadline=deadline), box, runner, run_id,
                             PublishedLedger(out, as_of.isoformat()))
                parts = runner(write_part, [(box, i, str(staging.path), store_folder and str(store_folder))
                                            for i in range(len(slices))])
                gated = country_gate.gate(runner, box, len(slices), max(1, len(slices)), accounting(found, parts),
                                          staging.path, Path(out), run_id, as_of, deadline)
                provs = sorted(set().union(*(datasets.provinces(staging.path, t) for t in (*TABLES, *LEDGER_TABLES))))
                per_province = dict(zip(provs, runner(province_files, [(str(staging.path), p) for p in provs])))
                record = run_record(run_id, as_of, started_at, found, parts, per_province, run.model, runner,
                                    {"partitions": len(slices), "partition_records": partition_records,
                                     "task_runner": runner.name, "deadline": deadline.isoformat(),
                                     "mapping": mapping, "store": shown_url(store.url) if store is not None else None})
                record["gate"] = gated
                if store is not None:
                    started = time.perf_counter()
                    record["store_shares"] = country_store.load_store(
                        store, record, staging.path, store_folder, STORED_NAMES, _total(parts, "county_rows"))
                    record["seconds"]["store"] = round(time.perf_counter() - started, 3)
            finally:
                box.remove()
            staging.write_json("run.json", record)
            live = staging.commit()
        if store is not None:
            try:
                store.mark_published(run_id)
            except Exception as e:  # noqa: BLE001  (the files are in place; the run is published)
                log.warning("country: outputs in place, but the store still lists run %s as stored: %s", run_id, e)
    finally:
        runner.close()
    log.info("country: published %s (%s)", live, ", ".join(f"{k} {v}s" for k, v in runner.seconds.items()))
    return {**record, "published": str(live)}


def _total(parts: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in parts:
        for k, v in p[key].items():
            out[k] = out.get(k, 0) + int(v)
    return dict(sorted(out.items()))


def run_inputs(found: dict, parts: list[dict]) -> dict[str, dict]:
    """Per source: its files, and the rows read, used and quarantined over every partition."""
    read, used, quarantined = _total(parts, "read"), _total(parts, "used"), _total(parts, "quarantined")
    inputs = {name: {**info, "rows_used": used.get(name, 0), "rows_quarantined": quarantined.get(name, 0)}
              for name, info in found.items()}
    for name, info in inputs.items():
        info["rows_read"] = int(read.get(name, info["rows_read"]))
    return inputs


def accounting(found: dict, parts: list[dict]) -> pd.DataFrame:
    """The gate's accounting of the whole run (a country run reads every row of its folders)."""
    return pd.DataFrame([{"source": name, "rows_read": i["rows_read"], "rows_used": i["rows_used"],
                          "rows_quarantined": i["rows_quarantined"], "rows_out_of_scope": 0}
                         for name, i in run_inputs(found, parts).items()])


def run_record(run_id, as_of, started_at, found, parts, per_province, model, runner, parameters) -> dict:
    return {"run_id": run_id, "as_of": as_of.isoformat(), "scope": "all", "started_at": started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "parameters": parameters,
            "inputs": run_inputs(found, parts), "tables": _total(parts, "rows"), "provinces": per_province,
            "matches_by_method": _total(parts, "matches_by_method"),
            "discrepancies_by_rule": _total(parts, "discrepancies_by_rule"),
            "ledger_changes": _total(parts, "ledger_changes"),
            "match_model": model.as_dict(core.LEVELS) if model is not None else None, "seconds": runner.seconds}
