"""A database table read a range at a time: the partitions of a national run.

A whole read orders a table by the column holding its key (``connectors.sql.read_db``).
A country run cuts that order into ranges of the same column, each of about
``partition_records`` rows, read on the workers in parallel with a ``WHERE`` on the range
and the same ``ORDER BY``: a range's rows are a stretch of the whole read, so they are
numbered as the whole read numbers them and the quarantine names the same rows. The
server draws the cut (``NTILE`` over the column) and counts each range (one scan); the
flow holds the boundaries, never the keys.

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
from connectors.sql import _connect, _read_only, parse_location, read_only_engine, source_digest, table_order
from schemas.config import SourceSpec

NULLS_FIRST = {"sqlite": True, "mysql": True, "mariadb": True, "postgresql": False}


@dataclass(frozen=True)
class KeyRange:
    """Rows whose ordering column is > ``after`` and <= ``upto`` (None: open on that
    side), with the rows that have none when ``nulls``; ``offset`` rows of the whole read
    come before its first."""
    after: Any = None
    upto: Any = None
    nulls: bool = True
    offset: int = 0

    def condition(self, col):
        inside = [col.is_not(None)] + ([col > self.after] if self.after is not None else []) \
            + ([col <= self.upto] if self.upto is not None else [])
        within = sa.and_(*inside)
        return sa.or_(within, col.is_(None)) if self.nulls else within


def plan_ranges(location: str, spec: SourceSpec, partition_records: int, attempts: int = 3,
                backoff: float = 1.0) -> tuple[list[KeyRange], dict]:
    """The table's ranges of about ``partition_records`` rows in read order, and what was
    found (location, rows, digest as a whole read computes it) for run.json."""
    src = parse_location(location)
    if src.query:
        raise SourceError(src.display, "a query cannot be read a partition at a time (its order is its own)",
                          expected="a table or a view (URL#schema.view) for a national run")
    engine = read_only_engine(src.url, src.display)
    try:
        with _connect(engine, src, attempts, backoff) as conn:
            with conn.begin() as tx:
                _read_only(conn, src.display)
                table, order = table_order(conn, src, spec)
                ranges, total = _ranges(conn, table, order[0], partition_records)
                tx.rollback()
    except sa.exc.SQLAlchemyError as e:
        raise SourceError(src.display, f"the database could not plan the read ({type(e).__name__}: "
                          f"{str(getattr(e, 'orig', e)).strip().splitlines()[0]})",
                          expected="a readable table") from None
    finally:
        engine.dispose()
    found = {"location": src.display, "format": "sql", "ranges": len(ranges), "rows_read": total,
             "sha256": source_digest(src, [c.name for c in table.columns], total),
             "backend": make_url(src.url).get_backend_name()}
    return ranges, found


def _ranges(conn: sa.Connection, table: sa.Table, col, partition_records: int) -> tuple[list[KeyRange], int]:
    no_key = sa.case((col.is_(None), 1), else_=0)
    total, nulls = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(no_key), 0))
                                .select_from(table)).one()
    total, nulls = int(total), int(nulls)
    n = -(-(total - nulls) // partition_records)
    first = NULLS_FIRST.get(conn.dialect.name)
    if n <= 1 or first is None:
        return [KeyRange()], total
    tiles = sa.select(col.label("k"), sa.func.ntile(n).over(order_by=col).label("tile")) \
        .where(col.is_not(None)).subquery()
    tops = [r[0] for r in conn.execute(sa.select(sa.func.max(tiles.c.k)).group_by(tiles.c.tile)
                                       .order_by(tiles.c.tile))]
    bounds = [b for i, b in enumerate(tops[:-1]) if i == 0 or b != tops[i - 1]]  # the last range runs to the end
    which = sa.case(*[(col <= b, i) for i, b in enumerate(bounds)], else_=len(bounds))
    inner = sa.select(which.label("s")).select_from(table).where(col.is_not(None)).subquery()
    counts = {int(s): int(c) for s, c in conn.execute(sa.select(inner.c.s, sa.func.count()).group_by(inner.c.s))}
    ranges, offset, last = [], 0, len(bounds)
    for i in range(last + 1):
        with_nulls = i == (0 if first else last)
        ranges.append(KeyRange(bounds[i - 1] if i else None, bounds[i] if i < last else None, with_nulls, offset))
        offset += counts.get(i, 0) + (nulls if with_nulls else 0)
    return ranges, total
