"""Typed canonical frames and quarantine: nothing dropped, every reason named."""
import pandas as pd
import pytest

from reconcile.parse import parse_source
from tests.reconcile.builders import HA, PS, raw_frame, run


@pytest.fixture
def spec(specs):
    return specs["ps_households"]


def test_rows_in_equal_rows_used_plus_quarantined(spec):
    rows = [PS, {**PS, "household_no": "H2", "household_size": "三"}, {**PS, "household_no": "H3",
            "exit_status": "已经脱贫了"}, {**PS, "household_no": ""}, {**PS, "household_no": "H2"}]
    p = parse_source(raw_frame(rows), spec, source="ps_households")
    assert len(p.frame) + len(p.quarantine) == len(rows)
    q = p.quarantine.set_index("row_number")
    assert q.loc[3, "column"] == "household_size" and "1到20" in q.loc[3, "reason"]
    assert q.loc[4, "column"] == "exit_status" and q.loc[4, "value"] == "已经脱贫了"
    assert q.loc[5, "problem"] == "key"
    assert q.loc[6, "problem"] == "key"  # H2 again: the second occurrence is quarantined


def test_every_spelling_of_a_vocabulary_maps_to_its_canonical_value(spec):
    spellings = ["未脱贫", "返贫", "已脱贫", "已脱贫（享受政策）", "已脱贫(不再享受政策)", "脱贫享受政策", "脱贫不享受政策",
                 "0", "1", "3", "4"]
    rows = [{**PS, "household_no": f"H{i}", "exit_status": s} for i, s in enumerate(spellings)]
    p = parse_source(raw_frame(rows), spec, source="ps_households")
    assert p.quarantine.empty
    assert p.frame["exit_status"].tolist() == ["not_exited", "not_exited"] + ["exited"] * 5 + \
        ["not_exited", "exited", "not_exited", "exited"]


def test_unknown_columns_are_kept(spec):
    p = parse_source(raw_frame([{**PS, "extra:备注": "x"}]), spec, source="ps_households")
    assert p.frame["extra:备注"].tolist() == ["x"]


def test_quarantined_rows_list_every_reason():
    t = run([{**PS, "household_size": "0", "village_code": "5224"}], [HA])
    q = t.quarantine
    assert len(q) == 1 and "village_code" in q["reason"][0] and "household_size" in q["reason"][0]


def test_ha_dates_and_money_typed():
    t = run([PS], [{**HA, "completion_date": "2020年5月31日", "subsidy_yuan": "20,000元"}])
    assert t.unified["completion_date"][0] == pd.Timestamp("2020-05-31")
    assert t.unified["subsidy_yuan"][0] == 20000


# --- issue 14: hostile cells never abort a run ---------------------------------------------

import re
from datetime import date

from reconcile import pipeline
from reconcile.parse import QUARANTINE_COLUMNS
from schemas.gate import full_id_pattern
from tests.reconcile.builders import ID_A, ID_B, MEMBER

FULL_ID = re.compile(full_id_pattern())
SETTINGS = pipeline.Settings(as_of=date(2020, 7, 31))


def _normalize(ps_rows, ha_rows, member_rows=None, rejected=None):
    raw = {"ps_households": raw_frame(ps_rows), "ha_archive": raw_frame(ha_rows)}
    if member_rows is not None:
        raw["ps_members"] = raw_frame(member_rows)
    from schemas import load_source_specs

    return pipeline.normalize(raw, load_source_specs(), SETTINGS, rejected=rejected)


def _accounts(canon, rows_in):
    used = {"ps_households": len(canon.ps), "ha_archive": len(canon.ha), "ps_members": len(canon.members)}
    quarantined = canon.quarantine["source"].value_counts()
    for source, n in rows_in.items():
        assert n == used[source] + quarantined.get(source, 0), source


def test_rejected_rows_of_a_reader_become_quarantine_rows_of_the_one_shape():
    text = f"H9,522425100201,李四,{ID_B},3,一般贫困户,2016,未脱贫,,否,,否,是,多余,多余"
    canon = _normalize([PS], [HA], rejected={"ps_households": [
        {"row": 7, "reason": "15 fields, header has 13", "text": text},
        {"row": 4, "reason": "14 fields, header has 13", "text": "x,y", "column": "household_no"}]})
    q = canon.quarantine
    assert list(q.columns[:len(QUARANTINE_COLUMNS)]) == QUARANTINE_COLUMNS
    assert q["row_number"].tolist() == [4, 7]  # sorted like the rest
    assert q["problem"].tolist() == ["malformed_row", "malformed_row"]
    assert q["county_code"].isna().all()
    assert "15 fields" in q["reason"][1] and q["column"][0] == "household_no" and pd.isna(q["column"][1])
    assert ID_B not in q["value"][1] and ID_B[:6] + "********" + ID_B[-4:] in q["value"][1]
    assert canon.rows_read["ps_households"] == 3
    _accounts(canon, {"ps_households": 3, "ha_archive": 1})


def _one_row_per_case(cases):
    """A PS export and an HA export with one clean row each, then one row per (source,
    column, value) case; returns them and the expected quarantine (source, row, column)."""
    ps_rows, ha_rows, expected = [PS], [HA], []
    for i, (source, column, value) in enumerate(cases):
        rows, key = (ps_rows, "household_no") if source == "ps_households" else (ha_rows, "archive_no")
        rows.append({**(PS if rows is ps_rows else HA), key: f"X{i}", "householder_id": ID_B, column: value})
        expected.append([source, len(rows) + 1, column])
    return ps_rows, ha_rows, sorted(expected)


