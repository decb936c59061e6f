"""Issue 15: the three ways true pairs were missed, and the look-alikes that must still lose.

The cases are added to a generated world, so the model is estimated as in a real run.
"""
from datetime import date

import pandas as pd
import pytest

from reconcile import pipeline
from tests.reconcile.builders import make_id

V = "522425100201"


def _ps(no, name, ident, size="3"):
    return {"household_no": no, "village_code": V, "householder_name": name, "householder_id": ident,
            "household_size": size, "exit_status": "未脱贫", "housing_secured": "是", "is_relocated": "否"}


def _ha(no, name, ident, size="3"):
    return {"archive_no": no, "village_code": V, "householder_name": name, "householder_id": ident,
            "household_size": size, "target_type": "建档立卡贫困户", "guarantee_method": "原住房鉴定安全",
            "secured_result": "鉴定安全"}


def typo(ident: str, pos: int = 10) -> str:
    return ident[:pos] + str((int(ident[pos]) + 3) % 10) + ident[pos + 1:]


def excel(ident: str) -> str:
    """An ID as Excel's General format shows it: 14 significant digits, trailing zeros dropped."""
    mantissa, exp = f"{float(ident):.13E}".split("E")
    return mantissa.rstrip("0").rstrip(".") + "E+" + str(int(exp))


COPY = make_id("52242519710203041")
HUSBAND, WIFE = make_id("52242519600606031"), make_id("52242519620707042")
# Rounded to 14 digits the 14th digit carries (…0811|7… -> …0812): no prefix of the PS ID.
EXCEL = make_id("52242519760811731")
SOLO, OTHER_SOLO = make_id("52242519830415021"), make_id("52242519840916021")
HEAD, SPOUSE = make_id("52242519660101071"), make_id("52242519680302082")
BROTHER, BROTHER_2 = make_id("52242519700101011"), make_id("52242519720505013")

PS_ROWS = [_ps("IS-C", "陈国平", COPY), _ps("IS-H", "王建", HUSBAND), _ps("IS-E", "杨志明", EXCEL),
           _ps("IS-N", "孙丽", SOLO), _ps("IS-M", "周强", HEAD, "2"), _ps("IS-B", "黄永华", BROTHER)]
HA_ROWS = [_ha("IS-C1", "陈国平", COPY), _ha("IS-C2", "陈国平", ""),   # an archive entered twice, ID lost
           _ha("IS-C3", "陈国平", typo(COPY)),                          # ... and a third time with a typo
           _ha("IS-C4", "陈国平", make_id("52242519900101051")),        # a same-name neighbour, own valid ID
           _ha("IS-H1", "王建", HUSBAND), _ha("IS-H2", "刘丽", typo(WIFE), "1"),  # the wife's own record
           _ha("IS-E1", "杨志明", excel(EXCEL)),                        # Excel turned the ID into a number
           _ha("IS-N1", "孙丽", excel(OTHER_SOLO)),                     # another 孙丽, her own ID mangled
           _ha("IS-M1", "吴燕", typo(SPOUSE, 12), "2"),                 # householder changed, ID typo
           _ha("IS-B1", "黄永军", excel(BROTHER_2))]                    # the brother, ID mangled
MEMBERS = [{"household_no": "IS-H", "name": "王建", "id_no": HUSBAND, "relation": "户主"},
           {"household_no": "IS-H", "name": "刘丽", "id_no": WIFE, "relation": "配偶"},
           {"household_no": "IS-M", "name": "周强", "id_no": HEAD, "relation": "户主"},
           {"household_no": "IS-M", "name": "吴燕", "id_no": SPOUSE, "relation": "配偶"}]


@pytest.fixture(scope="module")
def result(world_raw, specs):
    raw = {k: v.copy() for k, v in world_raw.items()}
    for name, rows in (("ps_households", PS_ROWS), ("ha_archive", HA_ROWS), ("ps_members", MEMBERS)):
        extra = pd.DataFrame(rows, dtype="string").assign(_row=range(95000, 95000 + len(rows)))
        raw[name] = pd.concat([raw[name], extra], ignore_index=True)
    return pipeline.run(raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))


def ours(m):
    return m[m["archive_no"].str.startswith("IS-") | m["household_no"].str.startswith("IS-")]


def pairs(m):
    return sorted(zip(ours(m)["archive_no"], ours(m)["household_no"]))


def test_second_copies_of_a_matched_archive_are_matched_to_its_household(result):
    assert {("IS-C1", "IS-C"), ("IS-C2", "IS-C"), ("IS-C3", "IS-C")} <= set(pairs(result.matches))


def test_same_name_neighbour_and_the_spouse_do_not_attach_to_a_matched_household(result):
    assert "IS-C4" not in set(result.matches["archive_no"])
    assert ("IS-H1", "IS-H") in pairs(result.matches)
    assert "IS-H2" not in set(result.matches["archive_no"])


def test_excel_number_is_compared_at_the_precision_it_kept(result):
    assert ("IS-E1", "IS-E") in pairs(result.matches)
    review = result.discrepancies[result.discrepancies["rule"] == "REVIEW_MATCH"]
    assert "IS-E1" not in set(review["archive_no"].dropna())


def test_excel_numbers_of_other_people_still_lose(result):
    assert "IS-N1" not in set(result.matches["archive_no"])
    assert "IS-N" not in set(result.matches["household_no"])
    assert "IS-B1" not in set(result.matches["archive_no"])


def test_changed_householder_with_an_id_typo_is_found_through_the_roster(result):
    m = ours(result.matches).set_index("archive_no")
    assert m.loc["IS-M1", "household_no"] == "IS-M"
    assert m.loc["IS-M1", "method"] == "member_id"
    changed = result.discrepancies[result.discrepancies["rule"] == "HOUSEHOLDER_CHANGED"]
    assert "IS-M1" in set(changed["archive_no"])


def test_every_scored_match_is_explained_field_by_field(result):
    m = result.matches
    scored = m[m["method"].isin(["fuzzy", "id_near"])]
    assert len(scored) and scored["explanation"].notna().all() and scored["weights"].notna().all()
    e = m.set_index("archive_no").loc["IS-E1", "explanation"]
    assert "姓名相同 +" in e and "村相同 +" in e and "身份证号" in e
