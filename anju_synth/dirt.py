"""The dirt real exports carry, applied to text columns of a subset of rows.

Each function takes the clean values of the chosen rows and returns the dirty ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from anju_synth.population import homophones, to_traditional

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def id_spelling(ids: pd.Series, rng: np.random.Generator) -> pd.Series:
    kind = rng.integers(0, 4, len(ids))
    out = ids.copy()
    out[kind == 0] = ids[kind == 0].str.translate(FULLWIDTH)
    out[kind == 1] = " " + ids[kind == 1].str[:6] + " " + ids[kind == 1].str[6:] + " "
    out[kind == 2] = "'" + ids[kind == 2]
    # lowercase x only exists for IDs whose check character is X; others get an apostrophe
    lower = (kind == 3) & ids.str.endswith("X").to_numpy()
    out[lower] = ids[lower].str.lower()
    out[(kind == 3) & ~lower] = "'" + ids[(kind == 3) & ~lower]
    return out


def id_legacy15(ids: pd.Series) -> pd.Series:
    return ids.str[:6] + ids.str[8:17]


def id_typo(ids: pd.Series, rng: np.random.Generator) -> pd.Series:
    pos = rng.integers(0, 17, len(ids))
    shift = rng.integers(1, 10, len(ids))
    return pd.Series([s[:p] + str((int(s[p]) + k) % 10) + s[p + 1:]
                      for s, p, k in zip(ids, pos, shift)], index=ids.index, dtype="string")


def id_transposition(ids: pd.Series, rng: np.random.Generator) -> pd.Series:
    out = []
    for s, start in zip(ids, rng.integers(0, 16, len(ids))):
        p = next((q % 16 for q in range(start, start + 16) if s[q % 16] != s[q % 16 + 1]), 0)
        out.append(s[:p] + s[p + 1] + s[p] + s[p + 2:])
    return pd.Series(out, index=ids.index, dtype="string")


def id_excel_text(ids: pd.Series) -> pd.Series:
    """What a CSV saved from Excel holds: ``5.22425E+17``."""
    return ids.map(lambda s: f"{float(s):.5E}").astype("string")


def id_excel_general(ids: pd.Series) -> pd.Series:
    """What Excel's General format shows of an ID it took for a number, copied out as
    text: 14 significant digits, rounded, trailing zeros dropped (``5.1323319811109E+17``)."""
    def general(s: str) -> str:
        mantissa, exp = f"{float(s):.13E}".split("E")
        return mantissa.rstrip("0").rstrip(".") + "E+" + str(int(exp))
    return ids.map(general).astype("string")


def id_impossible_birth(ids: pd.Series) -> pd.Series:
    """Month 13: the kind of birth date a slip of the keyboard makes."""
    return ids.str[:10] + "13" + ids.str[12:]


def id_excel_number(ids: pd.Series) -> pd.Series:
    """What an XLSX cell holds once Excel took the ID for a number: a float."""
    return ids.map(float).astype("object")


def name_traditional(names: pd.Series) -> pd.Series:
    return names.str.translate(to_traditional())


def name_spaced(names: pd.Series) -> pd.Series:
    return names.str[:1] + " " + names.str[1:]


def name_homophone(names: pd.Series, rng: np.random.Generator) -> pd.Series:
    table = homophones()
    return pd.Series([n[:-1] + table[n[-1]][int(r * len(table[n[-1]]))]
                      for n, r in zip(names, rng.random(len(names)))], index=names.index, dtype="string")


def can_traditional(names: pd.Series) -> pd.Series:
    return name_traditional(names) != names


def can_homophone(names: pd.Series) -> pd.Series:
    return names.str[-1].isin(list(homophones())) & ~names.str.contains("·", regex=False)
