"""The publishing gate as data: Great Expectations suites (``gate.yaml``) and the frames
they run over, derived from a run's published tables.

Cross-table facts (a match refers to an existing record, every record has an outcome,
counts add up) become columns of small derived frames, so each check is a plain GX
column expectation that the Data Docs can show. Running the suites and writing the Data
Docs is ``connectors.datadocs``; this module only declares.

>>> [s.name for s in load_suites()][:3]
['matches', 'discrepancies', 'unified']
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
import yaml

from schemas.config import HERE
from schemas.keysets import isin

TEXT = "*text*"


@dataclass(frozen=True)
class GateExpectation:
    frame: str
    expect: str          # GX's snake_case expectation name
    kwargs: dict[str, Any]
    why: str

    @property
    def label(self) -> str:
        cols = self.kwargs.get("column") or "/".join(str(self.kwargs.get(k)) for k in ("column_A", "column_B")
                                                     if k in self.kwargs)
        return f"{self.frame}: {self.expect}({cols})"


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    entries: tuple[dict, ...]


@lru_cache(maxsize=1)
def _declared() -> dict:
    return yaml.safe_load((HERE / "gate.yaml").read_text(encoding="utf-8"))


def full_id_pattern() -> str:
    """The regex of a full resident ID as the gate looks for it (see gate.yaml)."""
    return _declared()["full_id_pattern"].strip()


# Full-width digits read as an ID all the same: they are folded (one character to one)
# before the pattern runs, so a full-width ID is masked too.
FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


def mask_full_ids(text: str) -> str:
    """``text`` with every full ID masked as ``522425********0014``: the one masker of
    everything an analyst, a log or the quarantine shows.

    >>> mask_full_ids("身份证522425198001010014有误, 5.22425198001010E+17")
    '身份证522425********0014有误, 5.2242**********E+17'
    >>> mask_full_ids("５２２４２５１９８００１０１００１４")
    '522425********0014'
    """
    pattern = _compiled()
    text = text.translate(FULL_WIDTH)

    def masked(m: re.Match) -> str:
        whole = m.group(0)  # the ID with at most one boundary character on each side
        lead = 0 if _ascii_alnum(whole[0]) else 1
        trail = len(whole) if _ascii_alnum(whole[-1]) else len(whole) - 1
        value = whole[lead:trail]
        return whole[:lead] + value[:6] + "*" * (len(value) - 10) + value[-4:] + whole[trail:]

    previous = None
    while previous != text:  # a match eats one boundary character: IDs side by side need a second pass
        previous, text = text, pattern.sub(masked, text)
    return text


def mask_full_ids_in(values: pd.Series) -> pd.Series:
    """:func:`mask_full_ids` over a column: Arrow finds the few values holding an ID (or a
    full-width digit), only those are rewritten."""
    s = values.astype("string")
    if s.empty:
        return s
    hit = (s.str.contains(full_id_pattern(), regex=True) | s.str.contains("[０-９]", regex=True)).fillna(False)
    if not hit.any():
        return s
    return s.mask(hit, s[hit].map(mask_full_ids).astype("string"))


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


@lru_cache(maxsize=1)
def _compiled() -> re.Pattern:
    return re.compile(full_id_pattern())


def load_suites(group: str = "suites") -> list[SuiteSpec]:
    """The suites of one group of ``gate.yaml``: ``suites`` (the publishing gate) or
    ``guards`` (the volume and shape guard, ``schemas/guards.py``)."""
    return [SuiteSpec(name, tuple(entries)) for name, entries in _declared()[group].items()]


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns
            if pd.api.types.is_string_dtype(frame[c]) or pd.api.types.is_object_dtype(frame[c])]


def expectations_for(suite: SuiteSpec, frame: pd.DataFrame) -> list[GateExpectation]:
    """The suite's entries made concrete for ``frame`` (``columns`` expanded, patterns filled)."""
    out = []
    for entry in suite.entries:
        entry = dict(entry)
        expect, why = entry.pop("expect"), entry.pop("why", "")
        columns = entry.pop("columns", None)
        if isinstance(entry.get("regex"), str):
            entry["regex"] = entry["regex"].replace("{full_id_pattern}", full_id_pattern())
        targets = _text_columns(frame) if columns == TEXT else columns
        if targets is None:
            out.append(GateExpectation(suite.name, expect, entry, why))
        else:
            out.extend(GateExpectation(suite.name, expect, {**entry, "column": c}, why) for c in targets)
    return out


def _fate(keys: pd.Series, outcomes: list[tuple[str, pd.Series]]) -> pd.Series:
    """The first outcome whose key set holds each key; missing when none does."""
    fate = pd.Series(pd.NA, index=keys.index, dtype="string")
    for name, holders in outcomes:
        fate = fate.mask(fate.isna() & isin(keys, holders), name)
    return fate


def _record_index(frame: pd.DataFrame, keys: list[str], source: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` indexed by the record each row is about (``key=value`` of each key column
    of ``source``, IDs masked): a failed expectation's unexpected index list then names
    the records, not row positions. ``source`` defaults to ``frame``; a frame whose rows are
    not ``source``'s keeps its index."""
    source = frame if source is None else source
    present = [k for k in keys if k in source.columns]
    if not present or not frame.index.equals(source.index):
        return frame
    record = None
    for key in present:
        part = key + "=" + mask_full_ids_in(source[key])
        record = part.fillna("") if record is None else record + (" " + part).fillna("")
    return frame.set_axis(pd.Index(record.str.strip(), name="record"))


def gate_frames(tables: dict[str, pd.DataFrame], analyst_view: pd.DataFrame,
                accounting: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The frames the suites run over, each indexed by the record its rows are about.

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
    return {
        "matches": _record_index(matches, ["household_no", "archive_no"]),
        "discrepancies": _record_index(d, discrepancy),
        "unified": _record_index(tables["unified"], ["unified_id", "household_no", "archive_no"]),
        "ledger": _record_index(tables["ledger"], ["discrepancy_id"]),
        "records_ps": _record_index(ps[["household_no"]], ["household_no"]),
        "records_ha": _record_index(ha[["archive_no"]], ["archive_no"]),
        "ps_fate": _record_index(ps_fate, ["household_no"]), "ha_fate": _record_index(ha_fate, ["archive_no"]),
        "accounting": _record_index(acc, ["source"]), "progress": _record_index(tables["progress"], ["level", "code"]),
        "analyst_view": _record_index(analyst_view, discrepancy, d),
        "analyst_text": _record_index(d[text].astype("string"), discrepancy, d),
    }
