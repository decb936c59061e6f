"""pandera models of every published table (../shared/spec/outputs.md).

A column is only ever added, never renamed or dropped without a version bump: these
models are that contract. ``strict=False`` lets later versions add columns.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.config import SOURCES, canonical_values, load_catalog, load_labels
from schemas.alerts import Alerts
from schemas.ledger_people import PEOPLE

RULES = list(load_catalog())  # the catalog is the one list of rules
SEVERITIES = list(load_labels()["severity"])  # most severe first, as labels.yaml lists them
COUNTY = r"^\d{6}$"

# The ledger (台账): a discrepancy's statuses, in the order counts are reported, and the
# ones that are still open (labels.yaml `status` names each for a person). ``waived``: a
# person's verdict 不属实 with a 说明 (issue 18), not open.
LEDGER_STATUSES = ("new", "open", "resolved", "reopened", "waived")
OPEN_STATUSES = ("new", "open", "reopened")
# The ledger's columns: the ledger.parquet table, the store's ledger rows, reconcile/ledger.py.
LEDGER_COLUMNS = ["discrepancy_id", "rule", "county_code", "household_no", "archive_no", "field", "status",
                  "first_seen", "last_seen", "resolved_at", "changed_by_run"]
# What county staff write on an item (issue 18, schemas/ledger_people.yaml) and whether its
# 整改时限 has passed while it is open: ledger.parquet and the store's ledger carry them.
LEDGER_COLUMNS += [*PEOPLE, "overdue"]


# The order each published table is written in (ties broken by its key), and each table's
# key: the stages and scoped re-runs sort by ORDER (reconcile.scope), the store keeps a
# table's history by KEYS and returns it in ORDER (connectors/history.py).
ORDER = {
    "matches": ["household_no", "archive_no"],
    "discrepancies": ["rule", "county_code", "household_no", "archive_no", "field"],
    "unified": ["unified_id"],
    "quarantine": ["source", "row_number"],
    "other_groups": ["archive_no"],
    "records_ps": ["household_no"],
    "records_ha": ["archive_no"],
    "ledger": ["discrepancy_id"],
    "alerts": ["alert", "county_code", "household_no", "archive_no", "alert_id"],  # issue 19
    "alert_ledger": ["alert_id"],
}
KEYS = {"matches": ["archive_no"], "discrepancies": ["discrepancy_id"], "unified": ["unified_id"],
        "quarantine": ["source", "row_number"], "other_groups": ["archive_no"], "ledger": ["discrepancy_id"],
        "alerts": ["alert_id"], "alert_ledger": ["alert_id"], "records_ha": ["archive_no"]}


class Matches(pa.DataFrameModel):
    household_no: Series[str] = pa.Field(nullable=False)
    archive_no: Series[str] = pa.Field(nullable=False, unique=True)
    # clerical: a person answered 是否同一户=是 in the 台账 (issue 18)
    method: Series[str] = pa.Field(isin=["id_exact", "member_id", "id_near", "fuzzy", "clerical"])
    score: Series[float] = pa.Field(ge=0, le=1)
    agreement: Series[str] = pa.Field(nullable=True)
    # issue 15: a scored match's per-field weights, ``{"name": 8.1, ...}`` (log2 m/u), and
    # its one-line explanation in Chinese; the ID passes explain in words, without weights.
    weights: Series[str] = pa.Field(nullable=True, str_matches=r"^\{.*\}$")
    explanation: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = False


class Discrepancies(pa.DataFrameModel):
    discrepancy_id: Series[str] = pa.Field(unique=True, str_matches=r"^[0-9a-f]{16}$")
    rule: Series[str] = pa.Field(isin=RULES)
    severity: Series[str] = pa.Field(isin=SEVERITIES)
    owner: Series[str] = pa.Field(isin=["ps", "ha", "both"])
    agency: Series[str] = pa.Field(isin=["ps", "ha", ""])
    household_no: Series[str] = pa.Field(nullable=True)
    archive_no: Series[str] = pa.Field(nullable=True)
    county_code: Series[str] = pa.Field(str_matches=COUNTY)
    field: Series[str] = pa.Field(nullable=True)
    ps_value: Series[str] = pa.Field(nullable=True)
    ha_value: Series[str] = pa.Field(nullable=True)
    suggested_value: Series[str] = pa.Field(nullable=True)
    message: Series[str] = pa.Field(str_length={"min_value": 1})
    status: Series[str] = pa.Field(isin=list(LEDGER_STATUSES))
    first_seen: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")

    @pa.dataframe_check
    def names_a_record(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["household_no"].notna() | df["archive_no"].notna()).astype(bool)


class Unified(pa.DataFrameModel):
    unified_id: Series[str] = pa.Field(unique=True)
    household_no: Series[str] = pa.Field(nullable=True)
    archive_no: Series[str] = pa.Field(nullable=True)
    county_code: Series[str] = pa.Field(str_matches=COUNTY)
    village_code: Series[str] = pa.Field(str_matches=r"^\d{12}$")
    householder_name: Series[str] = pa.Field(nullable=True)
    householder_id: Series[str] = pa.Field(nullable=True)
    household_size: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, le=20)
    in_ps: Series[bool]
    in_ha: Series[bool]
    poverty_attribute: Series[str] = pa.Field(nullable=True)
    exit_status: Series[str] = pa.Field(nullable=True, isin=canonical_values("exit_status"))
    guarantee_method: Series[str] = pa.Field(nullable=True)
    housing_secured: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    renovation_status: Series[str] = pa.Field(
        isin=["none", "not_started", "in_progress", "completed", "accepted"])
    completion_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    subsidy_yuan: Series[pd.Float64Dtype] = pa.Field(nullable=True, ge=0)
    match_method: Series[str] = pa.Field(nullable=True)
    match_score: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    open_discrepancies: Series[int] = pa.Field(ge=0)
    # issue 19: what monitoring follows from run to run (the primary archive record's)
    danger_grade: Series[str] = pa.Field(nullable=True, isin=canonical_values("danger_grade"))
    start_date: Series[pd.Timestamp] = pa.Field(nullable=True)

    @pa.dataframe_check
    def in_some_source(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["in_ps"] | df["in_ha"]).astype(bool)


class Quarantine(pa.DataFrameModel):
    """One row per unusable input row; the columns in this order are QUARANTINE_COLUMNS."""
    source: Series[str] = pa.Field(isin=list(SOURCES))
    row_number: Series[int] = pa.Field(ge=1)
    record_key: Series[str] = pa.Field(nullable=True)
    county_code: Series[str] = pa.Field(nullable=True, str_matches=COUNTY)
    column: Series[str] = pa.Field(nullable=True)
    value: Series[str] = pa.Field(nullable=True)
    problem: Series[str] = pa.Field(str_length={"min_value": 1})  # a code: the parser's, malformed_row, orphan
    reason: Series[str] = pa.Field(str_length={"min_value": 1})


QUARANTINE_COLUMNS = list(Quarantine.to_schema().columns)


class Ledger(pa.DataFrameModel):
    discrepancy_id: Series[str] = pa.Field(unique=True, str_matches=r"^[0-9a-f]{16}$")
    rule: Series[str] = pa.Field(isin=RULES)
    status: Series[str] = pa.Field(isin=list(LEDGER_STATUSES))
    first_seen: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    last_seen: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    resolved_at: Series[str] = pa.Field(nullable=True)
    overdue: Series[bool] = pa.Field(nullable=True)  # 整改时限 passed on an open item (issue 18)

    @pa.dataframe_check
    def resolved_have_a_date(cls, df: pd.DataFrame) -> Series[bool]:
        return ((df["status"] == "resolved") == df["resolved_at"].notna()).astype(bool)


MODELS = {"alerts": Alerts, "matches": Matches, "discrepancies": Discrepancies, "unified": Unified, "quarantine": Quarantine,
          "ledger": Ledger}


class PublishGateError(Exception):
    """A published table broke its contract: nothing is published."""


def validate_published(tables: dict[str, pd.DataFrame]) -> None:
    problems = []
    for name, model in MODELS.items():
        if name not in tables:
            continue
        try:
            model.validate(tables[name], lazy=True)
        except pa.errors.SchemaErrors as e:
            fc = e.failure_cases
            head = fc.head(5)[["column", "check", "failure_case", "index"]].to_dict("records")
            problems.append(f"{name}: {len(fc)} failures, e.g. {head}")
    if problems:
        raise PublishGateError("published tables break their contract; last good outputs kept:\n  "
                               + "\n  ".join(problems))
