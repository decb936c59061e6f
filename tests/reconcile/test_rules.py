"""One test per catalog rule: the smallest frames that trigger it, and the nearest that must not."""
from datetime import date

import pandas as pd

import pytest

from tests.reconcile.builders import HA, ID_B, ID_C, RENOVATED, ha, member, ps, rules, run


def test_clean_pair_has_no_discrepancy():
    assert rules(run([ps()], [ha()])) == []


def test_ha_missing_and_ps_missing():
    t = run([ps()], [ha(householder_id=ID_B, archive_no="A2")])
    assert rules(t) == ["HA_MISSING", "PS_MISSING"]


def test_ps_missing_only_for_registered_poor():
    t = run([ps()], [ha(), ha(archive_no="A2", householder_id=ID_B, target_type="低保户")])
    assert rules(t) == []
    assert t.other_groups["archive_no"].tolist() == ["A2"]


def test_target_type_conflict():
    assert rules(run([ps()], [ha(target_type="低保户")])) == ["TARGET_TYPE_CONFLICT"]


@pytest.mark.parametrize("ps_flag, ha_result, expected", [
    ("否", "鉴定安全", ["SECURED_CONFLICT"]),
    ("是", "未保障", ["SECURED_CONFLICT"]),
    ("是", "已保障", []),
    ("否", "未保障", []),
    ("是", "", []),
])
def test_secured_conflict(ps_flag, ha_result, expected):
    assert rules(run([ps(housing_secured=ps_flag)], [ha(secured_result=ha_result)])) == expected


def test_secured_conflict_suggests_value_when_renovation_proves_it():
    t = run([ps(housing_secured="否", is_dilapidated="是", dilapidation_grade="C级")], [ha(**RENOVATED)])
    d = t.discrepancies
    assert d["rule"].tolist() == ["SECURED_CONFLICT"]
    assert d["suggested_value"].tolist() == ["是"]


@pytest.mark.parametrize("relocated, method, expected", [
    ("是", "原住房鉴定安全", ["METHOD_CONFLICT"]),
    ("否", "易地扶贫搬迁", ["METHOD_CONFLICT"]),
    ("是", "易地扶贫搬迁", []),
    ("否", "生态移民", []),
])
def test_method_conflict(relocated, method, expected):
    assert rules(run([ps(is_relocated=relocated)], [ha(guarantee_method=method, secured_result="改造安全")])) == expected


@pytest.mark.parametrize("ps_grade, ha_grade, expected", [
    ("C级", "D级", ["DANGER_CONFLICT"]),
    ("二级", "C级", []),          # 二级 is the older spelling of C
    ("一级", "C级", ["DANGER_CONFLICT"]),
    ("", "D级", []),
])
def test_danger_conflict(ps_grade, ha_grade, expected):
    t = run([ps(is_dilapidated="是", dilapidation_grade=ps_grade)], [ha(**{**RENOVATED, "danger_grade": ha_grade})])
    assert rules(t) == expected


@pytest.mark.parametrize("kw, as_of, expected", [
    (dict(completion_date="2020-07-05", acceptance_date=""), date(2020, 7, 31), ["RENOVATION_OVERDUE"]),
    (dict(completion_date="", acceptance_date="", subsidy_yuan="", secured_result="未保障"), date(2020, 7, 31),
     ["RENOVATION_OVERDUE"]),
    (dict(completion_date="", acceptance_date="", subsidy_yuan="", secured_result="未保障"), date(2020, 6, 15), []),
    (dict(completion_date="2020-06-30", acceptance_date="2020-07-05"), date(2020, 7, 31), []),
    (dict(task_year="2021", completion_date="", acceptance_date="", subsidy_yuan="", secured_result="未保障"),
     date(2020, 7, 31), []),
])
def test_renovation_overdue(kw, as_of, expected):
    t = run([ps(is_dilapidated="是", dilapidation_grade="C级", housing_secured="否" if "secured_result" in kw else "是")],
            [ha(**{**RENOVATED, **kw})], as_of=as_of)
    assert rules(t) == expected


def test_renovation_overdue_only_for_registered_poor():
    t = run([ps()], [ha(), ha(**{**RENOVATED, "archive_no": "A9", "householder_id": ID_B, "target_type": "低保户",
                                  "completion_date": "2020-07-05", "acceptance_date": ""})])
    assert rules(t) == []


