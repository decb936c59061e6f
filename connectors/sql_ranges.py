"""A database table read a range at a time: the partitions of a national run.

A whole read orders a table by the column holding its key, then by the others it maps
(``connectors.sql.read_db``).
A country run cuts that order into ranges of the same column, as many as the
run has partitions, read on the workers in parallel with a ``WHERE`` on the range
and the same ``ORDER BY``: a range's rows are a stretch of the whole read, so they are
numbered as the whole read numbers them and the quarantine names the same rows. The
server draws the cut (``NTILE`` over the column) and counts each range; the flow holds
the boundaries and the counts, never the keys, and a range that no longer holds its
count when it is read fails the run (the table changed under it).

The ranges are of the key, not of the region code: the member roster has no region
column, and any cut gives the same tables (the run routes every record to its county's
partition); where the key begins with the county code (the generator's numbers do),
a range is a run of counties anyway.

Rows without a key sit where the server sorts them (first on SQLite and MariaDB/MySQL,
last on PostgreSQL), in the first or last range. Another kind of server is read in one
range. A ``#query=`` source cannot be cut (its order is its own): a view serves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.sources import SourceError
from connectors.sql import parse_location, read_only_session, source_digest, table_order
from schemas.config import SourceSpec

NULLS_FIRST = {"sqlite": True, "mysql": True, "mariadb": True, "postgresql": False}


@dataclass(frozen=True)
class KeyRange:
    """Rows whose ordering column is > ``after`` and <= ``upto`` (None: open on that
    side), with the rows that have none when ``nulls``; ``offset`` rows of the whole read
    come before its first; ``rows``: how many it held when the run was planned (a read
    that finds another number fails: the table changed under the run)."""
    after: Any = None
    upto: Any = None
    nulls: bool = True
    offset: int = 0
    rows: int | None = None

    def condition(self, col):
        inside = [col.is_not(None)] + ([col > self.after] if self.after is not None else []) \
            + ([col <= self.upto] if self.upto is not None else [])
        within = sa.and_(*inside)
        return sa.or_(within, col.is_(None)) if self.nulls else within


def _planning(location: str, spec: SourceSpec, work, attempts: int = 3, backoff: float = 1.0):
    """``work(conn, table, column)`` in a read-only transaction on the source's table."""
    src = parse_location(location)
    if src.query:
        raise SourceError(src.display, "a query cannot be read a partition at a time (its order is its own)",
                          expected="a table or a view (URL#schema.view) for a national run")
    with read_only_session(src, attempts, backoff, "plan the read", "a readable table") as conn:
        table, order = table_order(conn, src, spec)
        done = work(conn, table, order[0])
    return src, table, done


def count_rows(location: str, spec: SourceSpec) -> int:
    """Rows of the table (what sizes the run's partitions)."""
    return _planning(location, spec, lambda conn, table, col: int(
        conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()))[2]


def plan_ranges(location: str, spec: SourceSpec, pieces: int, rows: int) -> tuple[list[KeyRange], dict]:
    """The table of ``rows`` rows (``count_rows``) cut into about ``pieces`` ranges in
    read order, and what was found (location, rows, digest as a whole read computes it)
    for run.json."""
    src, table, (ranges, total) = _planning(location, spec, lambda conn, t, col: _ranges(conn, t, col, pieces, rows))
    found = {"location": src.display, "format": "sql", "ranges": len(ranges), "rows_read": total,
             "sha256": source_digest(src, [c.name for c in table.columns], total),
             "backend": make_url(src.url).get_backend_name()}
    return ranges, found


def _ranges(conn: sa.Connection, table: sa.Table, col, pieces: int, rows: int) -> tuple[list[KeyRange], int]:
    """One range of all ``rows``, or two queries: the top key of each of ``pieces`` tiles
    (NTILE), and one scan counting each range and the rows without a key (a CASE over
    the boundaries)."""
    first = NULLS_FIRST.get(conn.dialect.name)
    if pieces <= 1 or first is None:
        return [KeyRange(rows=rows)], rows
    tiles = sa.select(col.label("k"), sa.func.ntile(pieces).over(order_by=col).label("tile")) \
        .where(col.is_not(None)).subquery()
    tops = [r[0] for r in conn.execute(sa.select(sa.func.max(tiles.c.k)).group_by(tiles.c.tile)
                                       .order_by(tiles.c.tile))]
    bounds = [b for i, b in enumerate(tops[:-1]) if i == 0 or b != tops[i - 1]]  # the last range runs to the end
    which = sa.case((col.is_(None), -1), *[(col <= b, i) for i, b in enumerate(bounds)], else_=len(bounds))
    inner = sa.select(which.label("s")).select_from(table).subquery()
    counts = {int(s): int(c) for s, c in conn.execute(sa.select(inner.c.s, sa.func.count()).group_by(inner.c.s))}
    nulls = counts.pop(-1, 0)
    ranges, offset, last = [], 0, len(bounds)
    for i in range(last + 1):
        with_nulls = i == (0 if first else last)
        n = counts.get(i, 0) + (nulls if with_nulls else 0)
        ranges.append(KeyRange(bounds[i - 1] if i else None, bounds[i] if i < last else None, with_nulls, offset, n))
        offset += n
    return ranges, offset
