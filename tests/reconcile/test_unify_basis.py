"""``housing_secured_basis``, the headline of the unified table: every basis it can take.

One small run holds one household per case, each with its own ID so the match is exact;
the expected basis, status and source are written out per household.
"""
from __future__ import annotations

import pandas as pd
import pytest

from tests.reconcile.builders import RENOVATED, ha, make_id, ps, run

RELOCATED = dict(guarantee_method="易地扶贫搬迁", secured_result="保障安全", danger_grade="", task_year="",
                 start_date="", completion_date="", acceptance_date="")
# household_no: (PS changes or None for no PS record, HA changes or None for no HA record,
#                expected basis, expected housing_secured (None for NA), expected housing_source)
CASES = {
    "H01": ({}, {}, "ha_determination", True, "ha"),  # both say secured
    "H02": ({"housing_secured": "否"}, {"secured_result": "未保障"}, "ha_determination", False, "ha"),
    "H03": ({"housing_secured": "否"}, {}, "unresolved_conflict", None, "ps,ha"),
    "H04": ({"housing_secured": "是"}, {"secured_result": "未保障"}, "unresolved_conflict", None, "ps,ha"),
    "H05": ({"housing_secured": "否"}, RELOCATED, "relocation", True, "ha"),  # relocation settles it
    "H06": ({"housing_secured": "是"}, RELOCATED, "relocation", True, "ha"),
    "H07": ({"housing_secured": "否"}, RENOVATED, "completed_renovation", True, "ha"),  # completed by as_of
    # renovation completed only after as_of settles nothing: the conflict stays open
    "H08": ({"housing_secured": "否"}, {**RENOVATED, "completion_date": "2020-08-10",
                                       "acceptance_date": ""}, "unresolved_conflict", None, "ps,ha"),
    "H09": ({"housing_secured": "是"}, None, "ps_only", True, "ps"),  # no HA record: the PS flag
    "H10": ({"housing_secured": "否"}, None, "ps_only", False, "ps"),
    "H11": ({"housing_secured": ""}, None, "undetermined", None, None),  # nobody says anything
    "H12": ({"housing_secured": "否"}, {"secured_result": ""}, "ps_only", False, "ps"),  # HA has no result
    "H13": ({"housing_secured": ""}, {"secured_result": ""}, "undetermined", None, None),
    "H14": ({"housing_secured": ""}, {}, "ha_determination", True, "ha"),  # PS silent: HA decides
    "HA15": (None, {}, "ha_determination", True, "ha"),  # HA-only poor household (PS_MISSING)
    "HA16": (None, {"secured_result": ""}, "undetermined", None, None),
}
NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"


@pytest.fixture(scope="module")
def unified() -> pd.DataFrame:
    ps_rows, ha_rows = [], []
    for i, (key, (ps_kw, ha_kw, *_)) in enumerate(CASES.items(), start=1):
        ident = dict(householder_id=make_id(f"5224251980{i:02d}0{i:02d}{i:03d}"[:17]),
                     householder_name=NAMES[i - 1] + "明", village_code=f"522425100{200 + i}")
        if ps_kw is not None:
            ps_rows.append(ps(household_no=key, **ident, **ps_kw))
        if ha_kw is not None:
            ha_rows.append(ha(archive_no=f"A{i:02d}", **ident, **ha_kw))
    t = run(ps_rows, ha_rows)
    return t.unified.assign(key=t.unified["household_no"].fillna("HA" + t.unified["archive_no"].str[1:]))


def test_every_basis_value_is_covered():
    assert {c[2] for c in CASES.values()} == {"ha_determination", "relocation", "completed_renovation",
                                              "unresolved_conflict", "ps_only", "undetermined"}


def test_one_row_per_case(unified):
    assert sorted(unified["key"]) == sorted(CASES)


@pytest.mark.parametrize("key", list(CASES))
def test_basis_status_and_source(unified, key):
    _, ha_kw, basis, secured, source = CASES[key]
    row = unified.set_index("key").loc[key]
    assert bool(row["in_ha"]) == (ha_kw is not None)
    assert row["housing_secured_basis"] == basis
    if secured is None:
        assert pd.isna(row["housing_secured"])
    else:
        assert not pd.isna(row["housing_secured"]) and bool(row["housing_secured"]) is secured
    assert (None if pd.isna(row["housing_source"]) else row["housing_source"]) == source


def test_basis_is_never_missing(unified):
    assert unified["housing_secured_basis"].notna().all()
