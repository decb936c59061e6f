"""People in the loop of the ledger (台账, issue 18): what county staff write in the
workbook, checked, recorded as events, and honoured by every later run.

Pure: DataFrames in and out, no files, no clock (``as_of`` and ``imported_at`` are given).

- :func:`book_rows`: the items a county's workbook lists, labelled and ID-masked.
- :func:`validate_import`: rows read from a workbook, checked against the ledger.
- :func:`people_events`: only what changed, as append-only audit events.
- :func:`people_state_after`: the people's state rows those events leave.
- :func:`apply_people`: the ledger with the people's columns, ``waived`` and ``overdue``.
- :func:`clerical_decisions`: the REVIEW_MATCH pairs a person confirmed or rejected.
- :func:`county_rectification`: per county, open, overdue, waived and the 整改完成率.

A value is compared as text, empty as missing: importing the same file again gives no event.
"""
from __future__ import annotations

import pandas as pd
import pandera.errors as pae

from reconcile.frames import isin, positions, taken
from reconcile.masking import mask_full_ids_in
from reconcile.report import mask_id_like
from schemas.config import load_labels
from schemas.field_labels import field_labels
from schemas.ledger_people import KEY, MEANING, PEOPLE, Reject, column, header_of, people_rows_schema
from schemas.published import OPEN_STATUSES as OPEN

REVIEW = "REVIEW_MATCH"
WAIVED = "waived"
EVENT_COLUMNS = ["discrepancy_id", "county_code", "field", "old_value", "new_value", "source_file", "sha256",
                 "row_number", "imported_at"]
STATE_COLUMNS = ["discrepancy_id", "county_code", "rule", "household_no", "archive_no", *PEOPLE, "verdict_values",
                 "source_file", "source_sha256", "source_row", "imported_at"]
_SEP = "\x1f"  # between the values of a fingerprint: a character no cell holds (the workbook replaces it)


def _text(s: pd.Series) -> pd.Series:
    """Text with empty as missing: how two values are compared."""
    s = s.astype("string").str.strip()
    return s.mask(s == "", pd.NA)


def empty_state() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "string") for c in STATE_COLUMNS})


def values_fingerprint(discrepancies: pd.DataFrame) -> pd.Series:
    """An item's values as one text, by id: a waived item whose values change is reopened.

    >>> d = pd.DataFrame({"discrepancy_id": ["a"], "ps_value": ["是"], "ha_value": [None]})
    >>> values_fingerprint(d).to_dict() == {"a": "是\\x1f"}
    True
    """
    d = discrepancies.drop_duplicates(KEY)
    parts = [d[c].astype("string").fillna("") if c in d else pd.Series("", index=d.index, dtype="string")
             for c in ("ps_value", "ha_value")]
    return pd.Series((parts[0] + _SEP + parts[1]).to_numpy(), index=d[KEY].astype("string").to_numpy(),
                     dtype="string")


