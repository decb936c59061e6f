"""People in the loop of the ledger: import checks, events, waived, overdue, clerical pairs."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.ledger_people import (EVENT_COLUMNS, apply_people, book_rows, clerical_decisions,
                                     county_rectification, empty_state, people_events, people_state_after,
                                     validate_import, values_fingerprint)
from schemas.ledger_people import PEOPLE, column

A, B, C, D = "000000000000000a", "000000000000000b", "000000000000000c", "000000000000000d"
T = "2020-08-01T09:00:00"


def ledger() -> pd.DataFrame:
    return pd.DataFrame({"discrepancy_id": [A, B, C, D], "county_code": ["522425", "522425", "522425", "522426"],
                         "rule": ["SECURED_CONFLICT", "REVIEW_MATCH", "HA_MISSING", "HA_MISSING"],
                         "household_no": ["H1", "H2", "H3", "H4"], "archive_no": ["A1", "A2", None, None],
                         "field": ["housing_secured", "id,name", None, None],
                         "status": ["open", "new", "resolved", "new"], "first_seen": ["2020-07-31"] * 4,
                         "resolved_at": [None, None, "2020-08-31", None]}).astype("string")


def read(**cols) -> pd.DataFrame:
    """Rows as the workbook reader gives them."""
    n = len(next(iter(cols.values())))
    f = pd.DataFrame({"file": "台账_522425.xlsx", "sheet": "台账", "row": range(2, 2 + n), **cols})
    return f.astype({c: "string" for c in f.columns if c != "row"})


def vals(s: pd.Series) -> list:
    return s.astype(object).where(s.notna(), None).tolist()


def test_import_refuses_each_bad_row_naming_its_cells_and_keeps_the_others():
    rows = read(discrepancy_id=[A, "ffffffffffffffff", D, B, A.upper().lower(), C, C],
                progress=["整改中", None, None, "做完了", None, None, None],
                deadline=["2020-09-30", None, None, None, None, "2020-02-30x", None],
                verdict=[None, None, None, None, None, "不属实", None],
                note=[None] * 7,
                same_household=[None, None, None, "是", None, None, "是"])
    accepted, rejects = validate_import(rows, ledger(), "522425")
    assert accepted["discrepancy_id"].tolist() == [A]
    assert accepted[["county_code", "rule", "household_no"]].values.tolist() == [["522425", "SECURED_CONFLICT", "H1"]]
    where = [(r.row, r.column) for r in rejects]
    assert where == [(3, "问题编号"), (4, "问题编号"), (5, "整改进展"), (6, "问题编号"),
                     (7, "整改时限"), (7, "说明"), (8, "问题编号"), (8, "是否同一户")]
    msgs = [str(r) for r in rejects]
    assert "不属于本表的县 522425" in msgs[1] and "522426" in msgs[1]
    assert "「做完了」不在可选值中（未开始、整改中、已完成）" in msgs[2]
    assert "重复" in msgs[3]
    assert all(m.startswith("台账_522425.xlsx，工作表「台账」，第 ") for m in msgs)


def test_events_are_only_the_changes_and_a_second_import_gives_none():
    rows = read(discrepancy_id=[A, B], responsible_person=["张三", None], progress=["整改中", None],
                same_household=[None, "是"])
    accepted, rejects = validate_import(rows, ledger(), "522425")
    assert rejects == []
    ev = people_events(accepted, empty_state(), "台账_522425.xlsx", "ab12", T)
    assert list(ev.columns) == EVENT_COLUMNS
    assert ev[["discrepancy_id", "field", "new_value", "row_number"]].values.tolist() == [
        [A, "responsible_person", "张三", 2], [A, "progress", "整改中", 2], [B, "same_household", "是", 3]]
    assert ev["old_value"].isna().all() and set(ev["sha256"]) == {"ab12"}
    state = people_state_after(empty_state(), accepted, ev)
    assert state["rule"].tolist() == ["SECURED_CONFLICT", "REVIEW_MATCH"] and state["source_row"].tolist() == [2, 3]
    assert people_events(accepted, state, "台账_522425.xlsx", "ab12", T).empty
    # a person changes one cell and clears another: exactly those two events
    again = read(discrepancy_id=[A, B], responsible_person=["李四", None], progress=[" 整改中", None],
                 same_household=[None, None])
    acc2, _ = validate_import(again, ledger(), "522425")
    ev2 = people_events(acc2, state, "x.xlsx", "cd34", T)
    assert ev2[["discrepancy_id", "field", "old_value"]].values.tolist() == [[A, "responsible_person", "张三"],
                                                                            [B, "same_household", "是"]]
    assert vals(ev2["new_value"]) == ["李四", None]
    state2 = people_state_after(state, acc2, ev2)
    assert vals(state2.set_index("discrepancy_id")["same_household"]) == [None, None]
    assert vals(state2.set_index("discrepancy_id")["responsible_person"]) == ["李四", None]


def test_a_column_deleted_from_the_workbook_changes_nothing():
    state = people_state_after(empty_state(), *_accept(read(discrepancy_id=[A], measures=["加固"])))
    acc, _ = validate_import(read(discrepancy_id=[A], progress=["整改中"]), ledger(), "522425")
    ev = people_events(acc, state, "f", "s", T)
    assert ev["field"].tolist() == ["progress"]
    assert people_state_after(state, acc, ev)["measures"].tolist() == ["加固"]


def _accept(rows):
    acc, rejects = validate_import(rows, ledger(), "522425")
    assert rejects == []
    return acc, people_events(acc, empty_state(), "f", "s", T)


def test_untrue_verdict_waives_until_the_values_change_then_reopens():
    disc = pd.DataFrame({"discrepancy_id": [A], "ps_value": ["是"], "ha_value": ["否"]})
    acc, ev = _accept(read(discrepancy_id=[A], verdict=["不属实"], note=["两系统口径不同，已核实"]))
    state = people_state_after(empty_state(), acc, ev, values_fingerprint(disc))
    assert state["verdict_values"].notna().all()
    led = ledger()
    first = apply_people(led, state, "2020-08-31", values_fingerprint(disc))
    assert first.set_index("discrepancy_id")["status"][A] == "waived"
    assert first.set_index("discrepancy_id")["verdict"][A] == "不属实"
    same = apply_people(led, state, "2020-09-30", values_fingerprint(disc), previous=first)
    assert same.set_index("discrepancy_id")["status"][A] == "waived"
    changed = disc.assign(ha_value=["是 "])
    moved = apply_people(led, state, "2020-09-30", values_fingerprint(changed), previous=first)
    assert moved.set_index("discrepancy_id")["status"][A] == "reopened"
    # a resolved item is never waived; no 说明, no waiving (import refuses it, the run too)
    assert apply_people(led, state.assign(discrepancy_id=C), "2020-09-30").set_index(
        "discrepancy_id")["status"][C] == "resolved"
    assert apply_people(led, state.assign(note=None), "2020-09-30").set_index(
        "discrepancy_id")["status"][A] == "open"


def test_values_with_spaces_keep_their_waiver_while_unchanged():
    disc = pd.DataFrame({"discrepancy_id": [A], "ps_value": ["是"], "ha_value": ["否 "]})
    acc, ev = _accept(read(discrepancy_id=[A], verdict=["不属实"], note=["已核实"]))
    state = people_state_after(empty_state(), acc, ev, values_fingerprint(disc))
    out = apply_people(ledger(), state, "2020-08-31", values_fingerprint(disc), previous=ledger())
    assert out.set_index("discrepancy_id")["status"][A] == "waived"


def test_passed_deadline_on_an_open_item_is_overdue():
    state = pd.DataFrame({"discrepancy_id": [A, B, C], "deadline": ["2020-08-30", "2020-08-31", "2020-01-01"]})
    out = apply_people(ledger(), state, "2020-08-31").set_index("discrepancy_id")
    assert out["overdue"].to_dict() == {A: True, B: False, C: False, D: False}  # C resolved, D none
    assert set(PEOPLE) <= set(out.columns)


def test_clerical_decisions_are_the_review_pairs_people_answered():
    state = pd.DataFrame({"discrepancy_id": [A, B, C, D], "rule": ["REVIEW_MATCH", "REVIEW_MATCH", "REVIEW_MATCH",
                                                                  "HA_MISSING"],
                          "household_no": ["H1", "H2", "H3", "H4"], "archive_no": ["A1", "A2", "A3", "A4"],
                          "same_household": ["是", "否", None, "是"]})
    yes, no = clerical_decisions(state)
    assert yes.values.tolist() == [["H1", "A1"]] and no.values.tolist() == [["H2", "A2"]]


def test_book_rows_list_open_overdue_waived_and_newly_resolved_labelled_and_masked():
    led = apply_people(ledger(), pd.DataFrame({"discrepancy_id": [A], "responsible_unit": ["某镇"]}), "2020-08-31")
    disc = pd.DataFrame({"discrepancy_id": [A, B], "ps_value": ["522425198001010014", None],
                         "ha_value": ["户主522425198001010014", None], "agency": ["both", "both"],
                         "field": ["housing_secured", "id,name"]})
    rows = book_rows(led, disc, resolved_since="2020-08-01")
    assert sorted(rows["discrepancy_id"]) == [A, B, C, D]
    assert rows["county_code"].tolist()[-1] == "522426"  # by county, then rule
    by = rows.set_index("discrepancy_id")
    assert "522425198001010014" not in " ".join(str(v) for v in vals(by["ps_value"]) + vals(by["ha_value"]))
    assert by["ps_value"][A] == "522425********0014"
    assert by["status"][C] == "已解决" and by["rule"][B] == "待人工确认"
    assert by["responsible_unit"][A] == "某镇"
    assert C not in book_rows(led, disc, resolved_since="2020-09-01")["discrepancy_id"].tolist()


def test_rectification_rate_counts_resolved_over_items_not_waived():
    led = apply_people(ledger(), pd.DataFrame({"discrepancy_id": [A], "verdict": ["不属实"], "note": ["x"],
                                               "deadline": [None]}), "2020-08-31")
    rate = county_rectification(led).set_index("county_code")
    assert rate.loc["522425", ["items", "open", "waived", "resolved"]].tolist() == [3, 1, 1, 1]
    assert rate.loc["522425", "rate"] == 0.5 and rate.loc["522426", "rate"] == 0.0


_cell = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=8))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_cell, _cell, st.sampled_from([None, *column("progress").values])), min_size=1,
                max_size=3),
       st.lists(st.tuples(_cell, _cell, st.sampled_from([None, *column("progress").values])), min_size=1,
                max_size=3))
def test_property_importing_the_same_rows_again_gives_no_event(first, second):
    state = empty_state()
    for batch in (first, second, second):
        ids = [A, B, C][:len(batch)]
        rows = read(discrepancy_id=ids, responsible_person=[b[0] for b in batch], measures=[b[1] for b in batch],
                    progress=[b[2] for b in batch])
        acc, rejects = validate_import(rows, ledger(), "522425")
        assert rejects == []
        ev = people_events(acc, state, "f", "s", T)
        new_state = people_state_after(state, acc, ev)
        state = pd.concat([state[~state["discrepancy_id"].isin(new_state["discrepancy_id"])], new_state],
                          ignore_index=True)
        held = state.set_index("discrepancy_id").reindex(acc["discrepancy_id"])  # never written: all missing
        for _, r in acc.iterrows():  # the state holds what the workbook said, empty as missing
            got = held.loc[r["discrepancy_id"]]
            for c in ("responsible_person", "measures", "progress"):
                want = r[c] if pd.notna(r[c]) and str(r[c]).strip() else None
                assert (None if pd.isna(got[c]) else got[c]) == (None if want is None else str(want).strip())
    assert people_events(acc, state, "f", "s", T).empty


def _disc(ids, values=None):
    return pd.DataFrame({"discrepancy_id": ids, "rule": "SECURED_CONFLICT", "county_code": "522425",
                         "household_no": "H", "archive_no": "A", "field": "secured",
                         "ps_value": values or ["是"] * len(ids), "ha_value": "否"})


def test_track_ledger_honours_the_people_and_without_them_changes_nothing():
    import reconcile
    from schemas.published import LEDGER_COLUMNS

    a, b, c = "0" * 15 + "a", "0" * 15 + "b", "0" * 15 + "c"
    empty = pd.DataFrame(columns=LEDGER_COLUMNS, dtype="string")
    first = reconcile.track_ledger(_disc([a, b, c]), empty, empty, "2020-07-31", "r1")
    assert list(first.ledger.columns) == LEDGER_COLUMNS and set(first.ledger["status"]) == {"new"}
    assert not first.ledger["overdue"].any() and first.ledger["verdict"].isna().all()
    people = pd.DataFrame({"discrepancy_id": [a, b], "verdict": ["不属实", None], "note": ["重复", None],
                           "deadline": [None, "2020-08-01"], "verdict_values": ["是\x1f否", None]})
    second = reconcile.track_ledger(_disc([a, b, c]), first.ledger, empty, "2020-08-31", "r2", people=people)
    led = second.ledger.set_index("discrepancy_id")
    assert led["status"].to_dict() == {a: "waived", b: "open", c: "open"}
    assert led["overdue"].to_dict() == {a: False, b: True, c: False}
    assert led.loc[a, "changed_by_run"] == "r2" and led.loc[a, "note"] == "重复"
    assert second.changes.set_index("discrepancy_id").loc[a, "status"] == "waived"
    # the values the verdict was given on change: reopened; the verdict withdrawn: reopened
    third = reconcile.track_ledger(_disc([a, b, c], ["否", "是", "是"]), second.ledger, empty, "2020-09-30", "r3",
                                   people=people)
    assert third.ledger.set_index("discrepancy_id").loc[a, "status"] == "reopened"
    withdrawn = people.assign(verdict=[None, None])
    fourth = reconcile.track_ledger(_disc([a, b, c]), second.ledger, empty, "2020-09-30", "r3", people=withdrawn)
    assert fourth.ledger.set_index("discrepancy_id").loc[a, "status"] == "reopened"
    plain = reconcile.track_ledger(_disc([a, b, c]), second.ledger, empty, "2020-09-30", "r3")
    assert plain.ledger.set_index("discrepancy_id").loc[a, "status"] == "waived"  # no people given: kept


def test_finish_match_with_decisions_matches_the_confirmed_and_drops_the_rejected():
    from reconcile.match import MatchResult, apply_decisions

    cols = ["household_no", "archive_no", "county_code", "method", "score", "agreement", "member_name", "weights",
            "explanation"]
    m = pd.DataFrame([["H1", "A9", "1", "id_exact", 1.0, None, None, None, None],
                      ["H2", "A2", "1", "fuzzy", 0.995, None, None, None, None]], columns=cols)
    review = pd.DataFrame({"household_no": ["H3", "H4"], "archive_no": ["A3", "A4"], "score": [0.5, 0.4]})
    ps = pd.DataFrame({"household_no": ["H1", "H2", "H3", "H4"], "county_code": "1"})
    ha = pd.DataFrame({"archive_no": ["A2", "A3", "A4", "A9"]})
    yes = pd.DataFrame({"household_no": ["H3", "H5"], "archive_no": ["A3", "A5"]})  # H5/A5 no longer exist
    no = pd.DataFrame({"household_no": ["H2", "H4"], "archive_no": ["A2", "A4"]})
    r = apply_decisions(ps, ha, MatchResult(m, review), yes, no)
    assert r.matches[["household_no", "archive_no", "method"]].values.tolist() == [
        ["H1", "A9", "id_exact"], ["H3", "A3", "clerical"]]
    assert r.review.empty
