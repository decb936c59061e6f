"""The ``monthly_progress`` flow: the ministry's progress table for the previous month's end.

Reads the HA records and the unified table as of the month's last day and publishes
``OUT/progress/<YYYY-MM>/`` (progress.parquet, progress.csv, 进度月报.xlsx) atomically.
With a store, from its history (``Store.table_as_of``: the latest run on or before that
day, whether or not its run folder is still kept); without one, or from a store that
holds no HA records yet (made before they were kept), from the latest published run
folder on or before that day.
"""
from __future__ import annotations

import calendar
from datetime import date
from pathlib import Path
from uuid import uuid4

import flows.runtime  # noqa: F401
import pandas as pd
from prefect import flow, get_run_logger

from connectors.previous_run import latest_run_with, read_table
from connectors.publish import Staging
from connectors.store import Store
from connectors.workbooks import write_progress
from reconcile import monthly_progress as progress_table
from schemas.defaults import DEADLINE, REPORTING_UNIT


def month_end(month: str) -> date:
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, calendar.monthrange(year, mon)[1])


def previous_month(today: date) -> str:
    first = today.replace(day=1)
    last = date.fromordinal(first.toordinal() - 1)
    return f"{last:%Y-%m}"


def source_run(out: str | Path, end: date) -> Path:
    """The run the report for ``end`` is made from: the latest published on or before it
    with HA records (SourceError naming ``out`` when there is none)."""
    return latest_run_with(out, end.isoformat(), "records_ha")


def source_tables(out: str | Path, end: date, store: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The HA records and the unified table the report for ``end`` is made from, and what
    they were read from: ``store as of D`` (D the latest date on or before ``end`` the store
    kept HA records for; unified as of the same date) or the run folder's name."""
    if store is not None:
        st = Store(store)
        try:
            dates = [d for d in st.snapshot_dates("records_ha") if d <= end.isoformat()]
            if dates:
                return st.table_as_of("records_ha", dates[-1]), st.table_as_of("unified", dates[-1]), \
                    f"store as of {dates[-1]}"
        finally:
            st.engine.dispose()
    run_dir = source_run(out, end)
    return read_table(run_dir, "records_ha"), read_table(run_dir, "unified"), run_dir.name


@flow(name="monthly_progress", validate_parameters=True)
def monthly_progress(out: str, month: str | None = None, deadline: date = DEADLINE,
                     unit: str = REPORTING_UNIT, store: str | None = None) -> dict:
    """Progress as of the month's last day (default: the previous month, for the report due by the 6th).
    ``store``: the SQLAlchemy URL of the store to read history from (see the module)."""
    from flows.reconcile_flow import today_in_china

    month = month or previous_month(today_in_china())
    end = month_end(month)
    records_ha, unified, source = source_tables(out, end, store)
    table = progress_table(records_ha, unified, end, deadline)
    with Staging(Path(out) / "progress", month, f"pr-{uuid4().hex[:12]}") as st:
        write_progress(st.path, table, end.isoformat(), unit)
        live = st.commit()
    nation = table[table["level"] == "national"].iloc[0]
    get_run_logger().info("progress %s from run %s: %d tasks, completion rate %.1f%%", month, source,
                          nation["tasks"], 100 * nation["completion_rate"])
    return {"month": month, "as_of": end.isoformat(), "source_run": source, "published": str(live),
            "tasks": int(nation["tasks"]), "completion_rate": float(nation["completion_rate"])}
