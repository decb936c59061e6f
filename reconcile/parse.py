"""Typed canonical frames from raw text frames, by the column specs in ``schemas``.

A raw frame has the canonical column names (the connectors mapped the headers), every
value as text, and ``_row``: the row's number in the file as a person would count it.
Each column is read by the parser its spec names; a value that cannot be read sends the
row to quarantine with the column, the value and the reason. Nothing is dropped: rows in
= rows used + rows quarantined.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from reconcile.frames import nfkc

from reconcile.dates import bad_dates, parse_dates
from reconcile.ids import normalize_ids
from reconcile.names import clean_names
from schemas.config import ColumnSpec, SourceSpec, fold, load_vocabularies

QUARANTINE_COLUMNS = ["source", "row_number", "record_key", "county_code", "column", "value", "problem", "reason"]


@dataclass
class Parsed:
    frame: pd.DataFrame
    quarantine: pd.DataFrame


@dataclass
class ColumnResult:
    values: pd.DataFrame          # one or more output columns
    bad: pd.Series                # rows whose value could not be read
    problem: str                  # machine-readable code
    reason: str                   # Chinese / English


def _text(s: pd.Series) -> pd.Series:
    t = s.astype("string").str.strip()
    return t.mask(t == "")


def _parse_key(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s))
    dup = t.duplicated(keep="first") & t.notna()
    return ColumnResult(pd.DataFrame({col.name: t}), t.isna() | dup, "key",
                        "主键为空或重复 / key is empty or repeats an earlier row")


def _parse_ref(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s))
    return ColumnResult(pd.DataFrame({col.name: t}), t.isna(), "missing",
                        "不能为空 / must not be empty")


def _parse_plain(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    return ColumnResult(pd.DataFrame({col.name: _text(s)}), pd.Series(False, index=s.index), "", "")


def _parse_name(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = _text(s)
    return ColumnResult(pd.DataFrame({col.name: clean_names(t), f"{col.name}_raw": t}),
                        pd.Series(False, index=s.index), "", "")


def _parse_id(col: ColumnSpec, s: pd.Series, as_of=None) -> ColumnResult:
    ids = normalize_ids(s, latest_birth=as_of)
    out = pd.DataFrame({col.name: ids["id"], f"{col.name}_valid": ids["valid"],
                        f"{col.name}_problem": ids["problem"], f"{col.name}_raw": _text(s)})
    return ColumnResult(out, pd.Series(False, index=s.index), "", "")


def _parse_code12(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s)).str.replace(r"\.0+$", "", regex=True)
    bad = ~t.str.fullmatch(r"[0-9]{12}").fillna(False)
    return ColumnResult(pd.DataFrame({col.name: t}), bad, "code12",
                        "应为12位村级区划代码 / expected a 12-digit village code")


def _parse_int(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s))
    num = pd.to_numeric(t.str.replace(r"\.0+$", "", regex=True), errors="coerce")
    ok = num.notna() & (num == num.round())
    if col.min is not None:
        ok &= num >= col.min
    if col.max is not None:
        ok &= num <= col.max
    bad = t.notna() & ~ok
    return ColumnResult(pd.DataFrame({col.name: num.where(ok).astype("Int64")}), bad, "range",
                        f"应为{col.min}到{col.max}之间的整数 / expected a whole number from {col.min} to {col.max}")


def _parse_money(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s)).str.replace(r"[,元 \t\r\n]", "", regex=True)
    num = pd.to_numeric(t, errors="coerce")
    bad = t.notna() & (num.isna() | (num < 0))
    return ColumnResult(pd.DataFrame({col.name: num.where(~bad).astype("Float64")}), bad, "money",
                        "应为非负金额 / expected a non-negative amount")


def _parse_date(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    parsed = parse_dates(s)
    return ColumnResult(pd.DataFrame({col.name: parsed}), bad_dates(s, parsed), "date",
                        "日期无法识别或不存在 / not a real date in a known spelling")


def _parse_vocab(col: ColumnSpec, s: pd.Series, vocab_name: str) -> ColumnResult:
    vocab = load_vocabularies()[vocab_name]
    t = _text(s)
    spelled = {u: vocab.lookup.get(fold(u)) for u in t.dropna().unique()}  # few distinct spellings
    mapped = t.map(spelled)
    bad = t.notna() & mapped.isna()
    dtype = "boolean" if vocab_name == "bool" else "string"
    allowed = "、".join(str(v) for v in (["是", "否"] if vocab_name == "bool" else vocab.canonical))
    return ColumnResult(pd.DataFrame({col.name: mapped.astype(dtype)}), bad, "vocabulary",
                        f"未知取值，应为：{allowed} / unknown value; expected one of the listed values")


PARSERS: dict[str, Callable[..., ColumnResult]] = {
    "key": _parse_key, "ref": _parse_ref, "text": _parse_plain, "name": _parse_name, "id": _parse_id,
    "code12": _parse_code12, "int": _parse_int, "year": _parse_int, "money": _parse_money,
    "date": _parse_date,
}


def _parse_column(col: ColumnSpec, s: pd.Series, as_of) -> ColumnResult:
    kind, _, arg = col.parse.partition(":")
    if kind == "vocab":
        return _parse_vocab(col, s, arg)
    if kind == "bool":
        return _parse_vocab(col, s, "bool")
    if kind == "id":
        return _parse_id(col, s, as_of)
    return PARSERS[kind](col, s)


def parse_source(raw: pd.DataFrame, spec: SourceSpec, *, source: str, as_of=None) -> Parsed:
    """Read every column of ``raw`` by its spec; split usable rows from quarantined ones."""
    index = raw.index
    outputs, problems = [], []
    for col in spec.columns:
        s = raw[col.name] if col.name in raw else pd.Series(pd.NA, index=index, dtype="string")
        res = _parse_column(col, s, as_of)
        outputs.append(res.values)
        if res.bad.any():
            problems.append(pd.DataFrame({
                "column": col.name, "value": s[res.bad].astype("string"),
                "problem": res.problem, "reason": res.reason,
                "_order": len(problems),
            }))
    frame = pd.concat(outputs, axis=1)
    frame.insert(0, "_row", raw["_row"].astype("int64"))
    extra = [c for c in raw.columns if c not in frame.columns and c != "_row"]
    for c in extra:  # unknown columns are kept as text, never dropped
        frame[c] = raw[c]
    quarantine = _quarantine_rows(raw, spec, source, problems)
    used = frame.drop(index=quarantine.index)
    return Parsed(used.reset_index(drop=True), quarantine.reset_index(drop=True))


def _quarantine_rows(raw, spec, source, problems) -> pd.DataFrame:
    if not problems:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})
    allp = pd.concat(problems).sort_values("_order", kind="stable")
    # One row per input row: the first column that failed, every reason listed.
    reasons = (allp["column"] + ": " + allp["reason"]).groupby(level=0, sort=False).agg("；".join)
    first = allp[~allp.index.duplicated(keep="first")]
    key = raw[spec.key].astype("string") if spec.key and spec.key in raw else pd.Series(
        pd.NA, index=raw.index, dtype="string")
    q = pd.DataFrame({
        "source": source,
        "row_number": raw.loc[first.index, "_row"].astype("int64"),
        "record_key": key.loc[first.index],
        "county_code": (raw.loc[first.index, "village_code"].astype("string").str.strip().str[:6]
                        if "village_code" in raw else pd.NA),
        "column": first["column"], "value": first["value"], "problem": first["problem"],
        "reason": reasons.loc[first.index],
    }, index=first.index)
    return q.sort_index()
