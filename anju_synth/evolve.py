"""Monthly snapshots of one world whose households evolve, with the truth of every alert.

``step`` takes one month's exports (the agencies' own headers, as ``layout.render``
writes them) and gives the next month's, after evolution events drawn at ``RATES``:

======================  ==================================================  =============================
event                   what changes in the exports                          alerts it should raise
======================  ==================================================  =============================
secured_lost            archive 未保障, poverty system 否 (not exited)        SECURED_LOST
exited_at_risk          the same for an exited household                     SECURED_LOST, EXITED_AT_RISK
danger_worsened         archive grade A/B -> C/D                             DANGER_WORSENED (+ EXITED_AT_RISK
                                                                             when exited)
renovation_started      a renovation task starts this month                  none
renovation_stalled      a task that started 200-300 days ago, never done     RENOVATION_STALLED from the
                                                                             next month on
renovation_completed    an open task gets its completion date                none
vanished_ps/_ha/_both   the record is deleted from one system or both         RECORD_VANISHED
new_pair/_ps/_ha        a new household in both systems or one               NEW_HOUSEHOLD (that month only)
======================  ==================================================  =============================

Events touch only *clean pairs* (one poor-household record in each system with the same
valid householder ID, both saying secured) and each household at most once, so the truth
of a month is exact: an event's alerts last from its month while nothing undoes them
(nothing does: touched households stay as the event left them), NEW_HOUSEHOLD only in
its month. Renovations that no event stalls are completed within ``COMPLETE_WITHIN_DAYS``
of their start, so the world itself raises no stall.

Truth rows: ``as_of, alert, key, household_no, archive_no, event``; ``key`` is the
household number, else ``HA:`` and the archive number (how monitoring follows a household).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from anju_synth.layout import HA_HEADERS, MEMBER_HEADERS, PS_HEADERS, SPELLINGS
from anju_synth.population import with_check_char

RATES = {  # share of the eligible households (for completion: of the open tasks) per month
    "secured_lost": 0.010, "exited_at_risk": 0.008, "danger_worsened": 0.010, "renovation_started": 0.010,
    "renovation_stalled": 0.008, "renovation_completed": 0.30, "vanished_ps": 0.004, "vanished_ha": 0.004,
    "vanished_both": 0.003, "new_pair": 0.006, "new_ps": 0.003, "new_ha": 0.003,
}
# An open renovation no event stalls is finished before the monitoring's default 180 days.
COMPLETE_WITHIN_DAYS = 150
STALL_AGE_DAYS = (200, 300)
SECURED = ["鉴定安全", "改造安全", "保障安全", "已保障"]
POOR = "建档立卡贫困户"
RENOVATION = "农村危房改造"
TRUTH_COLUMNS = ["as_of", "alert", "key", "household_no", "archive_no", "event"]

P, H, M = PS_HEADERS, HA_HEADERS, MEMBER_HEADERS


@dataclass
class EvolutionState:
    """What the truth of later months needs: the households already touched and the
    alerts their events raised (``from_as_of``: the first month each should fire)."""
    touched_ps: set = field(default_factory=set)
    touched_ha: set = field(default_factory=set)
    alerts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["alert", "key", "household_no", "archive_no", "event", "from_as_of"]))
    stalled_ha: set = field(default_factory=set)
    serial: int = 0


@dataclass
class Month:
    as_of: date
    frames: dict[str, pd.DataFrame]
    truth: pd.DataFrame


def parse_cells(cells: pd.Series) -> pd.Series:
    """The archive's date cells as ``layout`` spells them: date cells, Excel serials (as
    numbers or text), ``2020-03-01``, ``2020/3/1``, ``2020年3月1日``, ``20200301``."""
    s = cells.astype("object")
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    is_dt = s.map(lambda v: isinstance(v, (pd.Timestamp, date)))
    out[is_dt] = pd.to_datetime(s[is_dt].astype("datetime64[ns]"))
    rest_cells = s[~is_dt]
    text = rest_cells.where(rest_cells.notna(), "").map(str).astype("string")
    text = text.str.strip().str.replace(r"\.0$", "", regex=True)
    serial = text.str.fullmatch(r"[0-9]{4,5}").fillna(False)
    out[serial[serial].index] = pd.Timestamp("1899-12-30") + pd.to_timedelta(text[serial].astype("int64"), unit="D")
    rest = text[~serial & text.ne("").fillna(False)]
    canon = rest.str.replace(r"^([0-9]{4})([0-9]{2})([0-9]{2})$", r"\1-\2-\3", regex=True)
    canon = canon.str.replace(r"[年/]", "-", regex=True).str.replace("月", "-").str.replace("日", "")
    out[rest.index] = pd.to_datetime(canon, format="%Y-%m-%d", errors="coerce")
    return out


def _iso(d):
    """ISO text of a Timestamp, or of each date of a Series/DatetimeIndex."""
    return d.dt.strftime("%Y-%m-%d") if isinstance(d, pd.Series) else d.strftime("%Y-%m-%d")


def clean_pairs(ps: pd.DataFrame, ha: pd.DataFrame) -> pd.DataFrame:
    """Row positions of the poor households held once in each system under the same valid
    householder ID, both saying secured: ``ps_row, ha_row, household_no, archive_no, exited``."""
    pid = ps[P["householder_id"]].astype("string")
    hid = ha[H["householder_id"]].astype("string")
    ok_p = pid.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False) & ~pid.duplicated(keep=False)
    ok_p &= (ps[P["housing_secured"]] == "是").to_numpy()
    ok_h = hid.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False) & ~hid.duplicated(keep=False)
    ok_h &= (ha[H["target_type"]] == POOR).to_numpy() & ha[H["secured_result"]].isin(SECURED).to_numpy()
    # a second archive record of the household under a lost ID (dirt) would follow it
    # unseen: such households (same name in the same village) are no clean pair
    for frame, ok, head in ((ps, ok_p, P), (ha, ok_h, H)):
        ok &= ~frame.duplicated([head["householder_name"], head["village_code"]], keep=False).to_numpy()
    left = pd.DataFrame({"id": pid[ok_p], "ps_row": np.flatnonzero(ok_p)})
    right = pd.DataFrame({"id": hid[ok_h], "ha_row": np.flatnonzero(ok_h)})
    pairs = left.merge(right, on="id").sort_values("ps_row").reset_index(drop=True)
    pairs["household_no"] = ps[P["household_no"]].astype("string").to_numpy()[pairs["ps_row"]]
    pairs["archive_no"] = ha[H["archive_no"]].astype("string").to_numpy()[pairs["ha_row"]]
    pairs["exited"] = ps[P["exit_status"]].isin(SPELLINGS["exited"]).to_numpy()[pairs["ps_row"]]
    grade = ha[H["danger_grade"]].astype("string").fillna("").to_numpy()[pairs["ha_row"]]
    pairs["grade"] = pd.Series(grade).str[0].to_numpy()
    pairs["started"] = parse_cells(ha[H["start_date"]]).notna().to_numpy()[pairs["ha_row"]]
    return pairs


def _draw(rng, pool: pd.DataFrame, rate: float, taken: np.ndarray) -> pd.DataFrame:
    free = pool[~taken[pool.index]]
    n = int(round(len(free) * rate))
    pick = free.iloc[np.sort(rng.choice(len(free), size=min(n, len(free)), replace=False))]
    taken[pick.index] = True
    return pick


def _new_ids(rng, template: pd.Series, taken: set) -> pd.Series:
    out = []
    for t in template:
        while True:
            cand = with_check_char(pd.Series([t[:14] + f"{rng.integers(0, 1000):03d}"], dtype="string")).iloc[0]
            if cand not in taken:
                taken.add(cand)
                out.append(cand)
                break
    return pd.Series(out, index=template.index, dtype="string")


def _complete_open_tasks(ha: pd.DataFrame, nxt: pd.Timestamp, rng, rate: float, stalled: set) -> None:
    """Open tasks no event stalls: done within COMPLETE_WITHIN_DAYS of their start, some earlier."""
    start, done = parse_cells(ha[H["start_date"]]), parse_cells(ha[H["completion_date"]])
    accepted = parse_cells(ha[H["acceptance_date"]])
    task = ha[H["task_year"]].astype("string").fillna("").ne("") | ha[H["guarantee_method"]].eq(RENOVATION)
    open_task = (task & (start <= nxt) & ~(done <= nxt) & ~(accepted <= nxt)).to_numpy()
    open_task &= ~ha[H["archive_no"]].astype("string").isin(stalled).to_numpy()
    due = open_task & ((start <= nxt - pd.Timedelta(days=COMPLETE_WITHIN_DAYS)).to_numpy()
                       | (rng.random(len(ha)) < rate))
    latest = pd.Series(nxt - pd.Timedelta(days=3), index=start[due].index)
    finish = pd.concat([start[due] + pd.Timedelta(days=1), latest], axis=1).max(axis=1).clip(upper=nxt)
    ha.loc[due, H["completion_date"]] = list(_iso(finish))
    ha.loc[due, H["acceptance_date"]] = ""


def _new_households(ps, ha, members, new_rows: dict, rng, state: EvolutionState, alerts: list, nxt):
    """Copies of template households under new numbers and IDs (in both systems or one),
    each with its NEW_HOUSEHOLD truth row appended to ``alerts``."""
    new_ps, new_ha, new_members = [], [], []
    ids = set(ps[P["householder_id"]].astype("string").dropna()) | set(
        ha[H["householder_id"]].astype("string").dropna())
    for kind, rows in new_rows.items():
        if rows.empty:
            continue
        serial = pd.Series(state.serial + np.arange(len(rows)))
        state.serial += len(rows)
        p = ps.loc[rows["ps_row"]].copy()
        a = ha.loc[rows["ha_row"]].copy()
        new_id = _new_ids(rng, p[P["householder_id"]].astype("string"), ids)
        hh_no = p[P["household_no"]].astype("string").str[:6].to_numpy() + serial.map("9{:09d}".format).to_numpy()
        county = a[H["archive_no"]].astype("string").str[2:8].to_numpy()
        arch_no = "DA" + county + serial.map("9{:07d}".format).to_numpy()
        p[P["household_no"]], p[P["householder_id"]] = hh_no, new_id.to_numpy()
        a[H["archive_no"]], a[H["householder_id"]] = arch_no, new_id.to_numpy()
        head = members[members[M["household_no"]].isin(rows["household_no"]) & (members[M["relation"]] == "户主")]
        head = head.drop_duplicates(M["household_no"]).set_index(M["household_no"])
        head = head.reindex(rows["household_no"].to_numpy()).reset_index(drop=True)
        head = head.assign(**{M["household_no"]: hh_no, M["id_no"]: new_id.to_numpy()})
        made = pd.DataFrame({"household_no": hh_no if kind != "new_ha" else None,
                             "archive_no": arch_no if kind != "new_ps" else None})
        made["key"] = made["household_no"].fillna("HA:" + made["archive_no"].astype("string"))
        alerts.append(made.assign(alert="NEW_HOUSEHOLD", event=kind, from_as_of=nxt))
        if kind != "new_ha":
            new_ps.append(p)
            new_members.append(head.dropna(subset=[M["id_no"]]))
        if kind != "new_ps":
            new_ha.append(a)

    return new_ps, new_ha, new_members


def step(frames: dict[str, pd.DataFrame], as_of: date, next_as_of: date, seed: int,
         rates: dict[str, float] | None = None, state: EvolutionState | None = None
         ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, EvolutionState]:
    """The next month's exports, the alerts that should fire at ``next_as_of``, the state."""
    rates = {**RATES, **(rates or {})}
    state = state or EvolutionState()
    rng = np.random.default_rng([seed, pd.Timestamp(next_as_of).toordinal()])
    nxt = pd.Timestamp(next_as_of)
    ps, ha = frames["ps_households"].copy(), frames["ha_archive"].copy()
    members = frames.get("ps_members", pd.DataFrame(columns=list(M.values()))).copy()
    ps, ha = ps.reset_index(drop=True), ha.reset_index(drop=True)
    for col in (H["start_date"], H["completion_date"], H["acceptance_date"], H["task_year"]):
        ha[col] = ha[col].astype("object")

    pairs = clean_pairs(ps, ha)
    fresh = ~pairs["household_no"].isin(state.touched_ps) & ~pairs["archive_no"].isin(state.touched_ha)
    pairs = pairs[fresh.to_numpy()].reset_index(drop=True)
    taken = np.zeros(len(pairs), dtype=bool)
    events = {}
    events["exited_at_risk"] = _draw(rng, pairs[pairs["exited"]], rates["exited_at_risk"], taken)
    events["secured_lost"] = _draw(rng, pairs[~pairs["exited"]], rates["secured_lost"], taken)
    safe = pairs["grade"].isin(["A", "B"]) & ~pairs["started"]
    events["danger_worsened"] = _draw(rng, pairs[safe], rates["danger_worsened"], taken)
    events["renovation_stalled"] = _draw(rng, pairs[safe], rates["renovation_stalled"], taken)
    events["renovation_started"] = _draw(rng, pairs[safe], rates["renovation_started"], taken)
    for kind in ("vanished_ps", "vanished_ha", "vanished_both"):
        events[kind] = _draw(rng, pairs, rates[kind], taken)
    new_rows = {kind: _draw(rng, pairs, rates[kind], taken) for kind in ("new_pair", "new_ps", "new_ha")}

    alerts = []

    def expect(kind_rows: pd.DataFrame, alert: str, event: str, from_as_of=nxt) -> None:
        alerts.append(pd.DataFrame({"alert": alert, "key": kind_rows["household_no"].to_numpy(),
                                    "household_no": kind_rows["household_no"].to_numpy(),
                                    "archive_no": kind_rows["archive_no"].to_numpy(), "event": event,
                                    "from_as_of": from_as_of}))

    for kind in ("exited_at_risk", "secured_lost"):
        e = events[kind]
        ha.loc[e["ha_row"], H["secured_result"]] = "未保障"
        ps.loc[e["ps_row"], P["housing_secured"]] = "否"
        expect(e, "SECURED_LOST", kind)
    expect(events["exited_at_risk"], "EXITED_AT_RISK", "exited_at_risk")
    e = events["danger_worsened"]
    ha.loc[e["ha_row"], H["danger_grade"]] = np.where(rng.random(len(e)) < 0.5, "C级", "D级")
    expect(e, "DANGER_WORSENED", "danger_worsened")
    expect(e[e["exited"]], "EXITED_AT_RISK", "danger_worsened")
    for kind, (lo, hi) in (("renovation_stalled", STALL_AGE_DAYS), ("renovation_started", (0, 27))):
        e = events[kind]
        start = nxt - pd.to_timedelta(rng.integers(lo, hi + 1, len(e)), unit="D")
        ha.loc[e["ha_row"], H["guarantee_method"]] = RENOVATION
        ha.loc[e["ha_row"], H["task_year"]] = str(nxt.year)
        ha.loc[e["ha_row"], H["start_date"]] = list(_iso(start))
        for col in (H["completion_date"], H["acceptance_date"]):
            ha.loc[e["ha_row"], col] = ""
    e = events["renovation_stalled"]
    state.stalled_ha |= set(e["archive_no"])
    expect(e, "RENOVATION_STALLED", "renovation_stalled", from_as_of=nxt + pd.Timedelta(days=1))

    _complete_open_tasks(ha, nxt, rng, rates["renovation_completed"], state.stalled_ha)

    vanished = []
    for kind, systems in (("vanished_ps", "ps"), ("vanished_ha", "ha"), ("vanished_both", "ps,ha")):
        e = events[kind]
        expect(e, "RECORD_VANISHED", kind)
        vanished.append((e, systems))
    new_ps, new_ha, new_members = _new_households(ps, ha, members, new_rows, rng, state, alerts, nxt)

    gone_ps = pd.concat([e["household_no"] for e, s in vanished if "ps" in s])
    gone_ha = pd.concat([e["archive_no"] for e, s in vanished if "ha" in s])
    ps = pd.concat([ps[~ps[P["household_no"]].astype("string").isin(gone_ps)], *new_ps], ignore_index=True)
    members = pd.concat([members[~members[M["household_no"]].astype("string").isin(gone_ps)], *new_members],
                        ignore_index=True)
    ha = pd.concat([ha[~ha[H["archive_no"]].astype("string").isin(gone_ha)], *new_ha], ignore_index=True)
    ha = ha.sort_values(H["archive_no"], kind="stable").reset_index(drop=True)

    for e in events.values():
        state.touched_ps |= set(e["household_no"])
        state.touched_ha |= set(e["archive_no"])
    for e in new_rows.values():  # templates stay as they were: their truth would mix with the copy's
        state.touched_ps |= set(e["household_no"])
        state.touched_ha |= set(e["archive_no"])
    state.alerts = pd.concat([state.alerts, *alerts], ignore_index=True)
    a = state.alerts
    live = (a["from_as_of"] <= nxt) & ((a["alert"] != "NEW_HOUSEHOLD") | (a["from_as_of"] == nxt))
    truth = a[live].assign(as_of=_iso(nxt))[TRUTH_COLUMNS]
    truth = truth.sort_values(["alert", "key"]).reset_index(drop=True).astype("string")
    out = {"ps_households": ps, "ps_members": members, "ha_archive": ha}
    return out, truth, state


def evolve_months(frames: dict[str, pd.DataFrame], months: list[date], seed: int,
                  rates: dict[str, float] | None = None) -> list[Month]:
    """``frames`` as of ``months[0]`` (no alert: nothing before it), then one evolved
    snapshot per later month, each with its truth."""
    out = [Month(months[0], frames, pd.DataFrame({c: pd.Series(dtype="string") for c in TRUTH_COLUMNS}))]
    state = EvolutionState()
    for before, after in zip(months, months[1:]):
        frames, truth, state = step(frames, before, after, seed, rates, state)
        out.append(Month(after, frames, truth))
    return out
