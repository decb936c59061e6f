import pandas as pd

from reconcile.dates import bad_dates, parse_dates
from reconcile.names import clean_names, pinyin_keys


def test_traditional_spaces_fullwidth_and_dots_fold_to_one_name():
    raw = pd.Series(["張 偉", "张伟", "　张伟　", "阿依古丽•买买提", "阿依古丽・买买提"])
    out = clean_names(raw).tolist()
    assert out[:3] == ["张伟"] * 3
    assert out[3] == out[4] == "阿依古丽·买买提"


def test_homophones_share_a_pinyin_key_and_others_do_not():
    keys = pinyin_keys(pd.Series(["张伟", "章玮", "张华"]))
    assert keys[0] == keys[1] == "zhang wei"
    assert keys[2] != keys[0]


def test_every_date_spelling_parses_to_the_same_day():
    raw = pd.Series(["2020-05-31", "2020/5/31", "2020年5月31日", "20200531", "43982", "2020-05-31 00:00:00",
                     "２０２０－０５－３１"])
    assert parse_dates(raw).tolist() == [pd.Timestamp("2020-05-31")] * len(raw)


def test_impossible_and_unknown_dates_are_flagged_empty_is_not():
    raw = pd.Series(["2020-02-30", "31/05/2020", "", None, "next week", "2020-06-01"])
    parsed = parse_dates(raw)
    assert bad_dates(raw, parsed).tolist() == [True, True, False, False, True, False]
