"""Correction packages as frames: who must correct what, in their own terms."""
from schemas import load_source_specs
from reconcile.feedback import corrections
from tests.reconcile.builders import ID_A, ID_C, RENOVATED, ha, ps, run


def _packages(t):
    specs = load_source_specs()
    return corrections(t.discrepancies, specs, "ps"), corrections(t.discrepancies, specs, "ha")


def test_secured_conflict_proposes_the_ps_flag_the_archive_proves():
    t = run([ps(housing_secured="否", is_dilapidated="是", dilapidation_grade="C级")], [ha(**RENOVATED)])
    p, h = _packages(t)
    assert p[["户编号", "字段", "当前值", "建议值"]].values.tolist() == [["H1", "住房安全有保障", "否", "是"]]
    assert p["依据"].notna().all()
    assert h[["档案编号", "字段", "当前值"]].values.tolist() == [["A1", "住房安全有保障认定结果", "改造安全"]]
    assert h["建议值"].isna().all()


def test_invalid_id_gets_the_other_agencys_valid_id():
    bad = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    t = run([ps()], [ha(householder_id=bad, archive_no="A7")])
    _, h = _packages(t)
    row = h[h["rule"] == "INVALID_ID"]
    assert row[["档案编号", "字段", "当前值", "建议值"]].values.tolist() == [["A7", "身份证号码", bad, ID_A]]
    p, _ = _packages(t)
    assert "INVALID_ID" not in set(p["rule"])  # not the poverty office's record


def test_missing_determination_goes_to_the_housing_agency_only():
    t = run([ps()], [ha(archive_no="A9", householder_id=ID_C, householder_name="王五", target_type="低保户")])
    p, h = _packages(t)
    assert h[["rule", "户编号"]].values.tolist() == [["HA_MISSING", "H1"]]
    assert p.empty


def test_cleaned_records_keep_dates_numbers_and_ids_typed():
    from reconcile.feedback import cleaned_records
    from reconcile import pipeline
    from schemas import load_source_specs
    from tests.reconcile.builders import raw_frame

    specs = load_source_specs()
    raw = {"ps_households": raw_frame([ps()]), "ha_archive": raw_frame([ha(**RENOVATED)])}
    canon = pipeline.normalize(raw, specs, pipeline.Settings(as_of=__import__("datetime").date(2020, 7, 31)))
    t = run([ps()], [ha(**RENOVATED)])
    package = corrections(t.discrepancies, specs, "ha")
    c = cleaned_records(canon.ha, specs["ha_archive"], package, "ha", specs)
    assert str(c["竣工日期"].dtype).startswith("datetime64") and c["竣工日期"][0].strftime("%Y-%m-%d") == "2020-05-01"
    assert c["补助资金(元)"][0] == 20000 and c["补助资金(元)"].dtype.kind == "f"
    assert c["家庭人口"][0] == 3 and c["家庭人口"].dtype.kind in "iu"
    assert c["身份证号码"][0] == ID_A and c["村级区划代码"][0] == "522425100201"


def test_the_basis_of_a_proposal_is_the_catalogs():
    import pandas as pd

    from schemas import load_catalog

    d = pd.DataFrame({"discrepancy_id": ["0123456789abcdef", "fedcba9876543210"],
                      "rule": ["TARGET_TYPE_CONFLICT", "METHOD_CONFLICT"], "severity": ["medium", "medium"],
                      "owner": ["ha", "both"], "agency": ["", ""], "household_no": ["H1", "H2"],
                      "archive_no": ["A1", "A2"], "county_code": ["522425"] * 2,
                      "field": ["target_type", "is_relocated"], "ps_value": [None, "否"],
                      "ha_value": ["低保户", "易地扶贫搬迁"], "suggested_value": ["建档立卡贫困户", None],
                      "message": ["…"] * 2, "action": ["…"] * 2})
    c = corrections(d, load_source_specs(), "ha").set_index("rule")
    assert c.loc["TARGET_TYPE_CONFLICT", "依据"] == load_catalog()["TARGET_TYPE_CONFLICT"].basis_zh
    assert pd.isna(c.loc["METHOD_CONFLICT", "依据"])  # nothing proposed: no basis
