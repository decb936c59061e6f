"""Comparison levels of candidate pairs: how alike two records are, field by field.

Levels are small integers, most alike first, in the order ``schemas/matching.yaml``
lists them; the Fellegi-Sunter model learns what each level is worth. The YAML is the one
list: each comparison names its cases (:func:`_select`), and the import computes every
field once, so a case named or ordered otherwise than the YAML stops it with
:class:`LevelOrderError`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from schemas.config import load_matching_settings

ID_WIDTH = 18


def id_digits(ids: pd.Series, problems: pd.Series) -> pd.Series:
    """The digits an ID still tells: all of it, or the leading digits Excel kept."""
    s = ids.astype("string").fillna("")
    excel = (problems == "excel_number").fillna(False).to_numpy(dtype=bool)
    if excel.any():  # the mantissa's digits; the regex runs on those rows only
        mantissa = s[excel].str.extract(r"^([0-9])\.?([0-9]*)[Ee]", expand=True)
        s = s.copy()
        s[excel] = (mantissa[0].fillna("") + mantissa[1].fillna("")).astype("string")
    return s.mask((problems == "empty").fillna(False), "")


def _char_matrix(s: pd.Series) -> np.ndarray:
    padded = s.fillna("").str.pad(ID_WIDTH, side="right", fillchar="_").str[:ID_WIDTH]
    if not len(padded):
        return np.zeros((0, ID_WIDTH), dtype=np.uint8)
    return np.frombuffer("".join(padded.tolist()).encode("ascii", "replace"), dtype=np.uint8).reshape(-1, ID_WIDTH)


# The levels of each field, most alike first, as schemas/matching.yaml declares them.
LEVELS: dict[str, list[str]] = {f: list(names) for f, names in load_matching_settings()["levels"].items()}


class LevelOrderError(ValueError):
    """A comparison's cases are named or ordered otherwise than matching.yaml's levels."""


def level_index(field: str, name: str) -> int:
    """The index of one level: ``level_index("id", "excel") == 1``."""
    try:
        return LEVELS[field].index(name)
    except (KeyError, ValueError):
        raise LevelOrderError(f"matching.yaml declares no level {name!r} of {field!r}") from None


def _select(field: str, cases: list[tuple[str, np.ndarray]], otherwise: str) -> np.ndarray:
    """``np.select`` over named cases, the first that holds wins: the case names and then
    ``otherwise`` must be ``LEVELS[field]`` in its order, so a case's index is its level."""
    names = [name for name, _ in cases] + [otherwise]
    if names != LEVELS.get(field):
        raise LevelOrderError(f"compare.py computes the {field} levels {names}, matching.yaml declares "
                              f"{LEVELS.get(field)}: the same names, in the same order")
    return np.select([c for _, c in cases], list(range(len(cases))), len(cases)).astype(np.int8)


EXCEL_MIN_DIGITS = 12  # fewer kept digits (``5.22425E+17``) do not reach the birth month: treated as missing
FLOAT_DIGITS = 15      # a double holds 15 significant digits for sure: more are conversion noise


