"""The reconciliation core as stages: DataFrames in, DataFrames out, no I/O.

``flows`` runs each stage as a Prefect task; tests and benchmarks call them directly.

    raw frames --normalize--> canonical + quarantine --match--> matches
               --classify--> discrepancies --unify--> unified, other_groups
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reconcile.frames import isin
from reconcile.discrepancies import classify
from reconcile.match import MatchResult, match_households
from reconcile.parse import finish_quarantine, parse_source, rejected_quarantine
from reconcile.rules import RuleContext
from reconcile.unify import unify
from schemas.config import SourceSpec, load_vocabularies
from schemas.frames import CANONICAL, check_raw

DEFAULT_DEADLINE = date(2020, 6, 30)


@dataclass
class Settings:
    as_of: date
    deadline: date = DEFAULT_DEADLINE


@dataclass
class Canonical:
    ps: pd.DataFrame
    members: pd.DataFrame
    ha: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: dict[str, int] = field(default_factory=dict)


@dataclass
class Tables:
    matches: pd.DataFrame
    discrepancies: pd.DataFrame
    unified: pd.DataFrame
    other_groups: pd.DataFrame
    quarantine: pd.DataFrame


def _orphan_members(members: pd.DataFrame, ps: pd.DataFrame) -> pd.Series:
    return ~isin(members["household_no"], ps["household_no"])


def normalize(raw: dict[str, pd.DataFrame], specs: dict[str, SourceSpec], settings: Settings,
              rejected: dict[str, list[dict]] | None = None) -> Canonical:
    """Parse each raw frame by its spec and derive the columns the core compares on.

    ``raw`` maps source name (``ps_households``, ``ps_members``, ``ha_archive``) to its
    raw frame; ``ps_members`` may be absent. ``rejected`` maps a source to the rows its
    reader could not split into cells (``meta["rejected_rows"]``): they are quarantined
    with the rest, and counted as read.
    """
    for name, frame in raw.items():
        if name != "ps_members":  # an empty member roster is allowed; households are not
            check_raw(name, frame)
    parsed = {name: parse_source(frame, specs[name], source=name, as_of=settings.as_of)
              for name, frame in raw.items()}
    ps, ha = parsed["ps_households"].frame, parsed["ha_archive"].frame
    quarantine = [rejected_quarantine(rejected), *(p.quarantine for p in parsed.values())]
    for frame in (ps, ha):
        frame["county_code"] = frame["village_code"].str[:6]
    secured_values = sorted(load_vocabularies()["secured_result"].secured)
    ha["secured"] = ha["secured_result"].isin(secured_values).astype("boolean").mask(ha["secured_result"].isna())

    members = parsed["ps_members"].frame if "ps_members" in parsed else None
    if members is None:
        members = parse_source(pd.DataFrame({"_row": pd.Series(dtype="int64")}), specs["ps_members"],
                               source="ps_members").frame
    orphan = _orphan_members(members, ps)
    if orphan.any():
        quarantine.append(pd.DataFrame({
            "source": "ps_members", "row_number": members.loc[orphan, "_row"],
            "record_key": members.loc[orphan, "household_no"], "county_code": pd.NA, "column": "household_no",
            "value": members.loc[orphan, "household_no"], "problem": "orphan",
            "reason": "household_no: 户编号不在可用的贫困户记录中 / no usable PS household has this number",
        }))
        members = members[~orphan].reset_index(drop=True)
    q = finish_quarantine(quarantine)
    for key, frame in (("ps", ps), ("ha", ha), ("members", members)):
        CANONICAL[key].validate(frame, lazy=True)  # a failure here is a bug in Anju, not in the input
    read = {name: len(frame) for name, frame in raw.items()}
    for name, rows in (rejected or {}).items():
        read[name] = read.get(name, 0) + len(rows)
    return Canonical(ps=ps, members=members, ha=ha, quarantine=q, rows_read=read)


def match(canon: Canonical) -> MatchResult:
    return match_households(canon.ps, canon.members, canon.ha)


def find_discrepancies(canon: Canonical, matched: MatchResult, settings: Settings) -> pd.DataFrame:
    ctx = RuleContext.build(canon.ps, canon.ha, canon.members, matched.matches, matched.review, settings.as_of,
                            settings.deadline)
    return classify(ctx)


def run(raw: dict[str, pd.DataFrame], specs: dict[str, SourceSpec], settings: Settings) -> Tables:
    """All stages in one call (what the flow does task by task)."""
    canon = normalize(raw, specs, settings)
    matched = match(canon)
    disc = find_discrepancies(canon, matched, settings)
    unified, others = unify(canon.ps, canon.ha, matched.matches, disc, settings.as_of)
    return Tables(matched.matches, disc, unified, others, canon.quarantine)
