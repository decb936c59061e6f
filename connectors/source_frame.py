"""What every reader hands on: a :class:`SourceFrame`, assembled by :func:`assemble`.

Shared by the file readers (``connectors.sources``) and the database reader
(``connectors.sql``), so neither imports the other's insides: ``sources`` dispatches to
``sql``, and both end here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from connectors.headers import TOTALS, HeaderMatch, is_skippable
from schemas.config import SourceSpec
from schemas.gate import ROW_TEXT_READ


@dataclass
class SourceFrame:
    frame: pd.DataFrame
    meta: dict = field(default_factory=dict)


def row_text(text: str) -> str:
    """A row a reader could not use, as it hands it on: raw, cut to ``ROW_TEXT_READ``
    characters. Not masked here: the core masks it (``reconcile.masking.masked_rows``)
    before the quarantine or run.json shows it, then cuts it to ``ROW_TEXT_SHOWN``."""
    return text[:ROW_TEXT_READ]


def assemble(data: pd.DataFrame, header: HeaderMatch, first_row: int, spec: SourceSpec,
              location: str, rows=None) -> tuple[pd.DataFrame, list[dict]]:
    """Canonical-named text frame from positional data cells; non-data rows set aside.

    ``rows``: the row number of each line of ``data`` when they do not simply count up from
    ``first_row`` (records spanning lines, rejected records in between)."""
    # text first, then fill: a column the data lacks comes in as float NaN, and "" is no float
    data = data.reindex(columns=range(len(header.names))).astype("string").fillna("")
    data.index = pd.RangeIndex(first_row, first_row + len(data)) if rows is None else pd.Index(rows, dtype="int64")
    anchor_col = spec.key or spec.required[0]
    anchor_pos = next(p for p, c in header.mapping.items() if c == anchor_col)
    anchor = data[anchor_pos].str.strip()
    suspect = data.index[(anchor == "") | anchor.str.match(TOTALS.pattern)]
    skipped = []
    for r in suspect:  # few rows: totals, notes, blank lines
        why = is_skippable(data.loc[r].tolist())
        if why:
            skipped.append({"row": int(r), "reason": why, "text": row_text(" ".join(x for x in data.loc[r] if x))})
    data = data.drop(index=[s["row"] for s in skipped])
    out = pd.DataFrame({canon: data[pos] for pos, canon in header.mapping.items()})
    for pos, name in enumerate(header.names):
        if pos not in header.mapping and name.strip():
            out[f"extra:{name.strip()}"] = data[pos]
    out.insert(0, "_row", data.index.astype("int64"))
    return out.reset_index(drop=True), skipped
