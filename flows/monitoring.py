"""Monitoring's reads of the store (动态监测): this run's alerts against the history the
store holds, and the alert ledger as this run will leave it. Plain functions (no Prefect):
the flow's ``monitor`` stage and ``bench/monitor_bench.py`` both call them."""
from __future__ import annotations

import pandas as pd

import reconcile as core
from connectors.store import Store
from schemas.alerts import ALERT_LEDGER_COLUMNS


def find_alerts(st: Store, unified: pd.DataFrame, records_ha: pd.DataFrame, as_of: str,
                counties: list[str] | None, monitoring: dict | None) -> tuple[pd.DataFrame, list[str]]:
    """This run's alerts (动态监测, in its scope) and the earlier dates they compare with:
    its unified table against those the store holds for the dates before ``as_of``
    (history by date, not by the order runs happened), its archive numbers against those
    dates' archive records."""
    dates = [d for d in st.snapshot_dates("unified") if d < as_of]
    # one date at a time, narrowed to what monitoring follows before the next is read
    history = pd.concat([core.household_history({d: st.table_as_of("unified", d, counties, core.MONITORED_COLUMNS)})
                         for d in dates] or [core.household_history({})], ignore_index=True)
    before = [st.table_as_of("records_ha", d, columns=["archive_no"])["archive_no"] for d in dates]
    found = core.alerts(history, unified, as_of, monitoring, scope=counties, archives_now=records_ha["archive_no"],
                        archives_before=pd.concat(before, ignore_index=True).drop_duplicates() if before else None)
    return found, dates


def track_alerts(st: Store, found: pd.DataFrame, as_of: str, run_id: str,
                 counties: list[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the alert ledger for ``as_of`` as it will stand once this run is stored, its rows
    in the run's scope). Measured against the latest earlier date's ledger, as the
    discrepancy ledger is, and against what an earlier run for this date recorded; a
    scoped run keeps every other county's entries as the last run for the date left them."""
    dates = st.snapshot_dates("alert_ledger")
    earlier = [d for d in dates if d < as_of]
    previous = (st.table_as_of("alert_ledger", earlier[-1]) if earlier
                else pd.DataFrame(columns=ALERT_LEDGER_COLUMNS))
    today = st.table_as_of("alert_ledger", as_of) if as_of in dates else None

    def in_scope(f: pd.DataFrame | None) -> pd.DataFrame | None:
        return f if f is None or counties is None else f[f["county_code"].isin(counties)]

    led = core.update_ledger(in_scope(previous), found, as_of, run_id, counties, same_day=in_scope(today),
                             id_col="alert_id", columns=ALERT_LEDGER_COLUMNS)
    if counties is None:
        return led, led
    others = previous if today is None else today
    others = others.loc[~others["county_code"].isin(counties), ALERT_LEDGER_COLUMNS].astype("string")
    return pd.concat([others, led], ignore_index=True).sort_values("alert_id").reset_index(drop=True), led