# --- the workbook's rows -------------------------------------------------------------------
def book_rows(ledger: pd.DataFrame, discrepancies: pd.DataFrame, resolved_since: str | None = None) -> pd.DataFrame:
    """The items a county's 台账 lists, as the workbook shows them (internal column names).

    ``ledger`` is the run's ledger with the people's columns (:func:`apply_people`),
    ``discrepancies`` the run's (for the values and the record's agency). Listed: every
    open, reopened, overdue or waived item (a waived one, so its verdict can be withdrawn),
    and the items resolved after ``resolved_since`` (the last export), to confirm. Codes
    as their Chinese labels, ID numbers masked.

    >>> led = pd.DataFrame({"discrepancy_id": ["a", "b"], "rule": ["REVIEW_MATCH"] * 2, "county_code": ["1", "1"],
    ...     "status": ["open", "resolved"], "resolved_at": [None, "2020-07-01"], "first_seen": ["2020-06-30"] * 2})
    >>> d = pd.DataFrame({"discrepancy_id": ["a"], "ps_value": ["522425199001010017"], "ha_value": [None],
    ...     "agency": ["both"], "field": ["id,name"]})
    >>> r = book_rows(led, d, resolved_since="2020-06-30")
    >>> r[["discrepancy_id", "rule", "status", "ps_value"]].values.tolist()
    [['a', '待人工确认', '未解决', '522425********0017'], ['b', '待人工确认', '已解决', <NA>]]
    """
    led = ledger.copy()
    for c in ("resolved_at", "overdue", *PEOPLE):
        if c not in led:
            led[c] = pd.NA
    overdue = led["overdue"].astype("boolean").fillna(False)
    status = led["status"].astype("string")
    keep = status.isin([*OPEN, WAIVED]).fillna(False) | overdue
    if resolved_since is not None:
        keep |= ((status == "resolved") & (led["resolved_at"].astype("string") > resolved_since)).fillna(False)
    led = led[keep.to_numpy()].copy()
    d = discrepancies.drop_duplicates(KEY).set_index(KEY)
    for c in ("ps_value", "ha_value", "agency"):
        led[c] = led[KEY].map(d[c]).astype("string") if c in d else pd.Series(pd.NA, index=led.index, dtype="string")
    labels = load_labels()
    out = pd.DataFrame({
        KEY: led[KEY].astype("string"), "county_code": led["county_code"].astype("string"),
        "rule": led["rule"].map(lambda v: labels["rule"].get(v, v)).astype("string"),
        "household_no": mask_full_ids_in(led["household_no"]) if "household_no" in led else pd.NA,
        "archive_no": mask_full_ids_in(led["archive_no"]) if "archive_no" in led else pd.NA,
        "field": (field_labels(led["field"], led["agency"]).where(led["field"].notna(), None).astype("string")
                  if "field" in led else pd.NA),
        "ps_value": mask_full_ids_in(mask_id_like(led["ps_value"])),
        "ha_value": mask_full_ids_in(mask_id_like(led["ha_value"])),
        "status": status[keep.to_numpy()].map(lambda v: labels["status"].get(v, v)).astype("string"),
        "first_seen": led["first_seen"].astype("string"),
        "overdue": overdue[keep.to_numpy()].map({True: "是", False: "否"}).astype("string"),
    }, index=led.index)
    for c in PEOPLE:
        out[c] = _text(led[c])
    return out.sort_values(["county_code", "rule", KEY]).reset_index(drop=True)


# --- import ----------------------------------------------------------------------------------
def _reject(row, name: str, problem: str) -> Reject:
    return Reject(str(row["file"]), str(row["sheet"]), int(row["row"]), header_of(name), problem)


