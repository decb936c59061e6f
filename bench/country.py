"""A national run on a Dask cluster on this machine, against one process (issue 21).

    python bench/country.py --households 300000 [--provinces 1] [--workers 2 --workers 1]
                            [--memory-limit 2GB] [--partition-records 100000] [--single] [--cache DIR]
                            [--store sqlite|URL]

The world: ``--provinces`` generated worlds of ``households / provinces`` each (seeds
``seed + k``), the k-th moved to a province code of its own (codes of villages,
households and archives; the residents' IDs are left as generated, so a few collide
across provinces, as migrants' do), written as ``anju generate --format counties`` does:
a folder per source, a Parquet file per county. Cached in ``--cache``.

``--single``: ``anju reconcile`` over the same folders in one process (SQLite store,
reports, everything), its own peak RSS sampled every 100 ms.
Then for each ``--workers`` count: a ``dask scheduler`` and that many ``dask worker
--nworkers 1 --nthreads 1 --memory-limit`` processes, and ``anju country
--dask-address``: the peak RSS of the flow's own process (its Prefect server apart),
each worker's peak, whether the cluster restarted or paused a worker (its log), and the
per-stage seconds of run.json (``store``: loading ``--store``, a SQLite file in the run's
OUT or a URL). With ``--single``, each table of the partitioned run (its
files by county, in the single process's order) is compared byte for byte with the single
process's table.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ANJU = str(Path(sys.executable).with_name("anju"))
DASK = str(Path(sys.executable).with_name("dask"))
AS_OF = "2020-07-31"
PROVINCES = ["11", "13", "21", "32", "33", "37", "41", "42", "44", "51", "53", "61"]
SOURCES = ("ps_households", "ps_members", "ha_archive")
TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "records_ps", "records_ha", "ledger")
CODES = {"ps_households": ("村级区划代码", "户编号"), "ps_members": ("户编号",), "ha_archive": ("村级区划代码",)}


def world(households: int, provinces: int, seed: int, cache: Path) -> Path:
    from anju_synth import build_world, render
    from anju_synth.layout import write_exports

    folder = cache / f"country-{households}-{provinces}-{seed}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for k in range(provinces):
        w = build_world(households // provinces, seed + k)
        frames = render(w, seed + k, as_text=True)
        if provinces > 1:
            code = PROVINCES[k]
            for source, cols in CODES.items():
                f = frames[source]
                for c in cols:
                    f[c] = f[c].astype("string").str.replace(r"^52", code, regex=True)
                if source == "ha_archive":
                    f["档案编号"] = f["档案编号"].astype("string").str.replace(r"^DA52", "DA" + code, regex=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            write_exports(frames, Path(tmp), "counties", AS_OF)
            for source in SOURCES:
                target = folder / source / f"p{k:02d}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(Path(tmp) / source), target)
        print(f"  world: province {k + 1} of {provinces} written", flush=True)
    (folder / "done").write_text("ok")
    return folder


class Peaks(threading.Thread):
    """Peak RSS of a process (its children apart) and of every Dask worker process."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc, self.own, self.workers, self.halt = psutil.Process(pid), 0, {}, threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.own = max(self.own, self.proc.memory_info().rss)
            except psutil.Error:
                pass
            for p in psutil.process_iter(["pid", "cmdline"]):
                cmd = " ".join(p.info["cmdline"] or [])
                if "distributed.cli.dask_worker" in cmd or ("dask" in cmd and " worker " in cmd) \
                        or "dask-worker" in cmd or "multiprocessing.spawn" in cmd:
                    try:
                        self.workers[p.pid] = max(self.workers.get(p.pid, 0), p.memory_info().rss)
                    except psutil.Error:
                        pass
            time.sleep(0.1)


def timed(cmd: list[str], log: Path) -> tuple[float, Peaks, int]:
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        peaks = Peaks(proc.pid)
        peaks.start()
        code = proc.wait()
    peaks.halt.set()
    return time.perf_counter() - started, peaks, code


def sources(folder: Path) -> list[str]:
    return ["--ps-households", str(folder / "ps_households"), "--ps-members", str(folder / "ps_members"),
            "--ha-archive", str(folder / "ha_archive"), "--as-of", AS_OF]


