"""Comparison levels: the order schemas/matching.yaml declares is the order compare.py computes."""
import pandas as pd
import pytest

from reconcile import compare
from schemas.config import load_matching_settings
from tests.reconcile.builders import make_id

A = make_id("52242519800101001")


def test_yaml_levels_are_the_levels_compare_computes():
    declared = load_matching_settings()["levels"]
    assert declared == {f: list(v) for f, v in compare.LEVELS.items()}
    assert set(compare.LEVEL_TEXT) == set(declared)
    for f, names in declared.items():
        assert len(compare.LEVEL_TEXT[f]) == len(names), f


def _swap(s, i):
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def _level(a, b):
    return compare.LEVELS["id"][int(compare.id_levels(pd.Series([a]), pd.Series([b]))[0])]


@pytest.mark.parametrize("other, level", [
    (A[:10] + "9" + A[11:], "near"),                       # one substitution
    (_swap(A, 14), "near"),                                # one adjacent swap
    ("52242519800101", "excel"),                           # digits Excel kept (rounded to 14)
    ("52242519800", "missing"),                            # too few digits kept to tell
    (A[:14] + "9999", "birth_region"),                     # same region and birth date, other sequence
    ("520102" + A[6:14] + "0017", "birth_date"),           # same birth date elsewhere
    ("", "missing"),
    (make_id("52242519811212001"), "different"),
])
def test_id_levels_in_declared_order(other, level):
    assert _level(A, other) == level
    assert _level(other, A) == level


def test_excel_digits_agree_once_rounded_alike():
    ident = make_id("52242519760811731")        # 14 digits rounded: ...0812 (carry)
    assert _level(ident, "52242519760812") == "excel"
    assert _level(ident, "52242519760811") == "different"
    assert _level(ident, "5224251976081") == "excel"   # 13 digits: a trailing zero dropped would look so
    assert _level(make_id("52242519760811331"), "52242519760811") == "excel"