def validate_import(rows: pd.DataFrame, ledger: pd.DataFrame, county_of_file: str
                    ) -> tuple[pd.DataFrame, list[Reject]]:
    """The rows of one county's workbook that may be imported, and the refused cells.

    ``rows`` as ``connectors.ledger_book.read_ledger_book`` gives them (``file``, ``sheet``,
    ``row``, the key, the people's columns found); ``ledger`` the current ledger. A row is
    refused whole, each bad cell named: an id the ledger does not know, an id of another
    county, a value outside its list, a date that is not one, 不属实 without a 说明,
    是否同一户 on an item that is not a REVIEW_MATCH, an id twice in the file. Accepted
    rows carry the item's county, rule and record pair from the ledger.

    >>> led = pd.DataFrame({"discrepancy_id": ["0123456789abcdef"], "county_code": ["522425"],
    ...     "rule": ["SECURED_CONFLICT"], "household_no": ["H1"], "archive_no": ["A1"]})
    >>> rows = pd.DataFrame({"file": "f.xlsx", "sheet": "台账", "row": [2, 3],
    ...     "discrepancy_id": ["0123456789abcdef", "ffffffffffffffff"], "progress": ["进行中", None]})
    >>> ok, bad = validate_import(rows, led, "522425")
    >>> len(ok), [str(b) for b in bad]  # doctest: +NORMALIZE_WHITESPACE
    (0, ['f.xlsx，工作表「台账」，第 2 行，列「整改进展」：「进行中」不在可选值中（未开始、整改中、已完成）',
         'f.xlsx，工作表「台账」，第 3 行，列「问题编号」：台账中没有问题编号 ffffffffffffffff'])
    """
    r = rows.reset_index(drop=True).copy()
    for c in [KEY, *[p for p in PEOPLE if p in r]]:
        r[c] = _text(r[c])
    present = [p for p in PEOPLE if p in r]
    led = ledger.drop_duplicates(KEY).set_index(KEY)
    bad: dict[int, list[Reject]] = {}

    def refuse(mask: pd.Series, name: str, problem) -> None:
        for i in r.index[mask.fillna(False).to_numpy(dtype=bool)]:
            bad.setdefault(i, []).append(_reject(r.loc[i], name, problem(r.loc[i]) if callable(problem) else problem))

    known = isin(r[KEY], led.index.to_series())
    refuse(~known, KEY, lambda x: f"台账中没有问题编号 {x[KEY]}")
    county = r[KEY].map(led["county_code"]).astype("string")
    refuse(known & (county != county_of_file),
           KEY, lambda x: f"问题编号 {x[KEY]} 属于县 {led.loc[x[KEY], 'county_code']}，不属于本表的县 {county_of_file}")
    refuse(r.duplicated(KEY, keep="first") & r[KEY].notna(), KEY, lambda x: f"问题编号 {x[KEY]} 在本表中重复出现")
    try:
        people_rows_schema().validate(r[["row", KEY, *present]], lazy=True)
    except pae.SchemaErrors as e:
        cases = e.failure_cases
        for _, case in cases[cases["index"].notna() & cases["column"].isin(present)].iterrows():
            i, name = int(case["index"]), case["column"]
            col = column(name)
            why = (f"「{r.loc[i, name]}」不在可选值中（{'、'.join(col.values)}）" if col.kind == "list"
                   else f"「{r.loc[i, name]}」不是日期，请填写如 2020-09-30")
            bad.setdefault(i, []).append(_reject(r.loc[i], name, why))
    if "verdict" in r:
        note = r["note"] if "note" in r else pd.Series(pd.NA, index=r.index, dtype="string")
        refuse((r["verdict"] == MEANING["verdict_waive"]) & note.isna(), "note",
               f"核实结论为「{MEANING['verdict_waive']}」时须填写说明")
    if "same_household" in r:
        rule = r[KEY].map(led["rule"]).astype("string")
        refuse(r["same_household"].notna() & known & ~rule.isin(column("same_household").rules),
               "same_household", "只有「待人工确认」的条目填写是否同一户")
    rejected = sorted(bad)
    accepted = r.drop(index=rejected)
    for c in ("county_code", "rule", "household_no", "archive_no"):
        accepted[c] = accepted[KEY].map(led[c]).astype("string") if c in led else pd.NA
    rejects = [x for i in rejected for x in sorted(bad[i], key=lambda b: (b.column != header_of(KEY), b.column))]
    return accepted.reset_index(drop=True), rejects


def people_events(accepted: pd.DataFrame, current_people_state: pd.DataFrame, source_file: str, sha256: str,
                  imported_at: str) -> pd.DataFrame:
    """The changes an import makes, one event per changed cell (the audit trail).

    Only the people's columns the workbook had are compared; an unchanged value, or the
    same file imported again, gives no event.

    >>> acc = pd.DataFrame({"discrepancy_id": ["a"], "county_code": ["1"], "row": [2], "progress": ["整改中"],
    ...     "responsible_person": ["张三"]})
    >>> state = pd.DataFrame({"discrepancy_id": ["a"], "progress": ["未开始"], "responsible_person": ["张三"]})
    >>> ev = people_events(acc, state, "台账_1.xlsx", "ab", "2020-08-01T09:00:00")
    >>> ev[["field", "old_value", "new_value"]].values.tolist()
    [['progress', '未开始', '整改中']]
    """
    present = [p for p in PEOPLE if p in accepted]
    if accepted.empty or not present:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "string") for c in EVENT_COLUMNS})
    new = accepted[[KEY, "county_code", "row", *present]].melt(id_vars=[KEY, "county_code", "row"], var_name="field",
                                                               value_name="new_value")
    state = current_people_state.drop_duplicates(KEY, keep="last")
    old = state[[KEY, *[p for p in present if p in state]]].melt(id_vars=[KEY], var_name="field",
                                                                 value_name="old_value")
    ev = new.merge(old, on=[KEY, "field"], how="left")
    ev["old_value"], ev["new_value"] = _text(ev["old_value"]), _text(ev["new_value"])
    same = (ev["old_value"] == ev["new_value"]).fillna(False) | (ev["old_value"].isna() & ev["new_value"].isna())
    ev = ev[~same.to_numpy(dtype=bool)].copy()
    ev["field_order"] = ev["field"].map({p: i for i, p in enumerate(PEOPLE)})
    ev = ev.sort_values(["row", "field_order"]).rename(columns={"row": "row_number"})
    ev["source_file"], ev["sha256"], ev["imported_at"] = source_file, sha256, imported_at
    out = ev[EVENT_COLUMNS].reset_index(drop=True)
    return out.astype({c: "string" for c in EVENT_COLUMNS if c != "row_number"}).astype({"row_number": "int64"})


