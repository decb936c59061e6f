"""The ``reconcile`` flow: extract, validate, normalize, match, classify, unify, monitor, publish.

Tasks pass frames in memory: the thread pool shares this process, and a Dask cluster ships
each partition's frames to its workers and back. Nothing is cached across runs by
accident: every task has ``cache_policy=NO_CACHE``, so a re-run after a correction
really re-reads.
"""
from __future__ import annotations

import contextvars
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import metadata
from pathlib import Path
from uuid import uuid4

import flows.runtime  # noqa: F401  (offline Prefect defaults, before prefect is imported)
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.context import get_run_context
from prefect.cache_policies import NO_CACHE

from connectors.datadocs import run_gate
from connectors.ledger_people_store import people_state
from connectors.retention import prune as prune_published
from connectors.settings_file import retention_settings
from connectors.publish import Staging, prepare_out
from connectors.run_files import keep_failed_gate, read_live_tables, write_run_record
from connectors.sources import SourceFrame, read_source
from connectors.store import PUBLISHED as STORED
from connectors.store import SavingRun, Store, default_url, shown_url
import reconcile as core
from reconcile import Canonical, IdMatches, MatchResult, Settings
from schemas.alerts import alert_thresholds
from schemas.config import load_source_specs
from schemas.defaults import DEADLINE, PARTITION_RECORDS
from schemas.guards import GuardThresholds
from schemas.published import OPEN_STATUSES, PublishGateError, validate_published
from schemas.run_record import RunRecord

from flows.artifacts import check_report_url, publish_artifacts
from flows.drops_flow import PROFILE_NAME, DropPolicy, check_exports, resolve_locations, run_guards
from flows.monitoring import find_alerts, track_alerts
from flows.reporting import write_reports
from flows.runners import task_runner

ACCOUNTED = ("rows_read", "rows_used", "rows_quarantined", "rows_out_of_scope")
PACKAGES = ("anju", "pandas", "numpy", "pandera", "great-expectations", "sqlalchemy", "prefect", "pyarrow")


# Only errors known to pass are retried (a refused connection, a busy device): a bad file
# or a bug fails at once, with its message, instead of twice more.
@task(name="extract", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=flows.runtime.retry_if_transient,
      cache_policy=NO_CACHE, timeout_seconds=3600)
def extract(location: str, source: str, mapping: str | None) -> SourceFrame:
    src = read_source(location, load_source_specs(mapping)[source])
    get_run_logger().info("extract %s: %d rows from %s (%s)", source, src.meta["rows_read"], Path(location).name,
                          src.meta.get("encoding") or src.meta.get("sheet") or src.meta["format"])
    return src


@task(name="resolve-drops", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=flows.runtime.retry_if_transient, cache_policy=NO_CACHE, timeout_seconds=3600)
def resolve_drops(locations: dict[str, str], out: str, as_of: date, drops: dict | None):
    """``drop:`` sources become kept local copies (see flows/drops_flow.py); a stale or
    unchanged export is named, and holds publication if the settings say so."""
    policy = DropPolicy.from_settings(drops)
    local, taken = resolve_locations(locations, out, as_of, policy)
    for name, d in taken.items():
        get_run_logger().info("drop %s: %s (export %s, %s, sha256 %s)", name, d["file"], d["export_date"],
                              "kept copy reused" if d.get("reused") else f"{d['age_days']} day(s) old",
                              d["sha256"][:12])
    found = check_exports(taken, as_of, policy)
    for f in found:
        get_run_logger().warning("drop %s", f["text"])
    return local, taken, found


@task(name="normalize", cache_policy=NO_CACHE)
def normalize(sources: dict[str, SourceFrame], settings: Settings, mapping: str | None) -> Canonical:
    raw = {name: src.frame for name, src in sources.items()}
    rejected = {name: src.meta.get("rejected_rows", []) for name, src in sources.items()}
    canon = core.normalize(raw, load_source_specs(mapping), settings, rejected=rejected)
    get_run_logger().info("normalize: %d rows quarantined", len(canon.quarantine))
    return canon


# The core's matching stages, one task each, so the partitions spread over the flow's
# task runner (the same functions ``reconcile.match`` calls one after the other).
match_ids = task(name="match-by-id", cache_policy=NO_CACHE)(core.match_by_id)
match_candidates = task(name="match-candidates", cache_policy=NO_CACHE)(core.candidates)
match_fit = task(name="match-fit", cache_policy=NO_CACHE)(core.fit_model)
match_assign = task(name="match-assign", cache_policy=NO_CACHE)(core.score)


