"""Property: masking a column (Arrow picks the values to rewrite, one pattern read once)
masks exactly as masking every value one by one would; no value the masker would change is
skipped, whatever its spelling (issue 20 made the column path one pass; an ID ending in a
full-width X had slipped through its pick)."""
from __future__ import annotations

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from reconcile.masking import mask_full_ids, mask_full_ids_in

ID = "52242519880312001X"
PIECES = st.sampled_from([ID, ID[:-1] + "Ｘ", ID[:-1] + "ｘ", "522425880312001", "５２２４２５", "5.22425198803E+17",
                          " ", "：", "甲", "X", "Ｘ", "0", "\n"])
VALUES = st.one_of(st.none(), st.lists(st.one_of(PIECES, st.text(alphabet="0123456789Xx ．", max_size=6)),
                                        max_size=5).map("".join))


@given(st.lists(VALUES, max_size=20))
@example(["身份证 52242519880312001Ｘ 有误"])
def test_a_column_is_masked_as_each_of_its_values(values):
    got = mask_full_ids_in(pd.Series(values, dtype="object")).tolist()
    assert got == [pd.NA if v is None else mask_full_ids(v) for v in values]


def test_what_is_not_part_of_an_id_is_kept_as_written():
    """Full-width digits and X are read as ASCII to find an ID; only the ID is rewritten
    (the review of issue 20's change: a column's full-width Ｘ alone had become X)."""
    cells = pd.Series(["Ｘ", "ｘ小明", "ＸＬ号 ５２２", "身份证52242519880312001Ｘ有误", "５２２４２５１９８８０３１２００１Ｘ，Ｘ"])
    assert mask_full_ids_in(cells).tolist() == ["Ｘ", "ｘ小明", "ＸＬ号 ５２２", "身份证522425********001X有误",
                                                "522425********001X，Ｘ"]
