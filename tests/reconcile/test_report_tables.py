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


# --- issue 18 (the 台账 with people) and issue 19 (alerts) in the report's tables -------------

HOSTILE = ['=HYPERLINK("http://x","y")', "<script>alert(1)</script>"]


def people_ledger():
    """Four items of two counties: one overdue, one waived, one resolved, one open; the
    people's columns as the 台账 import leaves them; a hostile 责任人 each on two items."""
    return pd.DataFrame({
        "discrepancy_id": ["a", "b", "c", "d"], "rule": ["SECURED_CONFLICT", "DUPLICATE", "HA_MISSING", "HA_MISSING"],
        "county_code": ["522425", "522425", "522425", "520628"], "household_no": ["H1", "H2", "H3", "H4"],
        "archive_no": [pd.NA] * 4, "field": ["housing_secured", "household_no", pd.NA, pd.NA],
        "status": ["open", "waived", "resolved", "new"], "first_seen": ["2020-06-30"] * 4,
        "last_seen": ["2020-07-31"] * 4, "resolved_at": [pd.NA, pd.NA, "2020-07-31", pd.NA],
        "responsible_unit": ["镇住建所", pd.NA, pd.NA, "县扶贫办"], "responsible_person": [HOSTILE[0], "李四", pd.NA, HOSTILE[1]],
        "deadline": ["2020-07-15", pd.NA, pd.NA, "2020-08-31"], "measures": [pd.NA] * 4,
        "progress": ["整改中", pd.NA, pd.NA, "未开始"], "verdict": [pd.NA, "不属实", pd.NA, pd.NA],
        "note": [pd.NA, "重复录入 522425199001010017", pd.NA, pd.NA], "same_household": [pd.NA] * 4,
        "overdue": [True, False, False, False]}).astype({"overdue": bool})


def grid_discrepancies(ledger):
    d = ledger[ledger["status"] != "resolved"][["discrepancy_id", "rule", "county_code", "household_no", "archive_no",
                                                 "field"]].copy()
    d["severity"], d["owner"], d["agency"] = "high", "ha", "ha"
    d["ps_value"], d["ha_value"], d["suggested_value"] = pd.NA, "否", pd.NA
    d["message"], d["action"], d["status"], d["first_seen"] = "问题", "处理", "new", "2020-07-31"
    return d.reset_index(drop=True).astype("string")


def alert_frames():
    from schemas.alerts import load_alert_kinds

    kinds = load_alert_kinds()
    alerts = pd.DataFrame({
        "alert_id": ["00000000000000a1", "00000000000000a2", "00000000000000a3"],
        "alert": ["SECURED_LOST", "SECURED_LOST", "NEW_HOUSEHOLD"], "household_no": ["H1", "H5", "H6"],
        "archive_no": [pd.NA] * 3, "county_code": ["522425", "520628", "522425"],
        "previous_as_of": ["2020-06-30", "2020-06-30", pd.NA], "previous_value": ["true", "true", pd.NA],
        "value": ["false", "false", "ps"], "since": ["2020-07-31"] * 3,
        "message_zh": ["住房安全有保障认定由「是」变为「否」"] * 2 + ["扶贫系统新增该户记录"],
        "action_zh": [kinds["SECURED_LOST"].action_zh] * 2 + [kinds["NEW_HOUSEHOLD"].action_zh]})
    alerts["severity"] = alerts["alert"].map({c: k.severity for c, k in kinds.items()})
    led = alerts[["alert_id", "alert", "county_code", "household_no", "archive_no"]].assign(
        status=["new", "open", "new"], first_seen=["2020-07-31", "2020-06-30", "2020-07-31"], last_seen="2020-07-31",
        resolved_at=pd.NA, changed_by_run="r")
    gone = pd.DataFrame({"alert_id": ["00000000000000a9"], "alert": ["DANGER_WORSENED"], "county_code": ["520628"],
                         "household_no": ["H9"], "archive_no": [pd.NA], "status": ["resolved"],
                         "first_seen": ["2020-05-31"], "last_seen": ["2020-06-30"], "resolved_at": ["2020-07-31"],
                         "changed_by_run": ["r"]})
    return alerts.astype("string"), pd.concat([led, gone], ignore_index=True).astype("string")


