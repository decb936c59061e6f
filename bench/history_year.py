"""A simulated year of nightly runs into the store: size and time per night stay flat (issue 23).

    python bench/history_year.py [WORKDIR] [--households 20000] [--nights 365] [--change 0.01]
                                 [--store URL] [--minutes M]

A world of W households is stored night after night the way the ``reconcile`` flow's
publish task stores a run (``Store.save_run``: matches, discrepancies, unified,
quarantine, other groups, the HA records, the alerts, the alert ledger and the ledger),
each night about ``--change`` of the households changing (a renovation moving on, a
security verdict), their discrepancies and alerts appearing or resolving and both ledgers
following. The tables are synthetic, shaped like
the published ones (same columns); the pipeline itself is not run, so the figures are
the store's alone. Printed: the store's size after 1, 30 and the last night, and the
seconds of each such night's write; a per-run copy's size for comparison (its rows
times the first night's bytes per row). SQLite by default (WORKDIR/anju.sqlite).

Measured (2-core machine shared with other benchmarks): 20,000 households, 365 nights:
31.8 / 46.5 / 139.5 MB after nights 1 / 30 / 365 (copies: 16.0 GB), writes 5.2 s the
first night and 1.5-5.1 s after. 1,000,000 households, 30 nights: 1,599 MB after the first
(496 s), 2,338 MB after the 30th (copies: 49.6 GB), writes 105-263 s a night.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from connectors.store import PUBLISHED, Store  # noqa: E402

COUNTIES = [f"5224{i:02d}" for i in range(21, 31)]
RULES = ["HA_MISSING", "SECURED_CONFLICT", "IDENTITY_CONFLICT", "RENOVATION_OVERDUE", "SUBSIDY_MISSING"]
STATUS = ["none", "not_started", "in_progress", "completed", "accepted"]


def world(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The households' state: what the stages would read off the two exports."""
    county = rng.choice(COUNTIES, n)
    return pd.DataFrame({
        "household_no": [f"H{i:09d}" for i in range(n)],
        "archive_no": [f"A{i:09d}" for i in range(n)],
        "county_code": county,
        "village_code": [f"{c}{v:06d}" for c, v in zip(county, rng.integers(100, 200, n))],
        "householder_name": [f"户主{i % 9973}" for i in range(n)],
        "householder_id": [f"{c}19600101{i % 10000:04d}" for c, i in zip(county, range(n))],
        "household_size": rng.integers(1, 7, n),
        "renovation": rng.integers(0, 5, n),
        "secured": rng.random(n) < 0.9,
        "subsidy": rng.choice([0.0, 14000.0, 35000.0], n),
        "problem": rng.integers(-3, len(RULES), n),  # < 0: no discrepancy
        "lost_since": "2020-12-31",
    })