def _rounded_agree(A: np.ndarray, B: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Both digit strings rounded half-up to ``K = min(la, lb, 15)`` significant digits agree.

    Excel keeps an ID as a double and shows it rounded (``5.1323319811109E+17``), so the
    digits it kept are compared with the other ID rounded alike, not as a prefix.
    """
    k = np.minimum(np.minimum(la, lb), FLOAT_DIGITS)
    da, db = A.astype(np.int64) - 48, B.astype(np.int64) - 48
    pa = np.zeros(len(k), dtype=np.int64)
    pb = np.zeros(len(k), dtype=np.int64)
    for j in range(FLOAT_DIGITS):  # prefix values up to K digits, 15 vectorized steps
        inside = j < k
        pa = np.where(inside, pa * 10 + da[:, j], pa)
        pb = np.where(inside, pb * 10 + db[:, j], pb)
    rows = np.arange(len(k))
    kk = np.minimum(k, ID_WIDTH - 1)
    up_a = (la > k) & (da[rows, kk] >= 5) & (da[rows, kk] <= 9)
    up_b = (lb > k) & (db[rows, kk] >= 5) & (db[rows, kk] <= 9)
    return (pa + up_a) == (pb + up_b)


def id_differences(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Characters in which two 18-character IDs differ (19 when either is not 18 long)."""
    a, b = a.fillna("").astype("string"), b.fillna("").astype("string")
    full = (a.str.len().to_numpy() == ID_WIDTH) & (b.str.len().to_numpy() == ID_WIDTH)
    return np.where(full, (_char_matrix(a) != _char_matrix(b)).sum(axis=1), ID_WIDTH + 1)


def id_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Index into ``LEVELS["id"]``: near (one substitution or one adjacent swap), excel
    (an Excel number agrees at the precision it kept), birth_region (same region and
    birth date: the first 14 digits), birth_date, missing, different."""
    a, b = a.fillna("").astype("string"), b.fillna("").astype("string")
    la, lb = a.str.len().to_numpy(), b.str.len().to_numpy()
    A, B = _char_matrix(a), _char_matrix(b)
    diff = A != B
    ham = diff.sum(axis=1)
    full = (la == ID_WIDTH) & (lb == ID_WIDTH)
    swap = np.zeros(len(a), dtype=bool)
    two = full & (ham == 2)
    if two.any():
        idx = np.argmax(diff[two], axis=1)
        rows = np.nonzero(two)[0]
        ok = idx < ID_WIDTH - 1
        r, i = rows[ok], idx[ok]
        swap[r] = diff[r, i + 1] & (A[r, i] == B[r, i + 1]) & (A[r, i + 1] == B[r, i])
    near = full & ((ham <= 1) | swap)
    # An Excel number is all digits and shorter than an ID (its normalized mantissa).
    short_a = (la >= EXCEL_MIN_DIGITS) & (la < ID_WIDTH) & a.str.fullmatch(r"[0-9]+").fillna(False).to_numpy()
    short_b = (lb >= EXCEL_MIN_DIGITS) & (lb < ID_WIDTH) & b.str.fullmatch(r"[0-9]+").fillna(False).to_numpy()
    excel = (short_a | short_b) & (la >= EXCEL_MIN_DIGITS) & (lb >= EXCEL_MIN_DIGITS)
    excel_same = np.zeros(len(a), dtype=bool)
    if excel.any():
        excel_same[excel] = _rounded_agree(A[excel], B[excel], la[excel], lb[excel])
    birth_region = full & ~diff[:, :14].any(axis=1)
    birth = full & ~diff[:, 6:14].any(axis=1)
    missing = (la < EXCEL_MIN_DIGITS) | (lb < EXCEL_MIN_DIGITS) | ((la < ID_WIDTH) & ~short_a) \
        | ((lb < ID_WIDTH) & ~short_b)
    return _select("id", [("near", near), ("excel", excel_same), ("birth_region", birth_region & ~excel),
                          ("birth_date", birth & ~excel), ("missing", missing & ~excel)], "different")


def name_levels(a: pd.Series, b: pd.Series, pa: pd.Series, pb: pd.Series) -> np.ndarray:
    exact = (a == b).fillna(False).to_numpy()
    pinyin = (pa == pb).fillna(False).to_numpy()
    sim = cpdist(a.fillna("").tolist(), b.fillna("").tolist(), scorer=JaroWinkler.normalized_similarity,
                 workers=1) if len(a) else np.zeros(0)
    return _select("name", [("exact", exact), ("pinyin", pinyin), ("similar", sim >= 0.75)], "different")


def village_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    same = (a == b).fillna(False).to_numpy()
    town = (a.str[:9] == b.str[:9]).fillna(False).to_numpy()
    return _select("village", [("same", same), ("same_town", town)], "different")


def size_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    d = (a.astype("Float64") - b.astype("Float64")).abs()
    return _select("size", [("same", (d == 0).fillna(False).to_numpy()),
                            ("off_by_one", (d == 1).fillna(False).to_numpy())], "different")


# A pair's agreement pattern, one code per field and level (the matches' `agreement`).
LEVEL_TEXT = {
    "name": {"exact": "name=", "pinyin": "name~pinyin", "similar": "name~similar", "different": "name≠"},
    "id": {"near": "id~near", "excel": "id~excel", "birth_region": "id~birth_region",
           "birth_date": "id~birth_date", "missing": "id?", "different": "id≠"},
    "village": {"same": "village=", "same_town": "village~town", "different": "village≠"},
    "size": {"same": "size=", "off_by_one": "size±1", "different": "size≠"},
    "member": {"name_and_id": "in_roster+id", "name_in_roster": "in_roster", "not_in_roster": ""},
}
# The analysts' one-line explanation of a scored pair, one phrase per field and level.
LEVEL_TEXT_ZH = {
    "name": {"exact": "姓名相同", "pinyin": "姓名同音", "similar": "姓名相似", "different": "姓名不同"},
    "id": {"near": "身份证号差1位", "excel": "身份证号被Excel转为数字但保留的位数一致",
           "birth_region": "身份证号地区和出生日期相同", "birth_date": "身份证号出生日期相同",
           "missing": "身份证号缺失", "different": "身份证号不同"},
    "village": {"same": "村相同", "same_town": "同乡镇", "different": "村不同"},
    "size": {"same": "人口数相同", "off_by_one": "人口数差1", "different": "人口数不同"},
    "member": {"name_and_id": "户主为家庭成员(姓名和身份证号)", "name_in_roster": "户主姓名在家庭成员中",
               "not_in_roster": "户主不在家庭成员中"},
}
EXPLAIN_ORDER = ("name", "village", "id", "size", "member")


def _by_index(texts: dict[str, dict[str, str]], what: str) -> dict[str, np.ndarray]:
    """Texts keyed by level name as arrays indexed by level; a level without a text, or a
    text of no level, is a LevelOrderError."""
    if set(texts) != set(LEVELS) or any(set(texts[f]) != set(LEVELS[f]) for f in LEVELS):
        raise LevelOrderError(f"compare.py {what} names other fields or levels than matching.yaml")
    return {f: np.array([texts[f][name] for name in LEVELS[f]]) for f in LEVELS}


def check_levels() -> dict[str, dict[str, np.ndarray]]:
    """Every field's comparison once on no pairs, and the texts by level: run at import, so
    compare.py and matching.yaml disagreeing is an error before any pair is compared."""
    none = pd.Series([], dtype="string")
    id_levels(none, none), name_levels(none, none, none, none), village_levels(none, none), size_levels(none, none)
    return {"code": _by_index(LEVEL_TEXT, "LEVEL_TEXT"), "zh": _by_index(LEVEL_TEXT_ZH, "LEVEL_TEXT_ZH")}


_TEXTS = check_levels()


def describe(levels: pd.DataFrame) -> pd.Series:
    """``id~near,name=,village=,size=``: which fields agreed and how."""
    parts = [pd.Series(_TEXTS["code"][f][levels[f].to_numpy()], index=levels.index, dtype="string")
             for f in ("id", "name", "village", "size", "member")]
    return parts[0].str.cat(parts[1:], sep=",").str.replace(r",+", ",", regex=True).str.strip(",")


def explain(levels: pd.DataFrame, weights: dict[str, np.ndarray]) -> tuple[pd.Series, pd.Series]:
    """Per pair: ``姓名相同 +8.1, 村相同 +3.2, 身份证号差1位 +5.0`` and the same weights as
    JSON (``{"name": 8.1, ...}``, fields in a fixed order), rounded to 0.1 bit."""
    text, js = [], []
    for f in EXPLAIN_ORDER:
        w = pd.Series(np.round(weights[f], 1), index=levels.index).map("{:+.1f}".format).astype("string")
        phrase = pd.Series(_TEXTS["zh"][f][levels[f].to_numpy()], index=levels.index, dtype="string")
        text.append(phrase + " " + w)
        js.append(f'"{f}": ' + w.str.lstrip("+"))
    return (text[0].str.cat(text[1:], sep=", "),
            "{" + js[0].str.cat(js[1:], sep=", ") + "}")
