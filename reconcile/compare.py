"""Comparison levels of candidate pairs: how alike two records are, field by field.

Levels are small integers, most alike first, in the order ``schemas/matching.yaml``
lists them; the Fellegi-Sunter model learns what each level is worth.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

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


# The levels of each field, most alike first: schemas/matching.yaml declares the same
# names in the same order (a test holds them together); the np.select calls below
# produce their indexes.
LEVELS = {
    "name": ["exact", "pinyin", "similar", "different"],
    "id": ["near", "excel", "birth_region", "birth_date", "missing", "different"],
    "village": ["same", "same_town", "different"],
    "size": ["same", "off_by_one", "different"],
    "member": ["name_and_id", "name_in_roster", "not_in_roster"],
}
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
    return np.select([near, excel_same, birth_region & ~excel, birth & ~excel, missing & ~excel],
                     [0, 1, 2, 3, 4], 5).astype(np.int8)


def name_levels(a: pd.Series, b: pd.Series, pa: pd.Series, pb: pd.Series) -> np.ndarray:
    exact = (a == b).fillna(False).to_numpy()
    pinyin = (pa == pb).fillna(False).to_numpy()
    sim = cpdist(a.fillna("").tolist(), b.fillna("").tolist(), scorer=JaroWinkler.normalized_similarity,
                 workers=1) if len(a) else np.zeros(0)
    return np.select([exact, pinyin, sim >= 0.75], [0, 1, 2], 3).astype(np.int8)


def village_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    same = (a == b).fillna(False).to_numpy()
    town = (a.str[:9] == b.str[:9]).fillna(False).to_numpy()
    return np.select([same, town], [0, 1], 2).astype(np.int8)


def size_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    d = (a.astype("Float64") - b.astype("Float64")).abs()
    return np.select([(d == 0).fillna(False).to_numpy(), (d == 1).fillna(False).to_numpy()], [0, 1], 2).astype(np.int8)


LEVEL_TEXT = {
    "name": ["name=", "name~pinyin", "name~similar", "name≠"],
    "id": ["id~near", "id~excel", "id~birth_region", "id~birth_date", "id?", "id≠"],
    "village": ["village=", "village~town", "village≠"],
    "size": ["size=", "size±1", "size≠"],
    "member": ["in_roster+id", "in_roster", ""],
}
# The analysts' one-line explanation of a scored pair, one phrase per field and level.
LEVEL_TEXT_ZH = {
    "name": ["姓名相同", "姓名同音", "姓名相似", "姓名不同"],
    "id": ["身份证号差1位", "身份证号被Excel转为数字但保留的位数一致", "身份证号地区和出生日期相同", "身份证号出生日期相同",
           "身份证号缺失", "身份证号不同"],
    "village": ["村相同", "同乡镇", "村不同"],
    "size": ["人口数相同", "人口数差1", "人口数不同"],
    "member": ["户主为家庭成员(姓名和身份证号)", "户主姓名在家庭成员中", "户主不在家庭成员中"],
}
EXPLAIN_ORDER = ("name", "village", "id", "size", "member")


def describe(levels: pd.DataFrame) -> pd.Series:
    """``id~near,name=,village=,size=``: which fields agreed and how."""
    parts = [pd.Series(np.array(LEVEL_TEXT[f])[levels[f].to_numpy()], index=levels.index, dtype="string")
             for f in ("id", "name", "village", "size", "member")]
    return parts[0].str.cat(parts[1:], sep=",").str.replace(r",+", ",", regex=True).str.strip(",")


def explain(levels: pd.DataFrame, weights: dict[str, np.ndarray]) -> tuple[pd.Series, pd.Series]:
    """Per pair: ``姓名相同 +8.1, 村相同 +3.2, 身份证号差1位 +5.0`` and the same weights as
    JSON (``{"name": 8.1, ...}``, fields in a fixed order), rounded to 0.1 bit."""
    text, js = [], []
    for f in EXPLAIN_ORDER:
        w = pd.Series(np.round(weights[f], 1), index=levels.index).map("{:+.1f}".format).astype("string")
        phrase = pd.Series(np.array(LEVEL_TEXT_ZH[f])[levels[f].to_numpy()], index=levels.index, dtype="string")
        text.append(phrase + " " + w)
        js.append(f'"{f}": ' + w.str.lstrip("+"))
    return (text[0].str.cat(text[1:], sep=", "),
            "{" + js[0].str.cat(js[1:], sep=", ") + "}")
