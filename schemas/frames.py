"""pandera models of the frames Anju reads and works on.

Raw models: a source after header mapping, every value still text; a required column
missing or a source with no row is a schema-level failure that stops that source. Values
are checked later, row by row, by the parse engine (reconcile/parse.py), which sends
unreadable rows to quarantine. Canonical models: the typed frames the core works on; a
failure there is a bug in Anju, never a property of the input.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.config import canonical_values

# Why an ID number is invalid, in the order reconcile/ids.py tests them (the first that
# applies is reported); labels.yaml `field` names each for a person.
ID_PROBLEMS = ("empty", "excel_number", "characters", "length", "region", "birth_date", "check_digit")
VALID_ID = r"^[0-9]{17}[0-9X]$"
# Record keys are stored as VARCHAR(64) (connectors/migrations): a longer one is an input
# error, found in parse, not a failed insert at the end of the run.
KEY_MAX_LENGTH = 64
KEY_LENGTH = {"min_value": 1, "max_value": KEY_MAX_LENGTH}


class _Raw(pa.DataFrameModel):
    row: Series[int] = pa.Field(alias="_row", ge=1, unique=True)

    class Config:
        strict = False
        coerce = False


class _RawHousehold(_Raw):
    """What both agencies record of a household: where it lives and who heads it."""
    village_code: Series[str] = pa.Field(nullable=True)
    householder_name: Series[str] = pa.Field(nullable=True)
    householder_id: Series[str] = pa.Field(nullable=True)


class RawPsHouseholds(_RawHousehold):
    household_no: Series[str] = pa.Field(nullable=True)
    exit_status: Series[str] = pa.Field(nullable=True)
    housing_secured: Series[str] = pa.Field(nullable=True)
    household_size: Optional[Series[str]] = pa.Field(nullable=True)


class RawPsMembers(_Raw):
    household_no: Series[str] = pa.Field(nullable=True)
    name: Series[str] = pa.Field(nullable=True)
    id_no: Series[str] = pa.Field(nullable=True)


class RawHaArchive(_RawHousehold):
    archive_no: Series[str] = pa.Field(nullable=True)
    target_type: Series[str] = pa.Field(nullable=True)


class _Canonical(pa.DataFrameModel):
    village_code: Series[str] = pa.Field(str_matches=r"^[0-9]{12}$")
    county_code: Series[str] = pa.Field(str_matches=r"^[0-9]{6}$")
    householder_id: Series[str] = pa.Field(nullable=True)
    householder_id_valid: Series[bool]
    householder_id_problem: Series[str] = pa.Field(nullable=True, isin=list(ID_PROBLEMS))
    household_size: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, le=20)

    @pa.dataframe_check
    def valid_ids_are_18_characters(cls, df: pd.DataFrame) -> Series[bool]:
        ok = df["householder_id"].astype("string").str.fullmatch(VALID_ID).fillna(False)
        return (ok | ~df["householder_id_valid"].astype(bool)).astype(bool)

    @pa.dataframe_check
    def a_problem_exactly_when_invalid(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["householder_id_problem"].isna() == df["householder_id_valid"].astype(bool)).astype(bool)

    class Config:
        strict = False


class CanonicalPs(_Canonical):
    household_no: Series[str] = pa.Field(unique=True, str_length=KEY_LENGTH)
    exit_status: Series[str] = pa.Field(isin=canonical_values("exit_status"))
    housing_secured: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_relocated: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    dilapidation_grade: Series[str] = pa.Field(nullable=True, isin=canonical_values("dilapidation_grade"))
    identified_year: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=2014, le=2020)


class CanonicalHa(_Canonical):
    archive_no: Series[str] = pa.Field(unique=True, str_length=KEY_LENGTH)
    target_type: Series[str] = pa.Field(isin=canonical_values("target_type"))
    secured_result: Series[str] = pa.Field(nullable=True, isin=canonical_values("secured_result"))
    danger_grade: Series[str] = pa.Field(nullable=True, isin=canonical_values("danger_grade"))
    start_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    completion_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    acceptance_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    subsidy_yuan: Series[pd.Float64Dtype] = pa.Field(nullable=True, ge=0)


class CanonicalMembers(pa.DataFrameModel):
    household_no: Series[str] = pa.Field(str_length=KEY_LENGTH)
    name: Series[str] = pa.Field(nullable=True)
    id_no: Series[str] = pa.Field(nullable=True)
    id_no_valid: Series[bool]
    relation: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = False


RAW = {"ps_households": RawPsHouseholds, "ps_members": RawPsMembers, "ha_archive": RawHaArchive}
CANONICAL = {"ps": CanonicalPs, "ha": CanonicalHa, "members": CanonicalMembers}
CANONICAL_OF_SOURCE = {"ps_households": "ps", "ps_members": "members", "ha_archive": "ha"}


@lru_cache(maxsize=None)
def not_nullable(source: str) -> frozenset[str]:
    """The columns of ``source`` that its canonical model holds non-nullable.

    The parse engine reads this to quarantine a row whose required value is empty or
    unreadable, so "required" is declared once, here in the models, and the canonical
    validation can only fail on a bug.

    >>> sorted(not_nullable("ha_archive") & {"archive_no", "target_type", "householder_id"})
    ['archive_no', 'target_type']
    """
    columns = CANONICAL[CANONICAL_OF_SOURCE[source]].to_schema().columns
    return frozenset(name for name, col in columns.items() if not col.nullable)


class SourceSchemaError(ValueError):
    """A source whose shape is wrong as a whole (a required column missing, no rows)."""


def check_raw(name: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        raise SourceSchemaError(f"{name}: the source has no data rows; expected at least one record")
    try:
        RAW[name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        missing = fc.loc[fc["check"] == "column_in_dataframe", "failure_case"].astype(str)
        other = fc[fc["check"] != "column_in_dataframe"]
        parts = [f"required column missing: {', '.join(sorted(set(missing)))}"] if len(missing) else []
        parts += [f"{c}: {chk}" for c, chk in sorted(set(zip(other["column"].astype(str), other["check"].astype(str))))]
        raise SourceSchemaError(f"{name}: " + "; ".join(parts)) from None