def match(canon: Canonical, partition_records: int,
          decisions: pd.DataFrame | None = None) -> tuple[MatchResult, dict]:
    """Matching, partitioned by county through the flow's task runner (threads, or Dask).

    The ID passes are national; the scored passes run per group of counties, twice: once
    to list candidates (the model is then fitted over all of them), once to assign.
    """
    ids: IdMatches = match_ids(canon)
    parts = core.partitions(ids.residual, partition_records)
    candidates = [f.result() for f in [match_candidates.submit(p) for p in parts]]
    model = match_fit(ids.residual, candidates)
    results = [f.result() for f in [match_assign.submit(c, model) for c in candidates]]
    r = core.finish_match(canon, ids, results, model, decisions=decisions)
    runner = type(get_run_context().task_runner).__name__
    get_run_logger().info("match: %d pairs (%s), %d for review, %d partitions on %s", len(r.matches),
                          r.matches["method"].value_counts().to_dict(), len(r.review), len(parts), runner)
    return r, {"partitions": len(parts), "task_runner": runner}


@task(name="classify", cache_policy=NO_CACHE)
def classify(canon: Canonical, matched: MatchResult, settings: Settings) -> pd.DataFrame:
    d = core.find_discrepancies(canon, matched, settings)
    get_run_logger().info("classify: %d discrepancies", len(d))
    return d


@task(name="unify", cache_policy=NO_CACHE)
def unify_task(canon: Canonical, matches: pd.DataFrame, settings: Settings):
    """The unified table but for its discrepancy counts (``core.count_open`` adds them)."""
    return core.unify_matched(canon, matches, settings)


@task(name="monitor", cache_policy=NO_CACHE)
def monitor(store_url: str, unified: pd.DataFrame, records_ha: pd.DataFrame, as_of: str,
            counties: list[str] | None, monitoring: dict | None) -> pd.DataFrame:
    found, dates = find_alerts(Store(store_url), unified, records_ha, as_of, counties, monitoring)
    get_run_logger().info("monitor: %d alerts against %d earlier dates %s", len(found), len(dates),
                          found["alert"].value_counts().sort_index().to_dict())
    return found


@task(name="validate", cache_policy=NO_CACHE)
def validate(tables: dict[str, pd.DataFrame]) -> None:
    validate_published(tables)


@task(name="publish", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=30,
      retry_condition_fn=flows.runtime.retry_if_transient, timeout_seconds=4 * 3600)
