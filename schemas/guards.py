"""The volume and shape guard: this run against the previous published one, as gate expectations.

A truncated or partial export reads cleanly: every row it holds is valid. What gives it
away is the comparison with the last published run: a county whose rows fell by half,
a column that was filled and is now mostly empty, a share of the open discrepancies
"resolved" overnight far above the usual. Those become three small frames
(``county_rows``, ``column_fill``, ``resolved_share``) whose rows carry the figures and
their bounds; the ``guards`` suites of ``gate.yaml`` check ``low <= now <= high`` as plain
GX column-pair expectations, so the Data Docs show the figures. Each row is indexed by
the sentence a person reads ("522425: ha_archive rows 4,812 -> 2,406 (-50%)"), so a
failed expectation names the county and the figure.

A county the run was started to accept (``--accept-change``) is left out of every frame,
and out of the ``all`` rows, which sum the counties judged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from schemas import defaults
from schemas.published import OPEN_STATUSES, PublishGateError

ROWS = "_rows"   # the profile's row count, beside one entry per column
ALL = "all"
PROFILE_COLUMNS = ["source", "county_code", "column", "count"]
OPEN = OPEN_STATUSES


class GuardHold(PublishGateError):
    """The run differs from the last published one beyond the settings' thresholds: held."""


@dataclass(frozen=True)
class GuardThresholds:
    county_rows_change: float = defaults.COUNTY_ROWS_CHANGE
    min_rows: int = defaults.GUARD_MIN_ROWS
    fill_was: float = defaults.FILL_WAS
    fill_now: float = defaults.FILL_NOW
    resolved_share_max: float = defaults.RESOLVED_SHARE_MAX
    resolved_share_ratio: float = defaults.RESOLVED_SHARE_RATIO
    resolved_share_floor: float = defaults.RESOLVED_SHARE_FLOOR

    @classmethod
    def from_settings(cls, section: dict | None) -> "GuardThresholds":
        known = cls.__dataclass_fields__
        unknown = sorted(set(section or {}) - set(known))
        if unknown:
            raise ValueError(f"guards: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in (section or {}).items()})


def profile(records: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows and filled cells per source, county and column: what the next run compares with.

    ``records``: source name -> canonical records with ``county_code``. Columns starting
    with ``_`` or ``extra:`` are the reader's own, not the export's."""
    parts = []
    for source, frame in sorted(records.items()):
        county = frame["county_code"].astype("string").fillna("")
        cols = [c for c in frame.columns if not str(c).startswith(("_", "extra:")) and c != "county_code"]
        counts = {ROWS: county.groupby(county).size()}
        for c in cols:
            v = frame[c]
            filled = v.notna()
            if pd.api.types.is_string_dtype(v) or pd.api.types.is_object_dtype(v):
                filled &= v.astype("string").str.strip().fillna("") != ""
            counts[c] = filled.groupby(county).sum()
        for col, s in counts.items():
            parts.append(pd.DataFrame({"source": source, "county_code": s.index.astype(str), "column": col,
                                       "count": s.to_numpy(dtype="int64")}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "count" else "string") for c in PROFILE_COLUMNS})
    out = pd.concat(parts, ignore_index=True).astype({"source": "string", "county_code": "string", "column": "string"})
    return out.sort_values(["source", "county_code", "column"]).reset_index(drop=True)


def _pct(x: float) -> str:
    return f"{x:+.0%}"


def _indexed(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    return frame.set_axis(pd.Index(labels, dtype="string", name="record"))


def _county_rows(cur: pd.DataFrame, prev: pd.DataFrame, t: GuardThresholds) -> pd.DataFrame:
    rows = lambda p: p[p["column"] == ROWS].set_index(["source", "county_code"])["count"]  # noqa: E731
    both = pd.concat({"rows_before": rows(prev), "rows_now": rows(cur)}, axis=1).fillna(0).astype("int64")
    if len(both):
        total = both.groupby(level="source").sum()
        total.index = pd.MultiIndex.from_arrays([total.index, [ALL] * len(total)], names=["source", "county_code"])
        both = pd.concat([both[both.max(axis=1) >= t.min_rows], total])
    both = both.reset_index()
    both["low"] = [math.floor(b * (1 - t.county_rows_change)) for b in both["rows_before"]]
    both["high"] = [math.ceil(b * (1 + t.county_rows_change)) for b in both["rows_before"]]
    labels = [f"{c}: {s} rows {b:,} -> {n:,} (" + (_pct(n / b - 1) if b else "new county") + ")"
              for s, c, b, n in both[["source", "county_code", "rows_before", "rows_now"]].itertuples(index=False)]
    return _indexed(both.astype({"low": "int64", "high": "int64"}), labels)


def _column_fill(cur: pd.DataFrame, prev: pd.DataFrame, t: GuardThresholds) -> pd.DataFrame:
    def rates(p: pd.DataFrame) -> pd.DataFrame:
        if p.empty:
            return pd.DataFrame(columns=["source", "county_code", "column", "rows", "filled"])
        total = p.groupby(["source", "column"], as_index=False)["count"].sum().assign(county_code=ALL)
        p = pd.concat([p, total], ignore_index=True)
        n = p[p["column"] == ROWS].set_index(["source", "county_code"])["count"].rename("rows")
        return p[p["column"] != ROWS].rename(columns={"count": "filled"}).join(n, on=["source", "county_code"])

    b, n = rates(prev), rates(cur)
    both = b.merge(n, on=["source", "county_code", "column"], suffixes=("_before", "_now"))
    both = both[(both["rows_before"] >= t.min_rows) & (both["rows_now"] >= t.min_rows)]
    both = both.assign(fill_before=both["filled_before"] / both["rows_before"],
                       fill_now=both["filled_now"] / both["rows_now"])
    both = both[both["fill_before"] >= t.fill_was].sort_values(["source", "county_code", "column"])
    both = both.assign(floor=t.fill_now)[["source", "county_code", "column", "fill_before", "fill_now", "floor"]]
    labels = [f"{c}: {s}.{col} filled {fb:.0%} -> {fn:.0%}" for s, c, col, fb, fn, _ in both.itertuples(index=False)]
    return _indexed(both.astype({"fill_before": "float64", "fill_now": "float64", "floor": "float64"})
                    .reset_index(drop=True), labels)


def _resolved_share(ledger: pd.DataFrame, as_of: str, usual: float, t: GuardThresholds) -> pd.DataFrame:
    county = ledger["county_code"].astype("string").fillna("")
    resolved = (ledger["status"] == "resolved") & (ledger["resolved_at"] == as_of)
    still_open = ledger["status"] == "open"   # open before and still: the base the resolved came from
    per = pd.DataFrame({"resolved": resolved.fillna(False).groupby(county).sum(),
                        "still_open": still_open.fillna(False).groupby(county).sum()}).astype("int64")
    total = per.sum().to_frame(ALL).T
    # shares of a handful mean nothing: a county, or the whole run, is judged from min_rows up
    per, total = (f[(f["resolved"] + f["still_open"]) >= t.min_rows] for f in (per, total))
    out = pd.concat([per, total]).rename_axis("county_code").reset_index()
    base = out["resolved"] + out["still_open"]
    limit = min(t.resolved_share_max, max(t.resolved_share_floor, t.resolved_share_ratio * usual))
    out = out.assign(share=(out["resolved"] / base.where(base > 0)).fillna(0.0), usual=float(usual),
                     limit=float(limit)).astype({"share": "float64"})
    labels = [f"{c}: {r:,} of {r + o:,} open discrepancies resolved ({s:.0%}; usual {usual:.0%}, limit {limit:.0%})"
              for c, r, o, s in out[["county_code", "resolved", "still_open", "share"]].itertuples(index=False)]
    return _indexed(out, labels)


def guard_frames(current: pd.DataFrame, previous: pd.DataFrame, ledger: pd.DataFrame, as_of: str, *,
                 usual_share: float, thresholds: GuardThresholds,
                 accepted: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """The frames of the ``guards`` suites.

    ``current``/``previous``: :func:`profile` of this run's and the previous published run's
    records (an empty profile when there is none: nothing to compare). ``ledger``: this
    run's ledger (``county_code``, ``status``, ``resolved_at``). ``usual_share``: the share
    of open discrepancies earlier runs resolved (their median)."""
    accepted = set(accepted or [])
    keep = lambda p: p[~p["county_code"].isin(accepted)]  # noqa: E731
    cur, prev = keep(current), keep(previous)
    if prev.empty:  # the first run: no figure to compare, nothing to hold
        cur = cur.iloc[:0]
    led = ledger[~ledger["county_code"].isin(accepted)]
    return {"county_rows": _county_rows(cur, prev, thresholds), "column_fill": _column_fill(cur, prev, thresholds),
            "resolved_share": _resolved_share(led, as_of, usual_share, thresholds)}


def breaches(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Every row outside its bounds, as the sentence naming county and figure (the same tests
    the ``guards`` suites run)."""
    r, f, s = frames["county_rows"], frames["column_fill"], frames["resolved_share"]
    bad = [*r.index[(r["rows_now"] < r["low"]) | (r["rows_now"] > r["high"])],
           *f.index[f["fill_now"] < f["floor"]], *s.index[s["share"] > s["limit"]]]
    return [str(x) for x in bad]


def hold_message(found: list[str], docs: str, shown: int = 5) -> str:
    counties = sorted({x.split(":", 1)[0] for x in found} - {ALL})
    more = f" (and {len(found) - shown} more)" if len(found) > shown else ""
    hint = f"; if the change is real, re-run with --accept-change {','.join(counties)}" if counties else ""
    return (f"publication held by the volume guard: {'; '.join(found[:shown])}{more}; nothing published, last good "
            f"outputs kept{hint}; Data Docs: {docs}")
