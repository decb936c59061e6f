"""Dates in every spelling the exports use.

    >>> import pandas as pd
    >>> parse_dates(pd.Series(["2020-05-31", "2020/5/31", "2020年5月31日", "20200531",
    ...                        "43982", "2020-02-30", ""])).tolist()[:5] == [pd.Timestamp("2020-05-31")] * 5
    True
"""
from __future__ import annotations

import pandas as pd

from reconcile.frames import nfkc

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Excel serials from 1954 to 2119: far wider than any renovation date, narrow enough that
# a plain number such as a subsidy amount is never taken for a date.
SERIAL_RANGE = (20000, 80000)
# A real date in a known spelling is still refused outside these years: 0001-01-01 or
# 9999-12-31 is a placeholder or a typo, never a renovation date, and would not fit the
# SQL store's DATETIME (MariaDB's starts at year 1000).
DATE_RANGE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2099-12-31"))


def parse_dates(raw: pd.Series) -> pd.Series:
    """Parse to ``datetime64``; empty stays NaT. Use :func:`bad_dates` to find failures."""
    s = nfkc(raw).str.strip()
    s = s.str.replace(r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$", r"\1-\2-\3", regex=True)
    s = s.str.replace(r"^([0-9]{4})[/.]([0-9]{1,2})[/.]([0-9]{1,2})$", r"\1-\2-\3", regex=True)
    s = s.str.replace(r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})[ T]00:00(:00)?$", r"\1", regex=True)
    out = pd.to_datetime(s.where(s.str.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")), format="%Y-%m-%d",
                         errors="coerce")
    compact = s.where(s.str.fullmatch(r"[0-9]{8}"))
    out = out.fillna(pd.to_datetime(compact, format="%Y%m%d", errors="coerce"))
    serial = pd.to_numeric(s.where(s.str.fullmatch(r"[0-9]{5}(\.0+)?")), errors="coerce")
    serial = serial.where(serial.between(*SERIAL_RANGE))
    out = out.fillna(EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")).astype("datetime64[s]")
    return out.where(out.between(*DATE_RANGE))


def bad_dates(raw: pd.Series, parsed: pd.Series) -> pd.Series:
    """Non-empty values that did not parse to a real date."""
    present = raw.astype("string").str.strip().fillna("") != ""
    return present & parsed.isna()
