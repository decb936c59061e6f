"""The analysts' report as data: summary tables built from a run's outputs, no rendering.

Rendering lives in ``connectors/reports.py``; this module only shapes frames, and masks
ID numbers, which must never reach an analyst-facing output in full.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.frames import positions, sort_rows, taken
from reconcile.ids import mask_ids
from reconcile.masking import mask_full_ids_in
from schemas.alerts import load_alert_kinds, value_labels
from schemas.config import load_catalog, load_labels
from schemas.field_labels import field_labels
from schemas.ledger_people import header_of
from schemas.published import LEDGER_STATUSES, OPEN_STATUSES, SEVERITIES
from schemas.regions import county_table

LABELS = load_labels()  # code -> Chinese label, per kind; rule labels come from the catalog
ALERT_LABELS = {c: k.label_zh for c, k in load_alert_kinds().items()}
RULE_AND_ALERT_LABELS = {**LABELS["rule"], **ALERT_LABELS}  # the grid's 规则 names either
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

# The people's columns the grid shows (issue 18), under the 台账 workbook's own headers
# (schemas/ledger_people.yaml): who fixes it, by when, whether that date has passed.
GRID_PEOPLE = ["responsible_unit", "responsible_person", "deadline", "overdue", "progress", "verdict", "note"]
GRID_PEOPLE_HEADERS = {c: "逾期" if c == "overdue" else header_of(c) for c in GRID_PEOPLE}  # short: a narrow flag
PEOPLE_HEADERS = list(GRID_PEOPLE_HEADERS.values())
KIND_HEADER = "类别"  # a discrepancy of the reconciliation or an alert of the monitoring (issue 19)
KINDS_ZH = {"discrepancy": "核对问题", "alert": "动态预警"}
GRID_HEADERS = ["问题编号", "状态", "规则", "严重程度", "责任部门", "记录所属", "县", "户编号", "档案编号", "字段",
                "扶贫系统值", "农户档案值", "建议值", "匹配依据", "问题说明", "处理建议", "首次发现", "解决日期",
                *PEOPLE_HEADERS, KIND_HEADER]
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# the grid's order: what changed first; waived (核销) items last, apart from the open ones
STATUS_SHOWN = ["new", "reopened", "open", "resolved", "waived"]
WAIVED = "waived"
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


def report_grid(discrepancies: pd.DataFrame, ledger: pd.DataFrame, as_of: str, *,
                alerts: pd.DataFrame | None = None, alert_ledger: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every discrepancy of the run and every one this run resolved, one row each, as the
    analysts' grid shows it: Chinese labels, county names, no full ID (text only).

    Status and first seen come from the ledger (the discrepancy table says ``new`` for
    all); resolved ones live only in the ledger, so their values are empty. The people's
    columns (责任单位, 责任人, 整改时限, 是否逾期, ...) come from the ledger where it has
    them; ``alerts`` (with ``alert_ledger`` for their statuses) join the grid as 动态预警.
    """
    d = discrepancies
    led = ledger.set_index("discrepancy_id") if len(ledger) else None
    at = positions(d["discrepancy_id"], led.index) if led is not None else None
    status = taken(led["status"], at, d.index) if led is not None else pd.Series(pd.NA, index=d.index)
    first = taken(led["first_seen"], at, d.index) if led is not None else pd.Series(pd.NA, index=d.index)
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
    rows = _with_people(rows, ledger).assign(kind="discrepancy")
    if alerts is not None:
        rows = pd.concat([rows, _alert_rows(alerts, alert_ledger, as_of)], ignore_index=True)
    rows = rows.astype("string")
    # ranks as plain integers: Arrow orders them with the text keys in one pass (sort_rows)
    order = pd.DataFrame({"s": rows["status"].map({s: i for i, s in enumerate(STATUS_SHOWN)}).fillna(9),
                          "v": rows["severity"].map(SEVERITY_RANK).fillna(9)}).astype("int64")
    rows = rows.iloc[sort_rows(pd.concat([order, rows[["rule", "county_code", "household_no", "archive_no",
                                                       "discrepancy_id"]]], axis=1),
                               ["s", "v", "rule", "county_code", "household_no", "archive_no", "discrepancy_id"],
                               na_position="first").index]
    out = pd.DataFrame({
        "问题编号": rows["discrepancy_id"], "状态": _label("status", rows["status"]),
        "规则": _label("rule", rows["rule"]), "严重程度": _label("severity", rows["severity"]),
        "责任部门": _label("owner", rows["owner"]), "记录所属": _label("agency", rows["agency"]),
        "县": county_labels(rows["county_code"]), "户编号": rows["household_no"], "档案编号": rows["archive_no"],
        "字段": rows["field"], "扶贫系统值": rows["ps_value"], "农户档案值": rows["ha_value"],
        "建议值": rows["suggested_value"], "匹配依据": rows["explanation"], "问题说明": rows["message"], "处理建议": rows["action"],
        "首次发现": rows["first_seen"], "解决日期": rows["resolved_at"],
        **{GRID_PEOPLE_HEADERS[c]: rows[c] for c in GRID_PEOPLE}, KIND_HEADER: rows["kind"].map(KINDS_ZH)}
    ).reset_index(drop=True)
    for col in out.columns:  # the last word: whatever a value hides, no full ID leaves here
        out[col] = mask_full_ids_in(out[col].astype("string")).fillna("")
    return out[GRID_HEADERS]


