"""The report's count tables (per rule with ledger changes, per county), checked by hand."""
import pandas as pd

from reconcile.report import county_counts, rule_changes


def test_summary_tables_count_what_they_say():
    disc = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "rule": ["HA_MISSING", "HA_MISSING", "DUPLICATE"],
                         "county_code": ["520628", "522222", "522222"], "severity": ["high", "high", "low"]})
    ledger = pd.DataFrame({"discrepancy_id": ["a", "b", "c", "d"], "rule": ["HA_MISSING", "HA_MISSING", "DUPLICATE",
                                                                              "DUPLICATE"],
                           "status": ["new", "open", "new", "resolved"]})
    r = rule_changes(disc, ledger).set_index("rule")
    assert r.loc["HA_MISSING", ["discrepancies", "new", "open", "resolved"]].tolist() == [2, 1, 1, 0]
    assert r.loc["DUPLICATE", ["discrepancies", "new", "resolved"]].tolist() == [1, 1, 1]
    unified = pd.DataFrame({"county_code": ["520628", "522222", "522222", "522222"]})
    c = county_counts(disc, unified).set_index("county")
    assert c.loc["522222", ["households", "high", "low"]].tolist() == [3, 1, 1]


def test_a_full_id_typed_into_a_name_is_masked_wherever_analysts_read_it():
    """Issue 14.8: an ID number in a name cell reaches messages and the report masked;
    the discrepancy's own values (the agencies' copy) keep it in full."""
    import re

    from reconcile.report import analyst_view
    from schemas.gate import full_id_pattern
    from tests.reconcile.builders import ID_B, ID_C, ha, member, ps, run

    full_id = re.compile(full_id_pattern())
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in ID_C)
    t = run([ps(householder_name=ID_B), ps(household_no="H2", householder_id=ID_C, householder_name="李四")],
            [ha(), ha(archive_no="A2", householder_id=ID_C, householder_name=f"李{ID_C}四")],
            [member(), member(household_no="H2", name=fullwidth, id_no=ID_C)])
    d = t.discrepancies
    assert {"IDENTITY_CONFLICT"} <= set(d["rule"]) and ID_B in d["ps_value"].tolist()
    for col in ("message", "message_en", "action", "action_en"):
        assert not d[col].str.contains(full_id.pattern).any(), d[col].tolist()
    view = analyst_view(d)
    for col in view.columns:
        text = view[col].astype("string").fillna("")
        assert not text.str.contains(full_id.pattern).any(), (col, text.tolist())
    assert any("522425********" in v for v in view["扶贫系统值"].dropna())


def test_report_grid_labels_every_code_and_takes_status_from_the_ledger():
    """Issue 17: the grid shows Chinese labels, county names beside codes, the ledger's
    status, and the discrepancies this run resolved (they are only in the ledger)."""
    from reconcile.report import report_grid
    from tests.reconcile.builders import ha, ps, run

    d = run([ps(housing_secured="否"), ps(household_no="H2", householder_id="522425198001010019")],
            [ha(household_size="5")]).discrepancies
    ledger = d[["discrepancy_id", "rule", "county_code", "household_no", "archive_no", "field"]].assign(
        status=["reopened"] + ["open"] * (len(d) - 1), first_seen="2020-06-30", last_seen="2020-07-31",
        resolved_at=pd.NA)
    gone = pd.DataFrame({"discrepancy_id": ["zz", "old"], "rule": ["EXITED_UNSECURED", "DUPLICATE"],
                         "county_code": ["522425", "522425"], "household_no": ["H9", "H8"], "archive_no": [pd.NA] * 2,
                         "field": ["housing_secured", "householder_id"], "status": ["resolved", "resolved"],
                         "first_seen": ["2020-06-30"] * 2, "last_seen": ["2020-06-30"] * 2,
                         "resolved_at": ["2020-07-31", "2020-06-30"]})
    g = report_grid(d, pd.concat([ledger, gone], ignore_index=True), "2020-07-31")
    assert len(g) == len(d) + 1  # resolved by this run: shown; resolved long ago: not
    assert set(g["状态"]) == {"重新出现", "未解决", "已解决"} and g["状态"].iloc[0] == "重新出现"
    assert g.loc[g["状态"] == "已解决", ["规则", "严重程度", "户编号", "解决日期"]].values.tolist() == [
        ["脱贫户住房未保障", "严重", "H9", "2020-07-31"]]
    assert set(g["严重程度"]) <= {"严重", "高", "中", "低"} and set(g["首次发现"]) == {"2020-06-30"}
    assert set(g["县"]) == {"522425 织金县"}
    assert "家庭人口数／家庭人口" in set(g["字段"])
    text = " ".join(g.astype(str).values.ravel())
    for code in ("EXITED_UNSECURED", "IDENTITY_CONFLICT", "critical", "household_size", "check_digit", " ps ", "new"):
        assert code not in text, code


