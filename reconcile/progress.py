"""The monthly renovation progress report (due to the ministry before the 6th).

Over HA records of registered poor households whose guarantee method is 农村危房改造, as
of a date: tasks in all and by source, started, completed, accepted, the rates, overdue,
and the entry rate (registered poor households with a determination entered / all).
One row per county, then per city (prefecture, under its current code: see
``schemas.regions.prefecture_of``), per province, and the national total; every rate is
recomputed from the summed counts, never averaged.
"""
from __future__ import annotations

import pandas as pd

from reconcile.rules import POOR, RENOVATION
from schemas.regions import county_table, prefecture_of
from schemas.report_labels import progress_headers

SOURCES = {"年度计划": "tasks_annual", "2019年存量": "tasks_2019_stock", "回头看新增": "tasks_lookback"}
COUNTS = ["tasks", *SOURCES.values(), "started", "completed", "accepted", "overdue", "poor_households",
          "determined_households"]
ENTERED = ["ha_determination", "relocation", "completed_renovation", "unresolved_conflict"]


def _rates(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    safe = f["tasks"].where(f["tasks"] > 0)
    f["start_rate"] = (f["started"] / safe).fillna(0.0).round(4)
    f["completion_rate"] = (f["completed"] / safe).fillna(0.0).round(4)
    f["entry_rate"] = (f["determined_households"] / f["poor_households"].where(f["poor_households"] > 0)
                       ).fillna(0.0).round(4)
    return f


def monthly_progress(ha: pd.DataFrame, unified: pd.DataFrame, as_of, deadline) -> pd.DataFrame:
    """One row per county plus city, province and national totals.

    ``ha``: canonical HA records; ``unified``: the unified status (for the entry rate).
    """
    as_of, deadline = pd.Timestamp(as_of), pd.Timestamp(deadline)
    t = ha[(ha["target_type"] == POOR) & (ha["guarantee_method"] == RENOVATION).fillna(False)]
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
    poor = unified[unified["in_ps"]]
    hh = pd.DataFrame({"county_code": poor["county_code"], "poor_households": 1,
                       "determined_households": poor["housing_secured_basis"].isin(ENTERED).astype(int)})
    counties = pd.concat([per, hh]).fillna(0).groupby("county_code").sum().astype("int64").reset_index()
    names = county_table()
    levels = []
    # a county still filed under a retired code counts in the prefecture that replaced
    # it, so one prefecture is one row under one (current) code and name
    city = {c: prefecture_of(c) for c in sorted(counties["county_code"].unique())}
    for level, key in (("county", lambda c: c), ("city", lambda c: c.map(city)),
                       ("province", lambda c: c.str[:2] + "0000")):
        g = counties.assign(code=key(counties["county_code"])).groupby("code")[COUNTS].sum().reset_index()
        levels.append(g.assign(level=level))
    nation = counties[COUNTS].sum().to_frame().T.assign(level="national", code="000000")
    out = pd.concat([*levels, nation], ignore_index=True)
    out["name"] = out["code"].map(names).fillna("未知区划").where(out["level"] != "national", "全国")
    order = {"county": 0, "city": 1, "province": 2, "national": 3}
    out = out.sort_values(["level", "code"], key=lambda s: s.map(order) if s.name == "level" else s)
    out = _rates(out[["level", "code", "name", *COUNTS]].astype({c: "int64" for c in COUNTS}))
    return out[list(progress_headers())].reset_index(drop=True)
