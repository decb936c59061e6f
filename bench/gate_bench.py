"""Seconds for the publishing gate (Great Expectations) on a published run (not a test).

    python bench/gate_bench.py OUT/AS_OF     # a run published by `anju reconcile`
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.datadocs import run_gate  # noqa: E402
from flows.reconcile_flow import accounting  # noqa: E402
from reconcile.report import analyst_view  # noqa: E402
from reconcile import gate_frames, mask_full_ids  # noqa: E402

NAMES = ("matches", "discrepancies", "unified", "other_groups", "records_ps", "records_ha", "ledger", "progress")


def main(live: Path) -> None:
    run = json.loads((live / "run.json").read_text(encoding="utf-8"))
    tables = {n: pd.read_parquet(live / f"{n}.parquet") for n in NAMES}
    t = time.perf_counter()
    import great_expectations  # noqa: F401
    print(f"import great_expectations   {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    view = analyst_view(tables["discrepancies"])
    frames = gate_frames(tables, view, accounting(run))
    print(f"analyst view + gate frames  {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    outcome = run_gate(frames, None, mask_ids=mask_full_ids)
    print(f"expectations, no docs       {time.perf_counter() - t:6.2f} s  ({outcome.evaluated} evaluated, "
          f"{len(outcome.failed)} failed)")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_gate(frames, Path(d) / "datadocs", mask_ids=mask_full_ids)
        print(f"expectations + Data Docs    {time.perf_counter() - t:6.2f} s")
    print("rows:", {k: len(v) for k, v in frames.items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
