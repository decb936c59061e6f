"""The files of a run the reconcile flow reads and writes beside its tables: run.json, the
live outputs a scoped re-run keeps, the Data Docs of a failed gate.

The tables, reports and the staging folder itself are ``connectors.publish``'s; this
module holds the rest, so that the flow touches no file itself.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from connectors.publish import Staging
from schemas.run_record import RunRecord

RUN_JSON = "run.json"


def write_run_record(staging: Staging, record: RunRecord) -> Path:
    """``run.json`` in the staging folder: the record's keys in their published order."""
    return staging.write_json(RUN_JSON, record.as_dict())


def read_run_record(folder: Path) -> RunRecord:
    """The record in ``folder/run.json`` (ValueError on a key the record does not know)."""
    return RunRecord.from_dict(json.loads((Path(folder) / RUN_JSON).read_text(encoding="utf-8")))


def read_live_tables(out: Path, as_of: str, names) -> dict[str, pd.DataFrame]:
    """The published tables named in ``names`` of the live outputs for ``as_of`` ({} when
    nothing is published for that date yet)."""
    live = Path(out) / as_of
    if not live.exists():
        return {}
    return {p.stem: pd.read_parquet(p) for p in live.glob("*.parquet") if p.stem in names}


def keep_failed_gate(folder: Path, out: Path, as_of: str, run_id: str, summary: dict) -> Path:
    """Copy a failed gate's Data Docs and its summary to ``OUT/.failed/<as_of>/<run_id>/``
    for whoever is on call (the summary alone when the gate wrote none); returns that folder."""
    kept = Path(out) / ".failed" / as_of / run_id
    if (Path(folder) / "datadocs").is_dir():
        shutil.copytree(Path(folder) / "datadocs", kept / "datadocs")
    kept.mkdir(parents=True, exist_ok=True)
    (kept / "gate.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return kept
