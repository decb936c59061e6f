"""The analysts' report as data: summary tables built from a run's outputs, no rendering.

Rendering lives in ``connectors/reports.py``; this module only shapes frames, and masks
ID numbers, which must never reach an analyst-facing output in full.
"""
from __future__ import annotations

import pandas as pd

from reconcile.ids import mask_ids
from schemas.config import load_catalog, load_labels
from schemas.field_labels import field_labels
from reconcile.masking import mask_full_ids_in
from schemas.published import LEDGER_STATUSES, SEVERITIES
from schemas.regions import county_table

LABELS = load_labels()  # code -> Chinese label, per kind; rule labels come from the catalog
ID_LIKE = r"^'?[0-9]{6}[0-9]{8,11}[0-9Xx]$"
DISCREPANCY_HEADERS_ZH = {
    "discrepancy_id": "问题编号", "rule": "规则", "severity": "严重程度", "owner": "责任部门", "agency": "记录所属",
    "county_code": "县代码", "household_no": "户编号", "archive_no": "档案编号", "field": "字段",
    "ps_value": "扶贫系统值", "ha_value": "农户档案值", "suggested_value": "建议值", "explanation": "匹配依据", "message": "问题说明",
    "action": "处理建议", "status": "状态", "first_seen": "首次发现",
}


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
    if "explanation" not in discrepancies:  # a run published before explanations existed
        discrepancies = discrepancies.assign(explanation=pd.Series(pd.NA, index=discrepancies.index, dtype="string"))
    d = discrepancies[list(DISCREPANCY_HEADERS_ZH)].copy()
    for col in ("ps_value", "ha_value", "suggested_value"):
        d[col] = mask_id_like(d[col])
    for col in d.columns.drop("first_seen"):
        d[col] = mask_full_ids_in(d[col])
    d["first_seen"] = pd.to_datetime(d["first_seen"], errors="coerce")
    return d.rename(columns=DISCREPANCY_HEADERS_ZH)


def ledger_changes(ledger: pd.DataFrame) -> pd.Series:
    """How many ledger entries this run made new, kept open, resolved, reopened."""
    return ledger["status"].value_counts().reindex(list(LEDGER_STATUSES), fill_value=0)


