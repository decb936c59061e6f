"""Scoped re-runs: reconcile some counties, keep every other county's outputs as they were.

A record is in a county when its village code starts with the county code. Matching in
a scoped run sees only the scope's records on both sides: a household whose archive
record sits in another county is matched only by a full run.
"""
from __future__ import annotations

import pandas as pd

from reconcile.frames import isin, nfkc, sort_rows
from schemas.published import ORDER

# How each published table is ordered (the same order the stages produce).


def county_of(village_code: pd.Series) -> pd.Series:
    code = nfkc(village_code.astype("string")).str.strip()
    return code.str[:6].where(code.str.fullmatch(r"[0-9]{12}(\.0+)?").fillna(False))


def restrict(raw: dict[str, pd.DataFrame], counties: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The rows of each raw frame that lie in ``counties``, and how many were left out."""
    out, left_out = {}, {}
    for name in ("ps_households", "ha_archive"):
        if name in raw:
            keep = isin(county_of(raw[name]["village_code"]), counties)
            out[name], left_out[name] = raw[name][keep], int((~keep).sum())
    if "ps_members" in raw:
        keep = isin(raw["ps_members"]["household_no"], out["ps_households"]["household_no"])
        out["ps_members"], left_out["ps_members"] = raw["ps_members"][keep], int((~keep).sum())
    return out, left_out


def merge_scoped(previous: dict[str, pd.DataFrame], current: dict[str, pd.DataFrame],
                 counties: list[str]) -> dict[str, pd.DataFrame]:
    """Previous outputs outside ``counties`` plus this run's outputs for them."""
    merged = {}
    for name, frame in current.items():
        old = previous.get(name)
        if old is None:
            merged[name] = frame
            continue
        kept = old[~isin(old["county_code"].astype("string"), counties)]
        # a column this run added is missing on the kept rows (an older run lacked it)
        kept = kept.reindex(columns=frame.columns).astype(frame.dtypes.to_dict(), errors="ignore")
        both = pd.concat([kept, frame], ignore_index=True)
        merged[name] = sort_rows(both, ORDER[name], na_position="first").reset_index(drop=True)
    return merged
