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
def county_table() -> dict[str, str]:
    """6-digit county code -> name, every code that exists or once existed."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    province = ""
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        indent, code, name = m.groups()
        if not indent:
            province = code
        else:
            # "[-1991]东郊区,[1992-]东丽区": the latest name is the last one listed
            table[province + code] = _PERIOD.sub("", name.split(",")[-1])
    return table


def county_codes() -> frozenset[str]:
    return frozenset(county_table())
