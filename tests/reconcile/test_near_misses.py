"""Records that look alike but are not the same household must never be merged.

The cases are added to a generated world, so the model is estimated as in a real run.
"""
from datetime import date

import pandas as pd
import pytest

from reconcile import pipeline
from tests.reconcile.builders import make_id

V = "522425100201"


def _ps(no, name, ident, size="4"):
    return {"_row": 90000, "household_no": no, "village_code": V, "householder_name": name, "householder_id": ident,
            "household_size": size, "exit_status": "未脱贫", "housing_secured": "是", "is_relocated": "否"}


def _ha(no, name, ident, size="4", target="建档立卡贫困户"):
    return {"_row": 90000, "archive_no": no, "village_code": V, "householder_name": name, "householder_id": ident,
            "household_size": size, "target_type": target, "guarantee_method": "原住房鉴定安全", "secured_result": "鉴定安全"}


BROTHER_A, BROTHER_B = make_id("52242519700101011"), make_id("52242519720505013")
NEIGHBOUR_1, NEIGHBOUR_2, STRANGER = (make_id("52242519650303015"), make_id("52242519680808017"),
                                      make_id("52242519690909019"))
HUSBAND, WIFE = make_id("52242519600606031"), make_id("52242519620707042")
NEXT_DOOR = make_id("52242519580101051")

PS_ROWS = [_ps("NM-A", "张建国", BROTHER_A), _ps("NM-B", "张建华", BROTHER_B),
           _ps("NM-N1", "李明", NEIGHBOUR_1), _ps("NM-N2", "李明", NEIGHBOUR_2),
           _ps("NM-H", "王刚", HUSBAND), _ps("NM-X", "赵志强", make_id("52242519550505061"))]
HA_ROWS = [_ha("NM-1", "张建华", ""),                       # brother B, ID missing
           _ha("NM-2", "张建军", ""),                       # a third brother, not registered poor in PS
           _ha("NM-3", "李明", NEIGHBOUR_1),                # neighbour 1, exact
           _ha("NM-4", "李明", STRANGER),                   # a third 李明 with his own valid ID
           _ha("NM-5", "王刚", HUSBAND),                    # husband, exact
           _ha("NM-6", "刘芳", WIFE, "1", "低保户"),          # the wife's own record in another group
           _ha("NM-7", "赵志刚", NEXT_DOOR, "4", "低保户")]   # another group next door, similar name
MEMBERS = [{"_row": 90000, "household_no": "NM-H", "name": "王刚", "id_no": HUSBAND, "relation": "户主"},
           {"_row": 90001, "household_no": "NM-H", "name": "刘芳", "id_no": WIFE, "relation": "配偶"}]


@pytest.fixture(scope="module")
def matches(world_raw, specs):
    raw = {k: v.copy() for k, v in world_raw.items()}
    for name, rows in (("ps_households", PS_ROWS), ("ha_archive", HA_ROWS), ("ps_members", MEMBERS)):
        extra = pd.DataFrame(rows).assign(_row=range(90000, 90000 + len(rows)))  # lines after the file's own
        raw[name] = pd.concat([raw[name], extra], ignore_index=True)
    m = pipeline.run(raw, specs, pipeline.Settings(as_of=date(2020, 7, 31))).matches
    return m[m["archive_no"].str.startswith("NM-") | m["household_no"].str.startswith("NM-")]


def pairs(m):
    return sorted(zip(m["archive_no"], m["household_no"]))


def test_brother_with_missing_id_is_matched_to_himself_only(matches):
    assert ("NM-1", "NM-B") in pairs(matches)
    assert "NM-2" not in set(matches["archive_no"])  # 张建军 is neither 张建国 nor 张建华


def test_same_name_neighbours_are_not_merged(matches):
    assert ("NM-3", "NM-N1") in pairs(matches)
    assert "NM-4" not in set(matches["archive_no"])
    assert "NM-N2" not in set(matches["household_no"])


def test_spouse_with_her_own_record_is_not_folded_into_the_household(matches):
    assert ("NM-5", "NM-H") in pairs(matches)
    assert "NM-6" not in set(matches["archive_no"])


def test_other_priority_group_next_door_is_not_matched(matches):
    assert "NM-7" not in set(matches["archive_no"])
    assert "NM-X" not in set(matches["household_no"])
