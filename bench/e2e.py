"""End to end in one command: seconds and peak memory per stage of a real run (issue 20).

    python bench/e2e.py --households 100000 [--households 1000000 ...] [--cache DIR] [--seed 7]
                        [--budget-mb 3072] [--runs 2]

For each size, the world is generated once (as ``anju generate --households N --seed S
--format parquet`` writes it) and cached in ``--cache``; then the ``reconcile`` flow runs
in this process exactly as ``anju reconcile`` runs it (local Prefect, SQLite store in a
fresh output folder) while a thread samples the resident memory of this process and of
its children (Prefect's temporary server, the report workbook's process) every 50 ms.
Printed, one table per size: seconds, peak RSS and CPU seconds (this process and its
children; up to twice the seconds on two cores) of every stage (the flow's own stage clock, read by wrapping its
``lap``), the gaps between stages (Prefect, the store's migrations, shaping the
published tables), end to end, the output sizes (published folder, store), and whether
the peak stayed within ``--budget-mb`` (exit 1 when it did not: the budget is checked
here, never in the tests). ``--runs 2`` runs the same inputs again into the same outputs and
store: the night after, when the store compares every row and writes none.

Measured (2-core machine, idle, SQLite store; issue 20's notes have the per-stage tables):
100,000 households 41.4 s end to end before the publishing work, 32.6 s after; 1,000,000
households 350.8 s and 11.4 GB peak before, 226.9 s and 7.2 GB after (publishing 248 → 130 s,
most of it the first write into the store); the night after, 1M: 195 s. Then (session of
2026-11-30: raw frames released, Arrow's freed memory handed back, text checks off Arrow's
buffers, one key lookup per table, the store written in its own thread): 1M 232.4 s and
7.0 GB → 211.3 s and 6.1 GB (normalize 25.6 → 18.4 s, publishing 133.0 → 111.5 s); the
store alone (a 1M run's tables, SQLite) 99.8 → 85.0 s the first night, 49.0 → 30.8 s the
night after. Runs here vary by ±10% from one to the next. Session of 2026-11-30 (second):
the report workbook a column at a time (its process 82.1 → 23.8 s at 1M), the store's
hashing in blocks and the core's frames released before publishing. Measured back to back
on a machine then running ~30% slower than in the morning (the same code: 220.9 → 285.6 s):
1M first night 285.6 s / 5,669 MB before, 317.9 s / 5,258 MB after (the store's write is
the critical path and did not change); the night after, publishing 159.2 → 110.5 s (the
workbook was its critical path). Session of 2026-11-30 (third): a SQLite store's big
inserts staged from Arrow (connectors/sqlite_stage.py) and datetimes spelled by Arrow's
cast: 1M first night 181.0 → 144.1 s (publishing 96.6 → 61.9 s); 3M 589.4 → 439.2 s
(publishing 326.3 → 181.9 s, peak 13.1 → 12.1 GB). Session of 2026-11-30 (fourth): the core
(IDs judged on their bytes, dates and codes parsed a distinct value at a time, sources parsed
and rules applied in two threads, the rules' pairs narrowed to the columns they read): 100k
29.3 → 24.6 s; 1M 145.3 → 134.5 s (normalize 17.7 → 8.5 s, classify 16.5 → 11.6 s; peak
5,486 → 5,081 MB); 3M 514.5 → 433.5 s (normalize 62.2 → 24.9 s, classify 71.4 → 43.9 s). Session of
2026-12-01 (the machine 1.4-2x slower than the day before): the sampler lists children once a
second (20 times a second had cost the run ~10% of a core) and CPU seconds are printed; PostgreSQL's
COPY from Arrow's buffers (the store alone, 1M: 182.3 → 157.4 s, client CPU 101.2 → 70.2 s);
the SQLite run unchanged within the noise (1M 239.7 → 236.9 s, publishing 191 CPU seconds in
114 s: both cores busy). Session of 2026-12-01 (second): the store's rows inserted in the order of
their row key (the store alone, 1M first night, inserting: SQLite 30.9 -> 26.6 s, PostgreSQL 69 -> 57 s;
MariaDB at 300k rows 200 -> 123 s); the SQLite run within the noise (publishing CPU 120.5 -> 116.4 s);
the store's write is publishing's critical path, done about 6 s after the files and reports (1M:
57.1 s against 51.5 s). Session of 2026-12-01 (third): publishing's two halves
slow each other down (1M: files and reports done after 60 s with no store, 67-76 s beside it; the store
about 55 s alone, 74-88 s beside them), but not for the interpreter's lock: the store's write forked into
a process of its own was no faster (1M publishing 80.7 / 89.1 s before, 80.9 / 86.1 s after, the same CPU
seconds), and neither was planning the store's tables ahead while the stages ran, in a thread or a process
(end to end 152.1 -> 152.6 s, 164.5 -> 162.4 s: publishing gained what the stages lost). On these two
vCPUs memory-heavy work run side by side costs CPU seconds; only less work makes a run shorter. Neither kept.
Session of 2026-12-01 (fourth): sorts on several keys ordered by Arrow in one pass (``reconcile.frames.sort_rows``;
pandas made a sorted categorical of each text key: about 2 s per sort at 1M): 1M end to end 135.4 -> 135.3 s and
138.4 -> 125.7 s (publishing 68.2 / 73.9 -> 63.2 / 62.9 s, its CPU 122 / 130 -> 110 / 112 s, though the report
grid timed alone did not change: 5.1-7.2 s before and after, so count most of that as noise); match, classify and
unify run alone from the same normalized 1M (four alternating pairs) 56.3 / 45.0 / 49.0 / 46.1 -> 39.6 / 43.4 /
42.2 / 37.0 s. Starting Prefect's temporary
server in a thread while the run's modules load was tried and dropped: the two imports slow each other down
as much as they overlap (the bundled sample through ``anju reconcile``, four alternating pairs: 28.6 -> 27.6 s).
Session of 2026-12-01 (fifth, the machine faster again): the unified table made in a second thread while the
discrepancies are classified (the classify stage used about one core of two), and three key lookups in the match
stage (the known sample, the counties of ``finish``, the REVIEW_MATCH answers). The same code with unify after or
beside classify, three alternating pairs at 1M: classify + unify 14.5 / 14.7 / 14.5 -> 9.8 / 10.1 / 9.5 s, end to
end 80.9 / 77.4 / 78.6 -> 71.3 / 74.3 / 72.6 s, publishing unchanged, the peak within the noise (4.8-5.0 GB; the
classify stage's own 3.4 -> 4.1 GB); 3M 247.2 -> 240.3 s (classify + unify 52.2 -> 36.0 s, match 43.5 -> 38.3 s).
Session of 2026-12-01 (sixth; a machine 2.5x slower again, and one that makes every newly touched gigabyte cost
1.5-1.8 s of system time: the same 1M run 201-232 s): publishing's peak, from a sampler of where each thread was
(the store encoding a table meeting the reports' frames). report.html's grid data made, hashed and written a
column at a time (alone, 561k rows: 364 / 426 -> 185 / 217 MB above the start, the same bytes); a one-chunk text
column read where it lies by the store (encoding records_ha alone: Arrow's peak 705 -> 347 MB, RSS +989 -> +711
MB); the analyst view and progress released before the workbook and the store finish. Two alternating pairs
at 1M: end to end 205.6 / 191.8 -> 183.8 / 183.3 s, peak 4,822 / 4,965 -> 4,705 / 4,711 MB, publishing CPU
175.1 / 167.4 -> 156.0 / 156.8 s. Arrow's jemalloc or the system allocator instead of mimalloc: no lower peak
(4,662 and 5,466 MB against 4,640). 100k, two pairs: 44.0 / 51.2 -> 45.5 / 50.5 s, 1,273 / 1,281 -> 1,217 /
1,243 MB. At the start of publishing the live frames are 1.9 GB and RSS 2.5 GB;
publishing adds 2.1-2.3 GB of transients on top.
Session of 2026-12-01 (seventh; the machine fast again: 1M end to end 88-98 s): the monthly progress
summed per county part by part, of only the columns it reads (alone, from a 1M run's published tables,
two pairs: 2.68 / 2.23 -> 0.31 / 0.30 s, 1,071 / 1,093 -> 204 / 215 MB above its inputs; the same 78 rows).
End to end, two alternating pairs: 89.3 / 88.5 -> 90.2 / 89.2 s, peak 4,497 / 4,638 -> 4,666 / 4,591 MB:
the run's peak is elsewhere (the store encoding a table while report.html's grid is made; each alone
lifts the 2.9 GB at the start of publishing to about 4.1 GB). Tried and dropped: the store's row keys and
hashes spelled in Arrow rather than as a Python string each (encoding 1M rows of 12 text columns alone:
peak +350 / +347 MB before, +362 / +366 after, the same 3.4 s); the store's encoding held back while the
progress and the reports are made (no lower peak, 101 s against 90-94). Then the store's encoded snapshot
released before SQLite rebuilds the indexes, its page cache 256 -> 64 MB and no lookup of every key among
versions ending on the date when none do (the store alone, a 1M run's tables and ledger, first night, two
pairs: 39.7 / 39.4 -> 36.9 / 37.1 s, +916 / +914 -> +638 / +664 MB; the night after 33-36 s either way);
the ledger's ids looked up once per table by Arrow (track_ledger alone 4.6 -> 2.4 s). The day's start
(90ffd79) against all of it, two alternating pairs at 1M: end to end 95.1 / 90.4 -> 90.2 / 83.7 s, peak
4,503 / 4,569 -> 4,309 / 4,496 MB (with children 5,494 / 5,537 -> 5,238 / 5,218), classify 12.1 / 11.9 ->
10.2 / 9.7 s. The peak now comes as often in the classify stage (the ledger tracked while the unified table
is made) as in publishing.
Compare only runs made back to back.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from anju_synth import build_world  # noqa: E402
from anju_synth.layout import write_world  # noqa: E402

AS_OF = date(2020, 7, 31)
SOURCES = ("ps_households", "ps_members", "ha_archive")


class Sampler(threading.Thread):
    """RSS of this process (and of it with its children) every ``every`` seconds.

    The children are listed again only every ``relist`` seconds: listing them walks every
    process of the machine, and doing it 20 times a second cost the run being measured
    about 10% of a core (py-spy, 1M households)."""

    def __init__(self, every: float = 0.05, relist: float = 1.0):
        super().__init__(daemon=True)
        self.every, self.relist, self.samples, self.stop = every, relist, [], threading.Event()
        self.me = psutil.Process()

    def run(self) -> None:
        children, listed = [], float("-inf")
        while not self.stop.is_set():
            now = time.perf_counter()
            if now - listed >= self.relist:
                children, listed = self.me.children(recursive=True), now
            own, cpu = self.me.memory_info().rss, sum(self.me.cpu_times()[:4])  # with children it has reaped
            tree = own
            for child in children:
                try:
                    tree += child.memory_info().rss
                    cpu += sum(child.cpu_times()[:2])
                except psutil.Error:  # ended since it was listed
                    pass
            self.samples.append((now, own, tree, cpu))
            self.stop.wait(self.every)

    def cpu(self, start: float, end: float) -> float:
        """CPU seconds (user and system) this process and its children used between two times:
        against the wall time, how much of the two cores a stage kept busy."""
        got = [s[3] for s in self.samples if start <= s[0] <= end]
        return max(got) - min(got) if got else 0.0

    def peak(self, start: float, end: float, tree: bool = False) -> float:
        got = [s[2 if tree else 1] for s in self.samples if start <= s[0] <= end]
        return max(got, default=0) / 2**20


def world(households: int, seed: int, cache: Path) -> Path:
    folder = cache / f"{households}-{seed}"
    if not all((folder / f"{n}.parquet").exists() for n in SOURCES):
        t = time.perf_counter()
        write_world(build_world(households, seed), folder, seed, "parquet")
        print(f"generated {households:,} households in {time.perf_counter() - t:.0f} s: {folder}", flush=True)
    return folder


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def run_once(folder: Path, out: Path) -> tuple[list[tuple[str, float, float]], dict[str, float], float, float,
                                               Sampler]:
    import flows.runtime  # noqa: F401  (offline defaults before Prefect loads)
    from flows import reconcile_flow

    windows: list[tuple[str, float, float]] = []
    lap = reconcile_flow._Clock.lap

    def timed_lap(clock, stage, started):  # the flow's own stage clock, windows kept
        windows.append((stage, started, time.perf_counter()))
        lap(clock, stage, started)

    reconcile_flow._Clock.lap = timed_lap
    # when publishing's two halves are done: the store's write (its thread waits to commit)
    # and the files, gate and reports (the flow asks it to commit): the later is the critical path
    from connectors.store import SavingRun
    marks: dict[str, float] = {}
    wait, commit = SavingRun._wait, SavingRun.commit

    def timed_wait(saving):
        marks["store written"] = time.perf_counter()
        return wait(saving)

    def timed_commit(saving, **updates):
        marks["files and reports"] = time.perf_counter()
        return commit(saving, **updates)

    SavingRun._wait, SavingRun.commit = timed_wait, timed_commit
    sampler = Sampler()
    sampler.start()
    began = time.perf_counter()
    try:
        reconcile_flow.reconcile(ps_households=str(folder / "ps_households.parquet"),
                                 ps_members=str(folder / "ps_members.parquet"),
                                 ha_archive=str(folder / "ha_archive.parquet"), as_of=AS_OF, out=str(out))
    finally:
        ended = time.perf_counter()
        reconcile_flow._Clock.lap = lap
        SavingRun._wait, SavingRun.commit = wait, commit
        sampler.stop.set()
        sampler.join()
    return windows, marks, began, ended, sampler


def table(households: int, folder: Path, out: Path, budget_mb: float | None) -> bool:
    windows, marks, began, ended, s = run_once(folder, out)
    print(f"\n{households:,} households ({folder})")
    print(f"{'stage':<24}{'seconds':>9}{'peak RSS MB':>13}{'with children MB':>18}{'CPU s':>9}")
    last = began
    for stage, start, end in windows:
        if start - last > 0.5:
            print(f"{'  (between stages)':<24}{start - last:>9.1f}{s.peak(last, start):>13.0f}"
                  f"{s.peak(last, start, True):>18.0f}{s.cpu(last, start):>9.1f}")
        print(f"{stage:<24}{end - start:>9.1f}{s.peak(start, end):>13.0f}{s.peak(start, end, True):>18.0f}"
              f"{s.cpu(start, end):>9.1f}")
        last = end
    if ended - last > 0.5:
        print(f"{'  (after publishing)':<24}{ended - last:>9.1f}{s.peak(last, ended):>13.0f}"
              f"{s.peak(last, ended, True):>18.0f}{s.cpu(last, ended):>9.1f}")
    peak = s.peak(began, ended)
    print(f"{'end to end':<24}{ended - began:>9.1f}{peak:>13.0f}{s.peak(began, ended, True):>18.0f}"
          f"{s.cpu(began, ended):>9.1f}")
    publishing = next((start for stage, start, _ in windows if stage == "publish"), None)
    if publishing is not None and marks:
        print("publishing, done after: " + ", ".join(f"{k} {t - publishing:.1f} s" for k, t in sorted(
            marks.items(), key=lambda kv: kv[1])))
    store = out / "anju.sqlite"
    print(f"outputs: published {size_mb(out) - (store.stat().st_size / 2**20 if store.exists() else 0):.0f} MB, "
          f"store {store.stat().st_size / 2**20 if store.exists() else 0:.0f} MB")
    if budget_mb is not None:
        print(f"peak {peak:.0f} MB {'within' if peak <= budget_mb else 'OVER'} the budget of {budget_mb:.0f} MB")
        return peak <= budget_mb
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, action="append", help="repeat for several sizes (default 100000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default="/tmp/anju-e2e-worlds", help="where generated worlds are kept")
    ap.add_argument("--out", default=None, help="output folder (default: a fresh one in the cache, removed after)")
    ap.add_argument("--budget-mb", type=float, default=None, help="peak RSS budget of the flow's process")
    ap.add_argument("--runs", type=int, default=1,
                    help="run again into the same outputs and store (the second run: a night with nothing changed)")
    args = ap.parse_args()
    cache = Path(args.cache)
    ok = True
    for n in args.households or [100_000]:
        folder = world(n, args.seed, cache)
        out = Path(args.out) if args.out else cache / f"out-{n}"
        shutil.rmtree(out, ignore_errors=True)
        for k in range(args.runs):
            if k:
                print(f"\nrun {k + 1} into the same outputs and store:")
            ok &= table(n, folder, out, args.budget_mb)
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