def test_grid_shows_responsibility_overdue_waived_apart_and_alerts_labelled():
    from reconcile.report import report_grid

    ledger = people_ledger()
    alerts, alert_ledger = alert_frames()
    g = report_grid(grid_discrepancies(ledger), ledger, "2020-07-31", alerts=alerts, alert_ledger=alert_ledger)
    assert {"整改责任单位", "责任人", "整改时限", "逾期", "整改进展", "核实结论", "说明", "类别"} <= set(g.columns)
    by_id = g.set_index("问题编号")
    assert by_id.loc["a", ["整改责任单位", "责任人", "整改时限", "逾期"]].tolist() == ["镇住建所", HOSTILE[0], "2020-07-15", "是"]
    assert by_id.loc["d", "逾期"] == "" and by_id.loc["d", "责任人"] == HOSTILE[1]  # text, as typed
    assert by_id.loc["b", "状态"] == "已核销" and g["状态"].iloc[-1] == "已核销"  # waived: last, apart from the open
    assert "522425199001010017" not in by_id.loc["b", "说明"] and "522425********0017" in by_id.loc["b", "说明"]
    # the alerts: their Chinese names, statuses from the alert ledger, the one resolved this run
    a = g[g["类别"] == "动态预警"].set_index("问题编号")
    assert set(a.index) == {"00000000000000a1", "00000000000000a2", "00000000000000a3", "00000000000000a9"}
    assert a.loc["00000000000000a1", ["规则", "严重程度", "状态", "责任部门"]].tolist() == ["保障状态丢失", "严重", "新发现",
                                                                                           "住建部门"]
    assert a.loc["00000000000000a2", ["状态", "首次发现"]].tolist() == ["未解决", "2020-06-30"]
    assert a.loc["00000000000000a9", ["规则", "状态", "解决日期"]].tolist() == ["危房等级上升", "已解决", "2020-07-31"]
    assert set(g.loc[g["类别"] != "动态预警", "类别"]) == {"核对问题"}
    codes = ["SECURED_LOST", "NEW_HOUSEHOLD", "DANGER_WORSENED", "waived", "critical"]
    assert not g.apply(lambda c: c.isin(codes)).any().any()


def test_grid_of_a_ledger_without_people_columns_has_them_empty():
    from reconcile.report import report_grid

    ledger = people_ledger().drop(columns=["responsible_unit", "responsible_person", "deadline", "measures", "progress",
                                           "verdict", "note", "same_household", "overdue"])
    ledger["status"] = ledger["status"].replace("waived", "open")
    g = report_grid(grid_discrepancies(ledger), ledger, "2020-07-31")
    assert (g[["整改责任单位", "责任人", "整改时限", "逾期"]] == "").all().all() and set(g["类别"]) == {"核对问题"}


def test_rectification_per_county_by_hand_with_a_recomputed_total():
    from reconcile.report import rectification_by_county

    t = rectification_by_county(people_ledger()).set_index("县")
    assert t.equals(rectification_by_county(people_ledger().astype("string")).set_index("县"))  # flags as text
    zy = t.loc["522425 织金县"]
    # 522425: three items, one open (overdue), one waived, one resolved: 1 / (3 - 1)
    assert zy[["问题总数", "未解决", "逾期", "已核销", "已解决"]].tolist() == [3, 1, 1, 1, 1] and zy["整改完成率"] == 0.5
    assert t.loc["520628 松桃苗族自治县", ["未解决", "逾期", "整改完成率"]].tolist() == [1, 0, 0.0]
    total = t.loc["合计"]
    assert total[["问题总数", "逾期", "已核销", "已解决"]].tolist() == [4, 1, 1, 1] and total["整改完成率"] == round(1 / 3, 4)
    assert list(t.index)[-1] == "合计"


def test_waived_items_listed_apart_masked():
    from reconcile.report import waived_items

    w = waived_items(people_ledger())
    assert w["问题编号"].tolist() == ["b"] and w.loc[0, "核实结论"] == "不属实" and w.loc[0, "规则"] == "重复记录"
    assert "522425********0017" in w.loc[0, "说明"] and w.loc[0, "县"] == "522425 织金县"