def people_state_after(state: pd.DataFrame, accepted: pd.DataFrame, events: pd.DataFrame,
                       values: pd.Series | None = None) -> pd.DataFrame:
    """The people's state rows an import changes (to upsert), one per item with an event.

    ``values`` is :func:`values_fingerprint` of the latest run's discrepancies: a verdict
    of 不属实 keeps the values it was given on, so a change of them reopens the item.
    """
    if events.empty:
        return empty_state()
    touched = events[KEY].drop_duplicates()
    base = state.drop_duplicates(KEY, keep="last").set_index(KEY).reindex(STATE_COLUMNS[1:], axis=1)
    base = base.reindex(touched.to_numpy()).astype({c: "string" for c in STATE_COLUMNS[1:] if c != "source_row"})
    base.index.name = KEY
    acc = accepted.drop_duplicates(KEY).set_index(KEY)
    for c in ("county_code", "rule", "household_no", "archive_no"):
        if c in acc:
            base[c] = acc[c].reindex(base.index).astype("string").fillna(base[c])
    last_change = events.drop_duplicates([KEY, "field"], keep="last")
    for field, part in last_change.groupby("field", sort=False):  # one assignment per column, not per event
        base.loc[part[KEY].to_numpy(), field] = part["new_value"].astype("string").to_numpy()
    last = events.groupby(KEY).last()
    base["source_file"] = last["source_file"].reindex(base.index).astype("string")
    base["source_sha256"] = last["sha256"].reindex(base.index).astype("string")
    base["source_row"] = last["row_number"].reindex(base.index).astype("int64")
    base["imported_at"] = last["imported_at"].reindex(base.index).astype("string")
    verdict_changed = isin(base.index.to_series(), events.loc[events["field"] == "verdict", KEY])
    waiving = (base["verdict"] == MEANING["verdict_waive"]).fillna(False)
    given = (base.index.to_series().map(values).astype("string") if values is not None
             else pd.Series(pd.NA, index=base.index, dtype="string"))
    base.loc[verdict_changed.to_numpy() & waiving.to_numpy(), "verdict_values"] = given
    base.loc[~waiving.to_numpy(), "verdict_values"] = pd.NA
    out = base.reset_index()[STATE_COLUMNS]
    return out.sort_values(KEY).reset_index(drop=True)