def publish(tables: dict[str, pd.DataFrame], ledger: pd.DataFrame, run: RunRecord, out: str, store_url: str,
            counties: list[str] | None) -> str:
    """Files into a staging folder and the store in one transaction, then one rename.

    The store is written in a thread from the start (``SavingRun``) while the files are
    staged, guarded, gated and rendered; it commits only after all of them passed. A run
    killed before the store commits leaves both store and files as they were. The store
    row is written as ``stored`` and marked ``published`` once the folder is swapped in,
    so a run killed between the commit and the swap is never listed as published (its
    tables and ledger stay in the store until the next run for the date replaces them).
    """
    store = Store(store_url)
    # the store's reads first: the write about to begin locks a SQLite store to readers
    led = ledger_snapshot(store, run.as_of, ledger, counties)
    history = store.ledger_history()
    history = pd.concat([history[history["as_of"] != run.as_of], pd.DataFrame(
        {"as_of": [run.as_of], "open": [int(led["status"].isin(OPEN_STATUSES).sum())]})])
    run.tables["ledger"] = len(led)
    run.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # the store's row: set again below
    with Staging(Path(out), run.as_of, run.run_id) as staging:
        saving = SavingRun(store, {"run_id": run.run_id, "as_of": run.as_of, "scope": run.scope, "status": "stored",
                                   "started_at": run.started_at, "finished_at": run.finished_at,
                                   "parameters": run.parameters, "inputs": run.inputs, "counts": run.tables,
                                   "timings": run.seconds}, {k: v for k, v in tables.items() if k in STORED},
                           ledger, counties)
        try:
            for name, frame in tables.items():  # the run id of a change is the store's, as in ledger.parquet
                staging.write_table(name, frame.drop(columns=["changed_by_run"]) if name == "alert_ledger" else frame)
            # the volume guard before the gate: a held run stores and swaps nothing
            run.guards, profile = run_guards(tables, led, run.as_of, run.run_id, staging.path, Path(out),
                                             run.parameters["accept_change"],
                                             GuardThresholds.from_settings(run.parameters["guards"]))
            staging.write_table(PROFILE_NAME, profile)
            staging.write_table("ledger", led.drop(columns=["changed_by_run"]))
            progress = core.monthly_progress(tables["records_ha"], tables["unified"], run.as_of,
                                             run.parameters["deadline"], ledger=led,
                                             alert_ledger=tables.get("alert_ledger"))
            rows = core.analyst_view(tables["discrepancies"])
            run.gate = gate(tables | {"ledger": led, "progress": progress}, rows, run, staging.path, Path(out))
            run.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            write_run_record(staging, run)
            _fault_point("commit")
            workbook = write_reports(staging.path, tables, led, progress, history.sort_values("as_of"), run,
                                     run.parameters["deadline"], rows, alerts=tables["alerts"],
                                     alert_ledger=tables["alert_ledger"])
            # what only the files needed goes now, not once the store and the workbook are
            # done: the store's last tables are encoded meanwhile, and at a province's scale
            # these frames and what the reports left in the allocator were half a gigabyte
            del rows, progress, profile
            flows.runtime.release_unused_memory()
            workbook.result()  # the report workbook, written meanwhile by a second process
            saving.commit(finished_at=run.finished_at)
        except BaseException:
            saving.stop()  # nothing stored (or, once committed, nothing more); the staging folder goes
            raise
        _fault_point("stored")
        live = staging.commit()
    try:
        store.mark_published(run.run_id)
    except Exception as e:  # the files are in place; retrying the task would store the run twice
        get_run_logger().warning("publish: outputs in place, but the store still lists run %s as stored: %s",
                                 run.run_id, e)
    try:  # retention: published dates no longer kept go; the run is published whatever happens here
        kept = retention_settings({"retention": run.parameters.get("retention")}, "retention")
        removed = prune_published(out, run.as_of, store.run_lock, **kept)
        if removed:
            get_run_logger().info("retention: removed the published folders of %s", ", ".join(removed))
    except Exception as e:  # noqa: BLE001
        get_run_logger().warning("retention: nothing pruned: %s", e)
    get_run_logger().info("publish: %s", live)
    return str(live)


def accounting(run: RunRecord | dict) -> pd.DataFrame:
    """One row per source of the run: rows read, used, quarantined, outside the scope."""
    inputs = run["inputs"] if isinstance(run, dict) else run.inputs
    return pd.DataFrame([{"source": name, **{k: i[k] for k in ACCOUNTED}} for name, i in inputs.items()])


def gate(tables: dict[str, pd.DataFrame], rows: pd.DataFrame, run: RunRecord, folder: Path, out: Path) -> dict:
    """The Great Expectations gate over what is about to be published; Data Docs in ``folder``.

    A failed gate raises before anything is stored or swapped; its Data Docs are kept under
    ``OUT/.failed/<as_of>/<run_id>/`` for whoever is on call.
    """
    # first over frames indexed by row position (naming millions of rows costs seconds), and
    # only when something failed again over frames whose rows name their records
    outcome = run_gate(core.gate_frames(tables, rows, accounting(run), named=False), folder / "datadocs",
                       run.run_id, mask_ids=core.mask_full_ids)
    if not outcome.success:
        shutil.rmtree(folder / "datadocs", ignore_errors=True)
        outcome = run_gate(core.gate_frames(tables, rows, accounting(run)), folder / "datadocs", run.run_id,
                           mask_ids=core.mask_full_ids)
    summary = {"evaluated": outcome.evaluated, "failed": outcome.failed, "seconds": outcome.seconds,
               "data_docs": "datadocs/index.html"}
    if not outcome.success:
        kept = keep_failed_gate(folder, out, run.as_of, run.run_id, summary)
        raise PublishGateError(
            f"publishing gate failed: {len(outcome.failed)} of {outcome.evaluated} expectations; nothing "
            f"published, last good outputs kept.\n  {outcome.describe()}\n"
            f"  Data Docs: {kept / 'datadocs' / 'index.html'}")
    get_run_logger().info("gate: %d expectations passed in %.1f s", outcome.evaluated, outcome.seconds)
    return summary


def ledger_snapshot(store: Store, as_of: str, ledger: pd.DataFrame, counties: list[str] | None) -> pd.DataFrame:
    """The whole ledger for ``as_of`` as it will stand once this run is stored."""
    if counties is None:
        return ledger
    others = store.ledger_at(as_of)
    if others.empty:
        others = store.ledger_before(as_of)
    others = others[~others["county_code"].isin(counties)]
    # the store's rows in this run's types (its flags come back nullable), so a scoped
    # re-run publishes the same bytes as the full run did
    others = others.reindex(columns=ledger.columns).astype(ledger.dtypes.to_dict())
    return pd.concat([others, ledger], ignore_index=True).sort_values("discrepancy_id").reset_index(drop=True)


