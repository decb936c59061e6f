"""Seconds spent in pandera contracts for a province-sized run (not a test).

    python bench/validate_bench.py DIR   # DIR: `anju generate --format parquet` output
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors import read_source  # noqa: E402
from reconcile import pipeline  # noqa: E402
from schemas import load_source_specs  # noqa: E402
from schemas.frames import CANONICAL, check_raw  # noqa: E402
from schemas.published import MODELS  # noqa: E402


def main(folder: Path) -> None:
    specs = load_source_specs()
    raw = {n: read_source(folder / f"{n}.parquet", specs[n]).frame for n in ("ps_households", "ps_members", "ha_archive")}
    t = time.perf_counter()
    for name, frame in raw.items():
        check_raw(name, frame)
    raw_s = time.perf_counter() - t
    tables = pipeline.run(raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))
    canon = pipeline.normalize(raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))
    t = time.perf_counter()
    for key, frame in (("ps", canon.ps), ("ha", canon.ha), ("members", canon.members)):
        CANONICAL[key].validate(frame, lazy=True)
    canon_s = time.perf_counter() - t
    t = time.perf_counter()
    for name, model in MODELS.items():
        if name in ("matches", "discrepancies", "unified", "quarantine"):
            model.validate(getattr(tables, name), lazy=True)
    pub_s = time.perf_counter() - t
    print({"ps_rows": len(canon.ps), "ha_rows": len(canon.ha), "member_rows": len(canon.members),
           "raw_seconds": round(raw_s, 2), "canonical_seconds": round(canon_s, 2),
           "published_seconds": round(pub_s, 2)})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