# --- later runs ------------------------------------------------------------------------------
def apply_people(ledger: pd.DataFrame, people_state: pd.DataFrame, as_of: str, values: pd.Series | None = None,
                 previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The run's ledger with the people's columns and what they mean.

    - 核实结论=不属实 with a 说明, on an open item -> ``waived`` (not open);
    - such an item whose values (``values``: :func:`values_fingerprint` of this run's
      discrepancies) differ from those the verdict was given on -> open again, and
      ``reopened`` if ``previous`` (the ledger before the run) had it ``waived``;
    - a ``waived`` item whose verdict was withdrawn -> ``reopened``;
    - ``overdue``: 整改时限 before ``as_of`` on an item still open.

    >>> led = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "status": ["open", "new", "resolved"]})
    >>> people = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "verdict": ["不属实", None, None],
    ...     "note": ["重复录入", None, None], "deadline": [None, "2020-07-30", "2020-07-01"]})
    >>> out = apply_people(led, people, "2020-07-31")
    >>> out[["status", "overdue"]].values.tolist()
    [['waived', False], ['new', True], ['resolved', False]]
    """
    out = ledger.drop(columns=[c for c in (*PEOPLE, "overdue") if c in ledger]).copy()
    state = people_state.drop_duplicates(KEY, keep="last").set_index(KEY)
    ids = out[KEY].astype("string")
    at = positions(ids, state.index)  # one lookup of the ids for every column (``map`` hashes them for each)
    for c in PEOPLE:
        out[c] = _text(taken(state[c], at, out.index) if c in state else
                       pd.Series(pd.NA, index=out.index, dtype="string"))
    status = out["status"].astype("string")
    waive = (out["verdict"] == MEANING["verdict_waive"]).fillna(False) & out["note"].notna() & \
        status.isin([*OPEN, WAIVED]).fillna(False)
    if values is not None and "verdict_values" in state:
        given = taken(state["verdict_values"], at, out.index).astype("string")  # as stored: spaces are part of the values
        now = taken(values, positions(ids, values.index), out.index).astype("string").fillna("")
        moved = (given.notna() & (given.fillna("") != now)).fillna(False)
    else:
        moved = pd.Series(False, index=out.index)
    was_waived = pd.Series(False, index=out.index)
    if previous is not None and len(previous):
        before = previous.drop_duplicates(KEY, keep="last").set_index(KEY)["status"]
        was_waived = (ids.map(before) == WAIVED).fillna(False)
    status = status.mask(waive & ~moved, WAIVED)
    status = status.mask(waive & moved & was_waived, "reopened")
    status = status.mask(waive & moved & ~was_waived & (status == WAIVED), "open")  # waived by update_ledger's copy
    status = status.mask(~waive & (status == WAIVED), "reopened")  # the verdict withdrawn or emptied
    out["status"] = status
    deadline = pd.to_datetime(out["deadline"], errors="coerce", format="%Y-%m-%d")
    out["overdue"] = (status.isin(OPEN).fillna(False) & deadline.notna()
                      & (deadline < pd.Timestamp(as_of))).astype(bool)
    return out


def clerical_decisions(people_state: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The REVIEW_MATCH pairs a person decided: (confirmed 是, rejected 否), each a frame of
    ``household_no``, ``archive_no``. A confirmed pair is matched ``clerical`` (score 1.0)
    while both records exist; a rejected one is never matched or asked again.

    >>> s = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "rule": ["REVIEW_MATCH", "REVIEW_MATCH", "X"],
    ...     "household_no": ["H1", "H2", "H3"], "archive_no": ["A1", "A2", "A3"], "same_household": ["是", "否", "是"]})
    >>> [f.values.tolist() for f in clerical_decisions(s)]
    [[['H1', 'A1']], [['H2', 'A2']]]
    """
    s = people_state[(people_state["rule"] == REVIEW).fillna(False)]
    s = s[s["household_no"].notna() & s["archive_no"].notna()]
    same = _text(s["same_household"])

    def pairs(answer: str) -> pd.DataFrame:
        p = s[(same == answer).fillna(False)][["household_no", "archive_no"]].astype("string")
        return p.drop_duplicates().sort_values(["household_no", "archive_no"]).reset_index(drop=True)

    return pairs(MEANING["same_yes"]), pairs(MEANING["same_no"])


def county_rectification(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per county: items, open, overdue, waived, resolved, self-reported done (整改进展
    已完成 on an item the data still shows) and 整改完成率 = resolved / (items - waived).

    >>> led = pd.DataFrame({"county_code": ["1", "1", "1", "2"], "status": ["open", "resolved", "waived", "new"],
    ...     "overdue": [True, False, False, False], "progress": ["已完成", None, None, None]})
    >>> county_rectification(led).values.tolist()
    [['1', 3, 1, 1, 1, 1, 1, 0.5], ['2', 1, 1, 0, 0, 0, 0, 0.0]]
    """
    status = ledger["status"].astype("string")
    f = pd.DataFrame({
        "county_code": ledger["county_code"].astype("string"),
        "items": 1, "open": status.isin(OPEN).fillna(False).astype(int),
        # a flag read back from a store may be the text "True"/"False"
        "overdue": (ledger["overdue"].astype("string").str.lower().eq("true").fillna(False).astype(int)
                    if "overdue" in ledger else 0),
        "waived": (status == WAIVED).fillna(False).astype(int),
        "resolved": (status == "resolved").fillna(False).astype(int),
        "reported_done": ((ledger["progress"] == MEANING["progress_done"]).fillna(False) & status.isin(OPEN)
                          .fillna(False)).astype(int) if "progress" in ledger else 0})
    g = f.groupby("county_code", sort=True).sum().reset_index()
    base = g["items"] - g["waived"]
    g["rate"] = (g["resolved"] / base.where(base > 0)).fillna(0.0).round(4)
    return g
