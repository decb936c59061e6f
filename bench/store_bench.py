"""The store's write alone, from a published folder: seconds per table, the first night and
the nights after (issue 20).

    python bench/store_bench.py OUT/2020-07-31 [--nights 2] [--store URL]

Reads the tables a run published (``matches``, ``discrepancies``, ``unified``,
``quarantine``, ``other_groups``, ``records_ha``, ``alerts``, ``alert_ledger`` and the
ledger; ``bench/e2e.py --out DIR`` leaves such a folder) and stores them as of their date
with ``Store.save_run``, as the flow's publish does, night after night into one store (a
fresh SQLite file unless ``--store``): the first night writes every row, the next ones
compare every row and write none. Printed: seconds per table and per night.

Measured (2-core machine, idle, SQLite, the tables of a 1,000,000-household run: 4.2
million rows): first night 99.8 s before issue 20's store work of 2026-11-30, 85.0 s after;
the night after 49.0 → 30.8 s. Then (big inserts staged from Arrow, connectors/sqlite_stage.py;
datetimes by Arrow's cast): first night 79.6 → 50.3 s, the night after 26.5 s.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from connectors import history  # noqa: E402
from connectors.store import PUBLISHED, Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="a published date folder, OUT/<as_of>")
    ap.add_argument("--nights", type=int, default=2)
    ap.add_argument("--store", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    folder = Path(args.folder)
    as_of = json.loads((folder / "run.json").read_text(encoding="utf-8"))["as_of"]
    tables = {n: pd.read_parquet(folder / f"{n}.parquet") for n in PUBLISHED if (folder / f"{n}.parquet").exists()}
    ledger = pd.read_parquet(folder / "ledger.parquet").assign(changed_by_run="bench")
    if "alert_ledger" in tables:  # published without the run that changed each item: the store keeps it
        tables["alert_ledger"] = tables["alert_ledger"].assign(changed_by_run="bench")
    print(", ".join(f"{n} {len(f):,}" for n, f in tables.items()), f"ledger {len(ledger):,} rows")
    url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='anju-store-bench-')}/anju.sqlite"
    store = Store(url)
    store.migrate()
    write = history.History.write_snapshot

    def timed(self, conn, name, *a, **k):
        t = time.perf_counter()
        write(self, conn, name, *a, **k)
        print(f"  {name:<22}{time.perf_counter() - t:7.1f} s", flush=True)

    history.History.write_snapshot = timed
    for night in range(1, args.nights + 1):
        t = time.perf_counter()
        store.save_run({"run_id": f"bench-{uuid.uuid4().hex[:12]}", "as_of": as_of, "scope": "all",
                        "status": "stored", "started_at": "bench", "finished_at": "bench"}, tables, ledger)
        print(f"night {night}: {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
