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
