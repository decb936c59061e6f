"""The monthly progress report, checked by hand on a small frame."""
import pandas as pd

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
