"""Dynamic monitoring (动态监测): each household's housing security from date to date, and
the alerts for what got worse (kinds, texts and thresholds: ``schemas/alerts.yaml``).

History is by ``as_of``, never by the order runs happened: a run for a date compares
with the unified tables of strictly earlier dates only, so re-running a past date, or
running dates out of order, gives the alerts that date would always have had.

A household is followed by its key: its PS household number, else ``HA:`` and its
archive number (what ``unified_id`` hashes). An alert's id hashes its kind and that key
(and nothing dated), so the same situation seen by the next run keeps its id and the
ledger can call it open, then resolved when it ends, reopened if it comes back. An alert
lasts while its situation lasts; ``previous_as_of``/``previous_value`` name the last
earlier date the household was still in the good state, ``since`` the first date of the
present bad state.

    >>> import pandas as pd
    >>> def day(secured, grade):
    ...     return pd.DataFrame({"household_no": ["H1"], "archive_no": ["A1"], "county_code": ["522425"],
    ...         "in_ps": [True], "in_ha": [True], "exit_status": ["not_exited"],
    ...         "housing_secured": pd.array([secured], dtype="boolean"), "danger_grade": [grade],
    ...         "renovation_status": ["none"]})
    >>> hist = household_history({"2020-05-31": day(True, "B"), "2020-06-30": day(True, "C")})
    >>> a = alerts(hist, day(False, "D"), "2020-07-31")
    >>> for r in a[["alert", "previous_as_of", "previous_value", "value", "since"]].values.tolist():
    ...     print(r)
    ['DANGER_WORSENED', '2020-06-30', 'C', 'D', '2020-07-31']
    ['SECURED_LOST', '2020-06-30', 'true', 'false', '2020-07-31']
    >>> a.loc[a["alert"] == "SECURED_LOST", "message_zh"].iloc[0]
    '住房安全有保障认定由「是」（2020-06-30）变为「否」（自2020-07-31起）'
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from reconcile.discrepancies import fill_template, stable_ids
from reconcile.frames import isin, positions, sort_rows, taken
from schemas.alerts import ALERT_COLUMNS, alert_thresholds, load_alert_kinds, value_labels

HISTORY_COLUMNS = [
    "as_of", "key", "household_no", "archive_no", "county_code", "in_ps", "in_ha", "exit_status",
    "housing_secured", "danger_grade", "renovation_status", "start_date", "completion_date",
]
# the unified columns the history is made of (what a store needs to read back for it)
MONITORED_COLUMNS = [c for c in HISTORY_COLUMNS if c not in ("as_of", "key")]
_TYPES = {"household_no": "string", "archive_no": "string", "county_code": "string", "exit_status": "string",
          "housing_secured": "boolean", "danger_grade": "string", "renovation_status": "string"}
RANK = {"A": 1, "B": 2, "C": 3, "D": 4}
RENOVATED = ["completed", "accepted"]
EPISODE = ["key", "previous_as_of", "previous_value", "since"]
ORDER = ["alert", "county_code", "household_no", "archive_no", "alert_id"]  # how alerts.parquet is sorted


def _iso(as_of) -> str:
    return pd.Timestamp(as_of).strftime("%Y-%m-%d")


def housing_facts(unified: pd.DataFrame, ha: pd.DataFrame) -> pd.DataFrame:
    """``unified`` with ``danger_grade`` and ``start_date``, the facts monitoring also follows.

    Both are the primary archive record's, as every housing fact: the grade is the
    housing agency's assessment (the poverty system's dilapidation grade records why a
    household was once listed, not how its house stands now), NA without an archive record.

    >>> u = pd.DataFrame({"household_no": ["H1", "H2"], "archive_no": ["A1", None]})
    >>> ha = pd.DataFrame({"archive_no": ["A1"], "danger_grade": ["B"], "start_date": [pd.Timestamp("2020-03-01")]})
    >>> housing_facts(u, ha)["danger_grade"].tolist()
    ['B', <NA>]
    """
    by_arch = ha.drop_duplicates("archive_no").set_index("archive_no")
    arch = unified["archive_no"]
    at = positions(arch, by_arch.index)
    grade = taken(by_arch["danger_grade"], at, arch.index).astype("string")
    start = pd.to_datetime(taken(by_arch["start_date"], at, arch.index))
    return unified.assign(danger_grade=grade, start_date=start)


def _observations(unified: pd.DataFrame, as_of) -> pd.DataFrame:
    """One date's unified table in the history's shape (a column it lacks is all NA)."""
    u = unified
    out = pd.DataFrame(index=u.index)
    for col in HISTORY_COLUMNS[2:]:
        if col in u:
            out[col] = u[col]
        elif col in ("in_ps", "in_ha"):
            out[col] = False
        else:
            out[col] = pd.NA
    out = out.astype(_TYPES)
    out["in_ps"], out["in_ha"] = out["in_ps"].astype(bool), out["in_ha"].astype(bool)
    for col in ("start_date", "completion_date"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out.insert(0, "key", out["household_no"].fillna("HA:" + out["archive_no"].fillna("")))
    out.insert(0, "as_of", _iso(as_of))
    return out


def household_history(unified_by_as_of: dict) -> pd.DataFrame:
    """Every household's status on every date: one row per (key, as_of), in date order
    (a table holds each key once; rows are not sorted by key: at millions of rows that
    sort costs more than everything the alerts do with them).

    ``unified_by_as_of`` maps a date (``date`` or ISO text) to that date's published
    unified table (``housing_facts`` columns included where known).

    >>> u = pd.DataFrame({"household_no": ["H1", None], "archive_no": [None, "A9"], "county_code": ["522425"] * 2,
    ...                   "in_ps": [True, False], "in_ha": [False, True]})
    >>> household_history({date(2020, 7, 31): u, "2020-06-30": u})[["as_of", "key"]].values.tolist()
    [['2020-06-30', 'H1'], ['2020-06-30', 'HA:A9'], ['2020-07-31', 'H1'], ['2020-07-31', 'HA:A9']]
    """
    by_date = sorted((_iso(as_of), u) for as_of, u in unified_by_as_of.items())
    frames = [_observations(u, as_of) for as_of, u in by_date]
    if not frames:
        return _observations(pd.DataFrame(), "2000-01-01").iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def _episode(h: pd.DataFrame, good: pd.Series, bad: pd.Series, value: pd.Series, as_of: str) -> pd.DataFrame:
    """Per key: the last earlier date in the good state (and its value), and the first
    date after it in the bad state (``as_of`` when only today's is)."""
    g = h.loc[good.to_numpy(), ["key", "as_of"]].assign(previous_value=value[good.to_numpy()].to_numpy())
    g = g.drop_duplicates("key", keep="last").rename(columns={"as_of": "previous_as_of"})
    b = h.loc[bad.to_numpy(), ["key", "as_of"]].merge(g[["key", "previous_as_of"]], on="key")
    first_bad = b[b["as_of"] > b["previous_as_of"]].groupby("key")["as_of"].min()
    g["since"] = g["key"].map(first_bad).astype("string").fillna(as_of)
    return g[EPISODE]


def _rows(h: pd.DataFrame, now: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The history of the households in ``now``, only the columns needed (a narrow take)."""
    return h.loc[isin(h["key"], now["key"]).to_numpy(), ["key", "as_of", *cols]]


def _with_now(h: pd.DataFrame, now: pd.DataFrame, cols: list[str], needed: list[str]) -> pd.DataFrame:
    h = _rows(h, now, needed)
    return h.merge(now[["key", *cols]].rename(columns={c: f"{c}_now" for c in cols}), on="key")


def _secured_lost(h, cur, as_of, t, archives) -> pd.DataFrame:
    now = cur[(cur["housing_secured"] == False).fillna(False)]  # noqa: E712 (NA is unknown, not lost)
    h = _rows(h, now, ["housing_secured"])
    sec = h["housing_secured"]
    ep = _episode(h, (sec == True).fillna(False), (sec == False).fillna(False),  # noqa: E712
                  pd.Series("true", index=h.index), as_of)
    return now.merge(ep, on="key").assign(value="false")


def _danger_worsened(h, cur, as_of, t, archives) -> pd.DataFrame:
    now = cur[_dangerous(cur, t["alert_grades"])].assign(rank=lambda f: f["danger_grade"].map(RANK))
    h = _with_now(h, now, ["rank"], ["danger_grade"])
    rank = h["danger_grade"].map(RANK).astype("Float64")
    ep = _episode(h, (rank < h["rank_now"]).fillna(False), (rank >= h["rank_now"]).fillna(False),
                  h["danger_grade"], as_of)
    return now.merge(ep, on="key").assign(value=lambda f: f["danger_grade"])


def _dangerous(f: pd.DataFrame, grades) -> pd.Series:
    """A house graded in ``grades`` whose renovation is not done: the archive keeps the
    grade that called for the renovation after the house is rebuilt."""
    return isin(f["danger_grade"], grades) & ~isin(f["renovation_status"], RENOVATED)


def _risk(f: pd.DataFrame, grades) -> tuple[pd.Series, pd.Series]:
    """(at risk, known to be fine) for exited households."""
    exited = (f["exit_status"] == "exited").fillna(False)
    unsecured = (f["housing_secured"] == False).fillna(False)  # noqa: E712
    bad_grade = _dangerous(f, grades)
    at_risk = exited & (unsecured | bad_grade)
    fine = ~at_risk & f["exit_status"].notna() & (~exited | (f["housing_secured"] == True).fillna(False))  # noqa: E712
    return at_risk, fine


def _exited_at_risk(h, cur, as_of, t, archives) -> pd.DataFrame:
    grades = t["risk_grades"]
    at_risk, _ = _risk(cur, grades)
    now = cur[at_risk]
    h = _rows(h, now, ["exit_status", "housing_secured", "danger_grade", "renovation_status"])
    h_risk, h_fine = _risk(h, grades)
    was = pd.Series("ok", index=h.index).where(h["exit_status"] == "exited", "not_exited")
    ep = _episode(h, h_fine, h_risk, was, as_of)
    unsecured = (now["housing_secured"] == False).fillna(False)  # noqa: E712
    codes = pd.Series("unsecured", index=now.index).where(unsecured, "")
    grade = now["danger_grade"].where(_dangerous(now, grades), "").fillna("")
    value = (codes + "," + grade).str.strip(",")
    return now.assign(value=value).merge(ep, on="key")


def _renovation_stalled(h, cur, as_of, t, archives) -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    started = cur["start_date"]
    days = (day - started).dt.days
    now = cur[(cur["renovation_status"] == "in_progress").fillna(False) & (days >= t["days_after_start"]).fillna(False)]
    now = now.assign(days=days[now.index])
    h = _with_now(h, now, ["start_date", "completion_date"], ["renovation_status", "start_date", "completion_date"])
    same_completion = (h["completion_date"] == h["completion_date_now"]).fillna(False) | (
        h["completion_date"].isna() & h["completion_date_now"].isna())
    same = ((h["renovation_status"] == "in_progress").fillna(False)
            & (h["start_date"] == h["start_date_now"]).fillna(False) & same_completion)
    last = h.drop_duplicates("key", keep="last")
    unchanged = last.loc[same[last.index], ["key", "as_of"]].rename(columns={"as_of": "previous_as_of"})
    broke = h.loc[~same, ["key", "as_of"]].groupby("key")["as_of"].max()
    run = h[same & (h["as_of"] > h["key"].map(broke).astype("string").fillna(""))]
    first = run.groupby("key")["as_of"].transform("min")
    old_enough = ((pd.to_datetime(run["as_of"]) - run["start_date"]).dt.days >= t["days_after_start"])
    since = run[old_enough & (run["as_of"] > first)].groupby("key")["as_of"].min()
    out = now.merge(unchanged, on="key")
    out["since"] = out["key"].map(since).astype("string").fillna(as_of)
    out["previous_value"] = out["start_date"].dt.strftime("%Y-%m-%d")
    return out.assign(value=out["days"].astype("int64").astype("string"))


def _systems(ps: pd.Series, ha: pd.Series) -> pd.Series:
    both = pd.Series("ps,", index=ps.index).where(ps, "") + pd.Series("ha", index=ha.index).where(ha, "")
    return both.str.strip(",")


def _record_vanished(h, cur, as_of, t, archives) -> pd.DataFrame:
    hh_now = cur.loc[cur["in_ps"], "household_no"]
    # a record is gone from the archive when its export no longer holds it; without the
    # export, when no household of the unified table holds it
    arch_now = archives["now"] if archives.get("now") is not None else cur.loc[cur["in_ha"], "archive_no"]
    hh_with_ha = cur.loc[cur["in_ha"], "household_no"].dropna()
    cols = ["key", "household_no", "archive_no", "county_code", "as_of"]
    # the records absent now first (few), then their last presence
    ps_rows = h["in_ps"].to_numpy() & ~isin(h["household_no"], hh_now).to_numpy()
    ps_gone = h.loc[ps_rows, cols].drop_duplicates("household_no", keep="last").assign(system="ps")
    ha_rows = h["in_ha"].to_numpy() & ~isin(h["archive_no"], arch_now).to_numpy()
    ha_last = h.loc[ha_rows, cols].drop_duplicates("archive_no", keep="last")
    ha_gone = ha_last[(ha_last["household_no"].isna() | ~isin(ha_last["household_no"], hh_with_ha)).to_numpy()]
    gone = pd.concat([ps_gone, ha_gone.assign(system="ha")], ignore_index=True)
    dates = pd.Series(sorted(h["as_of"].unique()), dtype="string")
    nxt = dates.searchsorted(gone["as_of"], side="right")
    gone["since"] = pd.Series(list(dates) + [as_of], dtype="string").iloc[nxt].to_numpy()
    gone = sort_rows(gone, ["key", "system"], ascending=[True, False])
    agg = gone.groupby("key", sort=False).agg(
        household_no=("household_no", "first"), archive_no=("archive_no", "first"),
        county_code=("county_code", "last"), previous_as_of=("as_of", "max"), since=("since", "min"),
        value=("system", ",".join))
    agg["previous_value"] = agg["value"]
    return agg.reset_index()


def _new_household(h, cur, as_of, t, archives) -> pd.DataFrame:
    covered = isin(cur["county_code"], h["county_code"].dropna().unique())
    new_ps = cur["in_ps"] & ~isin(cur["household_no"], h.loc[h["in_ps"], "household_no"])
    seen = h.loc[h["in_ha"], "archive_no"]
    if archives.get("before") is not None:  # in an earlier export, if not in a unified table
        seen = pd.concat([seen, archives["before"].astype("string")], ignore_index=True)
    new_ha = (cur["in_ha"] & ~isin(cur["archive_no"], seen)
              & (cur["household_no"].isna() | ~isin(cur["household_no"], h.loc[h["in_ha"], "household_no"])))
    now = cur[covered & (new_ps | new_ha)]
    return now.assign(value=_systems(new_ps[now.index], new_ha[now.index]), previous_as_of=pd.NA,
                      previous_value=pd.NA, since=as_of)


FINDERS = {"SECURED_LOST": _secured_lost, "DANGER_WORSENED": _danger_worsened,
           "RENOVATION_STALLED": _renovation_stalled, "EXITED_AT_RISK": _exited_at_risk,
           "RECORD_VANISHED": _record_vanished, "NEW_HOUSEHOLD": _new_household}


def _labels(codes: pd.Series) -> pd.Series:
    """``"ps,ha"`` -> ``扶贫系统、住建部门农户档案``; a code without a label as it is.
    Labelled once per distinct value (a few dozen), then mapped."""
    labels = value_labels()
    distinct = codes.dropna().unique()
    named = {c: "、".join(labels.get(part, part) for part in str(c).split(",")) for c in distinct}
    return codes.map(named).astype("string")


def empty_alerts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in ALERT_COLUMNS})


def alerts(history: pd.DataFrame, current: pd.DataFrame, as_of, thresholds: dict | None = None,
           scope: list[str] | None = None, archives_now: pd.Series | None = None,
           archives_before: pd.Series | None = None) -> pd.DataFrame:
    """This date's alerts: ``current`` (this date's unified table) against ``history``
    (``household_history``; only its dates strictly before ``as_of`` count).

    ``thresholds`` overrides the defaults of ``alerts.yaml`` per kind; ``scope`` (county
    codes) keeps only the alerts of a scoped run's counties. No earlier date: no alert.
    ``archives_now``/``archives_before``: the archive numbers of this date's HA export
    and of the exports of earlier dates (``records_ha``). The unified table holds only
    poor households' primary records, so without them an archive that drops out of a
    match, or a household's second record, would look vanished or new.
    Rows are sorted by kind, county, household, archive: same inputs, same bytes.
    """
    as_of = _iso(as_of)
    limits = alert_thresholds(thresholds)
    earlier = (history["as_of"] < as_of).to_numpy()
    h = history if earlier.all() else history[earlier]
    if h.empty:
        return empty_alerts()
    cur = _observations(current, as_of)
    kinds = load_alert_kinds()
    frames = []
    for code, find in FINDERS.items():
        f = find(h, cur, as_of, limits[code], {"now": archives_now, "before": archives_before})
        if len(f):
            frames.append(f.assign(alert=code)[["alert", "key", "household_no", "archive_no", "county_code",
                                                 "previous_as_of", "previous_value", "value", "since"]])
    if not frames:
        return empty_alerts()
    a = pd.concat(frames, ignore_index=True).astype("string")
    if scope is not None:
        a = a[isin(a["county_code"], scope)]
    a["alert_id"] = stable_ids([a["alert"], a["key"]])
    a["severity"] = a["alert"].map({c: k.severity for c, k in kinds.items()}).astype("string")
    text = a.assign(previous_value_zh=_labels(a["previous_value"]), value_zh=_labels(a["value"]), as_of=as_of)
    a["message_zh"] = pd.Series(pd.NA, index=a.index, dtype="string")
    a["action_zh"] = pd.Series(pd.NA, index=a.index, dtype="string")
    for code, kind in kinds.items():
        m = a["alert"] == code
        if m.any():
            a.loc[m, "message_zh"] = fill_template(kind.message_zh, text[m])
            a.loc[m, "action_zh"] = kind.action_zh
    a = sort_rows(a, ORDER, na_position="first")
    return a[ALERT_COLUMNS].astype("string").reset_index(drop=True)
