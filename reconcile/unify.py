"""The unified housing-security status: one row per household.

Survivorship, field by field:
- identity (name, ID, size, village): from the record whose householder ID is valid,
  PS first; ``identity_source`` says which;
- poverty status (attribute, exit): from PS (``poverty_source``);
- housing determination and renovation facts: from HA (the primary HA record when the
  archive holds duplicates: best match score, then the smallest archive number);
- ``housing_secured``: the HA determination where there is one; the PS flag for PS-only
  households; NA where the two disagree and no completed renovation or relocation in the
  archive settles it. ``housing_secured_basis`` names the basis, ``housing_source`` the agency.
- renovation facts (status, completion, subsidy): from HA (``renovation_source``).
- ``danger_grade`` and ``start_date``: the primary HA record's (``monitor.housing_facts``),
  so that a date's unified table holds every fact the dynamic monitoring compares.
"""
from __future__ import annotations

import pandas as pd

from reconcile.frames import isin, positions, sort_rows, taken
from reconcile.discrepancies import stable_ids
from reconcile.monitor import housing_facts
from reconcile.rules import POOR, RELOCATION, RENOVATION
from schemas.published import OPEN_STATUSES

UNIFIED_COLUMNS = [
    "unified_id", "household_no", "archive_no", "county_code", "village_code", "householder_name",
    "householder_id", "household_size", "identity_source", "in_ps", "in_ha", "ha_records",
    "poverty_attribute", "exit_status", "poverty_source", "guarantee_method", "housing_secured",
    "housing_secured_basis", "housing_source", "renovation_status", "completion_date", "subsidy_yuan",
    "renovation_source", "match_method", "match_score", "open_discrepancies",
    # issue 19: what the dynamic monitoring follows (last: the store adds columns at the end)
    "danger_grade", "start_date",
]
IDENTITY = ["county_code", "village_code", "householder_name", "householder_id", "household_size"]


