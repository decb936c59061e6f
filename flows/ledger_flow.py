"""The 台账 flows (issue 18): export each county's workbook, import the filled-in ones.

The same work as ``anju ledger export|import`` (``flows.ledger_cmd``), as Prefect flows
for a deployment: ``prefect deployment run 'ledger-export/manual' --param as_of=2020-07-31``.
An import holds the store's ``ledger`` lock: a second import, or a run, waits its turn.
"""
from __future__ import annotations

from datetime import date

import flows.runtime  # noqa: F401
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import ledger_cmd
from flows.runtime import retry_if_transient


@task(name="write-ledger-books", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5,
      retry_condition_fn=retry_if_transient, timeout_seconds=3600)
def write_books(out: str, as_of: str, counties: list[str] | None, store: str | None) -> dict:
    return ledger_cmd.export_ledger(out, as_of, counties, store)


@task(name="import-ledger-books", cache_policy=NO_CACHE, timeout_seconds=3600)
def read_books(files: list[str], out: str, store: str | None) -> dict:
    return ledger_cmd.import_ledger(files, out, store)


@flow(name="ledger-export", log_prints=False)
def ledger_export(out: str, as_of: date, counties: list[str] | None = None, store: str | None = None) -> dict:
    """Write OUT/ledger/<as_of>/<county>/台账_<county>.xlsx for each county (or ``counties``)."""
    r = write_books(out, as_of.isoformat(), counties, store)
    get_run_logger().info("ledger export %s: %d counties, %d items", as_of, len(r["counties"]),
                          sum(r["counties"].values()))
    return r


@flow(name="ledger-import", log_prints=False)
def ledger_import(files: list[str], out: str, store: str | None = None) -> dict:
    """Import filled-in 台账 workbooks; refused rows are logged one line each, the rest recorded."""
    r = read_books(files, out, store)
    log = get_run_logger()
    for line in r["rejected"]:
        log.warning("%s", line)
    for f in r["files"]:
        log.info("ledger import %s: %d rows, %d accepted, %d refused, %d changes", f["file"], f["rows"],
                 f["accepted"], f["rejected"], f["events"])
    return r
