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
    excel = (problems == "excel_number").fillna(False)
    mantissa = s.str.extract(r"^([0-9])\.?([0-9]*)[Ee]", expand=True)
    digits = (mantissa[0].fillna("") + mantissa[1].fillna("")).astype("string")
    return s.mask(excel, digits).mask((problems == "empty").fillna(False), "")


def _char_matrix(s: pd.Series) -> np.ndarray:
    padded = s.fillna("").str.pad(ID_WIDTH, side="right", fillchar="_").str[:ID_WIDTH]
    if not len(padded):
        return np.zeros((0, ID_WIDTH), dtype=np.uint8)
    return np.frombuffer("".join(padded.tolist()).encode("ascii", "replace"), dtype=np.uint8).reshape(-1, ID_WIDTH)


def id_levels(a: pd.Series, b: pd.Series) -> np.ndarray:
    """0 near (≤2 differing characters, or one adjacent swap), 1 one is a ≥14-digit prefix of
    the other (an Excel-mangled ID), 2 same birth date, 3 one side unknown, 4 different."""
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
    k = np.minimum(np.minimum(la, lb), ID_WIDTH)
    within = np.arange(ID_WIDTH)[None, :] < k[:, None]
    prefix = (k >= 14) & ~full & ~(diff & within).any(axis=1)
    birth = (la >= 14) & (lb >= 14) & (a.str[6:14] == b.str[6:14]).fillna(False).to_numpy()
    missing = (la < 14) | (lb < 14)
    return np.select([near, prefix, birth, missing], [0, 1, 2, 3], 4).astype(np.int8)


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
    "id": ["id~near", "id~excel_prefix", "id~birth_date", "id?", "id≠"],
    "village": ["village=", "village~town", "village≠"],
    "size": ["size=", "size±1", "size≠"],
    "member": ["in_roster", ""],
}


def describe(levels: pd.DataFrame) -> pd.Series:
    """``id~near,name=,village=,size=``: which fields agreed and how."""
    parts = [pd.Series(np.array(LEVEL_TEXT[f])[levels[f].to_numpy()], index=levels.index, dtype="string")
             for f in ("id", "name", "village", "size", "member")]
    return parts[0].str.cat(parts[1:], sep=",").str.strip(",")
