"""Reading benchmark: rows per second for one HA export in each format, and the peak
memory of reading a 1,000,000-row CSV (in a child process, so the figure is its own).

    python bench/read_bench.py [--rows 100000] [--big 1000000] [--postgres URL]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors import read_source  # noqa: E402
from connectors.native import write_csv, write_xlsx  # noqa: E402
from anju_synth import build_world, render  # noqa: E402
from schemas import load_source_specs  # noqa: E402


def ha_frame(households: int):
    world = build_world(households, seed=7)
    return render(world, 7, as_text=True)["ha_archive"].iloc[:]


def timed(location, spec) -> dict:
    t = time.perf_counter()
    src = read_source(location, spec)
    s = time.perf_counter() - t
    return {"rows": len(src.frame), "seconds": round(s, 2), "rows_per_second": int(len(src.frame) / s)}


def child_peak(path: str) -> None:
    spec = load_source_specs()["ha_archive"]
    t = time.perf_counter()
    src = read_source(path, spec)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report
    # the peak of the parent it was forked from.
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({"rows": len(src.frame), "seconds": round(time.perf_counter() - t, 2),
                      "peak_mb": round(hwm / 1024)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_peak(args.child)
    spec = load_source_specs()["ha_archive"]
    out = Path(tempfile.mkdtemp(prefix="anju-read-"))
    ha = ha_frame(int(args.rows / 1.05)).head(args.rows)
    write_csv(ha, out / "ha.csv", "gb18030")
    write_xlsx(ha, out / "ha.xlsx", title="农户档案")
    ha.to_parquet(out / "ha.parquet", index=False)
    report = {f: timed(out / f"ha.{f}", spec) for f in ("csv", "xlsx", "parquet")}
    try:
        import sqlalchemy as sa

        table = f"bench_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(args.postgres)
        ha.to_sql(table, engine, index=False, chunksize=20_000)
        report["postgres"] = timed(f"{args.postgres}#{table}", spec)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE "{table}"'))
    except Exception as e:  # the benchmark still reports the file formats
        report["postgres"] = f"skipped: {type(e).__name__}: {e}"
    big = ha_frame(int(args.big / 1.05)).head(args.big)
    write_csv(big, out / "big.csv", "gb18030")
    size_mb = (out / "big.csv").stat().st_size / 1e6
    del big
    child = subprocess.run([sys.executable, __file__, "--child", str(out / "big.csv")], capture_output=True,
                           text=True, check=True)
    report["csv_1m"] = {**json.loads(child.stdout), "file_mb": round(size_mb)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
