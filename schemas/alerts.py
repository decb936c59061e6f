"""The alert kinds of the dynamic monitoring (``alerts.yaml``) and the model of ``alerts``.

    >>> kinds = load_alert_kinds()
    >>> list(kinds)[:2], kinds["RENOVATION_STALLED"].thresholds["days_after_start"]
    (['SECURED_LOST', 'DANGER_WORSENED'], 180)
    >>> alert_thresholds({"RENOVATION_STALLED": {"days_after_start": 90}})["RENOVATION_STALLED"]
    {'days_after_start': 90}
    >>> value_labels()["D"]
    'D级'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.typing import Series

HERE = Path(__file__).parent
SEVERITIES = ["critical", "high", "medium", "low"]
DATE = r"^\d{4}-\d{2}-\d{2}$"

ALERT_COLUMNS = [
    "alert_id", "alert", "severity", "household_no", "archive_no", "county_code", "previous_as_of",
    "previous_value", "value", "since", "message_zh", "action_zh",
]

# The alert ledger (alert_ledger.parquet, the store's alert_ledger): each alert's life from
# run to run, as the discrepancy ledger follows a discrepancy (reconcile.update_ledger).
ALERT_LEDGER_COLUMNS = [
    "alert_id", "alert", "county_code", "household_no", "archive_no", "status", "first_seen", "last_seen",
    "resolved_at", "changed_by_run",
]


@dataclass(frozen=True)
class AlertKind:
    code: str
    label_zh: str
    severity: str
    owner: str
    message_zh: str
    action_zh: str
    thresholds: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return yaml.safe_load((HERE / "alerts.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_alert_kinds() -> dict[str, AlertKind]:
    """Alert code -> its kind, in the order of the file."""
    doc = _document()
    kinds = {}
    for code, spec in doc.items():
        if code == "values_zh":
            continue
        if spec["severity"] not in SEVERITIES:
            raise ValueError(f"alerts.yaml: {code}: severity {spec['severity']!r} is not one of {SEVERITIES}")
        kinds[code] = AlertKind(code=code, label_zh=spec["label_zh"], severity=spec["severity"],
                                owner=spec["owner"], message_zh=spec["message_zh"], action_zh=spec["action_zh"],
                                thresholds=dict(spec.get("thresholds") or {}))
    return kinds


def value_labels() -> dict[str, str]:
    """Value code -> the label a person reads."""
    return {str(k): str(v) for k, v in _document()["values_zh"].items()}


def alert_thresholds(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Each kind's thresholds: the file's defaults, then ``overrides`` (the settings').

    An unknown kind or threshold name is a settings error, named in one line.
    """
    kinds = load_alert_kinds()
    out = {code: dict(k.thresholds) for code, k in kinds.items()}
    for code, values in (overrides or {}).items():
        if code not in out:
            raise ValueError(f"monitoring: unknown alert kind {code!r}; expected one of {', '.join(out)}")
        unknown = set(values) - set(out[code])
        if unknown:
            raise ValueError(f"monitoring: {code}: unknown threshold {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(out[code]) or 'none'}")
        out[code].update(values)
    return out


ALERT_CODES = list(load_alert_kinds())


class Alerts(pa.DataFrameModel):
    """``alerts.parquet``: one row per alert of a run (see ``alerts.yaml``)."""
    alert_id: Series[str] = pa.Field(unique=True, str_matches=r"^[0-9a-f]{16}$")
    alert: Series[str] = pa.Field(isin=ALERT_CODES)
    severity: Series[str] = pa.Field(isin=SEVERITIES)
    household_no: Series[str] = pa.Field(nullable=True)
    archive_no: Series[str] = pa.Field(nullable=True)
    county_code: Series[str] = pa.Field(str_matches=r"^\d{6}$")
    previous_as_of: Series[str] = pa.Field(nullable=True, str_matches=DATE)
    previous_value: Series[str] = pa.Field(nullable=True)
    value: Series[str] = pa.Field(nullable=True)
    since: Series[str] = pa.Field(str_matches=DATE)
    message_zh: Series[str] = pa.Field(str_length={"min_value": 1})
    action_zh: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = False

    @pa.dataframe_check
    def names_a_record(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["household_no"].notna() | df["archive_no"].notna()).astype(bool)
