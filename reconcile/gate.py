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
    acc = accounting.assign(rows_accounted=accounting["rows_used"] + accounting["rows_quarantined"]
                            + accounting["rows_out_of_scope"])
    text = [c for c in ("message", "message_en", "action", "action_en") if c in d.columns]
    discrepancy = ["discrepancy_id", "household_no", "archive_no"]

    def index(frame, keys, source=None):
        return _record_index(frame, keys, source, named)

    return {
        "matches": index(matches, ["household_no", "archive_no"]),
        "discrepancies": index(d, discrepancy),
        "unified": index(tables["unified"], ["unified_id", "household_no", "archive_no"]),
        "ledger": index(tables["ledger"], ["discrepancy_id"]),
        "records_ps": index(ps[["household_no"]], ["household_no"]),
        "records_ha": index(ha[["archive_no"]], ["archive_no"]),
        "ps_fate": index(ps_fate, ["household_no"]), "ha_fate": index(ha_fate, ["archive_no"]),
        "accounting": index(acc, ["source"]), "progress": index(tables["progress"], ["level", "code"]),
        "analyst_view": index(analyst_view, discrepancy, d),
        "analyst_text": index(d[text].astype("string"), discrepancy, d),
    }
