"""The discrepancy ledger (台账): each problem's life from the first run that saw it.

Pure: the previous ledger and this run's discrepancies in, the new ledger out.

- seen now, never before                 -> ``new`` (first_seen = as_of)
- seen now, open before (new/open/reopened) -> ``open``
- seen now, resolved before              -> ``reopened`` (resolved_at cleared)
- not seen now, open before, in scope    -> ``resolved`` (resolved_at = as_of); never deleted
- resolved before and not seen now, or outside the run's scope -> unchanged
A re-run for the same date starts from the same earlier snapshot, so it is idempotent,
and also looks at what the earlier run that day saw (``same_day``).

    >>> import pandas as pd
    >>> prev = pd.DataFrame({"discrepancy_id": ["a", "b"], "rule": ["R", "R"], "county_code": ["1", "1"],
    ...     "status": ["new", "new"], "first_seen": ["2020-07-30"] * 2, "last_seen": ["2020-07-30"] * 2})
    >>> now = pd.DataFrame({"discrepancy_id": ["b", "c"], "rule": ["R", "R"], "county_code": ["1", "1"]})
    >>> led = update_ledger(prev, now, "2020-07-31", "run2")
    >>> led.set_index("discrepancy_id")["status"].to_dict()
    {'a': 'resolved', 'b': 'open', 'c': 'new'}
"""
from __future__ import annotations

import pandas as pd

from reconcile.frames import isin
from schemas.published import LEDGER_COLUMNS as COLUMNS
from schemas.published import OPEN_STATUSES as OPEN


def _frame(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    for c in COLUMNS:
        if c not in f:
            f[c] = pd.NA
    return f[COLUMNS].astype("string")


def update_ledger(previous: pd.DataFrame, current: pd.DataFrame, as_of: str, run_id: str,
                  scope: list[str] | None = None, same_day: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger after this run.

    ``previous`` is the snapshot of the latest earlier date, ``same_day`` what an earlier
    run for this same date recorded (a re-run after a correction). Statuses are measured
    against ``previous``, so running the same inputs again changes nothing; ``same_day``
    only adds what happened today: a problem an earlier run today saw and this one does
    not is resolved, and one it had resolved that comes back is reopened. ``scope`` limits
    which counties can be resolved.
    """
    prev, cur = _frame(previous), _frame(current)
    today = _frame(same_day if same_day is not None else pd.DataFrame())
    before, earlier = prev.set_index("discrepancy_id"), today.set_index("discrepancy_id")
    in_prev = isin(cur["discrepancy_id"], prev["discrepancy_id"])

    seen = cur.copy()
    old_status = seen["discrepancy_id"].map(before["status"]).astype("string")
    today_status = seen["discrepancy_id"].map(earlier["status"]).astype("string")
    seen["status"] = "new"
    seen.loc[in_prev & old_status.isin(OPEN).fillna(False), "status"] = "open"
    seen.loc[in_prev & (old_status == "resolved").fillna(False), "status"] = "reopened"
    seen.loc[today_status.isin(["resolved", "reopened"]).fillna(False), "status"] = "reopened"
    seen["first_seen"] = (seen["discrepancy_id"].map(before["first_seen"]).astype("string")
                          .fillna(seen["discrepancy_id"].map(earlier["first_seen"]).astype("string")).fillna(as_of))
    seen["last_seen"] = as_of
    seen["resolved_at"] = pd.NA
    changed = seen["status"] != old_status.fillna("")
    seen["changed_by_run"] = seen["discrepancy_id"].map(before["changed_by_run"]).astype("string").mask(
        changed, run_id)

    only_today = today[~isin(today["discrepancy_id"], prev["discrepancy_id"])]
    gone = pd.concat([prev, only_today], ignore_index=True)
    gone = gone[~isin(gone["discrepancy_id"], cur["discrepancy_id"])].copy()
    in_scope = pd.Series(True, index=gone.index) if scope is None else isin(gone["county_code"], scope)
    closing = in_scope & gone["status"].isin(OPEN)
    gone.loc[closing, "status"] = "resolved"
    gone.loc[closing, "resolved_at"] = as_of
    gone.loc[closing, "changed_by_run"] = run_id
    out = pd.concat([seen, gone], ignore_index=True)[COLUMNS].astype("string")
    return out.sort_values("discrepancy_id").reset_index(drop=True)


def annotate(discrepancies: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """This run's discrepancies with the status and first_seen the ledger gives them."""
    led = ledger.set_index("discrepancy_id")
    d = discrepancies.copy()
    d["status"] = d["discrepancy_id"].map(led["status"]).astype("string")
    d["first_seen"] = d["discrepancy_id"].map(led["first_seen"]).astype("string")
    return d


def changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What a run changed: the entries of ``after`` (the run's ledger) that it found or
    touched, ``status`` replaced by the change since ``before`` (the ledger of the run's
    scope as it stood before the run: an earlier run's for the same date, else the
    latest earlier date's):

    - open now, absent or unknown before -> ``new``
    - open now, open before              -> ``open`` (still open)
    - resolved now, open before          -> ``resolved``
    - open now, resolved before          -> ``reopened``
    - resolved before and now            -> left out (no change of this run)

    The ledger's own ``status`` is measured against the earlier date, so that a same-date
    re-run gives byte-identical tables; a re-run of the same inputs then still reads
    ``new`` there, but changes nothing here.
    """
    was = _frame(before).drop_duplicates("discrepancy_id", keep="last").set_index("discrepancy_id")["status"]
    a = _frame(after)
    before_status = a["discrepancy_id"].map(was).astype("string")
    was_open = before_status.isin(OPEN).fillna(False)
    was_resolved = (before_status == "resolved").fillna(False)
    now_open = a["status"].isin(OPEN).fillna(False)
    move = pd.Series(pd.NA, index=a.index, dtype="string")
    move[now_open & ~was_open & ~was_resolved] = "new"
    move[now_open & was_open] = "open"
    move[now_open & was_resolved] = "reopened"
    move[~now_open & was_open] = "resolved"
    return a.assign(status=move)[move.notna()].reset_index(drop=True)
