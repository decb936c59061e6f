"""The published runs on disk: the one of a date and its tables (what ``anju feedback`` and
the progress report read), and what a new run compares itself with: their run.json, the
profile of their records (rows and filled cells per county and column).

A published run is ``OUT/<as_of>`` (the link :class:`connectors.publish.Staging` swaps in)
holding ``run.json``. Runs published before the guard existed have no
``guard_profile.parquet``: their profile is computed from ``records_ps.parquet`` and
``records_ha.parquet``.
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pandas as pd

from connectors.errors import SourceError
from schemas.guards import profile

PROFILE_FILE = "guard_profile.parquet"
RECORDS = {"ps_households": "records_ps", "ha_archive": "records_ha"}
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def published(out: Path | str) -> list[tuple[str, Path]]:
    """Every published run folder of ``out`` as (as_of, folder), oldest first."""
    out = Path(out)
    if not out.is_dir():
        return []
    return sorted((p.name, p) for p in out.iterdir() if DATED.match(p.name) and (p / "run.json").is_file())


def latest_published(out: Path | str, as_of: str, *, same_day: bool = True) -> Path | None:
    """The published run a run for ``as_of`` compares with: the same date's (a re-run
    replaces it) when ``same_day``, else the latest before it."""
    runs = [p for d, p in published(out) if d < as_of or (same_day and d == as_of)]
    return runs[-1] if runs else None


def published_run(out: Path | str, as_of: str) -> Path:
    """The published run of ``as_of`` (``OUT/<as_of>``); ValueError when there is none."""
    folder = Path(out) / as_of
    if not folder.exists():
        raise ValueError(f"{folder}: no published run for {as_of}; run `anju reconcile` first")
    return folder


def latest_run_with(out: Path | str, on_or_before: str, table: str) -> Path:
    """The latest published run dated ``on_or_before`` or earlier that holds ``table``;
    SourceError naming ``out`` when there is none."""
    out = Path(out)
    runs = sorted(p for p in out.iterdir() if DATED.match(p.name) and p.name <= on_or_before
                  and (p / f"{table}.parquet").exists()) if out.exists() else []
    if not runs:
        raise SourceError(str(out), f"no published run on or before {on_or_before}",
                          expected="a run of `anju reconcile` for a date on or before it")
    return runs[-1]


def read_table(folder: Path | str, name: str) -> pd.DataFrame:
    """One published table of a run folder (``<name>.parquet``)."""
    return pd.read_parquet(Path(folder) / f"{name}.parquet")


def run_json(folder: Path | None) -> dict:
    if folder is None:
        return {}
    return json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))


def read_profile(folder: Path | None) -> pd.DataFrame:
    """The profile of a published run's records; empty when there is no run."""
    if folder is None:
        return profile({})
    folder = Path(folder)
    if (folder / PROFILE_FILE).is_file():
        return pd.read_parquet(folder / PROFILE_FILE).astype(
            {"source": "string", "county_code": "string", "column": "string", "count": "int64"})
    records = {src: pd.read_parquet(folder / f"{name}.parquet")
               for src, name in RECORDS.items() if (folder / f"{name}.parquet").is_file()}
    return profile(records)


def usual_resolved_share(out: Path | str, as_of: str, runs: int) -> float:
    """The median share of open discrepancies resolved by the last ``runs`` published runs
    before ``as_of`` (their run.json ``guards.resolved_share``); 0 when none recorded one."""
    shares = []
    for d, folder in published(out):
        if d >= as_of:
            continue
        share = run_json(folder).get("guards", {}).get("resolved_share")
        if share is not None:
            shares.append(float(share))
    return float(statistics.median(shares[-runs:])) if shares else 0.0
