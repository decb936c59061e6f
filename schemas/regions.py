"""County codes (GB/T 2260), past and present, from the table python-stdnum ships.

The table (``stdnum/cn/loc.dat``) is compiled by python-stdnum from the Wikipedia lists of
PRC administrative division codes; it holds retired codes with their validity years,
which is what ID validation needs: the first six digits of a resident ID are the county
of first registration, and that county may since have been abolished.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_LINE = re.compile(r'^(\s*)(\d+)\s+(?:province|county)="([^"]*)"')
_PERIOD = re.compile(r"^\[[^\]]*\]")


@lru_cache(maxsize=1)
def _entries() -> tuple[tuple[str, str], ...]:
    """(6-digit code, its names as listed: ``[-1991]东郊区,[1992-]东丽区``), every county of the table."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    entries, province = [], ""
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        indent, code, names = m.groups()
        if not indent:
            province = code
        else:
            entries.append((province + code, names))
    return tuple(entries)


@lru_cache(maxsize=1)
def county_table() -> dict[str, str]:
    """6-digit county code -> name, every code that exists or once existed."""
    # the latest name is the last one listed
    return {code: _PERIOD.sub("", names.split(",")[-1]) for code, names in _entries()}


def county_codes() -> frozenset[str]:
    return frozenset(county_table())


def county_name(code: str) -> str:
    """The county's (latest) name, or "" for a code the table does not know."""
    return county_table().get(str(code), "")


@lru_cache(maxsize=1)
def _current_codes() -> frozenset[str]:
    """Codes in use today: their last listed name has no end year (``[2011-]铜仁市``, or no period)."""
    periods = ((code, _PERIOD.match(names.split(",")[-1])) for code, names in _entries())
    return frozenset(code for code, p in periods if p is None or p.group(0).endswith("-]"))


_PREFECTURE_SUFFIX = re.compile(r"(地区|自治州|市|盟)$")


@lru_cache(maxsize=None)
def prefecture_of(county_code: str) -> str:
    """The prefecture (地级) code of a county, under its current code.

    A county filed under a retired code (江口县 522222, of 铜仁地区 522200 until 2011) belongs
    to the prefecture that replaced it (铜仁市 520600): the current prefecture of the same
    province whose name has the same stem (铜仁地区 -> 铜仁). Without exactly one such
    prefecture the retired code stays: deterministic, never a guess between two.
    """
    code = str(county_code)[:4] + "00"
    table, current = county_table(), _current_codes()
    if code not in table or code in current:
        return code
    stem = _PREFECTURE_SUFFIX.sub("", table[code])
    if not stem:
        return code
    heirs = [c for c in sorted(current) if c[:2] == code[:2] and c.endswith("00") and not c.endswith("0000")
             and c != code and _PREFECTURE_SUFFIX.sub("", table[c]) == stem]
    return heirs[0] if len(heirs) == 1 else code