def test_alert_counts_by_kind_and_county_by_hand():
    from reconcile.report import alert_kinds_table, alerts_by_county

    alerts, alert_ledger = alert_frames()
    k = alert_kinds_table(alerts, alert_ledger, "2020-07-31").set_index("预警类型")
    assert k.loc["保障状态丢失", ["严重程度", "本次预警数", "新发现", "重新出现", "已解决"]].tolist() == ["严重", 2, 1, 0, 0]
    assert k.loc["危房等级上升", ["本次预警数", "已解决"]].tolist() == [0, 1]
    assert k.loc["合计", ["本次预警数", "新发现", "已解决"]].tolist() == [3, 2, 1] and len(k) == 7  # every kind, and 合计
    c = alerts_by_county(alerts).set_index("县")
    assert c.loc["522425 织金县", ["保障状态丢失", "新增农户", "合计"]].tolist() == [1, 1, 2]
    assert c.loc["合计", "合计"] == 3
    assert alert_kinds_table(None, None, "2020-07-31")["本次预警数"].tolist() == [0] * 7


def test_progress_counts_the_ledger_and_the_months_new_alerts_per_county():
    from reconcile.progress import monthly_progress

    T = pd.Timestamp
    ha = pd.DataFrame({"county_code": ["522425", "520628"], "target_type": ["建档立卡贫困户"] * 2,
                       "guarantee_method": ["农村危房改造"] * 2, "task_source": ["年度计划"] * 2,
                       "task_year": pd.array([2020, 2020], dtype="Int64"), "start_date": [T("2020-03-01"), pd.NaT],
                       "completion_date": [pd.NaT, pd.NaT], "acceptance_date": [pd.NaT, pd.NaT]})
    unified = pd.DataFrame({"county_code": ["522425"], "in_ps": [True], "housing_secured_basis": ["ps_only"]})
    _, alert_ledger = alert_frames()
    p = monthly_progress(ha, unified, "2020-07-31", "2020-06-30", ledger=people_ledger(),
                         alert_ledger=alert_ledger).set_index("code")
    a = p.loc["522425"]
    # 522425: items not waived 2, rectified 1, overdue 1; new alerts in July: a1 and a3 (a2 was first seen in June)
    assert (a["ledger_items"], a["rectified"], a["overdue_items"], a["new_alerts"]) == (2, 1, 1, 2)
    assert a["rectification_rate"] == 0.5
    assert (p.loc["520628", "new_alerts"], p.loc["520628", "rectification_rate"]) == (0, 0.0)
    n = p.loc["000000"]
    assert (n["ledger_items"], n["rectified"], n["new_alerts"]) == (3, 1, 2)
    assert n["rectification_rate"] == round(1 / 3, 4)
    without = monthly_progress(ha, unified, "2020-07-31", "2020-06-30")  # no 台账, no monitoring: empty, not 0
    assert without[["ledger_items", "new_alerts", "rectification_rate"]].isna().all().all()
    assert list(without.columns) == list(p.reset_index()[list(without.columns)].columns)


def test_a_first_run_with_no_alerts_has_none_in_the_grid_and_zero_counts():
    from reconcile.report import alert_kinds_table, alerts_by_county, report_grid
    from schemas.alerts import ALERT_COLUMNS

    alerts = pd.DataFrame({c: pd.Series(dtype="string") for c in ALERT_COLUMNS})
    alert_ledger = pd.DataFrame({c: pd.Series(dtype="string") for c in (
        "alert_id", "alert", "county_code", "household_no", "archive_no", "status", "first_seen", "last_seen",
        "resolved_at", "changed_by_run")})
    ledger = people_ledger()
    g = report_grid(grid_discrepancies(ledger), ledger, "2020-07-31", alerts=alerts, alert_ledger=alert_ledger)
    assert set(g["类别"]) == {"核对问题"}
    assert alert_kinds_table(alerts, alert_ledger, "2020-07-31").iloc[-1].tolist() == ["合计", "", 0, 0, 0, 0]
    assert alerts_by_county(alerts).empty