def test_a_check_digit_fix_is_visible_though_both_ids_are_masked():
    from reconcile.report import id_change_notes, report_grid
    from tests.reconcile.builders import ID_A, ha, ps, run

    bad = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    d = run([ps(householder_id=bad)], [ha()]).discrepancies
    g = report_grid(d, d.iloc[:0].assign(resolved_at=pd.NA), "2020-07-31")
    row = g[g["规则"] == "身份证号无效"].iloc[0]
    assert row["扶贫系统值"] == bad[:6] + "********" + bad[-4:]
    assert row["建议值"] == f"（校验位 {bad[-1]}→{ID_A[-1]}）" + ID_A[:6] + "********" + ID_A[-4:]
    swapped = ID_A[:10] + ID_A[11] + ID_A[10] + ID_A[12:]
    one = ID_A[:8] + ("0" if ID_A[8] != "0" else "1") + ID_A[9:]
    notes = id_change_notes(pd.Series([swapped, one, "12"]), pd.Series([ID_A, ID_A, ID_A])).tolist()
    assert notes[1] == f"出生日期第9位 {one[8]}→{ID_A[8]}" and notes[2] == ""
    assert notes[0] in ("", f"出生日期第11位 {ID_A[11]}→{ID_A[10]}；出生日期第12位 {ID_A[10]}→{ID_A[11]}")
    many = id_change_notes(pd.Series(["110101199003071234"]), pd.Series(["110101200012319876"])).tolist()
    assert many == ["出生日期第7–18位不同"]  # more than two changes: positions only, nothing unmasked


def test_changes_and_chart_frames_are_labelled_and_ordered():
    from reconcile.report import changes_since_last_run, chart_frames

    disc = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "rule": ["HA_MISSING", "HA_MISSING", "DUPLICATE"],
                         "county_code": ["520628", "522222", "522222"], "severity": ["high", "high", "low"]})
    ledger = pd.DataFrame({"discrepancy_id": ["a", "b", "c", "d", "e"], "rule": ["HA_MISSING"] * 2 + ["DUPLICATE"] * 3,
                           "status": ["new", "reopened", "open", "resolved", "resolved"],
                           "resolved_at": [pd.NA, pd.NA, pd.NA, "2020-07-31", "2020-06-30"]})
    c = changes_since_last_run(disc, ledger, "2020-07-31").set_index("规则")
    assert c.loc["未录入认定"].tolist() == [2, 1, 1, 0] and c.loc["重复记录"].tolist() == [1, 0, 0, 1]
    assert c.loc["合计"].tolist() == [3, 1, 1, 1]
    progress = pd.DataFrame({"level": ["county", "city"], "code": ["520628", "520600"], "completion_rate": [0.5, 0.5]})
    f = chart_frames(disc, progress, pd.DataFrame({"as_of": ["2020-07-31"], "open": [3]}))
    assert f["rules"]["规则"].tolist() == ["未录入认定", "重复记录"]
    assert f["counties"].columns.tolist() == ["县", "严重", "高", "中", "低"]
    assert f["counties"]["县"].tolist() == ["520628 松桃苗族自治县", "522222 江口县"]
    assert f["completion"]["县"].tolist() == ["520628 松桃苗族自治县"]
    assert f["trend"].to_dict("list") == {"日期": ["2020-07-31"], "未解决问题数": [3]}