FAULT_STAGES = ("extract", "normalize", "match", "classify", "unify", "validate", "commit", "stored")


def _fault_point(stage: str) -> None:
    """Where the kill tests stop a run: each stage boundary of :data:`FAULT_STAGES` ("commit":
    before the store commits; "stored": after it, before the folder is swapped in).

    ``ANJU_FAULT_PAUSE_AT=<stage>`` sleeps there ``ANJU_FAULT_PAUSE_SECONDS`` (3600);
    ``ANJU_FAULT_PAUSE_BEFORE_COMMIT=<seconds>`` is the older spelling of "commit".
    Unset, nothing happens.
    """
    pause = None
    if os.environ.get("ANJU_FAULT_PAUSE_AT") == stage:
        pause = os.environ.get("ANJU_FAULT_PAUSE_SECONDS", "3600")
    elif stage == "commit":
        pause = os.environ.get("ANJU_FAULT_PAUSE_BEFORE_COMMIT")
    if pause:
        get_run_logger().warning("fault point %s: pausing %s s", stage, pause)
        time.sleep(float(pause))


def versions() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


@dataclass
class _Clock:
    seconds: dict[str, float] = field(default_factory=dict)

    def lap(self, stage: str, started: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - started, 3)
        flows.runtime.release_unused_memory()  # what the stage freed, back to the system


