"""The publishing gate as data: Great Expectations suites (``gate.yaml``) and the frames
they run over, derived from a run's published tables.

Cross-table facts (a match refers to an existing record, every record has an outcome,
counts add up) become columns of small derived frames, so each check is a plain GX
column expectation that the Data Docs can show. Deriving those frames is
``reconcile.gate``; masking the IDs the gate looks for is ``reconcile.masking``; running
the suites and writing the Data Docs is ``connectors.datadocs``; this module only declares.

>>> [s.name for s in load_suites()][:3]
['matches', 'discrepancies', 'unified']
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
import yaml

from schemas.config import HERE

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
# A masked ID keeps its region (6) and its last 4 characters: 522425********0014.
ID_KEPT_HEAD = 6
ID_KEPT_TAIL = 4
# Characters of a row a reader could not use, as run.json and the quarantine show it (after
# masking), and as the reader keeps it (before): far enough past the shown cut that an ID
# crossing it is whole when the core masks it.
ROW_TEXT_SHOWN = 80
ROW_TEXT_READ = 400


def load_suites(group: str = "suites") -> list[SuiteSpec]:
    """The suites of one group of ``gate.yaml``: ``suites`` (the publishing gate) or
    ``guards`` (the volume and shape guard, ``schemas/guards.py``)."""
    return [SuiteSpec(name, tuple(entries)) for name, entries in _declared()[group].items()]


def unique_keys(group: str = "suites") -> list[tuple[str, str]]:
    """``(frame, column)`` of every uniqueness a group's suites declare: a run cut into
    partitions checks these across partitions as well (``flows/country_gate.py``).

    >>> unique_keys()[:2]
    [('matches', 'archive_no'), ('discrepancies', 'discrepancy_id')]
    """
    return [(s.name, e["column"]) for s in load_suites(group) for e in s.entries
            if e["expect"] == "expect_column_values_to_be_unique"]


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
