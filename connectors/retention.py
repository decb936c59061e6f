"""Which published run folders are kept, and removing the others.

``<out>/<as_of>`` (the link :class:`connectors.publish.Staging` swaps in) and its
``<out>/.runs/<as_of>/`` folders are kept for the last ``days`` days before the newest
published date and for every month end (or the newest ``month_ends`` of them); the
newest published date and the date being published are always kept. A date is removed
only while its run lock is held, so never under a run for that date; the link goes
first, so a reader resolves a whole folder or none. The store keeps every date's tables
as history: a removed folder's tables stay readable with ``Store.table_as_of``.
"""
from __future__ import annotations

import calendar
import shutil
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from connectors.store import RunLocked
from schemas.defaults import KEEP_DAYS, KEEP_MONTH_ENDS

DATED = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"


@dataclass(frozen=True)
class Published:
    as_of: str
    folders: tuple[Path, ...]   # the link (or a plain folder) and the run folders behind it
    reason: str                 # why kept: "live", "newest", "recent", "month end"; "" when not

    @property
    def kept(self) -> bool:
        return bool(self.reason)


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def _month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def published_dates(out: Path | str) -> dict[str, tuple[Path, ...]]:
    """Every as_of with a published link or run folders under ``out``, and those paths."""
    out = Path(out)
    found: dict[str, list[Path]] = {}
    for p in out.glob(DATED):
        if _is_date(p.name) and (p.is_symlink() or p.is_dir()):
            found.setdefault(p.name, []).append(p)
    for p in (out / ".runs").glob(DATED):
        if _is_date(p.name) and p.is_dir():
            found.setdefault(p.name, []).append(p)
    for p in (out / ".failed").glob(DATED):
        if _is_date(p.name) and p.is_dir():
            found.setdefault(p.name, []).append(p)
    return {d: tuple(paths) for d, paths in sorted(found.items())}


def plan(out: Path | str, live: str | None = None, *, days: int = KEEP_DAYS,
         month_ends: int | None = KEEP_MONTH_ENDS) -> list[Published]:
    """Every published date of ``out``, oldest first, each saying why it is kept (or not).

    ``live`` is the date a run is publishing now. Days count back from the newest published
    date (not the clock), so a pause in the nightly runs removes nothing.
    """
    dates = published_dates(out)
    if live is not None:
        dates.setdefault(live, ())
    if not dates:
        return []
    newest = max(dates)
    since = (date.fromisoformat(newest) - timedelta(days=days)).isoformat()
    ends = [d for d in dates if _month_end(date.fromisoformat(d))]
    kept_ends = set(ends if month_ends is None else ends[len(ends) - month_ends:] if month_ends > 0 else [])
    listed = []
    for d, folders in dates.items():
        reason = ("live" if d == live else "newest" if d == newest else "recent" if d > since
                  else "month end" if d in kept_ends else "")
        listed.append(Published(d, folders, reason))
    return listed


def prune(out: Path | str, live: str | None, lock: Callable[[str], AbstractContextManager] | None = None, *,
          days: int = KEEP_DAYS, month_ends: int | None = KEEP_MONTH_ENDS) -> list[str]:
    """Remove the published dates :func:`plan` does not keep; the dates removed.

    ``lock(as_of)`` is the store's run lock (``Store.run_lock``; the run that publishes and
    ``anju history --prune`` both pass it): a date whose lock is held by a run is left for a
    later prune. Without ``lock``, none is taken.
    """
    removed = []
    for item in plan(out, live, days=days, month_ends=month_ends):
        if item.kept:
            continue
        with ExitStack() as held:
            if lock is not None:
                try:
                    held.enter_context(lock(item.as_of))
                except RunLocked:  # a run for that date is going on: left for a later prune
                    continue
            links = [p for p in item.folders if p.is_symlink()]
            for p in links:  # the link first: a reader resolves a whole folder or nothing
                p.unlink()
            for p in item.folders:
                if p not in links:
                    shutil.rmtree(p, ignore_errors=True)
            removed.append(item.as_of)
    return removed


def kept_runs(out: Path | str, *, days: int = KEEP_DAYS, month_ends: int | None = KEEP_MONTH_ENDS) -> list[dict]:
    """What ``anju history`` shows: each published date, whether it is kept and why, its
    live run and its size on disk."""
    rows = []
    for item in plan(out, days=days, month_ends=month_ends):
        link = next((p for p in item.folders if p.parent == Path(out)), None)
        run = link.resolve().name if link is not None and link.is_symlink() else None
        size = sum(f.stat().st_size for p in item.folders if not p.is_symlink()
                   for f in p.rglob("*") if f.is_file() and not f.is_symlink())
        rows.append({"as_of": item.as_of, "kept": item.kept, "reason": item.reason or "removed at next prune",
                     "run_id": run, "bytes": size})
    return rows
