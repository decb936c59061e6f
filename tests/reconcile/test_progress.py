"""The monthly progress report, checked by hand on a small frame."""
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.progress import monthly_progress

T = pd.Timestamp


def test_counts_rates_and_totals_by_hand():
    ha = pd.DataFrame({
        "county_code": ["522425", "522425", "522425", "522426", "522426", "522426"],
        "target_type": ["建档立卡贫困户"] * 5 + ["低保户"],
        "guarantee_method": ["农村危房改造", "农村危房改造", "农村危房改造", "农村危房改造", "原住房鉴定安全", "农村危房改造"],
        "task_source": ["年度计划", "2019年存量", "回头看新增", "年度计划", None, "年度计划"],
        "task_year": pd.array([2020, 2019, 2020, 2020, None, 2020], dtype="Int64"),
        "start_date": [T("2020-03-01"), T("2019-05-01"), T("2020-06-01"), pd.NaT, pd.NaT, T("2020-01-01")],
        "completion_date": [T("2020-05-20"), T("2019-09-01"), pd.NaT, pd.NaT, pd.NaT, T("2020-02-01")],
        "acceptance_date": [pd.NaT, T("2019-10-01"), pd.NaT, pd.NaT, pd.NaT, T("2020-03-01")],
    })
    unified = pd.DataFrame({"county_code": ["522425", "522425", "522426"], "in_ps": [True, True, True],
                            "housing_secured_basis": ["ha_determination", "ps_only", "completed_renovation"]})
    p = monthly_progress(ha, unified, "2020-07-31", "2020-06-30").set_index("code")
    a = p.loc["522425"]
    # 522425: three tasks; started 3; completed 2; accepted 1; overdue 1 (the 回头看 task, never completed)
    assert (a["tasks"], a["tasks_annual"], a["tasks_2019_stock"], a["tasks_lookback"]) == (3, 1, 1, 1)
    assert (a["started"], a["completed"], a["accepted"], a["overdue"]) == (3, 2, 1, 1)
    assert a["completion_rate"] == round(2 / 3, 4) and a["entry_rate"] == 0.5
    b = p.loc["522426"]  # one task, not started, overdue; the 低保户 record does not count
    assert (b["tasks"], b["started"], b["overdue"], b["start_rate"]) == (1, 0, 1, 0.0)
    n = p.loc["000000"]
    assert (n["tasks"], n["completed"], n["overdue"], n["poor_households"], n["determined_households"]) == (4, 2, 2, 3, 2)
    assert n["completion_rate"] == 0.5 and n["entry_rate"] == round(2 / 3, 4)  # from sums, not averaged
    # 毕节地区 522400 is 毕节市 520500 since 2011: the city row is under the current code
    assert p.loc["520500", "level"] == "city" and p.loc["520000", "tasks"] == 4
    assert list(p["level"]) == ["county", "county", "city", "province", "national"]
    before = monthly_progress(ha, unified, "2020-05-31", "2020-06-30").set_index("code")
    assert before.loc["522425", "overdue"] == 0 and before.loc["522425", "completed"] == 2


def test_one_row_and_one_name_per_prefecture_across_old_and_new_codes():
    """江口县 filed under its pre-2011 code 522222 (铜仁地区) and 松桃县 under 520628 (铜仁市): one
    prefecture, so one city row, under its current code and name."""
    ha = pd.DataFrame({"county_code": ["522222", "520628", "522425"], "target_type": ["建档立卡贫困户"] * 3,
                       "guarantee_method": ["农村危房改造"] * 3, "task_source": ["年度计划"] * 3,
                       "task_year": pd.array([2020] * 3, dtype="Int64"), "start_date": [pd.NaT] * 3,
                       "completion_date": [pd.NaT] * 3, "acceptance_date": [pd.NaT] * 3})
    unified = pd.DataFrame({"county_code": ["522222"], "in_ps": [True], "housing_secured_basis": ["ps_only"]})
    p = monthly_progress(ha, unified, "2020-07-31", "2020-06-30")
    cities = p[p["level"] == "city"].set_index("code")
    assert cities["name"].to_dict() == {"520500": "毕节市", "520600": "铜仁市"}
    assert cities.loc["520600", "tasks"] == 2
    assert p.groupby("code")["name"].nunique().max() == 1
    assert p[p["level"] == "county"]["code"].tolist() == ["520628", "522222", "522425"]  # as filed


def test_prefecture_of_prefers_the_current_code():
    from schemas.regions import prefecture_of

    assert [prefecture_of(c) for c in ["522222", "520628", "522425", "530102", "110101"]] == \
        ["520600", "520600", "520500", "530100", "110100"]


COUNTIES = ["522425", "522426", "520628", "522222"]


