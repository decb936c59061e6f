"""A week of nightly runs over drop folders: what each night publishes or holds (a demo, not a test).

    python bench/drop_week.py [WORKDIR] [--households 2000]

A synthetic world is written night by night into two drop folders (PS households as
``扶贫对象_YYYYMMDD.csv``, the HA archive as ``农户档案导出_YYYY-MM-DD.xlsx``), each night a
little different (0.3 % of records come and go), with one duplicate, one late, one
truncated and one county-missing export. Each night runs the pipeline the way the
``reconcile`` flow does once the wiring of flows/drops_flow.py is in it: resolve the drops
(kept copies), check the exports, read, normalize, match, classify, update the ledger,
run the volume guard, publish through connectors.publish.Staging. Prefect is left out
(the pure stages are called directly) and so are the report and the publishing gate,
which do not bear on what a drop folder does.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from connectors.native import write_csv, write_xlsx  # noqa: E402
from connectors.previous_run import latest_published  # noqa: E402
from connectors.publish import Staging  # noqa: E402
from connectors.sources import read_source, sha256_file  # noqa: E402
from flows.drops_flow import (PROFILE_NAME, DropPolicy, ExportHold, check_exports, resolve_locations,  # noqa: E402
                              run_guards)
from anju_synth import build_world, render, write_world  # noqa: E402
from reconcile import pipeline  # noqa: E402
from reconcile.ledger import update_ledger  # noqa: E402
from schemas.config import load_source_specs  # noqa: E402
from schemas.guards import GuardHold  # noqa: E402

PS_PATTERN = "扶贫对象_{date:%Y%m%d}.csv"
HA_PATTERN = "农户档案导出_{date:%Y-%m-%d|%Y%m%d}.xlsx"
SEED = 20200801


def nightly_frames(frames: dict, night: int, drift: float = 0.003) -> dict:
    """The exports of one night: each side loses a different 0.3 % of its records."""
    out = {}
    for name in ("ps_households", "ha_archive"):
        f = frames[name]
        gone = f.sample(frac=drift, random_state=night).index
        out[name] = f.drop(index=gone).reset_index(drop=True)
    return out


class Week:
    def __init__(self, work: Path, households: int):
        self.work = work
        shutil.rmtree(work, ignore_errors=True)
        self.ps_dir, self.ha_dir, self.out = work / "drops" / "ps", work / "drops" / "ha", work / "out"
        for d in (self.ps_dir, self.ha_dir, self.out):
            d.mkdir(parents=True)
        world = build_world(households, SEED)
        fixed = write_world(world, work / "world", SEED)  # the members roster: a plain file, not a drop
        self.members = str(fixed["ps_members"])
        self.frames = render(world, SEED, as_text=False)
        self.title = f"{world.ha['county_name'].iloc[0]}等县农村危房改造农户档案信息表"
        self.specs = load_source_specs()
        self.rows: list[dict] = []

    # --- what the export jobs drop ------------------------------------------------------
    def drop_ps(self, d: date, frame: pd.DataFrame, name: str | None = None, minute: int = 0) -> Path:
        p = self.ps_dir / (name or f"扶贫对象_{d:%Y%m%d}.csv")
        write_csv(frame, p, "gb18030")
        self._stamp(p, d, minute)
        return p

    def drop_ha(self, d: date, frame: pd.DataFrame, name: str | None = None, minute: int = 0) -> Path:
        p = self.ha_dir / (name or f"农户档案导出_{d:%Y-%m-%d}.xlsx")
        write_xlsx(frame, p, title=self.title, note=f"填报单位：县住房和城乡建设局    填报日期：{d}")
        self._stamp(p, d, minute)
        return p

    @staticmethod
    def _stamp(p: Path, d: date, minute: int) -> None:
        t = datetime(d.year, d.month, d.day, 1, minute, tzinfo=timezone.utc).timestamp()  # dropped at 01:MM
        os.utime(p, (t, t))

    # --- one run -------------------------------------------------------------------------
    def run(self, label: str, as_of: date, accepted: list[str] | None = None,
            policy: DropPolicy = DropPolicy()) -> None:
        day = as_of.isoformat()
        run_id = f"{as_of:%Y%m%d}-{label.replace(' ', '-')}"
        locations = {"ps_households": f"drop:{self.ps_dir}?pattern={PS_PATTERN}",
                     "ha_archive": f"drop:{self.ha_dir.as_uri()}?pattern={HA_PATTERN}", "ps_members": self.members}
        t = time.perf_counter()
        local, drops = resolve_locations(locations, self.out, as_of, policy)
        row = {"night": label, "as_of": day, **{f"{s}": self._taken(drops[s]) for s in ("ps_households", "ha_archive")}}
        try:
            found = check_exports(drops, as_of, policy)
        except ExportHold as e:
            self.rows.append({**row, "findings": "", "guard": "-", "outcome": f"HELD: {e}"})
            return
        row["findings"] = "; ".join(f["text"].split(": ", 1)[0] + ": " + f["kind"] for f in found) or "-"
        settings = pipeline.Settings(as_of=as_of)
        sources = {s: read_source(local[s], self.specs[s]) for s in ("ps_households", "ha_archive", "ps_members")}
        canon = pipeline.normalize({s: src.frame for s, src in sources.items()}, self.specs, settings,
                                   rejected={s: src.meta.get("rejected_rows", []) for s, src in sources.items()})
        matched = pipeline.match(canon)
        disc = pipeline.find_discrepancies(canon, matched, settings)
        before = latest_published(self.out, day, same_day=False)
        same = latest_published(self.out, day, same_day=True)
        prev_ledger = pd.read_parquet(before / "ledger.parquet") if before else pd.DataFrame()
        today = pd.read_parquet(same / "ledger.parquet") if same and same.name == day else None
        ledger = update_ledger(prev_ledger, disc, day, run_id, same_day=today)
        tables = {"records_ps": canon.ps.drop(columns=[c for c in canon.ps if c.startswith("extra:")]),
                  "records_ha": canon.ha.drop(columns=[c for c in canon.ha if c.startswith("extra:")])}
        try:
            with Staging(self.out, day, run_id) as st:
                guards, prof = run_guards(tables, ledger, day, run_id, st.path, self.out, accepted)
                for name, frame in tables.items():
                    st.write_table(name, frame)
                st.write_table("ledger", ledger)
                st.write_table(PROFILE_NAME, prof)
                inputs = {s: {"location": local[s], "sha256": sha256_file(Path(local[s])),
                              "rows_read": src.meta["rows_read"], **({"drop": drops[s]} if s in drops else {})}
                          for s, src in sources.items()}
                st.write_json("run.json", {"run_id": run_id, "as_of": day, "inputs": inputs, "exports": found,
                                           "guards": guards, "discrepancies": len(disc)})
                st.commit()
        except GuardHold as e:
            self.rows.append({**row, "guard": "HOLD", "outcome": f"HELD: {e}"[:400]})
            return
        status = ledger["status"].value_counts().to_dict()
        row["guard"] = (f"pass ({guards['evaluated']}; resolved {guards['resolved_share']:.1%})"
                        + (f"; accepted {', '.join(guards['accepted'])}" if guards["accepted"] else ""))
        row["outcome"] = (f"published: {len(disc):,} discrepancies, ledger new {status.get('new', 0):,} / "
                          f"resolved today {(ledger['resolved_at'] == day).sum():,}  [{time.perf_counter() - t:.0f} s]")
        self.rows.append(row)

    @staticmethod
    def _taken(d: dict) -> str:
        flags = [f"{d['age_days']}d old", "fresh" if d["fresh"] else "STALE"]
        if d["same_as_previous"]:
            flags.append("same bytes as last run")
        if d["duplicates"]:
            flags.append(f"{len(d['duplicates']) + 1} copies")
        if d.get("reused"):
            flags.append("kept copy reused")
        return f"{d['file']} ({', '.join(flags)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", nargs="?", default="/tmp/anju-drop-week")
    ap.add_argument("--households", type=int, default=2000)
    args = ap.parse_args()
    w = Week(Path(args.work), args.households)
    f, D = w.frames, lambda n: date(2020, 8, n)  # noqa: E731
    night = {n: nightly_frames(f, n) for n in range(1, 8)}
    counties = sorted(night[6]["ps_households"]["村级区划代码"].str[:6].unique())
    gone = counties[-1]

    w.drop_ps(D(1), night[1]["ps_households"]); w.drop_ha(D(1), night[1]["ha_archive"])  # noqa: E702
    w.run("1 normal", D(1))
    w.drop_ps(D(2), night[2]["ps_households"]); w.drop_ha(D(2), night[2]["ha_archive"])  # noqa: E702
    w.run("2 normal", D(2))
    # 3: the PS job re-sent yesterday's data, twice
    for name, minute in ((f"扶贫对象_{D(3):%Y%m%d}.csv", 0), (f"扶贫对象_{D(3):%Y%m%d}(1).csv", 20)):
        shutil.copyfile(w.ps_dir / f"扶贫对象_{D(2):%Y%m%d}.csv", w.ps_dir / name)
        w._stamp(w.ps_dir / name, D(3), minute)
    w.drop_ha(D(3), night[3]["ha_archive"])
    w.run("3 duplicate", D(3))
    # 4: the HA export is late: it arrives after the run
    w.drop_ps(D(4), night[4]["ps_households"])
    w.run("4 late", D(4))
    w.drop_ha(D(4), night[4]["ha_archive"], minute=59)  # delivered late, dated the 4th
    # 5: the HA export job failed halfway: half its rows
    w.drop_ps(D(5), night[5]["ps_households"])
    w.drop_ha(D(5), night[5]["ha_archive"].iloc[: len(night[5]["ha_archive"]) // 2])
    w.run("5 truncated", D(5))
    # 5, 10:00: the agency re-delivers the whole export; the officer re-runs the date
    w.drop_ha(D(5), night[5]["ha_archive"], name=f"农户档案导出_{D(5):%Y-%m-%d}(1).xlsx", minute=30)
    w.run("5 re-run", D(5))
    # 6: one county missing from the PS export
    w.drop_ps(D(6), night[6]["ps_households"][night[6]["ps_households"]["村级区划代码"].str[:6] != gone])
    w.drop_ha(D(6), night[6]["ha_archive"])
    w.run("6 county missing", D(6))
    w.drop_ps(D(7), night[7]["ps_households"]); w.drop_ha(D(7), night[7]["ha_archive"])  # noqa: E702
    w.run("7 normal", D(7))
    # the drop folder moves on (the 7th's files replaced); a re-run of the 7th reads what it read
    w.drop_ps(D(7), night[1]["ps_households"])
    w.run("7 re-run", D(7))
    # a data officer confirms the county really left the export: accepted on a re-run of the 6th
    w.run(f"6 re-run --accept-change {gone}", D(6), accepted=[gone])

    for r in w.rows:
        print(f"\n{r['night']}  (as_of {r['as_of']})")
        for k in ("ps_households", "ha_archive", "findings", "guard", "outcome"):
            print(f"    {k:<14} {r.get(k, '-')}")


if __name__ == "__main__":
    main()
