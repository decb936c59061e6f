"""The analysts' report as data: summary tables built from a run's outputs, no rendering.

Rendering lives in ``connectors/reports.py``; this module only shapes frames, and masks
ID numbers, which must never reach an analyst-facing output in full.
"""
from __future__ import annotations

import pandas as pd

from reconcile.ids import mask_ids
from schemas.config import load_labels
from schemas.gate import mask_full_ids_in
from schemas.published import SEVERITIES

ID_LIKE = r"^'?[0-9]{6}[0-9]{8,11}[0-9Xx]$"
DISCREPANCY_HEADERS_ZH = {
    "discrepancy_id": "问题编号", "rule": "规则", "severity": "严重程度", "owner": "责任部门", "agency": "记录所属",
    "county_code": "县代码", "household_no": "户编号", "archive_no": "档案编号", "field": "字段",
    "ps_value": "扶贫系统值", "ha_value": "农户档案值", "suggested_value": "建议值", "message": "问题说明",
    "action": "处理建议", "status": "状态", "first_seen": "首次发现",
}


RULE_NAMES_ZH = load_labels()["rule"]  # from the catalog: one label per rule


def mask_id_like(s: pd.Series) -> pd.Series:
    """Mask every value that looks like a resident ID (15 or 18 characters of digits/X), and
    IDs Excel turned into numbers (``5.20628199305268E+17`` still tells 15 digits)."""
    s = s.astype("string")
    looks = s.str.strip().str.fullmatch(ID_LIKE).fillna(False)
    s = s.mask(looks, mask_ids(s[looks].str.strip().str.lstrip("'")))
    return s.str.replace(r"^([0-9]\.[0-9]{5})[0-9]+([Ee]\+?[0-9]+)$", r"\1********\2", regex=True)


def analyst_view(discrepancies: pd.DataFrame) -> pd.DataFrame:
    """The discrepancy rows an analyst reads: Chinese headers, no full ID number anywhere.

    The value columns hide whatever looks like an ID, valid or not; every text column
    then has any full ID inside it masked (a name cell can hold one)."""
    d = discrepancies[list(DISCREPANCY_HEADERS_ZH)].copy()
    for col in ("ps_value", "ha_value", "suggested_value"):
        d[col] = mask_id_like(d[col])
    for col in d.columns.drop("first_seen"):
        d[col] = mask_full_ids_in(d[col])
    d["first_seen"] = pd.to_datetime(d["first_seen"], errors="coerce")
    return d.rename(columns=DISCREPANCY_HEADERS_ZH)


LEDGER_STATUSES = ["new", "open", "resolved", "reopened"]


def ledger_changes(ledger: pd.DataFrame) -> pd.Series:
    """How many ledger entries this run made new, kept open, resolved, reopened."""
    return ledger["status"].value_counts().reindex(LEDGER_STATUSES, fill_value=0)


def rule_changes(discrepancies: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Per rule: discrepancies now, and what changed in the ledger since the last run."""
    now = discrepancies.groupby("rule").size().rename("discrepancies")
    moves = ledger.pivot_table(index="rule", columns="status", values="discrepancy_id", aggfunc="count",
                               fill_value=0).reindex(columns=LEDGER_STATUSES, fill_value=0)
    t = pd.concat([now, moves], axis=1).fillna(0).astype(int).sort_index()
    t.insert(0, "规则", [RULE_NAMES_ZH.get(r, r) for r in t.index])
    return t.rename_axis("rule").reset_index()


def county_counts(discrepancies: pd.DataFrame, unified: pd.DataFrame) -> pd.DataFrame:
    """Per county: households in the unified table, discrepancies by severity."""
    counts = discrepancies.pivot_table(index="county_code", columns="severity", values="discrepancy_id",
                                       aggfunc="count", fill_value=0).reindex(columns=SEVERITIES, fill_value=0)
    households = unified.groupby("county_code").size().rename("households")
    t = pd.concat([households, counts], axis=1).fillna(0).astype(int).sort_index()
    return t.rename_axis("county").reset_index()


def summary(discrepancies: pd.DataFrame, ledger: pd.DataFrame) -> dict[str, pd.DataFrame]:
    d = discrepancies
    by_rule = d.groupby(["rule", "severity", "owner"]).size().rename("count").reset_index()
    by_county = d.pivot_table(index="county_code", columns="severity", values="discrepancy_id", aggfunc="count",
                              fill_value=0).reset_index()
    by_owner = d.groupby("owner").size().rename("count").reset_index()
    changes = ledger_changes(ledger)
    return {"by_rule": by_rule, "by_county": by_county, "by_owner": by_owner,
            "changes": changes.rename_axis("status").rename("count").reset_index()}
