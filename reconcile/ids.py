"""Resident ID numbers (GB 11643-1999), normalized and validated column-wise.

    >>> import pandas as pd
    >>> out = normalize_ids(pd.Series(["'52242519880312001x", "５２２４２５１９８８０３１２００１４ ", ""]))
    >>> out["id"].tolist(), out["problem"].tolist()
    (['52242519880312001X', '522425198803120014', ''], ['check_digit', <NA>, 'empty'])
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from reconcile.frames import WS, nfkc
from schemas.frames import ID_PROBLEMS
from schemas.regions import county_codes

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))

_EXCEL_NUMBER = r"^[0-9]+(?:\.[0-9]+)?[Ee][+-]?[0-9]+$|^[0-9]+\.[0-9]*$"


def clean_id_text(raw: pd.Series) -> pd.Series:
    """Fold the spellings of one ID onto one: full-width, lowercase x, spaces, apostrophe."""
    s = nfkc(raw).fillna("")
    s = s.str.replace(WS + "+", "", regex=True).str.lstrip("'‘’`\"")
    return s.str.upper()


def check_char(first17: pd.Series) -> pd.Series:
    """The check character for 17-digit strings (all must be ASCII digits)."""
    if first17.empty:
        return pd.Series([], dtype="string", index=first17.index)
    digits = np.frombuffer("".join(first17.tolist()).encode("ascii"), dtype=np.uint8)
    digits = digits.reshape(-1, 17).astype(np.int64) - 48
    idx = (digits @ WEIGHTS) % 11
    return pd.Series(CHECK_CHARS[idx], index=first17.index, dtype="string")


def normalize_ids(raw: pd.Series, latest_birth: date | None = None) -> pd.DataFrame:
    """Normalize and validate resident IDs.

    Returns a frame on the same index with ``id`` (18 characters when valid, a 15-digit
    legacy ID upgraded; otherwise the cleaned text as found), ``valid`` and ``problem``
    (one of ``schemas.frames.ID_PROBLEMS``, tested in that order, the first that applies;
    NA when valid).
    """
    s = clean_id_text(raw)
    problem = pd.Series(pd.NA, index=s.index, dtype="string")
    order = iter(ID_PROBLEMS)

    def flag(mask: pd.Series, name: str) -> None:
        if name != next(order, None):  # the tests below run in the order the schema lists
            raise AssertionError(f"ID problem {name!r} is tested out of the order of schemas.frames.ID_PROBLEMS")
        problem.loc[mask.fillna(False) & problem.isna()] = name

    flag(s == "", "empty")
    flag(s.str.fullmatch(_EXCEL_NUMBER), "excel_number")
    flag(~s.str.fullmatch(r"[0-9X]*") | s.str[:-1].str.contains("X", regex=False), "characters")
    is15 = s.str.fullmatch(r"[0-9]{15}")
    flag(~(s.str.fullmatch(r"[0-9]{17}[0-9X]") | is15), "length")

    # Legacy 15-digit IDs become 18 digits: "19" before the 2-digit year, check appended.
    ident = s.copy()
    up = is15.fillna(False) & problem.isna()
    first17 = s[up].str[:6] + "19" + s[up].str[6:]
    ident.loc[up] = first17 + check_char(first17)

    cand = problem.isna()
    flag(cand & ~ident.str[:6].isin(county_codes()), "region")
    born = pd.to_datetime(ident.where(problem.isna()).str[6:14], format="%Y%m%d", errors="coerce")
    latest = pd.Timestamp(latest_birth or date.today())
    flag(problem.isna() & (born.isna() | (born.dt.year < 1900) | (born > latest)), "birth_date")
    rest = problem.isna()
    expected = check_char(ident[rest].str[:17])
    flag(rest & (ident.str[17] != expected.reindex(ident.index)), "check_digit")

    valid = problem.isna()
    return pd.DataFrame({"id": ident.where(valid, s), "valid": valid, "problem": problem})


def mask_ids(ids: pd.Series) -> pd.Series:
    """Analyst-facing form: ``522425********0017`` (first 6 and last 4 kept)."""
    s = ids.astype("string")
    long = s.str.len() >= 10
    return s.where(~long, s.str[:6] + s.str[6:-4].str.replace(r".", "*", regex=True) + s.str[-4:])
