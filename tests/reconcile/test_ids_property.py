"""The byte path of ``normalize_ids`` (IDs already 17 ASCII digits and a digit or X) and
its text path give every value the same answer: id, valid and problem, in the input's
order and index, whatever the mix of spellings around it."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconcile.ids import WEIGHTS, _normalize_text, check_char, normalize_ids
from schemas.regions import county_codes

COUNTIES = sorted(county_codes())[:50]


def _check(first17: str) -> str:
    """GB 11643's check character, in plain Python: nothing but hypothesis runs while it draws."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS.tolist())) % 11]


def _with_check(first17: str, how: str) -> str:
    right = _check(first17)
    return first17 + {"right": right, "wrong": str((int(right) + 1) % 10) if right != "X" else "0",
                      "x": "X", "lower": right.lower()}[how]


@st.composite
def id_cells(draw) -> str | None:
    region = draw(st.one_of(st.sampled_from(COUNTIES), st.from_regex(r"[0-9]{6}", fullmatch=True)))
    year = draw(st.integers(1600, 2400))
    born = f"{year:04d}{draw(st.integers(0, 13)):02d}{draw(st.integers(0, 32)):02d}"
    first17 = region + born + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    cell = _with_check(first17, draw(st.sampled_from(["right", "right", "wrong", "x", "lower"])))
    spelled = draw(st.sampled_from(["plain", "plain", "plain", "spaced", "quoted", "full_width", "legacy", "cut",
                                    "null", "empty", "text", "excel"]))
    if spelled == "spaced":
        return f" {cell[:6]} {cell[6:]} "
    if spelled == "quoted":
        return "'" + cell
    if spelled == "full_width":
        return cell.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    if spelled == "legacy":
        return region + born[2:] + first17[-3:]
    if spelled == "cut":
        return cell[:draw(st.integers(0, 17))]
    if spelled == "null":
        return None
    if spelled == "empty":
        return ""
    if spelled == "text":
        return draw(st.text(alphabet="0123456789Xx.E+- 甲", max_size=20))
    if spelled == "excel":
        return f"{int(first17[:15]) / 1e14:.11E}"
    return cell


def _same(cells: list, index, latest) -> None:
    raw = pd.Series(cells, index=index, dtype="object")
    fast, text = normalize_ids(raw, latest_birth=latest), _normalize_text(raw, latest)
    assert fast.index.equals(raw.index)
    assert fast.dtypes.to_dict() == text.dtypes.to_dict()
    pd.testing.assert_frame_equal(fast, text, check_exact=True)


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(id_cells(), max_size=40), shuffle=st.randoms(use_true_random=False),
       latest=st.sampled_from([date(2020, 7, 31), pd.Timestamp("2000-02-29 12:00"), date(1950, 1, 1)]))
@example(cells=["110101200002290014", "110101190002290014", "110101200013010014", "110101200004310014",
                "110101189912310014", "110101202008010014", "110101202007310014"], shuffle=None,
         latest=date(2020, 7, 31))
def test_the_byte_path_answers_as_the_text_rules(cells, shuffle, latest):
    # the examples' check characters are right, so only the date decides them
    cells = [_with_check(c[:17], "right") if c and len(c) == 18 and c.startswith("110101") else c for c in cells]
    index = list(range(len(cells)))
    if shuffle is not None:
        shuffle.shuffle(index)  # not the rows' positions: the answer must follow the index
        index = [i % 7 for i in index]  # ... even a repeated one
    _same(cells, index, latest)


def test_every_birth_date_spelling_is_judged_alike():
    # each month and day from 00 to 99 of years around the edges the rules draw
    years = [1677, 1899, 1900, 1996, 2000, 2019, 2020, 2100, 2262]
    first17 = pd.Series([f"522425{y:04d}{m:02d}{d:02d}001" for y in years for m in range(100) for d in range(100)])
    cells = (first17 + check_char(first17)).tolist()
    _same(cells, range(len(cells)), date(2020, 7, 31))


def test_typed_columns_and_arrow_text_take_the_same_paths():
    valid = _with_check("52242519880312001", "right")
    for raw in (pd.Series([int(valid), None], dtype="Int64"), pd.Series([valid, None], dtype="string[pyarrow]"),
                pd.Series([valid, np.nan], dtype="object")):
        pd.testing.assert_frame_equal(normalize_ids(raw), _normalize_text(raw, None), check_exact=True)


def test_repeated_index_labels_are_judged_by_position():
    """A frame's index may repeat a label: each value is still judged as itself, on either
    path (the text rules once stopped with "cannot reindex on an axis with duplicate labels")."""
    ok = _with_check("52242519880312001", "right")
    raw = pd.Series([ok, ok.lower(), "x", ok[:-1] + _with_check("52242519880312001", "wrong")[-1]], index=[3, 3, 3, 3])
    out = normalize_ids(raw, latest_birth=date(2020, 7, 31))
    assert out["problem"].fillna("").tolist() == ["", "", "length", "check_digit"] and out.index.tolist() == [3] * 4
    pd.testing.assert_frame_equal(out, _normalize_text(raw, date(2020, 7, 31)), check_exact=True)