def tables(w: pd.DataFrame, as_of: str) -> dict[str, pd.DataFrame]:
    n = len(w)
    unified = pd.DataFrame({
        "unified_id": "U" + w["household_no"].str[1:], "household_no": w["household_no"],
        "archive_no": w["archive_no"], "county_code": w["county_code"], "village_code": w["village_code"],
        "householder_name": w["householder_name"], "householder_id": w["householder_id"],
        "household_size": w["household_size"].astype("Int64"), "identity_source": "ps", "in_ps": True,
        "in_ha": True, "ha_records": 1, "poverty_attribute": "脱贫户", "exit_status": "exited",
        "poverty_source": "ps", "guarantee_method": "农村危房改造", "housing_secured": w["secured"].astype("boolean"),
        "housing_secured_basis": "ha", "housing_source": "ha",
        "renovation_status": np.array(STATUS)[w["renovation"]], "completion_date": pd.NaT,
        "subsidy_yuan": w["subsidy"].astype("Float64"), "renovation_source": "ha", "match_method": "id_exact",
        "match_score": 1.0, "open_discrepancies": (w["problem"] >= 0).astype("int64"),
    })
    matches = pd.DataFrame({"household_no": w["household_no"], "archive_no": w["archive_no"],
                            "county_code": w["county_code"], "method": "id_exact", "score": 1.0,
                            "agreement": None, "member_name": None, "weights": None, "explanation": "身份证号相同"})
    has = w[w["problem"] >= 0]
    rule = np.array(RULES)[has["problem"]]
    disc = pd.DataFrame({
        "discrepancy_id": [f"{abs(hash((h, r))) % 16**16:016x}" for h, r in zip(has["household_no"], rule)],
        "rule": rule, "severity": "high", "owner": "ha", "agency": "ha", "household_no": has["household_no"],
        "archive_no": has["archive_no"], "county_code": has["county_code"], "field": None, "ps_value": None,
        "ha_value": None, "suggested_value": None, "explanation": None, "message": "住建档案缺失",
        "message_en": "missing", "action": "补录", "action_en": "enter it", "status": "open", "first_seen": "2021-01-01",
    }).sort_values(["rule", "county_code", "household_no"]).reset_index(drop=True)
    records_ha = pd.DataFrame({
        "_row": np.arange(2, n + 2, dtype="int64"), "archive_no": w["archive_no"], "province_name": "贵州省",
        "city_name": "黔东南州", "county_name": "某县", "town_name": "某镇", "village_name": "某村",
        "village_code": w["village_code"], "householder_name": w["householder_name"],
        "householder_name_raw": w["householder_name"], "householder_id": w["householder_id"],
        "householder_id_valid": True, "householder_id_problem": None, "householder_id_raw": w["householder_id"],
        "household_size": w["household_size"], "target_type": "建档立卡贫困户", "guarantee_method": "农村危房改造",
        "secured_result": np.where(w["secured"], "改造安全", "未改造"), "danger_grade": np.where(w["secured"], "B", "D"),
        "task_year": 2020, "task_source": "省级", "renovation_mode": "修缮加固",
        "start_date": pd.Timestamp("2020-03-01"),
        "completion_date": pd.Series(pd.Timestamp("2020-06-01"), index=w.index).where(w["renovation"] >= 3),
        "acceptance_date": pd.Series(pd.Timestamp("2020-06-20"), index=w.index).where(w["renovation"] >= 4),
        "subsidy_yuan": w["subsidy"], "county_code": w["county_code"], "secured": w["secured"],
    })
    m = n // 100
    others = records_ha.iloc[:m].drop(columns="_row").assign(
        archive_no=[f"X{i:07d}" for i in range(m)], target_type="一般户", renovation_status="none")
    lost = w[~w["secured"]]
    alerts = pd.DataFrame({
        "alert_id": [f"{int(h[1:]):016x}" for h in lost["household_no"]], "alert": "SECURED_LOST",
        "severity": "critical", "household_no": lost["household_no"], "archive_no": lost["archive_no"],
        "county_code": lost["county_code"], "previous_as_of": None, "previous_value": "true", "value": "false",
        "since": lost["lost_since"], "message_zh": "住房安全有保障认定由「是」变为「否」", "action_zh": "核实住房安全情况",
    }).sort_values(["alert", "county_code", "household_no", "archive_no", "alert_id"]).reset_index(drop=True)
    quarantine = pd.DataFrame({"source": "ps_households", "row_number": np.arange(2, 2 + n // 1000, dtype="int64"),
                               "record_key": None, "county_code": None, "column": "householder_id",
                               "value": "5224**", "problem": "bad_id", "reason": "身份证号格式错误"})
    return {"matches": matches, "discrepancies": disc, "unified": unified, "quarantine": quarantine,
            "other_groups": others, "records_ha": records_ha, "alerts": alerts}


def ledger(previous: pd.DataFrame | None, disc: pd.DataFrame, as_of: str, run_id: str,
           key: str = "discrepancy_id", carried: tuple = ("rule", "county_code", "household_no", "archive_no",
                                                          "field")) -> pd.DataFrame:
    """Seen now: open (new the first time), last_seen today; gone: resolved (as reconcile.ledger).
    The alert ledger alike, by alert_id."""
    now = disc[[key, *carried]].copy().rename(columns={key: "discrepancy_id"})
    if previous is not None:
        previous = previous.rename(columns={key: "discrepancy_id"})
    if previous is None:
        previous = now.iloc[:0].assign(status=None, first_seen=None, last_seen=None, resolved_at=None,
                                       changed_by_run=None)
    before = previous.set_index("discrepancy_id")
    known = now["discrepancy_id"].isin(before.index)
    now["status"] = np.where(known, "open", "new")
    now["first_seen"] = now["discrepancy_id"].map(before["first_seen"]).astype(object).fillna(as_of)
    now["last_seen"], now["resolved_at"] = as_of, None
    was = now["discrepancy_id"].map(before["status"])
    now["changed_by_run"] = now["discrepancy_id"].map(before["changed_by_run"]).where(was == now["status"], run_id)
    gone = previous[~previous["discrepancy_id"].isin(now["discrepancy_id"])].copy()
    closing = gone["status"].isin(["new", "open", "reopened"])
    gone.loc[closing, ["status", "resolved_at", "changed_by_run"]] = ["resolved", as_of, run_id]
    out = pd.concat([now, gone], ignore_index=True).sort_values("discrepancy_id").reset_index(drop=True)
    return out.rename(columns={"discrepancy_id": key})


def night(w: pd.DataFrame, rng: np.random.Generator, share: float, as_of: str) -> pd.DataFrame:
    w = w.copy()
    moved = rng.random(len(w)) < share
    k = int(moved.sum())
    w.loc[moved, "renovation"] = np.minimum(w.loc[moved, "renovation"] + 1, 4)
    was = w["secured"].copy()
    w.loc[moved, "secured"] = rng.random(k) < 0.95
    w.loc[was & ~w["secured"], "lost_since"] = as_of  # an alert's since: the first date of the bad state
    w.loc[moved, "problem"] = rng.integers(-3, len(RULES), k)
    return w


def size_of(store: Store, path: Path | None) -> int:
    if path is not None:
        return path.stat().st_size
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar())
        return int(conn.execute(sa.text("SELECT SUM(data_length + index_length) FROM information_schema.tables "
                                        "WHERE table_schema = DATABASE()")).scalar())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", default=None)
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--nights", type=int, default=365)
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument("--store", default=None, help="SQLAlchemy URL (default: WORKDIR/anju.sqlite)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="stop when the next night would end past this wall time (the last night is reported)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="anju-history-"))
    work.mkdir(parents=True, exist_ok=True)
    path = None if args.store else work / "anju.sqlite"
    store = Store(args.store or f"sqlite:///{path}")
    store.migrate()
    rng = np.random.default_rng(23)
    w, led, alert_led = world(args.households, rng), None, None
    start = date(2021, 1, 1)
    report = sorted({1, min(30, args.nights), args.nights})
    rows_per_copy = None
    print(f"{args.households:,} households, {args.nights} nights, ~{args.change:.1%} changing a night; store {work}")
    print(f"{'night':>6} {'as_of':>10} {'write s':>8} {'store MB':>9} {'copies MB':>10} {'versions':>9}")
    clock = time.perf_counter()
    for i in range(1, args.nights + 1):
        as_of = (start + timedelta(days=i - 1)).isoformat()
        if i > 1:
            w = night(w, rng, args.change, as_of)
        run_id = f"{as_of.replace('-', '')}-{uuid.uuid4().hex[:12]}"
        t = tables(w, as_of)
        led = ledger(led, t["discrepancies"], as_of, run_id)
        alert_led = t["alert_ledger"] = ledger(alert_led, t["alerts"], as_of, run_id, "alert_id",
                                               ("alert", "county_code", "household_no", "archive_no"))
        record = {"run_id": run_id, "as_of": as_of, "scope": "all", "status": "stored", "started_at": as_of,
                  "finished_at": None, "parameters": {}, "inputs": {}, "counts": {}, "timings": {}}
        began = time.perf_counter()
        store.save_run(record, t, led)
        seconds = time.perf_counter() - began
        # stop when another night like this one would end past the budget
        out_of_time = args.minutes is not None and time.perf_counter() - clock + seconds > 60 * args.minutes
        if i in report or out_of_time or i % (50 if args.nights > 60 else 5) == 0:
            size = size_of(store, path)
            with store.engine.connect() as conn:
                versions = sum(conn.execute(sa.text(f"SELECT COUNT(*) FROM {n}")).scalar()
                                              for n in (*PUBLISHED, "discrepancy_ledger"))
            rows = sum(len(f) for f in t.values()) + len(led)
            if rows_per_copy is None:
                rows_per_copy = size / max(rows, 1)
            copies = rows_per_copy * rows * i  # what a copy per run would hold by now
            print(f"{i:>6} {as_of:>10} {seconds:>8.2f} {size / 2**20:>9.1f} {copies / 2**20:>10.1f} {versions:>9,}",
                  flush=True)
        if out_of_time:
            print(f"stopped after night {i}: past --minutes {args.minutes:g}")
            break
    store.engine.dispose()


if __name__ == "__main__":
    main()
