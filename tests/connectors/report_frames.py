"""Synthetic discrepancy and ledger frames of any size, shaped like a run's, for report.html
layout tests and the 500,000-row measurement (no run needed: the page is built from frames)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.discrepancies import fill_template
from schemas.config import load_catalog
from schemas.field_labels import field_labels
from tests.reconcile.builders import make_id

COUNTIES = ["520425", "520628", "522222", "522425", "522426", "522427", "522428", "522401"]
FIELDS = {"IDENTITY_CONFLICT": "household_size", "INVALID_ID": "check_digit", "SECURED_CONFLICT": "housing_secured",
          "EXITED_UNSECURED": "housing_secured", "RENOVATION_OVERDUE": "completion_date",
          "DATE_ANOMALY": "start_date>completion_date", "DANGER_CONFLICT": "danger_grade"}
HOSTILE_MESSAGE = "=HYPERLINK(\"http://x\",\"y\")"


def frames(n: int, as_of: str = "2020-07-31", resolved: int = 0, seed: int = 17) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` discrepancies over every rule and :data:`COUNTIES`, and a ledger holding them
    (new, open, reopened) plus ``resolved`` entries this run resolved. Row 0's message is a
    formula, as a hostile value would reach it."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    codes = sorted(catalog)
    rule = pd.Series(np.array(codes)[np.arange(n) % len(codes)], dtype="string")
    county = pd.Series(np.array(COUNTIES)[rng.integers(0, len(COUNTIES), n)], dtype="string")
    seq = pd.Series(np.arange(n), dtype="int64").astype("string").str.zfill(10)
    agency = rule.map(lambda r: "ha" if catalog[r].owner in ("ha", "agency") else ("ps" if catalog[r].owner == "ps"
                                                                                      else "")).astype("string")
    field = rule.map(FIELDS).astype("string")
    valid = make_id("52242519800101001")
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    invalid = rule == "INVALID_ID"
    d = pd.DataFrame({
        "discrepancy_id": pd.Series([f"{i:016x}" for i in range(n)], dtype="string"), "rule": rule,
        "severity": rule.map(lambda r: catalog[r].severity).astype("string"),
        "owner": rule.map(lambda r: catalog[r].owner).astype("string"), "agency": agency,
        "household_no": (county + "0" + seq).where(agency != "ha"),
        "archive_no": ("DA" + county + seq).where(agency != "ps"),
        "county_code": county, "field": field,
        "ps_value": pd.Series(np.where(invalid, wrong, "3"), dtype="string").where(agency != "ha"),
        "ha_value": pd.Series(np.where(invalid, wrong, "5"), dtype="string").where(agency != "ps"),
        "suggested_value": pd.Series(valid, index=range(n), dtype="string").where(invalid),
    })
    d["owner"] = d["owner"].where(d["owner"] != "agency", d["agency"])  # as classify() resolves it
    d["field_zh"] = field_labels(d["field"], d["agency"].fillna(""))
    d["message"] = pd.concat([fill_template(catalog[r].message_zh, g) for r, g in d.groupby("rule")]).sort_index()
    d["message_en"] = d["message"]
    d["action"] = d["rule"].map(lambda r: catalog[r].action_zh).astype("string")
    d["action_en"] = d["action"]
    d["status"] = "new"
    d["first_seen"] = as_of
    if n:
        d.loc[0, "message"] = HOSTILE_MESSAGE
    d = d.drop(columns="field_zh").astype("string")
    status = pd.Series(np.array(["new", "open", "reopened"])[rng.integers(0, 3, n)], dtype="string")
    ledger = pd.DataFrame({"discrepancy_id": d["discrepancy_id"], "rule": d["rule"], "county_code": d["county_code"],
                           "household_no": d["household_no"], "archive_no": d["archive_no"], "field": d["field"],
                           "status": status, "first_seen": status.map({"new": as_of}).fillna("2020-06-30"),
                           "last_seen": as_of, "resolved_at": pd.NA})
    gone = pd.DataFrame({"discrepancy_id": [f"r{i:015x}" for i in range(resolved)],
                         "rule": np.array(codes)[np.arange(resolved) % len(codes)],
                         "county_code": np.array(COUNTIES)[np.arange(resolved) % len(COUNTIES)],
                         "household_no": [f"R{i:09d}" for i in range(resolved)], "archive_no": pd.NA, "field": pd.NA,
                         "status": "resolved", "first_seen": "2020-06-30", "last_seen": "2020-06-30",
                         "resolved_at": as_of})
    return d, pd.concat([ledger, gone], ignore_index=True).astype("string")