@flow(name="reconcile", validate_parameters=True, task_runner=task_runner())
def reconcile(ps_households: str, ha_archive: str, out: str, as_of: date | None = None, ps_members: str | None = None,
              store: str | None = None, deadline: date = DEADLINE, mapping: str | None = None,
              counties: list[str] | None = None, partition_records: int = PARTITION_RECORDS,
              report_url: str | None = None, accept_change: list[str] | None = None, drops: dict | None = None,
              guards: dict | None = None, monitoring: dict | None = None,
              retention: dict | None = None) -> dict:
    """Reconcile one PS export with one HA export as of a date and publish the outputs.

    ``counties`` re-reconciles only those counties: every other county's outputs and
    ledger entries stay as the last run for this date left them. ``report_url``: where
    ``out`` is served on the web, for the artifacts' links (default: file:// links). A
    source may be a drop folder, ``drop:<folder or URL>?pattern=<name with {date:FORMAT}>``;
    ``drops``, ``guards`` and ``monitoring`` (the alerts' thresholds) are the settings file's
    sections; ``accept_change`` names
    counties whose change since the last published run is known and accepted by the guard.
    """
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    as_of = as_of or today_in_china()  # a scheduled nightly run reconciles as of its own day
    settings = Settings(as_of=as_of, deadline=deadline)
    clock = _Clock()
    store_url = store or default_url(Path(out))
    prepare_out(Path(out))  # an unusable folder is one line now, not a traceback at the end
    report_url = check_report_url(report_url) if report_url else None
    alert_thresholds(monitoring)  # an unknown alert kind or threshold is one line now, not at the end
    counties = sorted(set(counties)) if counties else None
    run_id = f"{as_of:%Y%m%d}-{uuid4().hex[:12]}"
    st = Store(store_url)
    # the ledger lock too: no `anju ledger import` changes people's verdicts under a run;
    # the locks before the first read, so a second run meets the lock, never the first's write
    with st.run_lock(as_of.isoformat()), st.run_lock("ledger"):
        st.migrate()
        people = people_state(st)
        t = time.perf_counter()
        locations = {"ps_households": ps_households, "ha_archive": ha_archive}
        if ps_members:
            locations["ps_members"] = ps_members
        locations, taken, exports = resolve_drops(locations, out, as_of, drops)
        sources = {name: extract(loc, name, mapping) for name, loc in locations.items()}
        clock.lap("extract", t)
        _fault_point("extract")
        left_out: dict[str, int] = {}
        if counties:
            raw, left_out = core.restrict({n: s.frame for n, s in sources.items()}, counties)
            for name, frame in raw.items():
                sources[name].frame = frame
            del raw  # held only by the sources now, and released with them once normalized
        t = time.perf_counter()
        canon = normalize(sources, settings, mapping)
        for src in sources.values():  # the raw text is read: only its meta is needed from here on
            src.frame = None          # (at a province's scale the raw frames hold gigabytes)
        clock.lap("normalize", t)
        _fault_point("normalize")
        t = time.perf_counter()
        matched, partitioning = match(canon, partition_records, people)
        matches = matched.matches
        clock.lap("match", t)
        _fault_point("match")
        t = time.perf_counter()
        # The unified table needs the discrepancies only for its counts of open ones: the
        # rest is made in a second thread while they are classified and tracked in the
        # ledger (the classify stage keeps about one core of two busy). Its stage time is
        # then what it took beyond the classify stage's. Should classifying fail, the
        # error surfaces once the unified table is done (the thread is not interrupted).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="unify") as pool:
            unifying = pool.submit(contextvars.copy_context().run, unify_task, canon, matches, settings)
            disc = classify(canon, matched, settings)
            today = st.ledger_at(as_of.isoformat())
            if counties:
                today = today[today["county_code"].isin(counties)]
            earlier = st.ledger_before(as_of.isoformat(), counties)
            tracked = core.track_ledger(disc, earlier, today, as_of.isoformat(), run_id, counties, people=people)
            ledger, moves, disc = tracked.ledger, tracked.changes, tracked.discrepancies
            clock.lap("classify", t)
            _fault_point("classify")
            t = time.perf_counter()
            unified, others = unifying.result()
        unified = core.count_open(unified, disc)
        clock.lap("unify", t)
        _fault_point("unify")
        tables = core.published_tables(canon, matches, disc, unified, others)
        t = time.perf_counter()
        found = monitor(store_url, unified, tables["records_ha"], as_of.isoformat(), counties, monitoring)
        alert_ledger, scope_alert_ledger = track_alerts(st, found, as_of.isoformat(), run_id, counties)
        tables["alerts"] = found
        clock.lap("monitor", t)
        if counties:
            tables = core.merge_scoped(read_live_tables(Path(out), as_of.isoformat(), core.ORDER), tables, counties)
        tables["alert_ledger"] = alert_ledger  # already the whole ledger of the date
        t = time.perf_counter()
        validate(tables)
        clock.lap("validate", t)
        _fault_point("validate")

        q_counts = canon.quarantine["source"].value_counts().to_dict()
        used = {"ps_households": len(canon.ps), "ha_archive": len(canon.ha), "ps_members": len(canon.members)}
        inputs = {name: {"location": src.meta["location"], "format": src.meta["format"],
                         "encoding": src.meta.get("encoding"), "sheet": src.meta.get("sheet"),
                         "header_row": src.meta.get("header_row"), "rows_read": src.meta["rows_read"],
                         "rows_out_of_scope": left_out.get(name, 0),
                         "rows_used": used[name],
                         "rows_quarantined": int(q_counts.get(name, 0)), "sha256": src.meta["sha256"],
                         "skipped_rows": core.masked_rows(src.meta.get("skipped_rows", [])),
                         "unknown_columns": src.meta.get("unknown_columns", []),
                         **({"drop": taken[name]} if name in taken else {})}
                  for name, src in sources.items()}
        run = RunRecord(
            run_id=run_id, as_of=as_of.isoformat(), scope=",".join(counties) if counties else "all",
            started_at=started_at,
            parameters={"deadline": deadline.isoformat(), "mapping": mapping, "store": shown_url(store_url),
                        "counties": counties, "partition_records": partition_records,
                        "report_url": report_url, **partitioning,
                        "accept_change": sorted(set(accept_change or [])), "drops": drops, "guards": guards,
                        "monitoring": monitoring, "retention": retention},
            exports=exports, inputs=inputs, tables={k: len(v) for k, v in tables.items()},
            **core.run_counts(canon, matched, disc, moves), seconds=clock.seconds, versions=versions())
        # counted: the normalized sources, the match's and the ledger's working frames are not
        # needed to publish (at a province's scale they hold gigabytes the store's write needs)
        del canon, matched, matches, today, earlier, tracked
        flows.runtime.release_unused_memory()
        t = time.perf_counter()
        live = publish(tables, ledger, run, out, store_url, counties)
        clock.lap("publish", t)
    run.seconds = clock.seconds
    run.published = live
    try:
        # the run's scope, not the merged tables
        publish_artifacts(run, disc, moves, unified, report_url, alerts=found, alert_ledger=scope_alert_ledger)
    except Exception as e:  # the outputs are published; a missing artifact must not fail the run
        get_run_logger().warning("artifacts not created: %s", e)
    return run.as_dict()  # the flow's result: run.json's keys, and ``published``


def today_in_china() -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