def overdue_flags(s: pd.Series) -> pd.Series:
    """The ``overdue`` column as booleans, whether it arrives as booleans or as their text
    (``"True"``: a ledger frame turned to strings on its way); missing is not overdue."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool)
    t = s.astype("string").str.strip().str.lower()
    return t.isin(["true", "1", "是"]).fillna(False).astype(bool)


def _people(ledger: pd.DataFrame, key: str, ids: pd.Series) -> dict[str, pd.Series]:
    """The people's columns of the ledger entries ``ids``, as the grid shows them (empty
    where the ledger has none: a run before the 台账 had people's columns)."""
    led = ledger.drop_duplicates(key, keep="last").set_index(key) if key in ledger else pd.DataFrame()
    at = positions(ids, led.index) if len(led.columns) else None  # one lookup for every column
    out = {}
    for c in GRID_PEOPLE:
        if c not in led:
            out[c] = pd.Series(pd.NA, index=ids.index, dtype="string")
        elif c == "overdue":
            late = np.append(overdue_flags(led[c]).to_numpy(dtype=bool), False)[at]  # -1: the False appended
            out[c] = pd.Series(np.where(late, "是", None), index=ids.index, dtype="string")
        else:
            out[c] = taken(led[c].astype("string"), at, ids.index)
    return out


