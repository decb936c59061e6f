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
    assert p.loc["522400", "level"] == "city" and p.loc["520000", "tasks"] == 4
    assert list(p["level"]) == ["county", "county", "city", "province", "national"]
    before = monthly_progress(ha, unified, "2020-05-31", "2020-06-30").set_index("code")
    assert before.loc["522425", "overdue"] == 0 and before.loc["522425", "completed"] == 2
