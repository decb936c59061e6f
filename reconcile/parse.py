"""Typed canonical frames from raw text frames, by the column specs in ``schemas``.

A raw frame has the canonical column names (the connectors mapped the headers), every
value as text, and ``_row``: the row's number in the file as a person would count it.
Each column is read by the parser its spec names; a value that cannot be read sends the
row to quarantine with the column, the value and the reason. So does a control character
in any column, and an empty value in a column the canonical model holds non-nullable
(``schemas.frames.not_nullable``). Nothing is dropped: rows in = rows used + rows
quarantined, and the canonical validation after parse can only fail on a bug.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconcile.frames import bytes_absent, matches_regex, nfkc, per_distinct

from reconcile.dates import DATE_RANGE, bad_dates, parse_dates
from reconcile.ids import normalize_ids
from reconcile.names import clean_names
from schemas.config import ColumnSpec, SourceSpec, fold, load_vocabularies
from schemas.frames import KEY_MAX_LENGTH, not_nullable
from schemas.published import QUARANTINE_COLUMNS  # the published Quarantine model's columns, in order
from reconcile.masking import mask_full_ids_in, masked_rows

# C0 controls but tab and line breaks, and DEL: PostgreSQL refuses NUL in text, a
# workbook refuses the others, and no name, code or date holds one.
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CONTROL_BYTES = np.zeros(256, dtype=bool)  # the same characters, as bytes of UTF-8
CONTROL_BYTES[[*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f]] = True
VALUE_SHOWN = 200  # characters of a quarantined value kept: enough to see what is wrong
INF = float("inf")


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


def _too_long(t: pd.Series) -> pd.Series:
    return (t.str.len() > KEY_MAX_LENGTH).fillna(False)


def key_text(s: pd.Series) -> pd.Series:
    """A key cell as the key comparison reads it (what "repeats an earlier row" compares)."""
    return nfkc(_text(s))


def _parse_key(col: ColumnSpec, s: pd.Series, repeated: pd.Series | None = None) -> ColumnResult:
    t = key_text(s)
    dup = (t.duplicated(keep="first") if repeated is None else repeated.reindex(t.index, fill_value=False)) & t.notna()
    return ColumnResult(pd.DataFrame({col.name: t}), t.isna() | dup | _too_long(t), "key",
                        f"主键为空、重复或超过{KEY_MAX_LENGTH}个字符 / key is empty, repeats an earlier row "
                        f"or is longer than {KEY_MAX_LENGTH} characters")


def _parse_ref(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s))
    return ColumnResult(pd.DataFrame({col.name: t}), t.isna() | _too_long(t), "missing",
                        f"不能为空或超过{KEY_MAX_LENGTH}个字符 / must not be empty or longer than "
                        f"{KEY_MAX_LENGTH} characters")


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


PLAIN_WHOLE = r"^[0-9]{1,15}$"  # exact as a float, and read alike by Arrow and pandas


def _to_float(t: pd.Series) -> pd.Series:
    """``pd.to_numeric(t, errors="coerce")`` as nullable floats, for a ``string`` column
    (as ``nfkc`` gives it): the plain whole numbers (nearly every cell of a count or a
    year) cast by Arrow at once, the rest by pandas.

    >>> _to_float(pd.Series(["007", "2.5", "x", None, "1e3"], dtype="string")).tolist()
    [7.0, 2.5, <NA>, <NA>, 1000.0]
    """
    num = pd.Series(pd.NA, index=t.index, dtype="Float64")
    plain = matches_regex(t, PLAIN_WHOLE)
    if plain.any():
        num[plain] = pc.cast(pa.array(t[plain].array), pa.int64()).to_numpy(zero_copy_only=False).astype("float64")
    rest = ~plain & t.notna().to_numpy(dtype=bool)
    if rest.any():
        num[rest] = pd.to_numeric(t[rest], errors="coerce").astype("Float64")
    return num


def _number(t: pd.Series, low: float | None, high: float | None) -> tuple[pd.Series, pd.Series]:
    """Text to nullable floats, and which are finite and within [low, high]: ``inf``,
    ``nan`` and ``1e400`` are read by ``to_numeric`` but are no amount or count."""
    num = _to_float(t)
    ok = num.notna() & (num.abs() < INF)
    if low is not None:
        ok &= num >= low
    if high is not None:
        ok &= num <= high
    return num, ok.fillna(False).astype(bool)


def _parse_int(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s))
    num, ok = _number(t.str.replace(r"\.0+$", "", regex=True), col.min, col.max)
    ok &= (num == num.round()).fillna(False).astype(bool)
    bad = t.notna() & ~ok
    return ColumnResult(pd.DataFrame({col.name: num.where(ok).astype("Int64")}), bad, "range",
                        f"应为{col.min}到{col.max}之间的整数 / expected a whole number from {col.min} to {col.max}")


def _parse_money(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    t = nfkc(_text(s)).str.replace(r"[,元 \t\r\n]", "", regex=True)
    num, ok = _number(t, 0, col.max)
    bad = t.notna() & ~ok
    return ColumnResult(pd.DataFrame({col.name: num.where(ok)}), bad, "money",
                        f"应为0到{col.max}之间的金额 / expected an amount from 0 to {col.max}")


def _parse_date(col: ColumnSpec, s: pd.Series) -> ColumnResult:
    parsed = parse_dates(s)
    years = f"{DATE_RANGE[0].year}-{DATE_RANGE[1].year}"
    return ColumnResult(pd.DataFrame({col.name: parsed}), bad_dates(s, parsed), "date",
                        f"日期无法识别、不存在或不在{years}年之间 / not a real date in a known spelling "
                        f"within the years {years}")


def _parse_vocab(col: ColumnSpec, s: pd.Series, vocab_name: str) -> ColumnResult:
    vocab = load_vocabularies()[vocab_name]
    t = _text(s)
    dtype = "boolean" if vocab_name == "bool" else "string"
    mapped = per_distinct(t, lambda u: vocab.lookup.get(fold(u)), dtype)  # few distinct spellings
    bad = t.notna() & mapped.isna()
    allowed = "、".join(str(v) for v in (["是", "否"] if vocab_name == "bool" else vocab.canonical))
    return ColumnResult(pd.DataFrame({col.name: mapped}), bad, "vocabulary",
                        f"未知取值，应为：{allowed} / unknown value; expected one of the listed values")


PARSERS: dict[str, Callable[..., ColumnResult]] = {
    "key": _parse_key, "ref": _parse_ref, "text": _parse_plain, "name": _parse_name, "id": _parse_id,
    "code12": _parse_code12, "int": _parse_int, "year": _parse_int, "money": _parse_money,
    "date": _parse_date,
}


# Parsers whose answer for a row depends on its value alone, and whose columns hold few
# distinct values (dates, years, counts, amounts, codes, vocabularies): each distinct value
# is parsed once and the answers spread back over the rows (``_per_value``).
PER_VALUE = {"date", "year", "int", "money", "code12", "vocab", "bool"}


def _per_value(parse: Callable[[pd.Series], ColumnResult], s: pd.Series) -> ColumnResult:
    """``parse(s)``, parsing each distinct value of a text column once: a million dates hold
    a few thousand. A column of other values (numbers, dates, Python objects, where 1,
    1.0 and True count as one value) or of mostly distinct ones is parsed as it is."""
    if not isinstance(s.dtype, pd.StringDtype):
        return parse(s)
    codes, distinct = pd.factorize(s, use_na_sentinel=True)
    if 2 * len(distinct) > len(s):
        return parse(s)
    values = pd.Series(distinct, dtype=s.dtype)
    if (codes < 0).any():  # NA is parsed too, as one more value
        values = pd.concat([values, pd.Series([pd.NA], dtype=s.dtype)], ignore_index=True)
    res = parse(values)
    at = np.where(codes < 0, len(distinct), codes)
    return ColumnResult(res.values.iloc[at].set_axis(s.index), res.bad.iloc[at].set_axis(s.index), res.problem,
                        res.reason)


def _parse_column(col: ColumnSpec, s: pd.Series, as_of) -> ColumnResult:
    kind, _, arg = col.parse.partition(":")
    if kind in PER_VALUE:
        return _per_value(lambda values: _parse_values(col, values, kind, arg, as_of), s)
    return _parse_values(col, s, kind, arg, as_of)


def _parse_values(col: ColumnSpec, s: pd.Series, kind: str, arg: str, as_of) -> ColumnResult:
    if kind == "vocab":
        return _parse_vocab(col, s, arg)
    if kind == "bool":
        return _parse_vocab(col, s, "bool")
    if kind == "id":
        return _parse_id(col, s, as_of)
    return PARSERS[kind](col, s)


def _control_characters(s: pd.Series) -> pd.Series:
    """Cells holding a control character; a column of numbers, dates or flags (a typed
    Parquet or SQL source) holds none, and is not spelled out as text to find that out."""
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return pd.Series(False, index=s.index)
    s = s.astype("string")
    if bytes_absent(s, CONTROL_BYTES):  # nearly every column: no cell asked one by one
        return pd.Series(False, index=s.index)
    return s.str.contains(CONTROL, regex=True).fillna(False).astype(bool)


def _problem(s: pd.Series, rows: pd.Series, column: str, problem: str, reason: str, order: int) -> pd.DataFrame:
    return pd.DataFrame({"column": column, "value": s[rows].astype("string"), "problem": problem,
                         "reason": reason, "_order": order})


def parse_source(raw: pd.DataFrame, spec: SourceSpec, *, source: str, as_of=None,
                 repeated: pd.Series | None = None) -> Parsed:
    """Read every column of ``raw`` by its spec; split usable rows from quarantined ones.

    ``repeated``: which rows' key repeats an earlier row's (a boolean Series on ``raw``'s
    index) where ``raw`` is one partition of the source and the whole source decided it;
    None: ``raw`` is the whole source."""
    index = raw.index
    required = not_nullable(source)
    outputs, problems = [], []
    for col in spec.columns:
        s = raw[col.name] if col.name in raw else pd.Series(pd.NA, index=index, dtype="string")
        res = _parse_key(col, s, repeated) if col.parse == "key" and repeated is not None \
            else _parse_column(col, s, as_of)
        outputs.append(res.values)
        control = _control_characters(s)
        bad = res.bad.fillna(False).astype(bool) & ~control
        # What the canonical model holds non-nullable: empty here is a row's problem, not a bug.
        missing = (res.values[col.name].isna() & ~bad & ~control) if col.name in required else None
        for rows, problem, reason in ((control, "control_character", "含控制字符 / contains control characters"),
                                      (bad, res.problem, res.reason),
                                      (missing, "missing", "不能为空 / must not be empty")):
            if rows is not None and rows.any():
                problems.append(_problem(s, rows, col.name, problem, reason, len(problems)))
    frame = pd.concat(outputs, axis=1)
    frame.insert(0, "_row", raw["_row"].astype("int64"))
    extra = [c for c in raw.columns if c not in frame.columns and c != "_row"]
    for c in extra:  # unknown columns are kept as text, never dropped
        frame[c] = raw[c]
    quarantine = _quarantine_rows(raw, spec, source, problems)
    used = frame.drop(index=quarantine.index) if len(quarantine) else frame
    return Parsed(used.reset_index(drop=True), quarantine.reset_index(drop=True))


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "string") for c in QUARANTINE_COLUMNS})


def quarantine_frame(**columns) -> pd.DataFrame:
    """Quarantine rows from columns by name (Series or one value each); a quarantine
    column not given is empty, a name that is none of them is an error. For the stages
    that quarantine rows themselves (orphan members), so no one restates the columns.

    >>> quarantine_frame(source="ps_members", row_number=pd.Series([7]), problem="orphan",
    ...                  reason="x").columns.tolist() == QUARANTINE_COLUMNS
    True
    """
    unknown = sorted(set(columns) - set(QUARANTINE_COLUMNS))
    if unknown:
        raise ValueError(f"no quarantine column {', '.join(unknown)}; the columns: {', '.join(QUARANTINE_COLUMNS)}")
    frame = pd.DataFrame(columns)
    for c in QUARANTINE_COLUMNS:
        if c not in frame:
            frame[c] = pd.NA
    return frame[QUARANTINE_COLUMNS]


def _quarantine_rows(raw, spec, source, problems) -> pd.DataFrame:
    if not problems:
        return _empty_quarantine()
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
        "county_code": _county(raw.loc[first.index, "village_code"]) if "village_code" in raw else pd.NA,
        "column": first["column"], "value": first["value"], "problem": first["problem"],
        "reason": reasons.loc[first.index],
    }, index=first.index)
    return q.sort_index()


def _county(village_code: pd.Series) -> pd.Series:
    """The county of a quarantined row, only where its village code reads as one."""
    vc = nfkc(_text(village_code)).str.replace(r"\.0+$", "", regex=True)
    return vc.str[:6].where(vc.str.fullmatch(r"[0-9]{12}").fillna(False).astype(bool))


def rejected_quarantine(rejected: dict[str, list[dict]] | None) -> pd.DataFrame:
    """Rows a reader could not split into cells (``{"row", "reason", "text"[, "column"]}``
    per source, as ``SourceFrame.meta["rejected_rows"]`` lists them) as quarantine rows."""
    rows = [{"source": source, "row_number": int(r["row"]), "record_key": None, "county_code": None,
             "column": r.get("column"), "value": r.get("text"), "problem": "malformed_row",
             "reason": f"行格式错误 / malformed row: {r.get('reason', '')}"}
            for source, listed in sorted((rejected or {}).items()) for r in masked_rows(listed)]
    if not rows:
        return _empty_quarantine()
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)


def _escape_controls(v: str) -> str:
    return re.sub(CONTROL, lambda m: f"\\x{ord(m.group()):02x}", v)


def shown(values: pd.Series) -> pd.Series:
    """A quarantined cell as the quarantine shows it: full IDs masked, control characters
    written as ``\\x00``, at most :data:`VALUE_SHOWN` characters. Masked again after the
    cut and the escapes, which could leave digits that read as an ID."""
    s = mask_full_ids_in(values)
    controls = s.str.contains(CONTROL, regex=True).fillna(False).astype(bool)
    if controls.any():
        s = s.mask(controls, s[controls].map(_escape_controls).astype("string"))
    s = s.mask((s.str.len() > VALUE_SHOWN).fillna(False), s.str[:VALUE_SHOWN - 1] + "…")
    return mask_full_ids_in(s)


def finish_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All quarantine rows of a run as one table: the one column list, what an analyst may
    read (see :func:`shown`), sorted by source and row."""
    parts = [p[QUARANTINE_COLUMNS] for p in parts if len(p)]
    if not parts:
        return _empty_quarantine()
    q = pd.concat(parts, ignore_index=True)
    q = q.astype({c: "string" for c in QUARANTINE_COLUMNS if c != "row_number"}).astype({"row_number": "int64"})
    q["value"], q["record_key"] = shown(q["value"]), shown(q["record_key"])
    q["reason"] = mask_full_ids_in(q["reason"])
    return q.sort_values(["source", "row_number"], kind="stable").reset_index(drop=True)