@pytest.mark.parametrize("ps_kw, ha_kw, expected", [
    (dict(exit_status="已脱贫", housing_secured="否"), dict(secured_result="未保障", guarantee_method="其他"),
     ["EXITED_UNSECURED"]),
    (dict(exit_status="1", housing_secured="是"), dict(secured_result="未保障", guarantee_method="其他"),
     ["EXITED_UNSECURED", "SECURED_CONFLICT"]),
    (dict(exit_status="未脱贫", housing_secured="否"), dict(secured_result="未保障", guarantee_method="其他"), []),
    (dict(exit_status="脱贫享受政策"), dict(**{**RENOVATED, "completion_date": "2020-08-15", "acceptance_date": ""}),
     ["DATE_ANOMALY", "EXITED_UNSECURED", "RENOVATION_OVERDUE"]),
    (dict(exit_status="已脱贫"), dict(), []),
])
def test_exited_unsecured(ps_kw, ha_kw, expected):
    assert rules(run([ps(**ps_kw)], [ha(**ha_kw)])) == expected


@pytest.mark.parametrize("kw, field", [
    (dict(householder_name="张山"), "householder_name"),
    (dict(household_size="4"), "household_size"),
    (dict(village_code="522425100299"), "village_code"),
])
def test_identity_conflict_one_row_per_field(kw, field):
    d = run([ps()], [ha(**kw)]).discrepancies
    assert d["rule"].tolist() == ["IDENTITY_CONFLICT"] and d["field"].tolist() == [field]


def test_traditional_and_spaced_names_are_no_identity_conflict():
    assert rules(run([ps()], [ha(householder_name="張 三")])) == []


@pytest.mark.parametrize("raw_id", ["", "5.22425E+17", "52242519800101001", "522425198001010019"])
def test_invalid_id(raw_id):
    d = run([ps(householder_id=raw_id)], [ha()]).discrepancies
    assert "INVALID_ID" in d["rule"].tolist()
    assert d.loc[d["rule"] == "INVALID_ID", "agency"].tolist() == ["ps"]


def test_legacy_15_digit_id_is_not_invalid():
    t = run([ps(householder_id=ps()["householder_id"][:6] + ps()["householder_id"][8:17])], [ha()])
    assert rules(t) == []


def test_duplicate_one_row_per_record_of_the_group():
    t = run([ps()], [ha(), ha(archive_no="A2")])
    d = t.discrepancies
    assert sorted(d.loc[d["rule"] == "DUPLICATE", "archive_no"].tolist()) == ["A1", "A2"]
    assert set(d["rule"]) == {"DUPLICATE"}
    assert t.matches["archive_no"].tolist() == ["A1", "A2"]  # both duplicates belong to the household


@pytest.mark.parametrize("kw, field", [
    (dict(start_date="2020-05-10", completion_date="2020-05-01"), "start_date>completion_date"),
    (dict(acceptance_date="2020-04-20"), "acceptance_date<completion_date"),
    (dict(acceptance_date="2020-09-01"), "acceptance_date>as_of"),
])
def test_date_anomaly(kw, field):
    d = run([ps(is_dilapidated="是", dilapidation_grade="C级")], [ha(**{**RENOVATED, **kw})]).discrepancies
    assert d["field"].tolist() == [field]


@pytest.mark.parametrize("subsidy, expected", [("", ["SUBSIDY_MISSING"]), ("0", ["SUBSIDY_MISSING"]), ("15000", [])])
def test_subsidy_missing(subsidy, expected):
    t = run([ps(is_dilapidated="是", dilapidation_grade="C级")], [ha(**{**RENOVATED, "subsidy_yuan": subsidy})])
    assert rules(t) == expected


def test_householder_changed_is_matched_through_the_roster():
    members = [member(), member(name="李梅", id_no=ID_B, relation="配偶", sex="女"),
               member(name="张小", id_no=ID_C, relation="之子")]
    t = run([ps()], [ha(householder_name="李梅", householder_id=ID_B)], members)
    assert t.matches["method"].tolist() == ["member_id"]
    assert rules(t) == ["HOUSEHOLDER_CHANGED"]