def cluster(workers: int, memory_limit: str, logs: Path) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([DASK, "scheduler", "--port", "8786", "--no-dashboard"],
                              stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT)]
    time.sleep(3)
    for i in range(workers):
        procs.append(subprocess.Popen([DASK, "worker", "tcp://127.0.0.1:8786", "--nworkers", "1", "--nthreads", "1",
                                       "--memory-limit", memory_limit, "--no-dashboard"],
                                      stdout=open(logs / f"worker-{i}.log", "w"), stderr=subprocess.STDOUT))
    time.sleep(5)
    return procs


def same_tables(live: Path, single: Path, work: Path) -> dict[str, bool]:
    """Each table of the partitioned run, from its files by county in the single process's
    order, byte for byte against the single process's file."""
    import pandas as pd

    from connectors.datasets import read_shares, share_files
    from connectors.publish import write_parquet
    from reconcile.spread_plan import order_table

    same = {}
    for name in TABLES:
        if not share_files(live, name):  # an empty table has no file by county
            same[name] = len(pd.read_parquet(single / f"{name}.parquet")) == 0
        elif (single / f"{name}.parquet").exists():
            write_parquet(order_table(name, read_shares(share_files(live, name))), work / "national.parquet")
            same[name] = (work / "national.parquet").read_bytes() == (single / f"{name}.parquet").read_bytes()
    return same


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--households", type=int, required=True)
    a.add_argument("--provinces", type=int, default=1)
    a.add_argument("--seed", type=int, default=7)
    a.add_argument("--workers", type=int, action="append")
    a.add_argument("--memory-limit", default="2GB")
    a.add_argument("--partition-records", type=int, default=100_000)
    a.add_argument("--single", action="store_true")
    a.add_argument("--store", help="load the country run into this SQL store too ('sqlite': a file in its OUT)")
    a.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "anju-bench")
    args = a.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    folder = world(args.households, args.provinces, args.seed, args.cache)
    work = Path(tempfile.mkdtemp(dir=args.cache, prefix="country-run-"))
    report = {"households": args.households, "provinces": args.provinces}
    if args.single:
        out = work / "single"
        out.mkdir()
        secs, peaks, code = timed([ANJU, "reconcile", *sources(folder), "--out", str(out)], work / "single.log")
        report["single"] = {"seconds": round(secs, 1), "peak_mb": peaks.own // 2**20, "exit": code}
        print(f"single process: {secs:.1f} s, peak {peaks.own / 2**20:,.0f} MB, exit {code}", flush=True)
    for n in args.workers or [2]:
        out = work / f"dask-{n}"
        out.mkdir()
        procs = cluster(n, args.memory_limit, work)
        try:
            store = [] if not args.store else \
                ["--store", f"sqlite:///{out / 'anju.sqlite'}" if args.store == "sqlite" else args.store]
            secs, peaks, code = timed([ANJU, "country", *sources(folder), "--out", str(out), "--partition-records",
                                       str(args.partition_records), "--dask-address", "tcp://127.0.0.1:8786",
                                       *store], work / f"country-{n}.log")
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        logs = "".join((work / f"worker-{i}.log").read_text(errors="replace") for i in range(n))
        run = json.loads((out / AS_OF / "run.json").read_text()) if code == 0 else {}
        row = {"seconds": round(secs, 1), "flow_peak_mb": peaks.own // 2**20, "exit": code,
               "worker_peaks_mb": sorted(v // 2**20 for v in peaks.workers.values()),
               "worker_restarts": logs.count("Restarting worker") + logs.count("exceeded 95% memory"),
               "worker_paused": logs.count("Pausing worker"), "stages": run.get("seconds"),
               "partitions": run.get("parameters", {}).get("partitions")}
        if args.single and code == 0:
            row["same_tables"] = same_tables(out / AS_OF, work / "single" / AS_OF, work)
        report[f"dask_{n}"] = row
        print(f"{n} worker(s): {json.dumps(row, ensure_ascii=False)}", flush=True)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
