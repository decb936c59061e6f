import pandas as pd
import pytest

from reconcile.ids import check_char, mask_ids, normalize_ids

VALID = "522425198803120014"  # check digit computed by GB 11643


def test_check_char_matches_stdnum():
    from stdnum.cn import ric

    ids = pd.Series(["11010519491231002", "52242519880312001", "44030119900101123"])
    full = ids + check_char(ids)
    assert all(ric.is_valid(x) for x in full)


@pytest.mark.parametrize("spelling", [
    VALID, f" {VALID} ", f"'{VALID}", "５２２４２５１９８８０３１２００１４", "5224 2519 8803 1200 14",
])
def test_spellings_of_one_id_normalize_to_it(spelling):
    out = normalize_ids(pd.Series([spelling]))
    assert out["id"][0] == VALID and out["valid"][0]


def test_lowercase_x_is_the_same_id():
    stem = "11010519491231002"
    x_id = stem + check_char(pd.Series([stem]))[0]
    assert x_id.endswith("X")
    out = normalize_ids(pd.Series([x_id.lower()]))
    assert out["valid"][0] and out["id"][0] == x_id


def test_legacy_15_digit_id_is_upgraded_and_valid():
    out = normalize_ids(pd.Series(["522425880312001"]))
    assert out["valid"][0]
    assert out["id"][0] == VALID


@pytest.mark.parametrize("raw, problem", [
    ("", "empty"),
    (None, "empty"),
    ("5.22425E+17", "excel_number"),
    ("5.2242519880312E+17", "excel_number"),
    ("522425198803120000.0", "excel_number"),
    ("52242519880312A014", "characters"),
    ("52242519880312001", "length"),
    ("999999198803120014", "region"),
    ("522425198802300014", "birth_date"),
    ("522425198803120015", "check_digit"),
    ("522425198803120041", "check_digit"),   # transposition of the last two
])
def test_each_invalid_id_says_why(raw, problem):
    out = normalize_ids(pd.Series([raw], dtype="object"))
    assert not out["valid"][0]
    assert out["problem"][0] == problem


def test_retired_county_code_is_still_valid():
    # 110103 崇文区 was abolished in 2010; people registered there keep their IDs.
    stem = "11010319700101001"
    out = normalize_ids(pd.Series([stem + check_char(pd.Series([stem]))[0]]))
    assert out["valid"][0]


def test_birth_after_as_of_is_impossible():
    stem = "52242520210101001"
    out = normalize_ids(pd.Series([stem + check_char(pd.Series([stem]))[0]]), latest_birth=pd.Timestamp("2020-07-31"))
    assert out["problem"][0] == "birth_date"


def test_mask_keeps_first_six_and_last_four():
    assert mask_ids(pd.Series([VALID]))[0] == "522425********0014"


def test_every_id_problem_is_one_the_schema_lists_and_has_a_chinese_label():
    from schemas.config import load_labels
    from schemas.frames import ID_PROBLEMS

    found = normalize_ids(pd.Series(["", "5.22425E+17", "52242519880312001Y", "5224251988", "999999198803120014",
                                     "522425198813120014", "522425198803120015", VALID]))["problem"]
    assert found.dropna().tolist() == list(ID_PROBLEMS)  # one of each, in the schema's order
    assert set(ID_PROBLEMS) <= set(load_labels()["field"])


def test_problems_tested_in_another_order_than_the_schema_lists_stop(monkeypatch):
    from reconcile import ids

    monkeypatch.setattr(ids, "ID_PROBLEMS", ("excel_number", "empty", *ids.ID_PROBLEMS[2:]))
    with pytest.raises(AssertionError, match="out of the order"):
        normalize_ids(pd.Series([VALID]))
