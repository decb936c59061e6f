"""The monthly renovation progress report (due to the ministry before the 6th).

Over HA records of registered poor households whose guarantee method is 农村危房改造, as
of a date: tasks in all and by source, started, completed, accepted, the rates, overdue,
and the entry rate (registered poor households with a determination entered / all).
One row per county, then per city (prefecture, under its current code: see
``schemas.regions.prefecture_of``), per province, and the national total; every rate is
recomputed from the summed counts, never averaged.

With the 台账 and the monitoring (issues 18, 19), per county also: the ledger's items
(waived ones apart), those resolved and those overdue, the 整改完成率 (resolved / items
not waived), and the alerts first seen in the month of ``as_of``. Left empty (not 0)
when the run had no such ledger or monitoring: nothing was counted.
"""
from __future__ import annotations

import pandas as pd

from reconcile.report import overdue_flags
from reconcile.rules import POOR, RENOVATION
from schemas.published import OPEN_STATUSES as OPEN
from schemas.regions import county_table, prefecture_of
from schemas.report_labels import progress_headers

SOURCES = {"年度计划": "tasks_annual", "2019年存量": "tasks_2019_stock", "回头看新增": "tasks_lookback"}
COUNTS = ["tasks", *SOURCES.values(), "started", "completed", "accepted", "overdue", "poor_households",
          "determined_households"]
ENTERED = ["ha_determination", "relocation", "completed_renovation", "unresolved_conflict"]
# counted from the 台账 (ledger) and the alert ledger; nullable: empty when not given
LEDGER_COUNTS = ["ledger_items", "rectified", "overdue_items"]
ALERT_COUNTS = ["new_alerts"]
ALL = [*COUNTS, *LEDGER_COUNTS, *ALERT_COUNTS]


def _rates(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    safe = f["tasks"].where(f["tasks"] > 0)
    f["start_rate"] = (f["started"] / safe).fillna(0.0).round(4)
    f["completion_rate"] = (f["completed"] / safe).fillna(0.0).round(4)
    f["entry_rate"] = (f["determined_households"] / f["poor_households"].where(f["poor_households"] > 0)
                       ).fillna(0.0).round(4)
    items = f["ledger_items"].astype("Float64")
    rate = (f["rectified"].astype("Float64") / items.where(items > 0)).round(4)
    f["rectification_rate"] = rate.mask(items.notna() & rate.isna(), 0.0)  # no item: 0; no ledger: empty
    return f


def _ledger_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per county: items not waived, resolved, overdue (the rate's parts, summed upwards)."""
    status = ledger["status"].astype("string")
    overdue = overdue_flags(ledger["overdue"]) if "overdue" in ledger else False
    return pd.DataFrame({"county_code": ledger["county_code"].astype("string"),
                         "ledger_items": (status != "waived").fillna(True).astype(int),
                         "rectified": (status == "resolved").fillna(False).astype(int),
                         "overdue_items": (status.isin(OPEN).fillna(False) & overdue).astype(int)})


def _new_alerts(alert_ledger: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per county: alerts first seen in the month of ``as_of`` (up to it)."""
    first = pd.to_datetime(alert_ledger["first_seen"], errors="coerce")
    month = (first >= as_of.replace(day=1)) & (first <= as_of)
    return pd.DataFrame({"county_code": alert_ledger["county_code"].astype("string"),
                         "new_alerts": month.fillna(False).astype(int)})


def monthly_progress(ha: pd.DataFrame, unified: pd.DataFrame, as_of, deadline, *,
                     ledger: pd.DataFrame | None = None, alert_ledger: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per county plus city, province and national totals.

    ``ha``: canonical HA records; ``unified``: the unified status (for the entry rate);
    ``ledger``: the 台账 as of ``as_of`` (status, ``overdue``); ``alert_ledger``: the
    alerts' ledger (``first_seen``), for the alerts new in the month.
    """
    as_of, deadline = pd.Timestamp(as_of), pd.Timestamp(deadline)
    # the rows wanted, of only the columns read: a filter of whole frames copied every column
    tasks = (ha["target_type"] == POOR) & (ha["guarantee_method"] == RENOVATION).fillna(False)
    t = ha.loc[tasks, ["county_code", "task_source", "task_year", "start_date", "completion_date",
                       "acceptance_date"]]
    per = pd.DataFrame({
        "county_code": t["county_code"], "tasks": 1,
        **{col: (t["task_source"] == src).fillna(False).astype(int) for src, col in SOURCES.items()},
        "started": (t["start_date"] <= as_of).fillna(False).astype(int),
        "completed": (t["completion_date"] <= as_of).fillna(False).astype(int),
        "accepted": (t["acceptance_date"] <= as_of).fillna(False).astype(int),
        "overdue": ((t["task_year"] <= deadline.year).fillna(False)
                    & ((t["completion_date"].isna() & (as_of > deadline))
                       | (t["completion_date"] > deadline).fillna(False))).astype(int),
    })
    poor = unified.loc[unified["in_ps"], ["county_code", "housing_secured_basis"]]
    hh = pd.DataFrame({"county_code": poor["county_code"], "poor_households": 1,
                       "determined_households": poor["housing_secured_basis"].isin(ENTERED).astype(int)})
    parts = [per, hh]
    if ledger is not None:
        parts.append(_ledger_counts(ledger))
    if alert_ledger is not None:
        parts.append(_new_alerts(alert_ledger, as_of))
    # each part summed per county first: one frame of every part's rows (a province's two
    # million, each with every part's columns) and the whole-frame filters held about a gigabyte
    counties = (pd.concat([part.groupby("county_code").sum() for part in parts]).fillna(0)
                .groupby(level=0).sum().astype("int64").rename_axis("county_code").reset_index())
    for col, given in ((LEDGER_COUNTS, ledger), (ALERT_COUNTS, alert_ledger)):
        for c in col:  # empty, not 0, when nothing was counted
            counties[c] = counties[c].astype("Int64") if given is not None else pd.Series(pd.NA, index=counties.index,
                                                                                       dtype="Int64")
    names = county_table()
    levels = []
    # a county still filed under a retired code counts in the prefecture that replaced
    # it, so one prefecture is one row under one (current) code and name
    city = {c: prefecture_of(c) for c in sorted(counties["county_code"].unique())}
    for level, key in (("county", lambda c: c), ("city", lambda c: c.map(city)),
                       ("province", lambda c: c.str[:2] + "0000")):
        g = counties.assign(code=key(counties["county_code"])).groupby("code")[ALL].sum(min_count=1).reset_index()
        levels.append(g.assign(level=level))
    # with no county at all (nothing to count in the scope) the nation's task and household
    # counts are 0; its ledger and alert counts are empty (no county to count them in)
    nation = pd.concat([counties[COUNTS].sum(), counties[[*LEDGER_COUNTS, *ALERT_COUNTS]].sum(min_count=1)]
                       ).to_frame().T.assign(level="national", code="000000")
    out = pd.concat([*levels, nation], ignore_index=True)
    out["name"] = out["code"].map(names).fillna("未知区划").where(out["level"] != "national", "全国")
    order = {"county": 0, "city": 1, "province": 2, "national": 3}
    out = out.sort_values(["level", "code"], key=lambda s: s.map(order) if s.name == "level" else s)
    out = _rates(out[["level", "code", "name", *ALL]].astype({c: "int64" if c in COUNTS else "Int64" for c in ALL}))
    return out[list(progress_headers())].reset_index(drop=True)
