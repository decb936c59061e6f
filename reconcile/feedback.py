"""Correction packages for both agencies, as frames: what each must correct, in its terms.

For every discrepancy an agency owns (owner = that agency or both) and whose rule names
a column of that agency's record (``corrects`` in the catalog), one row: the record's key,
the column under its native header, the current value, the proposed value where one can
be derived (``suggest_for``) and its basis (``basis_zh``), the discrepancy id and the reason in Chinese.

    >>> import pandas as pd
    >>> from schemas import load_source_specs
    >>> d = pd.DataFrame({"discrepancy_id": ["0123456789abcdef"], "rule": ["TARGET_TYPE_CONFLICT"],
    ...     "severity": ["medium"], "owner": ["ha"], "agency": [""], "household_no": ["H1"],
    ...     "archive_no": ["A1"], "county_code": ["522425"], "field": ["target_type"], "ps_value": [None],
    ...     "ha_value": ["低保户"], "suggested_value": ["建档立卡贫困户"], "message": ["…"], "action": ["…"]})
    >>> c = corrections(d, load_source_specs(), "ha")
    >>> c[["档案编号", "字段", "当前值", "建议值"]].values.tolist()
    [['A1', '农户类型', '低保户', '建档立卡贫困户']]
"""
from __future__ import annotations

import pandas as pd

from schemas.config import SourceSpec, load_catalog, native_spellings

SOURCE = {"ps": "ps_households", "ha": "ha_archive"}
KEY = {"ps": "household_no", "ha": "archive_no"}
PACKAGE_COLUMNS = ["discrepancy_id", "rule", "severity", "county_code", "户编号", "档案编号", "column", "字段",
                   "当前值", "建议值", "依据", "原因", "处理建议"]
# native vocabularies of the columns a proposal may write
NATIVE_VOCAB = {"housing_secured": "bool", "is_relocated": "bool", "is_dilapidated": "bool",
                "exit_status": "exit_status", "dilapidation_grade": "dilapidation_grade",
                "danger_grade": "danger_grade"}


def native_header(spec: SourceSpec, column: str) -> str:
    names = {c.name: c for c in spec.columns}
    return names[column].aliases[0] if column in names else column


def to_native(column: str, values: pd.Series) -> pd.Series:
    """Canonical values as the agency writes them (是/否, 已脱贫, C级 …)."""
    vocab = NATIVE_VOCAB.get(column)
    if vocab is None:
        return values.astype("string")
    table = {str(k): v for k, v in native_spellings()[vocab].items()}
    table.update({"是": "是", "否": "否", "True": "是", "False": "否"} if vocab == "bool" else {})
    return values.astype("string").map(lambda v: table.get(v, v), na_action="ignore").astype("string")


def corrections(discrepancies: pd.DataFrame, specs: dict[str, SourceSpec], agency: str) -> pd.DataFrame:
    catalog = load_catalog()
    spec = specs[SOURCE[agency]]
    frames = []
    for rule, d in discrepancies.groupby("rule", sort=True):
        entry = catalog[rule]
        column = entry.corrects.get(agency)
        if column is None or entry.owner not in (agency, "both", "agency"):
            continue
        if entry.owner == "agency":
            d = d[d["agency"] == agency]
        if d.empty:
            continue
        col = d["field"].str.split(r"[<>]").str[0] if column == "=field" else pd.Series(column, index=d.index)
        for_me = entry.suggest_for == agency or (entry.suggest_for == "=agency")
        proposed = d["suggested_value"] if for_me else pd.Series(pd.NA, index=d.index, dtype="string")
        current = d[f"{agency}_value"]
        frames.append(pd.DataFrame({
            "discrepancy_id": d["discrepancy_id"], "rule": rule, "severity": d["severity"],
            "county_code": d["county_code"], "户编号": d["household_no"], "档案编号": d["archive_no"],
            "column": col, "字段": col.map(lambda c: native_header(spec, c)),
            "当前值": current, "建议值": proposed,
            "依据": pd.Series(entry.basis_zh, index=d.index, dtype="string").where(proposed.notna()),
            "原因": d["message"], "处理建议": d["action"]}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in PACKAGE_COLUMNS})
    out = pd.concat(frames, ignore_index=True).astype("string")
    for column, idx in out.groupby("column").groups.items():
        out.loc[idx, "建议值"] = to_native(column, out.loc[idx, "建议值"])
    return out[PACKAGE_COLUMNS].sort_values(["county_code", "rule", "discrepancy_id"]).reset_index(drop=True)


def apply_corrections(native: pd.DataFrame, package: pd.DataFrame, agency: str, specs: dict[str, SourceSpec]
                      ) -> pd.DataFrame:
    """The agency's export (native headers) with every proposed value of its package written in."""
    spec = specs[SOURCE[agency]]
    key_header = native_header(spec, KEY[agency])
    out = native.copy()
    todo = package[package["建议值"].notna() & package[key_header].notna()]
    for header, rows in todo.groupby("字段"):
        if header not in out.columns:
            continue
        values = rows.drop_duplicates(key_header).set_index(key_header)["建议值"]
        hit = out[key_header].astype("string").isin(values.index)
        new = out.loc[hit, key_header].astype("string").map(values)
        if not (pd.api.types.is_string_dtype(out[header]) or pd.api.types.is_object_dtype(out[header])):
            # a typed column (date, number): the proposal typed alike where it parses, as text where not
            typed = (pd.to_datetime(new, errors="coerce") if pd.api.types.is_datetime64_any_dtype(out[header])
                     else pd.to_numeric(new, errors="coerce"))
            if typed.notna().eq(new.notna()).all():
                new = typed
            else:
                out[header] = out[header].astype(object)
        out.loc[hit, header] = new.to_numpy()
    return out


# columns kept typed in the cleaned extract: a workbook shows them as dates and numbers, the
# CSV writes them yyyy-mm-dd / as integers / with two decimals (connectors.native.csv_text)
TYPED_PARSE = {"date": "date", "int": "int", "year": "int", "money": "money"}


def cleaned_records(records: pd.DataFrame, spec: SourceSpec, package: pd.DataFrame, agency: str,
                    specs: dict[str, SourceSpec]) -> pd.DataFrame:
    """The agency's records, normalized and in its own layout, with the proposals applied.

    Dates stay dates, counts and years integers, money a number rounded to the fen; every
    other column (IDs, household and archive numbers, codes, vocabularies) is text in the
    agency's own spelling."""
    native = {}
    for col in spec.columns:
        if col.name not in records.columns:
            continue
        values, kind = records[col.name], TYPED_PARSE.get(col.parse)
        if kind == "date":
            values = pd.to_datetime(values, errors="coerce").dt.normalize()
        elif kind == "int":
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif kind == "money":
            values = pd.to_numeric(values, errors="coerce").astype("Float64").round(2)
        else:
            values = to_native(col.name, values)
        native[native_header(spec, col.name)] = values
    return apply_corrections(pd.DataFrame(native), package, agency, specs)
