"""Time the 台账 export and import for a run of N households (issue 18).

    .venv/bin/python bench/ledger_bench.py --households 100000 [--store URL] [--fill 0.2]

Builds a synthetic world, runs the core stages once and stores the run (untimed), then
times ``anju ledger export`` (every county's workbook) and, after filling ``--fill`` of
each workbook's rows with openpyxl as a county officer would (untimed), ``anju ledger
import`` of every workbook, then the same import again (no change).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stored_run(n: int, seed: int, out: Path, url: str | None) -> str:
    from anju_synth import build_world, write_world

    import reconcile
    from connectors import read_source
    from connectors.store import Store, default_url
    from schemas.config import load_source_specs

    src = out / "exports"
    write_world(build_world(n, seed=seed), src, seed=seed, fmt="parquet")
    specs = load_source_specs()
    raw = {k: read_source(src / f"{k}.parquet", specs[k]).frame for k in ("ps_households", "ps_members", "ha_archive")}
    as_of = date(2020, 7, 31)
    settings = reconcile.Settings(as_of=as_of)
    canon = reconcile.normalize(raw, specs, settings)
    matched = reconcile.match(canon)
    disc = reconcile.find_discrepancies(canon, matched, settings)
    empty = reconcile.track_ledger(disc.iloc[0:0], disc.iloc[0:0], disc.iloc[0:0], as_of.isoformat(), "x").ledger
    tracked = reconcile.track_ledger(disc, empty, empty, as_of.isoformat(), "bench-1")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    store = Store(url or default_url(out))
    store.save_run({"run_id": "bench-1", "as_of": as_of.isoformat(), "scope": "all", "status": "published",
                    "started_at": now, "finished_at": now, "parameters": {}, "inputs": {}, "counts": {},
                    "timings": {}}, {"discrepancies": tracked.discrepancies}, tracked.ledger)
    store.engine.dispose()
    return as_of.isoformat()


def fill(books: list[Path], share: float) -> int:
    import openpyxl

    filled = 0
    for book in books:
        wb = openpyxl.load_workbook(book)
        ws = wb.worksheets[0]
        header = {c.value: c.column for c in ws[1]}
        step = max(1, round(1 / share)) if share > 0 else 0
        for r in range(2, ws.max_row + 1, step or ws.max_row + 1):
            ws.cell(row=r, column=header["责任人"], value="张三")
            ws.cell(row=r, column=header["整改时限"], value=date(2020, 9, 30))
            ws.cell(row=r, column=header["整改进展"], value="整改中")
            filled += 1
        wb.save(book)
    return filled


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--households", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--store", help="SQLAlchemy URL (default: a SQLite file in a temp folder)")
    p.add_argument("--fill", type=float, default=0.2, help="share of each workbook's rows a person fills in")
    a = p.parse_args()
    from flows import ledger_cmd

    out = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    t = time.perf_counter()
    as_of = stored_run(a.households, a.seed, out, a.store)
    print(f"setup (world, run, store): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    r = ledger_cmd.export_ledger(out, as_of, None, a.store)
    export_s = time.perf_counter() - t
    items = sum(r["counties"].values())
    print(f"export: {len(r['counties'])} counties, {items:,} items in {export_s:.1f} s")
    books = sorted(Path(r["folder"]).glob("*/台账_*.xlsx"))
    filled = fill(books, a.fill)
    for label in ("import", "import again"):
        t = time.perf_counter()
        res = ledger_cmd.import_ledger([str(b) for b in books], out, a.store)
        s = time.perf_counter() - t
        events = sum(f["events"] for f in res["files"])
        print(f"{label}: {len(books)} workbooks, {filled:,} rows filled, {events:,} events, "
              f"{len(res['rejected'])} refused in {s:.1f} s")


if __name__ == "__main__":
    main()
