"""Find the header row of a sheet and map native headers onto canonical columns."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.config import SourceSpec, fold

TOTALS = re.compile(r"^(合计|总计|小计|总合计)")
NOTE = re.compile(r"(填报单位|填报日期|填报人|制表|单位[:：])")
SCAN_ROWS = 30


@dataclass
class HeaderMatch:
    row: int                       # 0-based index of the (last) header row in the scanned rows
    span: int                      # 1, or 2 for a two-row merged header
    names: list[str]               # header text per column, as read (merged rows joined)
    mapping: dict[int, str] = field(default_factory=dict)   # column position -> canonical
    unknown: list[str] = field(default_factory=list)


def _lookup(index: dict[str, str], text: str) -> str | None:
    return index.get(fold(text).lower()) if text else None


def _combine(top: list[str], low: list[str], index) -> list[str]:
    out, group = [], ""
    for a, b in zip(top, low):
        group = a or group  # a merged group label spans the empty cells to its right
        # ... but only over cells with a label of their own below: under an empty top cell an empty
        # lower cell is a padded column (a stray cell far right), not part of the group
        for cand in (b, group + b if b else "", a):
            if cand and _lookup(index, cand):
                out.append(cand)
                break
        else:
            out.append(b or a)
    return out


def find_header(rows: list[list[str]], spec: SourceSpec, location: str, sheet: str | None = None) -> HeaderMatch:
    from connectors.errors import SourceError

    index = spec.alias_index()
    best: tuple[int, int, int, list[str]] | None = None
    scan = rows[:SCAN_ROWS]
    for i, row in enumerate(scan):
        candidates = [(1, list(row))]
        if i + 1 < len(scan):
            candidates.append((2, _combine(list(row), list(scan[i + 1]), index)))
        for span, names in candidates:
            score = sum(_lookup(index, n) is not None for n in names)
            if best is None or score > best[0]:
                best = (score, i, span, names)
    needed = max(2, len(spec.required) // 2)
    if best is None or best[0] < needed:
        raise SourceError(location, f"no header row found in the first {SCAN_ROWS} rows", sheet=sheet,
                          expected="a row with the column names of the spec, e.g. "
                          + ", ".join(spec.column(c).aliases[0] for c in spec.required))
    _, i, span, names = best
    return map_headers(names, spec, location, sheet, row=i + span - 1, span=span)


def map_headers(names: list[str], spec: SourceSpec, location: str, sheet: str | None = None,
                row: int = 0, span: int = 1) -> HeaderMatch:
    from connectors.errors import SourceError

    index = spec.alias_index()
    mapping, unknown, seen = {}, [], {}
    for pos, name in enumerate(names):
        canon = _lookup(index, str(name))
        if canon is None:
            if str(name).strip():
                unknown.append(str(name))
            continue
        if canon in seen:
            raise SourceError(location, f"duplicated header: {names[seen[canon]]!r} and {name!r} both mean {canon}",
                              sheet=sheet, row=row + 1, column=str(name), expected="each column once")
        seen[canon] = pos
        mapping[pos] = canon
    missing = [c for c in spec.required if c not in seen]
    if missing:
        accepted = "; ".join(f"{c}: {' / '.join(spec.column(c).aliases)}" for c in missing)
        found = ", ".join(str(n) for n in names if str(n).strip())
        raise SourceError(location, f"required column missing ({', '.join(missing)}); headers found: {found}",
                          sheet=sheet, row=row + 1, expected=f"one of the accepted aliases — {accepted}")
    return HeaderMatch(row=row, span=span, names=[str(n) for n in names], mapping=mapping, unknown=unknown)


def is_skippable(cells: list[str]) -> str | None:
    """Why a row after the header is no data row (totals, notes, empty), else None."""
    texts = [c for c in cells if c]
    if not texts:
        return "empty"
    if TOTALS.match(fold(texts[0])):
        return "totals"
    if len(texts) <= 2 and NOTE.search("".join(texts)):
        return "note"
    return None
