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

from reconcile.frames import isin, nfkc, utf8_buffers, without_spaces
from schemas.frames import ID_PROBLEMS
from schemas.regions import county_codes

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))

_EXCEL_NUMBER = r"^[0-9]+(?:\.[0-9]+)?[Ee][+-]?[0-9]+$|^[0-9]+\.[0-9]*$"


def clean_id_text(raw: pd.Series) -> pd.Series:
    """Fold the spellings of one ID onto one: full-width, lowercase x, spaces, apostrophe."""
    s = without_spaces(nfkc(raw).fillna(""))
    return s.str.lstrip("'‘’`\"").str.upper()


def _ascii_block(texts: pd.Series, width: int) -> np.ndarray:
    """Strings of exactly ``width`` ASCII characters as one (n, width) array of bytes,
    read off Arrow's buffer (no Python string per value)."""
    if texts.isna().any():
        raise ValueError(f"expected strings of exactly {width} characters, not NA")
    blocks = []
    for offsets, data in utf8_buffers(texts):
        if not np.array_equal(np.diff(offsets), np.full(len(offsets) - 1, width)):
            raise ValueError(f"expected strings of exactly {width} characters")
        blocks.append(data.reshape(-1, width))
    return np.concatenate(blocks) if blocks else np.zeros((0, width), dtype=np.uint8)


def check_char(first17: pd.Series) -> pd.Series:
    """The check character for 17-digit strings (all must be ASCII digits)."""
    if first17.empty:
        return pd.Series([], dtype="string", index=first17.index)
    block = _ascii_block(first17, 17)
    total = np.zeros(len(block), dtype=np.int32)  # a column at a time: no (n, 17) array of int64
    for j, weight in enumerate(WEIGHTS.tolist()):
        total += (block[:, j].astype(np.int32) - 48) * weight
    idx = total % 11
    return pd.Series(CHECK_CHARS[idx], index=first17.index, dtype="string")


def normalize_ids(raw: pd.Series, latest_birth: date | None = None) -> pd.DataFrame:
    """Normalize and validate resident IDs.

    Returns a frame on the same index with ``id`` (18 characters when valid, a 15-digit
    legacy ID upgraded; otherwise the cleaned text as found), ``valid`` and ``problem``
    (one of ``schemas.frames.ID_PROBLEMS``, tested in that order, the first that applies;
    NA when valid).
    """
    s = clean_id_text(raw)
    # the problem as a code per row (0: none yet, i + 1: ID_PROBLEMS[i]), labelled once at the
    # end: setting text into an Arrow column row by row copies the column every time
    codes = np.zeros(len(s), dtype=np.int8)
    order = iter(enumerate(ID_PROBLEMS, start=1))

    def flag(mask: pd.Series, name: str) -> None:
        code, expected = next(order, (0, None))
        if name != expected:  # the tests below run in the order the schema lists
            raise AssertionError(f"ID problem {name!r} is tested out of the order of schemas.frames.ID_PROBLEMS")
        hit = pd.Series(mask, index=s.index).fillna(False).to_numpy(dtype=bool) & (codes == 0)
        codes[hit] = code

    def unflagged() -> pd.Series:
        return pd.Series(codes == 0, index=s.index)

    flag(s == "", "empty")
    flag(s.str.fullmatch(_EXCEL_NUMBER), "excel_number")
    flag(~s.str.fullmatch(r"[0-9X]*") | s.str[:-1].str.contains("X", regex=False), "characters")
    is15 = s.str.fullmatch(r"[0-9]{15}")
    flag(~(s.str.fullmatch(r"[0-9]{17}[0-9X]") | is15), "length")

    # Legacy 15-digit IDs become 18 digits: "19" before the 2-digit year, check appended.
    ident = s.copy()
    up = is15.fillna(False) & unflagged()
    if up.any():
        first17 = s[up].str[:6] + "19" + s[up].str[6:]
        ident.loc[up] = first17 + check_char(first17)

    cand = unflagged()
    flag(cand & ~isin(ident.str[:6], sorted(county_codes())), "region")
    born = pd.to_datetime(ident.where(unflagged()).str[6:14], format="%Y%m%d", errors="coerce")
    latest = pd.Timestamp(latest_birth or date.today())
    flag(unflagged() & (born.isna() | (born.dt.year < 1900) | (born > latest)), "birth_date")
    rest = unflagged()
    expected = check_char(ident[rest].str[:17])
    flag(rest & (ident.str[17] != expected.reindex(ident.index)), "check_digit")

    valid = unflagged()
    problem = pd.Series(pd.Categorical.from_codes(codes.astype(np.int64) - 1, categories=list(ID_PROBLEMS)),
                        index=s.index).astype("string")
    return pd.DataFrame({"id": ident.where(valid, s), "valid": valid, "problem": problem})


def mask_ids(ids: pd.Series) -> pd.Series:
    """Analyst-facing form: ``522425********0017`` (first 6 and last 4 kept)."""
    s = ids.astype("string")
    long = s.str.len() >= 10
    return s.where(~long, s.str[:6] + s.str[6:-4].str.replace(r".", "*", regex=True) + s.str[-4:])
