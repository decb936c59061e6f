"""Partitions of a run: whole counties packed into groups of bounded size.

The scored matching passes never compare records of two counties, so a run splits into
groups of counties that can be matched on different workers. Groups depend only on the
data and the size bound, never on the runner, so a thread pool and a Dask cluster get
the same groups and give the same tables.
"""
from __future__ import annotations

import pandas as pd

from schemas.defaults import PARTITION_RECORDS  # residual records (both sides) per partition


def county_groups(weights: pd.Series, max_records: int = PARTITION_RECORDS) -> list[list[str]]:
    """Counties in code order, cut into consecutive groups of about ``max_records``.

    A county is never split; one larger than the bound is a group of its own.

    >>> county_groups(pd.Series({"520101": 3, "520102": 3, "520103": 5}), max_records=6)
    [['520101', '520102'], ['520103']]
    """
    groups: list[list[str]] = []
    size = 0
    for county, n in weights.sort_index().items():  # one step per county (thousands at most)
        if not groups or size + n > max_records:
            groups.append([])
            size = 0
        groups[-1].append(str(county))
        size += int(n)
    return groups