def test_discrepancy_ids_are_stable_and_distinct():
    a = run([ps(housing_secured="否")], [ha(household_size="5")]).discrepancies
    b = run([ps(housing_secured="否")], [ha(household_size="5")]).discrepancies
    assert a["discrepancy_id"].tolist() == b["discrepancy_id"].tolist()
    assert a["discrepancy_id"].is_unique


def test_messages_are_bilingual_and_name_the_values():
    d = run([ps(housing_secured="否")], [ha()]).discrepancies
    assert "否" in d["message"][0] and "鉴定安全" in d["message"][0]
    assert "housing-security" in d["message_en"][0]
    assert HA["archive_no"] == d["archive_no"][0]


def test_review_match_rows_come_from_the_review_band():
    import pandas as pd

    from reconcile.discrepancies import classify
    from reconcile.rules import RuleContext
    from tests.reconcile.builders import ha as ha_row
    from tests.reconcile.builders import ps as ps_row
    from tests.reconcile.builders import raw_frame
    from reconcile import pipeline
    from schemas import load_source_specs

    canon = pipeline.normalize({"ps_households": raw_frame([ps_row()]), "ha_archive": raw_frame([ha_row(
        householder_id="", household_size="5")])}, load_source_specs(), pipeline.Settings(as_of=date(2020, 7, 31)))
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ("household_no", "archive_no", "agreement")})
    review = pd.DataFrame({"household_no": ["H1"], "archive_no": ["A1"], "agreement": ["id?,name=,village=,size≠"]})
    matches = pd.DataFrame({c: pd.Series(dtype="string") for c in ("household_no", "archive_no", "method",
                                                                    "member_name")})
    with_review = classify(RuleContext.build(canon.ps, canon.ha, canon.members, matches, review,
                                             date(2020, 7, 31), date(2020, 6, 30)))
    without = classify(RuleContext.build(canon.ps, canon.ha, canon.members, matches, empty,
                                         date(2020, 7, 31), date(2020, 6, 30)))
    row = with_review[with_review["rule"] == "REVIEW_MATCH"]
    assert row[["household_no", "archive_no", "field"]].values.tolist() == [["H1", "A1", "id?,name=,village=,size≠"]]
    assert "REVIEW_MATCH" not in set(without["rule"])


def test_unified_says_where_each_value_came_from():
    t = run([ps(), ps(household_no="H2", householder_id=ID_B)], [ha(), ha(archive_no="A3", householder_id=ID_C)])
    u = t.unified.set_index(t.unified["household_no"].fillna("HA:" + t.unified["archive_no"]))
    assert u.loc["H1", ["poverty_source", "housing_source", "renovation_source"]].tolist() == ["ps", "ha", "ha"]
    assert u.loc["H2", "housing_source"] == "ps" and pd.isna(u.loc["H2", "renovation_source"])
    assert pd.isna(u.loc["HA:A3", "poverty_source"]) and u.loc["HA:A3", "identity_source"] == "ha"


@pytest.mark.parametrize("ps_kw, ha_kw, expected", [
    (dict(), dict(household_size="5"), "已匹配记录的家庭人口数／家庭人口不一致"),
    (dict(), dict(village_code="522425100299"), "已匹配记录的村级区划代码不一致"),
    (dict(householder_id="522425198001010019"), dict(), "户主身份证号码无效（证件号码校验位错误）"),
])
def test_chinese_messages_name_fields_by_the_agencies_headers(ps_kw, ha_kw, expected):
    """Issue 17: an analyst reads 家庭人口数, never household_size, in a Chinese message."""
    import re

    d = run([ps(**ps_kw)], [ha(**ha_kw)]).discrepancies
    assert any(m.startswith(expected) for m in d["message"]), d["message"].tolist()
    assert not d["message"].str.contains(r"[a-z]+_[a-z]+", flags=re.ASCII).any(), d["message"].tolist()
    assert d["message_en"].str.contains(r"household_size|village_code|check_digit").any()  # English keeps codes


def test_date_anomaly_message_says_which_dates_in_chinese():
    d = run([ps(is_dilapidated="是", dilapidation_grade="C级")],
            [ha(**{**RENOVATED, "start_date": "2020-05-10", "completion_date": "2020-05-01"})]).discrepancies
    assert d["message"].tolist() == ["改造日期异常（开工日期晚于竣工日期）"]