def rule_changes(discrepancies: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Per rule: discrepancies now, and what changed in the ledger since the last run."""
    now = discrepancies.groupby("rule").size().rename("discrepancies")
    moves = ledger.pivot_table(index="rule", columns="status", values="discrepancy_id", aggfunc="count",
                               fill_value=0).reindex(columns=list(LEDGER_STATUSES), fill_value=0)
    t = pd.concat([now, moves], axis=1).fillna(0).astype(int).sort_index()
    t.insert(0, "规则", [LABELS["rule"].get(r, r) for r in t.index])
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


# --- report.html: the grid, the changes since the last run, the charts -----------------------
# Every code becomes its Chinese label here; connectors/reports.py only lays the frames out.

GRID_HEADERS = ["问题编号", "状态", "规则", "严重程度", "责任部门", "记录所属", "县", "户编号", "档案编号", "字段",
                "扶贫系统值", "农户档案值", "建议值", "匹配依据", "问题说明", "处理建议", "首次发现", "解决日期"]
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATUS_SHOWN = ["new", "reopened", "open", "resolved"]  # the grid's order: what changed first
# Parts of an 18-character resident ID, to say where a suggested ID differs (1-based, inclusive)
ID_PARTS = [(1, 6, "地区码"), (7, 14, "出生日期"), (15, 17, "顺序码"), (18, 18, "校验位")]
SHOWN_CHANGES = 2  # at most this many changed characters are spelled out; more: positions only


def county_labels(codes: pd.Series) -> pd.Series:
    """``520425 紫云苗族布依族自治县``: the name beside the code, everywhere a county is shown (the
    code first: it sorts, and a narrow column cuts the name, not the code)."""
    codes = codes.astype("string")
    table = county_table()
    names = pd.Series({c: table.get(c, "") for c in codes.dropna().unique()}, dtype="string")
    name = codes.map(names)
    return (codes + " " + name.where(name.fillna("") != "", "未知县")).where(codes.notna(), "")


def id_change_notes(current: pd.Series, suggested: pd.Series) -> pd.Series:
    """Where a suggested ID differs from the current one, readable though both are masked.

    ``校验位 6→7`` for a check-digit fix; ``第9位 3→8`` for one typo; for more changes only
    the positions (``出生日期第11–14位不同``): spelling them all out would unmask the ID.
    """
    notes = []
    for a, b in zip(current.astype(object), suggested.astype(object)):
        if not (isinstance(a, str) and isinstance(b, str) and len(a) == len(b) == 18 and a.upper() != b.upper()):
            notes.append("")
            continue
        a, b = a.upper(), b.upper()
        diff = [k for k in range(18) if a[k] != b[k]]
        if len(diff) <= SHOWN_CHANGES:
            notes.append("；".join(_part(k + 1, k + 1, named=True) + f" {a[k]}→{b[k]}" for k in diff))
        else:
            notes.append(_part(diff[0] + 1, diff[-1] + 1, named=False) + "不同")
    return pd.Series(notes, index=current.index, dtype="string")


def _part(lo: int, hi: int, named: bool) -> str:
    part = next((name for start, end, name in ID_PARTS if start <= lo <= end), "")
    if named and lo == hi == 18:
        return "校验位"
    where = f"第{lo}位" if lo == hi else f"第{lo}–{hi}位"
    return (part if part and lo >= 1 else "") + where


def report_grid(discrepancies: pd.DataFrame, ledger: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Every discrepancy of the run and every one this run resolved, one row each, as the
    analysts' grid shows it: Chinese labels, county names, no full ID (text only).

    Status and first seen come from the ledger (the discrepancy table says ``new`` for
    all); resolved ones live only in the ledger, so their values are empty.
    """
    d = discrepancies
    led = ledger.set_index("discrepancy_id") if len(ledger) else None
    status = d["discrepancy_id"].map(led["status"]) if led is not None else pd.Series(pd.NA, index=d.index)
    first = d["discrepancy_id"].map(led["first_seen"]) if led is not None else pd.Series(pd.NA, index=d.index)
    agency = d["agency"].fillna("").astype("string")
    current = d["ps_value"].where(agency == "ps", d["ha_value"]).astype("string")
    notes = pd.Series("", index=d.index, dtype="string")
    invalid = d["rule"] == "INVALID_ID"
    notes[invalid] = id_change_notes(current[invalid].str.strip(), d.loc[invalid, "suggested_value"].astype("string"))
    masked = {c: mask_id_like(d[c]) for c in ("ps_value", "ha_value", "suggested_value")}
    suggested = masked["suggested_value"].fillna("")
    # the note first: a narrow column cuts the masked tail, not what changed
    suggested = suggested.where(notes == "", "（" + notes + "）" + suggested)
    rows = pd.DataFrame({
        "discrepancy_id": d["discrepancy_id"], "status": status.fillna(d["status"]), "rule": d["rule"],
        "severity": d["severity"], "owner": d["owner"], "agency": agency, "county_code": d["county_code"],
        "household_no": d["household_no"], "archive_no": d["archive_no"],
        "field": field_labels(d["field"], agency), "ps_value": masked["ps_value"], "ha_value": masked["ha_value"],
        "suggested_value": suggested, "explanation": d.get("explanation", pd.Series(pd.NA, index=d.index, dtype="string")), "message": d["message"], "action": d["action"],
        "first_seen": first.fillna(d["first_seen"]), "resolved_at": pd.NA})
    if led is not None:
        gone = ledger[(ledger["status"] == "resolved") & (ledger["resolved_at"] == as_of)]
        catalog = load_catalog()
        owner = gone["rule"].map({c: s.owner for c, s in catalog.items()}).replace("agency", pd.NA)
        rows = pd.concat([rows, pd.DataFrame({
            "discrepancy_id": gone["discrepancy_id"], "status": "resolved", "rule": gone["rule"],
            "severity": gone["rule"].map({c: s.severity for c, s in catalog.items()}), "owner": owner,
            "agency": "", "county_code": gone["county_code"], "household_no": gone["household_no"],
            "archive_no": gone["archive_no"], "field": field_labels(gone["field"], pd.Series("", index=gone.index)),
            "first_seen": gone["first_seen"], "resolved_at": gone["resolved_at"]})], ignore_index=True)
    rows = rows.astype("string")
    order = pd.DataFrame({"s": rows["status"].map({s: i for i, s in enumerate(STATUS_SHOWN)}).fillna(9),
                          "v": rows["severity"].map(SEVERITY_RANK).fillna(9)})
    rows = rows.iloc[pd.concat([order, rows[["rule", "county_code", "household_no", "archive_no",
                                              "discrepancy_id"]]], axis=1)
                     .sort_values(["s", "v", "rule", "county_code", "household_no", "archive_no", "discrepancy_id"],
                                  na_position="first", kind="stable").index]
    out = pd.DataFrame({
        "问题编号": rows["discrepancy_id"], "状态": _label("status", rows["status"]),
        "规则": _label("rule", rows["rule"]), "严重程度": _label("severity", rows["severity"]),
        "责任部门": _label("owner", rows["owner"]), "记录所属": _label("agency", rows["agency"]),
        "县": county_labels(rows["county_code"]), "户编号": rows["household_no"], "档案编号": rows["archive_no"],
        "字段": rows["field"], "扶贫系统值": rows["ps_value"], "农户档案值": rows["ha_value"],
        "建议值": rows["suggested_value"], "匹配依据": rows["explanation"], "问题说明": rows["message"], "处理建议": rows["action"],
        "首次发现": rows["first_seen"], "解决日期": rows["resolved_at"]}).reset_index(drop=True)
    for col in out.columns:  # the last word: whatever a value hides, no full ID leaves here
        out[col] = mask_full_ids_in(out[col].astype("string")).fillna("")
    return out[GRID_HEADERS]


def _label(kind: str, codes: pd.Series) -> pd.Series:
    labels = LABELS[kind]
    return codes.astype("string").map(lambda c: labels.get(c, c) if isinstance(c, str) else "").astype("string")


def changes_since_last_run(discrepancies: pd.DataFrame, ledger: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Per rule (labelled): discrepancies now, and what this run found new, reopened and
    resolved compared with the run before it, plus a total row."""
    now = discrepancies.groupby("rule").size()
    led = ledger.assign(moved=ledger["status"].where(ledger["status"] != "resolved",
                                                     ledger["status"].where(ledger["resolved_at"] == as_of)))
    moves = pd.crosstab(led["rule"], led["moved"]).reindex(columns=["new", "reopened", "resolved"], fill_value=0)
    t = pd.concat([now.rename("now"), moves], axis=1).fillna(0).astype(int)
    t = t[(t != 0).any(axis=1)].sort_index()
    t.loc["合计"] = t.sum()
    names = [LABELS["rule"].get(r, r) for r in t.index]
    t.index = names
    return t.rename(columns={"now": "本次问题数", "new": "新发现", "reopened": "重新出现", "resolved": "已解决"}) \
        .rename_axis("规则").reset_index()


def chart_frames(discrepancies: pd.DataFrame, progress: pd.DataFrame, history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The charts' data, labelled: discrepancies per rule (most first); per county by
    severity (严重, 高, 中, 低, in that order); completion rate per county; open
    discrepancies per run date (dates as dates, counts as integers)."""
    d = discrepancies
    by_rule = d.groupby("rule").size().sort_values(ascending=False, kind="stable")
    rules = pd.DataFrame({"规则": [LABELS["rule"].get(r, r) for r in by_rule.index], "问题数": by_rule.to_numpy()})
    county = d.pivot_table(index="county_code", columns="severity", values="discrepancy_id", aggfunc="count",
                           fill_value=0).reindex(columns=SEVERITIES, fill_value=0).sort_index()
    county.columns = [LABELS["severity"][s] for s in county.columns]
    county.insert(0, "县", county_labels(county.index.to_series()).to_numpy())
    pc = progress[progress["level"] == "county"]
    completion = pd.DataFrame({"县": county_labels(pc["code"].astype("string")).to_numpy(),
                               "竣工率": pc["completion_rate"].astype(float).to_numpy()})
    trend = pd.DataFrame({"日期": pd.to_datetime(history["as_of"]).dt.strftime("%Y-%m-%d").to_numpy(),
                          "未解决问题数": history["open"].astype(int).to_numpy()}).sort_values("日期")
    return {"rules": rules, "counties": county.reset_index(drop=True), "completion": completion,
            "trend": trend.reset_index(drop=True)}