@st.composite
def progress_inputs(draw):
    """HA records, unified rows and (maybe) a ledger and an alert ledger, over a few
    counties: some counties only in one of them, some parts empty."""
    n = draw(st.integers(1, 12))
    pick = lambda options: draw(st.lists(st.sampled_from(options), min_size=n, max_size=n))  # noqa: E731
    dates = [pd.NaT, T("2020-01-05"), T("2020-06-30"), T("2020-07-31"), T("2020-09-01")]
    ha = pd.DataFrame({"county_code": pick(COUNTIES), "target_type": pick(["建档立卡贫困户", "低保户"]),
                       "guarantee_method": pick(["农村危房改造", "原住房鉴定安全", None]),
                       "task_source": pick(["年度计划", "2019年存量", "回头看新增", None]),
                       "task_year": pd.array(pick([2019, 2020, 2021, None]), dtype="Int64"),
                       **{c: pd.Series(pick(dates), dtype="datetime64[ns]")
                          for c in ("start_date", "completion_date", "acceptance_date")}})
    m = draw(st.integers(1, 8))
    unified = pd.DataFrame({"county_code": draw(st.lists(st.sampled_from(COUNTIES), min_size=m, max_size=m)),
                            "in_ps": draw(st.lists(st.booleans(), min_size=m, max_size=m)),
                            "housing_secured_basis": draw(st.lists(st.sampled_from(["ps_only", "relocation"]),
                                                                   min_size=m, max_size=m))})
    ledger = alerts = None
    if draw(st.booleans()):
        k = draw(st.integers(0, 8))
        ledger = pd.DataFrame({"county_code": draw(st.lists(st.sampled_from(COUNTIES), min_size=k, max_size=k)),
                               "status": draw(st.lists(st.sampled_from(["new", "open", "resolved", "waived"]),
                                                       min_size=k, max_size=k))})
    if draw(st.booleans()):
        k = draw(st.integers(0, 5))
        alerts = pd.DataFrame({"county_code": draw(st.lists(st.sampled_from(COUNTIES), min_size=k, max_size=k)),
                               "first_seen": draw(st.lists(st.sampled_from(["2020-07-02", "2020-06-30"]),
                                                           min_size=k, max_size=k))})
    return ha, unified, ledger, alerts


@settings(max_examples=150, deadline=None)
@given(progress_inputs())
def test_each_countys_counts_are_its_own_rows_counted(inputs):
    """The county rows against a count of each county's rows, one at a time: whatever
    counties each input holds (the parts are summed per county before they are joined)."""
    ha, unified, ledger, alerts = inputs
    p = monthly_progress(ha, unified, "2020-07-31", "2020-06-30", ledger=ledger, alert_ledger=alerts)
    county = p[p["level"] == "county"].set_index("code")
    tasks = ha[(ha["target_type"] == "建档立卡贫困户") & (ha["guarantee_method"] == "农村危房改造").fillna(False)]
    poor = unified[unified["in_ps"]]
    seen = sorted(set(tasks["county_code"]) | set(poor["county_code"])
                  | set([] if ledger is None else ledger["county_code"])
                  | set([] if alerts is None else alerts["county_code"]))
    assert county.index.tolist() == seen
    for code in seen:
        row, mine = county.loc[code], tasks[tasks["county_code"] == code]
        assert row["tasks"] == len(mine)
        for source, col in (("年度计划", "tasks_annual"), ("2019年存量", "tasks_2019_stock"), ("回头看新增", "tasks_lookback")):
            assert row[col] == int((mine["task_source"] == source).sum())
        for col in ("start_date", "completion_date", "acceptance_date"):
            done = {"start_date": "started", "completion_date": "completed", "acceptance_date": "accepted"}[col]
            assert row[done] == int((mine[col] <= T("2020-07-31")).sum())
        # overdue: a task of 2020 or before, not completed by the deadline (2020-06-30), as of 2020-07-31
        late = (mine["task_year"] <= 2020).fillna(False) & (mine["completion_date"].isna()
                                                           | (mine["completion_date"] > T("2020-06-30")))
        assert row["overdue"] == int(late.sum())
        assert row["poor_households"] == int((poor["county_code"] == code).sum())
        assert row["determined_households"] == int(((poor["county_code"] == code)
                                                     & (poor["housing_secured_basis"] == "relocation")).sum())
        if ledger is None:
            assert pd.isna(row["ledger_items"])
        else:
            theirs = ledger[ledger["county_code"] == code]
            assert row["ledger_items"] == int((theirs["status"] != "waived").sum())
            assert row["rectified"] == int((theirs["status"] == "resolved").sum())
        if alerts is not None:
            assert row["new_alerts"] == int(((alerts["county_code"] == code)
                                             & (alerts["first_seen"] == "2020-07-02")).sum())
    assert p.loc[p["level"] == "national", "tasks"].iloc[0] == len(tasks)
    # every city and province row is the sum of its counties (these four are all 贵州 520000)
    for level in ("city", "province"):
        assert p.loc[p["level"] == level, "tasks"].sum() == len(tasks)
        assert p.loc[p["level"] == level, "poor_households"].sum() == len(poor)