def renovation_status(ha: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    has_task = ha["task_year"].notna() | (ha["guarantee_method"] == RENOVATION).fillna(False)
    status = pd.Series("none", index=ha.index, dtype="string")
    status[has_task] = "not_started"
    status[has_task & (ha["start_date"] <= as_of).fillna(False)] = "in_progress"
    status[has_task & (ha["completion_date"] <= as_of).fillna(False)] = "completed"
    status[has_task & (ha["acceptance_date"] <= as_of).fillna(False)] = "accepted"
    return status


def _reconciled_secured(u: pd.DataFrame, as_of) -> tuple[pd.Series, pd.Series]:
    ha_sec, ps_sec = u["ha_secured"].astype("boolean"), u["housing_secured_ps"].astype("boolean")
    basis = pd.Series(pd.NA, index=u.index, dtype="string")
    basis[u["in_ha"] & ha_sec.notna()] = "ha_determination"
    basis[u["in_ha"] & (u["guarantee_method"] == RELOCATION).fillna(False) & ha_sec.notna()] = "relocation"
    done = (u["guarantee_method"] == RENOVATION).fillna(False) & (u["completion_date"] <= as_of).fillna(False)
    basis[u["in_ha"] & done & ha_sec.notna()] = "completed_renovation"
    conflict = u["in_ps"] & ha_sec.notna() & ps_sec.notna() & (ha_sec != ps_sec).fillna(False)
    basis[conflict & (basis == "ha_determination").fillna(False)] = "unresolved_conflict"
    basis[~u["in_ha"] | ha_sec.isna()] = "ps_only"
    secured = ha_sec.where(basis != "ps_only", ps_sec)
    secured = secured.mask(basis == "unresolved_conflict")
    basis = basis.mask(basis.eq("ps_only") & ps_sec.isna(), "undetermined")
    return secured, basis


def unify(ps: pd.DataFrame, ha: pd.DataFrame, matches: pd.DataFrame, discrepancies: pd.DataFrame,
          as_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(unified, other_groups)``; every usable input record lands in exactly one."""
    unified, others = unify_records(ps, ha, matches, as_of)
    return count_open(unified, discrepancies), others


def unify_records(ps: pd.DataFrame, ha: pd.DataFrame, matches: pd.DataFrame,
                  as_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`unify` but for ``open_discrepancies``, left NA for :func:`count_open`: all of
    the unified table that does not depend on the discrepancies, so it can be made while
    they are classified."""
    as_of = pd.Timestamp(as_of)
    ha = ha.assign(renovation_status=renovation_status(ha, as_of))
    m = matches.merge(ha[["archive_no", "secured_result"]], on="archive_no")
    m = sort_rows(m.assign(_has=m["secured_result"].notna()),
                  ["household_no", "score", "_has", "archive_no"], ascending=[True, False, False, True])
    counts = m.groupby("household_no").size()
    primary = m.drop_duplicates("household_no")[["household_no", "archive_no", "method", "score"]]

    ps_cols = ["household_no", *IDENTITY, "householder_id_valid", "poverty_attribute", "exit_status",
               "housing_secured"]
    ha_cols = ["archive_no", *IDENTITY, "householder_id_valid", "guarantee_method", "secured",
               "renovation_status", "completion_date", "subsidy_yuan"]
    left = ps[ps_cols].rename(columns={"housing_secured": "housing_secured_ps"}).merge(
        primary, on="household_no", how="left")
    left = left.merge(ha[ha_cols].add_suffix("_ha").rename(columns={"archive_no_ha": "archive_no"}),
                      on="archive_no", how="left")
    matched_arch = matches["archive_no"]
    # the columns first, then the rows: a boolean filter copies every column it is given
    ha_only = ha.loc[(ha["target_type"] == POOR) & ~isin(ha["archive_no"], matched_arch), ha_cols]
    right = ha_only.add_suffix("_ha").rename(columns={"archive_no_ha": "archive_no"})
    u = pd.concat([left.assign(in_ps=True), right.assign(in_ps=False)], ignore_index=True)
    u["in_ha"] = u["archive_no"].notna()

    use_ha = ~u["in_ps"] | (~u["householder_id_valid"].fillna(False).astype(bool)
                            & u["householder_id_valid_ha"].fillna(False).astype(bool))
    for col in IDENTITY:
        u[col] = u[col].where(~use_ha, u[f"{col}_ha"]) if col in u else u[f"{col}_ha"]
    u["identity_source"] = pd.Series("ps", index=u.index, dtype="string").mask(use_ha, "ha")
    for col in ("guarantee_method", "renovation_status", "completion_date", "subsidy_yuan"):
        u[col] = u[f"{col}_ha"]
    u["ha_secured"] = u["secured_ha"]
    u["housing_secured"], u["housing_secured_basis"] = _reconciled_secured(u, as_of)
    src = pd.Series(pd.NA, index=u.index, dtype="string")
    u["poverty_source"] = src.mask(u["in_ps"], "ps")
    u["housing_source"] = src.mask(u["housing_secured_basis"].isin(["ps_only"]), "ps").mask(
        u["housing_secured_basis"].isin(["ha_determination", "relocation", "completed_renovation"]), "ha").mask(
        u["housing_secured_basis"] == "unresolved_conflict", "ps,ha")
    u["renovation_source"] = src.mask(u["in_ha"], "ha")
    u["ha_records"] = taken(counts, positions(u["household_no"], counts.index), u.index).fillna(
        u["in_ha"].astype(int)).astype("int64")
    u["match_method"], u["match_score"] = u["method"], u["score"]
    u["unified_id"] = stable_ids([u["household_no"].fillna("HA:" + u["archive_no"].fillna(""))])

    u["open_discrepancies"] = pd.Series(pd.NA, index=u.index, dtype="Int64")  # count_open's
    u["renovation_status"] = u["renovation_status"].fillna("none")
    u = housing_facts(u, ha)
    unified = u[UNIFIED_COLUMNS].sort_values("unified_id").reset_index(drop=True)
    others = ha[(ha["target_type"] != POOR) & ~isin(ha["archive_no"], matched_arch)]
    # the export's unknown columns stay out, as in records_ha: which there are depends on
    # the files read, and a partition of a national run reads only some
    others = others.drop(columns=["_row", *(c for c in others.columns if c.startswith("extra:") or c.startswith("_"))],
                         errors="ignore")
    return unified, others.sort_values("archive_no").reset_index(drop=True)


def count_open(unified: pd.DataFrame, discrepancies: pd.DataFrame) -> pd.DataFrame:
    """``unified`` with ``open_discrepancies``: per row, the open discrepancies naming its
    household number, and those naming no household but its archive number.

    >>> u = pd.DataFrame({"household_no": ["H1", None], "archive_no": ["A1", "A2"], "open_discrepancies": pd.NA})
    >>> d = pd.DataFrame({"household_no": ["H1", "H1", None, "H1"], "archive_no": ["A1", None, "A2", "A1"],
    ...                   "status": ["new", "open", "new", "resolved"]})
    >>> count_open(u, d)["open_discrepancies"].tolist()
    [2, 1]
    """
    open_d = discrepancies[discrepancies["status"].isin(OPEN_STATUSES)]
    by_hh = open_d["household_no"].dropna().value_counts()
    by_arch = open_d.loc[open_d["household_no"].isna(), "archive_no"].dropna().value_counts()
    count = (taken(by_hh, positions(unified["household_no"], by_hh.index), unified.index).fillna(0)
             + taken(by_arch, positions(unified["archive_no"], by_arch.index), unified.index).fillna(0))
    return unified.assign(open_discrepancies=count.astype("int64"))
