"""The frames the publishing gate runs over, derived from a run's published tables.

``schemas/gate.yaml`` declares the suites (read by ``schemas.gate``); this module turns
cross-table facts (a match refers to an existing record, every record has an outcome,
counts add up) into columns of small frames, each indexed by the record its rows are
about with any ID in a key masked, so a failed expectation names records. DataFrames in
and out: running the suites and writing the Data Docs is ``connectors.datadocs``.
"""
from __future__ import annotations

import pandas as pd

from reconcile.frames import isin
from reconcile.masking import mask_full_ids_in
from reconcile.spread import Outbox, buckets, gather, send


def _fate(keys: pd.Series, outcomes: list[tuple[str, pd.Series]]) -> pd.Series:
    """The first outcome whose key set holds each key; missing when none does."""
    fate = pd.Series(pd.NA, index=keys.index, dtype="string")
    for name, holders in outcomes:
        fate = fate.mask(fate.isna() & isin(keys, holders), name)
    return fate


def _record_index(frame: pd.DataFrame, keys: list[str], source: pd.DataFrame | None = None,
                  named: bool = True) -> pd.DataFrame:
    """``frame`` indexed by the record each row is about (``key=value`` of each key column
    of ``source``, IDs masked): a failed expectation's unexpected index list then names
    the records, not row positions. ``source`` defaults to ``frame``; a frame whose rows are
    not ``source``'s keeps its index."""
    source = frame if source is None else source
    present = [k for k in keys if k in source.columns]
    if not named or not present or not frame.index.equals(source.index):
        return frame
    record = None
    for key in present:
        part = key + "=" + mask_full_ids_in(source[key])
        record = part.fillna("") if record is None else record + (" " + part).fillna("")
    return frame.set_axis(pd.Index(record.str.strip(), name="record"))


def accounting_frame(accounting: pd.DataFrame, named: bool = True) -> pd.DataFrame:
    """The ``accounting`` frame: one row per source, rows read beside rows accounted for.

    >>> acc = pd.DataFrame({"source": ["ha_archive"], "rows_read": [10], "rows_used": [8],
    ...                     "rows_quarantined": [1], "rows_out_of_scope": [1]})
    >>> accounting_frame(acc)[["rows_read", "rows_accounted"]].to_dict("records")
    [{'rows_read': 10, 'rows_accounted': 10}]
    """
    acc = accounting.assign(rows_accounted=accounting["rows_used"] + accounting["rows_quarantined"]
                            + accounting["rows_out_of_scope"])
    return _record_index(acc, ["source"], named=named)


def ledger_frame(ledger: pd.DataFrame, named: bool = True) -> pd.DataFrame:
    """The ``ledger`` frame: the 台账 indexed by its items (a partition of a national run
    whose counties hold ledger items but no records checks this alone)."""
    return _record_index(ledger, ["discrepancy_id"], named=named)


def gate_key_probe(frames: dict[str, pd.DataFrame], keys: list[tuple[str, str]], n: int) -> Outbox:
    """A partition's values of the keys the suites want unique (``schemas.gate.unique_keys``),
    each to the bucket of its hash: a key repeated in two partitions meets itself there.
    Missing values are left out, as the uniqueness expectation leaves them."""
    out: Outbox = {}
    for frame, column in keys:
        if frame in frames and column in frames[frame]:
            values = frames[frame][column].dropna().astype("string").reset_index(drop=True)
            send(out, f"{frame}.{column}", pd.DataFrame({"key": values}), buckets(values, n))
    return out


def repeated_across(inbox: list[dict[str, pd.DataFrame]]) -> list[dict]:
    """The keys of one bucket that more than one row holds, whichever partitions sent them:
    per key, how many values repeat and a few of them (any ID in them masked).

    >>> one = {"matches.archive_no": pd.DataFrame({"key": ["A1", "A2"]})}
    >>> two = {"matches.archive_no": pd.DataFrame({"key": ["A2"]})}
    >>> repeated_across([one, two])
    [{'key': 'matches.archive_no', 'values': 1, 'rows': 2, 'examples': ['A2']}]
    """
    found = []
    for name in sorted({n for m in inbox for n in m}):
        keys = gather(inbox, name, order=None)["key"]
        rep = keys[keys.duplicated(keep=False)]
        if len(rep):
            examples = sorted(mask_full_ids_in(pd.Series(rep.unique())).tolist())[:5]
            found.append({"key": name, "values": int(rep.nunique()), "rows": len(rep), "examples": examples})
    return found


def gate_frames(tables: dict[str, pd.DataFrame], analyst_view: pd.DataFrame,
                accounting: pd.DataFrame, named: bool = True) -> dict[str, pd.DataFrame]:
    """The frames the suites run over, each indexed by the record its rows are about.

    ``named=False`` leaves the row positions as index: the same checks, without building a
    name for each of millions of rows (the flow runs the suites so first, and again named
    only when one fails, so the failures name their records).

    ``tables`` are the run's published tables (``ledger`` and ``progress`` included),
    ``analyst_view`` the discrepancy rows as the reports show them (row for row), and
    ``accounting`` one row per source with ``rows_read``, ``rows_used``,
    ``rows_quarantined`` and ``rows_out_of_scope``.
    """
    m, d = tables["matches"], tables["discrepancies"]
    ps, ha = tables["records_ps"], tables["records_ha"]
    matches = m[["household_no", "archive_no", "method", "score"]].assign(
        ps_record_exists=isin(m["household_no"], ps["household_no"]),
        ha_record_exists=isin(m["archive_no"], ha["archive_no"]))
    rule_keys = lambda rule, key: d.loc[d["rule"] == rule, key]  # noqa: E731
    ps_fate = pd.DataFrame({"household_no": ps["household_no"], "fate": _fate(ps["household_no"], [
        ("matched", m["household_no"]), ("ha_missing", rule_keys("HA_MISSING", "household_no"))])})
    ha_fate = pd.DataFrame({"archive_no": ha["archive_no"], "fate": _fate(ha["archive_no"], [
        ("matched", m["archive_no"]), ("ps_missing", rule_keys("PS_MISSING", "archive_no")),
        ("other_group", tables["other_groups"]["archive_no"])])})
    text = [c for c in ("message", "message_en", "action", "action_en") if c in d.columns]
    discrepancy = ["discrepancy_id", "household_no", "archive_no"]

    def index(frame, keys, source=None):
        return _record_index(frame, keys, source, named)

    return {
        "matches": index(matches, ["household_no", "archive_no"]),
        "discrepancies": index(d, discrepancy),
        "unified": index(tables["unified"], ["unified_id", "household_no", "archive_no"]),
        "ledger": ledger_frame(tables["ledger"], named),
        "records_ps": index(ps[["household_no"]], ["household_no"]),
        "records_ha": index(ha[["archive_no"]], ["archive_no"]),
        "ps_fate": index(ps_fate, ["household_no"]), "ha_fate": index(ha_fate, ["archive_no"]),
        "accounting": accounting_frame(accounting, named), "progress": index(tables["progress"], ["level", "code"]),
        "analyst_view": index(analyst_view, discrepancy, d),
        "analyst_text": index(d[text].astype("string"), discrepancy, d),
    }
