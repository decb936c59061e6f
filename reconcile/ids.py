"""Resident ID numbers (GB 11643-1999), normalized and validated column-wise.

    >>> import pandas as pd
    >>> out = normalize_ids(pd.Series(["'52242519880312001x", "５２２４２５１９８８０３１２００１４ ", ""]))
    >>> out["id"].tolist(), out["problem"].tolist()
    (['52242519880312001X', '522425198803120014', ''], ['check_digit', <NA>, 'empty'])
"""
from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from reconcile.frames import isin, nfkc, utf8_buffers, without_spaces
from schemas.frames import ID_PROBLEMS
from schemas.regions import county_codes

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))
CHECK_BYTES = b"10X98765432"  # the same, as the bytes an ID ends in

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

    Nearly every cell of an export is already 17 ASCII digits and a digit or ``X``: those
    are judged on their bytes (:func:`_judge_plain`), the rest by the text rules
    (:func:`_normalize_text`); each value's result depends on that value alone, and
    ``tests/reconcile/test_ids_property.py`` holds the two to the same answers.
    """
    latest_birth = latest_birth or date.today()  # once: both paths judge against the same day
    text = raw.astype("string")
    plain, block = _plain_ids(text)
    if not plain.any():
        return _normalize_text(raw, latest_birth)
    rest = _normalize_text(raw[~plain], latest_birth)
    codes = _judge_plain(block, latest_birth)
    fast = pd.DataFrame({"id": text[plain].astype(rest["id"].dtype), "valid": codes == 0,
                         "problem": _problem_labels(codes, text.index[plain])})
    out = pd.concat([fast, rest], ignore_index=True)
    # back in the input's order: the plain rows first in ``out``, then the rest
    order = np.empty(len(text), dtype=np.int64)
    order[np.flatnonzero(plain)] = np.arange(int(plain.sum()))
    order[np.flatnonzero(~plain)] = np.arange(int(plain.sum()), len(text))
    out = out.take(order)
    out.index = text.index
    return out


def _plain_ids(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Which values are 17 ASCII digits and a digit or ``X`` (what cleaning leaves as it
    is), and those values' bytes as one (m, 18) block, read off Arrow's buffers."""
    present = text.notna().to_numpy(dtype=bool)  # a null slot may hold bytes: it is no ID
    plain, blocks, done = [], [], 0
    for offsets, data in utf8_buffers(text):
        ok = (np.diff(offsets) == 18) & present[done:done + len(offsets) - 1]
        done += len(offsets) - 1
        at = offsets[:-1][ok]
        cols = [data[at + j] for j in range(18)]
        good = np.ones(len(at), dtype=bool)
        for j, col in enumerate(cols):
            good &= ((col >= 48) & (col <= 57)) | (col == 88 if j == 17 else False)
        ok[np.flatnonzero(ok)[~good]] = False
        plain.append(ok)
        blocks.append(np.stack([col[good] for col in cols], axis=1) if len(at) else np.zeros((0, 18), np.uint8))
    if not plain:
        return np.zeros(0, dtype=bool), np.zeros((0, 18), dtype=np.uint8)
    return np.concatenate(plain), np.concatenate(blocks)


@lru_cache(maxsize=1)
def _county_numbers() -> np.ndarray:
    """The county codes of six digits as integers, sorted (the region an ID's first six
    digits must name; a code of any other spelling never matches six digits)."""
    return np.array(sorted(int(c) for c in county_codes() if len(c) == 6 and c.isascii() and c.isdigit()),
                    dtype=np.int64)


def _digits(block: np.ndarray, start: int, stop: int) -> np.ndarray:
    value = np.zeros(len(block), dtype=np.int64)
    for j in range(start, stop):
        value = value * 10 + (block[:, j].astype(np.int64) - 48)
    return value


def _judge_plain(block: np.ndarray, latest_birth) -> np.ndarray:
    """The problem code (0: valid, i + 1: ``ID_PROBLEMS[i]``) of each plain ID (the rows of
    ``block``, its 18 ASCII bytes): the region, the birth date, the check character, as
    the text rules judge them, first failing first."""
    codes = np.zeros(len(block), dtype=np.int8)

    def flag(hit: np.ndarray, name: str) -> None:
        codes[hit & (codes == 0)] = ID_PROBLEMS.index(name) + 1

    flag(~np.isin(_digits(block, 0, 6), _county_numbers()), "region")
    year, month, day = _digits(block, 6, 10), _digits(block, 10, 12), _digits(block, 12, 14)
    latest = pd.Timestamp(latest_birth or date.today())
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    real = (month >= 1) & (month <= 12) & (day >= 1)
    real &= day <= month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
    flag(~real | (year < 1900) | (year * 10000 + month * 100 + day > latest.year * 10000 + latest.month * 100
                                   + latest.day), "birth_date")
    total = np.zeros(len(block), dtype=np.int32)
    for j, weight in enumerate(WEIGHTS.tolist()):
        total += (block[:, j].astype(np.int32) - 48) * weight
    expected = np.frombuffer(CHECK_BYTES, dtype=np.uint8)[total % 11]
    flag(block[:, 17] != expected, "check_digit")
    return codes


def _problem_labels(codes: np.ndarray, index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(codes.astype(np.int64) - 1, categories=list(ID_PROBLEMS)),
                     index=index).astype("string")


def _normalize_text(raw: pd.Series, latest_birth: date | None) -> pd.DataFrame:
    """:func:`normalize_ids` by the text rules, for any spelling."""
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
    rest = unflagged().to_numpy()
    wrong = np.zeros(len(ident), dtype=bool)  # by position: the index may repeat a label
    if rest.any():
        found = ident[rest]
        wrong[rest] = found.str[17].to_numpy(dtype=object) != check_char(found.str[:17]).to_numpy(dtype=object)
    flag(wrong, "check_digit")

    valid = unflagged()
    problem = _problem_labels(codes, s.index)
    return pd.DataFrame({"id": ident.where(valid, s), "valid": valid, "problem": problem})


def mask_ids(ids: pd.Series) -> pd.Series:
    """Analyst-facing form: ``522425********0017`` (first 6 and last 4 kept)."""
    s = ids.astype("string")
    long = s.str.len() >= 10
    return s.where(~long, s.str[:6] + s.str[6:-4].str.replace(r".", "*", regex=True) + s.str[-4:])