EMPTY_REQUIRED = [(source, column, value)
                  for source, column in [("ps_households", "exit_status"), ("ha_archive", "target_type"),
                                         ("ps_households", "village_code"), ("ha_archive", "village_code")]
                  for value in ["", "   ", None]]


def test_an_empty_required_value_quarantines_its_row_with_column_and_reason():
    ps_rows, ha_rows, expected = _one_row_per_case(EMPTY_REQUIRED)
    canon = _normalize(ps_rows, ha_rows)  # no pandera SchemaError
    q = canon.quarantine
    assert q[["source", "row_number", "column"]].values.tolist() == expected
    assert q.loc[q["column"].isin(["exit_status", "target_type"]), "reason"].str.contains("不能为空").all()
    _accounts(canon, {"ps_households": len(ps_rows), "ha_archive": len(ha_rows)})


def test_required_values_are_read_from_the_canonical_models_not_a_list():
    from schemas.frames import not_nullable

    assert {"exit_status", "household_no", "village_code"} <= not_nullable("ps_households")
    assert {"target_type", "archive_no", "village_code"} <= not_nullable("ha_archive")
    assert "householder_id" not in not_nullable("ps_households")  # an invalid ID is a discrepancy


HOSTILE = [
    ("ps_households", "household_size", v) for v in
    ["1e400", "inf", "-inf", "nan", "NaN", "-3", "99999999999999999999999", "1e308", "\x00", "3\x00"]
] + [
    ("ha_archive", "subsidy_yuan", v) for v in ["inf", "1e400", "-inf", "nan", "-1", "1e308", "Infinity", "2\x00"]
] + [
    ("ha_archive", "completion_date", v) for v in
    ["0000-00-00", "9999-99-99", "2020-02-30", "99999-01-01", "0001-01-01", "1000-01-01", "99991231",
     "2020-05-01\x00", "9" * 10_000]
] + [
    ("ha_archive", "task_year", v) for v in ["99999", "-2020", "2020.5", "1e4"]
] + [
    ("ps_households", "household_no", "H\x00"), ("ps_households", "household_no", "H" * 10_000),
    ("ps_households", "householder_name", "张\x00三"), ("ps_households", "householder_id", ID_A[:9] + "\x07" + ID_A[10:]),
    ("ps_households", "phone", "139\x1b[2J"), ("ha_archive", "archive_no", "A" * 65),
    ("ha_archive", "village_name", "村\x0c"), ("ha_archive", "householder_name", "\x00"),
]


def test_an_unreadable_value_in_any_column_is_quarantined_with_its_column():
    ps_rows, ha_rows, expected = _one_row_per_case(HOSTILE)
    canon = _normalize(ps_rows, ha_rows)
    q = canon.quarantine
    assert q[["source", "row_number", "column"]].values.tolist() == expected
    assert q["reason"].str.len().gt(0).all() and q["problem"].str.len().gt(0).all()
    assert q["value"].str.len().max() <= 200 and not q["value"].str.contains(r"[\x00-\x1f]").any()
    assert q.loc[q["value"].str.contains("\\x00", regex=False), "column"].nunique() > 3  # shown, escaped
    _accounts(canon, {"ps_households": len(ps_rows), "ha_archive": len(ha_rows)})


def test_quarantine_never_holds_a_full_id():
    canon = _normalize([PS, {**PS, "household_no": "H2", "household_size": ID_B},
                        {**PS, "household_no": ID_B, "exit_status": f"户主{ID_B}"}], [HA],
                       member_rows=[MEMBER, {**MEMBER, "household_no": "H404", "id_no": ID_B}])
    q = canon.quarantine
    assert len(q) == 3
    for col in QUARANTINE_COLUMNS:
        assert not q[col].astype("string").str.contains(FULL_ID.pattern, regex=True).fillna(False).any(), col


def test_the_quarantine_columns_are_the_published_models(spec):
    """Declared once, in the pandera Quarantine model: what parse writes is what the model checks."""
    from reconcile.parse import finish_quarantine, rejected_quarantine
    from schemas.published import Quarantine

    assert QUARANTINE_COLUMNS == list(Quarantine.to_schema().columns)
    parsed = parse_source(raw_frame([PS, {**PS, "household_no": "H2", "household_size": "三"}]), spec,
                          source="ps_households")
    q = finish_quarantine([parsed.quarantine, rejected_quarantine(
        {"ha_archive": [{"row": 9, "reason": "3 fields, header has 4", "text": "a b c"}]})])
    assert list(q.columns) == QUARANTINE_COLUMNS and len(q) == 2
    Quarantine.validate(q)


def test_a_stage_quarantining_rows_names_only_quarantine_columns():
    from reconcile.parse import quarantine_frame

    q = quarantine_frame(source="ps_members", row_number=pd.Series([7, 9]), problem="orphan", reason="r")
    assert list(q.columns) == QUARANTINE_COLUMNS and q["county_code"].isna().all() and len(q) == 2
    with pytest.raises(ValueError, match="no quarantine column row"):
        quarantine_frame(source="ps_members", row=pd.Series([7]))