def _with_people(rows: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(**_people(ledger, "discrepancy_id", rows["discrepancy_id"].astype("string")))


def _alert_rows(alerts: pd.DataFrame, alert_ledger: pd.DataFrame | None, as_of: str) -> pd.DataFrame:
    """The alerts as grid rows (the kind as 规则, the message as 问题说明), and the ones this
    run resolved (only in the alert ledger)."""
    kinds = load_alert_kinds()
    a = alerts.astype({c: "string" for c in alerts.columns})
    needed = ("alert_id", "alert", "county_code", "household_no", "archive_no", "status", "first_seen", "resolved_at")
    led = (alert_ledger if alert_ledger is not None and len(alert_ledger) else
           pd.DataFrame({c: pd.Series(dtype="string") for c in needed}))
    by_id = led.drop_duplicates("alert_id", keep="last").set_index("alert_id")
    status = a["alert_id"].map(by_id["status"]).astype("string").fillna("new")
    rows = pd.DataFrame({
        "discrepancy_id": a["alert_id"], "status": status, "rule": a["alert"], "severity": a["severity"],
        "owner": a["alert"].map({c: k.owner for c, k in kinds.items()}), "agency": "",
        "county_code": a["county_code"], "household_no": a["household_no"], "archive_no": a["archive_no"],
        "field": "", "message": a["message_zh"], "action": a["action_zh"],
        "first_seen": a["alert_id"].map(by_id["first_seen"]).astype("string").fillna(a["since"]), "resolved_at": pd.NA})
    if len(led):
        gone = led[(led["status"] == "resolved") & (led["resolved_at"].astype("string") == as_of)]
        rows = pd.concat([rows, pd.DataFrame({
            "discrepancy_id": gone["alert_id"], "status": "resolved", "rule": gone["alert"],
            "severity": gone["alert"].map({c: k.severity for c, k in kinds.items()}),
            "owner": gone["alert"].map({c: k.owner for c, k in kinds.items()}), "agency": "",
            "county_code": gone["county_code"], "household_no": gone["household_no"],
            "archive_no": gone["archive_no"], "field": "", "first_seen": gone["first_seen"],
            "resolved_at": gone["resolved_at"]})], ignore_index=True)
    rows = rows.assign(**_people(led, "alert_id", rows["discrepancy_id"].astype("string")))
    return rows.assign(kind="alert")


def _label(kind: str, codes: pd.Series) -> pd.Series:
    """Codes as their Chinese labels (a code with none as itself, missing as empty), looked
    up once per distinct code: a province's grid labels millions of cells.

    >>> _label("status", pd.Series(["open", None, "unknown-code"])).tolist()
    ['未解决', '', 'unknown-code']
    """
    labels = LABELS[kind] if kind != "rule" else RULE_AND_ALERT_LABELS
    codes = codes.astype("string")
    shown = pd.Series({c: labels.get(c, c) for c in codes.dropna().unique()}, dtype="string")
    return codes.map(shown).fillna("").astype("string")


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


# --- the 台账 with people (issue 18) and the dynamic monitoring (issue 19) ---------------------

RECTIFICATION_HEADERS = {"items": "问题总数", "open": "未解决", "overdue": "逾期", "waived": "已核销",
                         "resolved": "已解决", "reported_done": "自报已完成", "rate": "整改完成率"}


def rectification_by_county(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per county (labelled) and a 合计 row: items, open, overdue, waived, resolved, and
    整改完成率 = resolved / (items − waived), recomputed from the sums for the total
    (``reconcile.ledger_people.county_rectification`` counts each county)."""
    from reconcile.ledger_people import county_rectification  # it imports this module

    if ledger is None or not len(ledger):
        return pd.DataFrame(columns=["县", *RECTIFICATION_HEADERS.values()])
    g = county_rectification(ledger.assign(overdue=overdue_flags(ledger["overdue"])) if "overdue" in ledger else ledger)
    counts = [c for c in RECTIFICATION_HEADERS if c != "rate"]
    total = g[counts].sum()
    base = total["items"] - total["waived"]
    g.loc[len(g)] = {"county_code": pd.NA, **total.to_dict(),
                     "rate": round(float(total["resolved"] / base), 4) if base > 0 else 0.0}
    out = pd.DataFrame({"县": county_labels(g["county_code"]).where(g["county_code"].notna(), "合计")})
    for c, header in RECTIFICATION_HEADERS.items():
        out[header] = g[c].astype(float if c == "rate" else "int64").to_numpy()
    return out.reset_index(drop=True)


def waived_items(ledger: pd.DataFrame) -> pd.DataFrame:
    """The items a person waived (核实结论 不属实, with a 说明), listed apart from the open
    ones: not counted as open, not in the rectification base. IDs masked."""
    cols = ["问题编号", "县", "规则", "户编号", "档案编号", *(header_of(c) for c in ("verdict", "note",
                                                                              "responsible_unit",
                                                                              "responsible_person"))]
    if ledger is None or "status" not in ledger:
        return pd.DataFrame(columns=cols)
    w = ledger[(ledger["status"] == WAIVED).fillna(False)].sort_values(["county_code", "rule", "discrepancy_id"])
    people = {c: (w[c].astype("string") if c in w else pd.Series(pd.NA, index=w.index, dtype="string"))
              for c in ("verdict", "note", "responsible_unit", "responsible_person")}
    out = pd.DataFrame({"问题编号": w["discrepancy_id"], "县": county_labels(w["county_code"]),
                        "规则": _label("rule", w["rule"]), "户编号": w.get("household_no"),
                        "档案编号": w.get("archive_no"), **{header_of(c): v for c, v in people.items()}})
    for c in out.columns:
        out[c] = mask_full_ids_in(out[c].astype("string")).fillna("")
    return out[cols].reset_index(drop=True)


def alert_kinds_table(alerts: pd.DataFrame | None, alert_ledger: pd.DataFrame | None, as_of: str) -> pd.DataFrame:
    """Per alert kind (its Chinese name, every kind of ``alerts.yaml``): 严重程度, alerts now,
    and what this run found new, reopened and resolved (the alert ledger), plus 合计."""
    kinds = load_alert_kinds()
    now = (alerts["alert"].value_counts() if alerts is not None and len(alerts) else pd.Series(dtype="int64"))
    moves = pd.DataFrame(0, index=list(kinds), columns=["new", "reopened", "resolved"])
    if alert_ledger is not None and len(alert_ledger):
        led = alert_ledger.astype({"status": "string"})
        moved = led["status"].where(led["status"] != "resolved",
                                    led["status"].where(led["resolved_at"].astype("string") == as_of))
        moves = moves.add(pd.crosstab(led["alert"], moved), fill_value=0).reindex(index=list(kinds),
                                                                                 columns=moves.columns, fill_value=0)
    t = pd.DataFrame({"预警类型": [k.label_zh for k in kinds.values()],
                      "严重程度": [LABELS["severity"].get(k.severity, k.severity) for k in kinds.values()],
                      "本次预警数": now.reindex(list(kinds), fill_value=0).astype("int64").to_numpy(),
                      "新发现": moves["new"].astype("int64").to_numpy(),
                      "重新出现": moves["reopened"].astype("int64").to_numpy(),
                      "已解决": moves["resolved"].astype("int64").to_numpy()})
    total = {"预警类型": "合计", "严重程度": "", **{c: int(t[c].sum()) for c in t.columns[2:]}}
    return pd.concat([t, pd.DataFrame([total])], ignore_index=True).astype({c: "int64" for c in t.columns[2:]})


def alerts_by_county(alerts: pd.DataFrame | None) -> pd.DataFrame:
    """Per county (labelled): the run's alerts by kind (Chinese names, every kind) and 合计."""
    kinds = load_alert_kinds()
    names = [k.label_zh for k in kinds.values()]
    if alerts is None or not len(alerts):
        return pd.DataFrame(columns=["县", *names, "合计"])
    t = pd.crosstab(alerts["county_code"].astype("string"), alerts["alert"].astype("string")) \
        .reindex(columns=list(kinds), fill_value=0).sort_index()
    t.columns = names
    t["合计"] = t.sum(axis=1)
    t.loc["合计"] = t.sum()
    labels = county_labels(pd.Series(t.index[:-1], dtype="string")).tolist() + ["合计"]
    t.insert(0, "县", labels)
    return t.reset_index(drop=True).astype({c: "int64" for c in [*names, "合计"]})


def with_people_columns(rows: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """The analyst rows (:func:`analyst_view`) with the ledger's status (``waived`` included)
    and the people's columns under the 台账's headers, by 问题编号; IDs masked."""
    ids = rows["问题编号"].astype("string")
    out = rows.copy()
    if ledger is not None and len(ledger) and "status" in ledger:
        last = ledger.drop_duplicates("discrepancy_id", keep="last").set_index("discrepancy_id")["status"]
        status = taken(last, positions(ids, last.index), ids.index)
        out["状态"] = status.astype("string").fillna(rows["状态"].astype("string"))
    people = _people(ledger if ledger is not None else pd.DataFrame(), "discrepancy_id", ids)
    for c in GRID_PEOPLE:
        out[header_of(c)] = mask_full_ids_in(people[c])
    return out


ALERT_SHEET = {"问题编号": "预警编号", "状态": "状态", "规则": "预警类型", "严重程度": "严重程度", "责任部门": "责任部门",
               "县": "县", "户编号": "户编号", "档案编号": "档案编号", "问题说明": "预警说明", "处理建议": "处理建议",
               "首次发现": "首次发现", "解决日期": "解决日期"}


def alert_sheet_rows(grid: pd.DataFrame) -> pd.DataFrame:
    """The alerts of the grid (:func:`report_grid`, 类别 动态预警) under the alert list's headers."""
    a = grid[grid[KIND_HEADER] == KINDS_ZH["alert"]] if KIND_HEADER in grid else grid.iloc[:0]
    return a[list(ALERT_SHEET)].rename(columns=ALERT_SHEET).reset_index(drop=True)
