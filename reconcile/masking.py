"""The one masker of full resident IDs: everything an analyst, a log or the quarantine shows.

Where it lives and why. What a full ID looks like (``full_id_pattern`` in
``schemas/gate.yaml``), the width-folding of full-width digits and the shape of a masked
ID (:data:`schemas.gate.ID_KEPT_HEAD` characters, stars, :data:`schemas.gate.ID_KEPT_TAIL`)
are contracts, declared once in ``schemas`` as data. Applying them is an engine, so it is
here, in the pure core, as text in and text out: the core masks what it builds
(quarantine, discrepancy messages, the analyst view, the gate frames' record labels).
``connectors`` import schemas only, so they never mask on their own and there is no second
masker there: a reader hands the lines it could not use to the core unmasked (the core
masks them when it builds the quarantine; the flow masks the skipped rows with
:func:`masked_rows` before run.json), and the Data Docs writer takes this masker as an
argument from the flow that calls it. ``flows`` (the console, the log filter) import it
from here.

>>> mask_full_ids("身份证522425198001010014有误, 5.22425198001010E+17")
'身份证522425********0014有误, 5.2242**********E+17'
>>> mask_full_ids("５２２４２５１９８００１０１００１４")
'522425********0014'
"""
from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from reconcile.frames import matches_regex
from schemas.gate import FULL_WIDTH, ID_KEPT_HEAD, ID_KEPT_TAIL, ROW_TEXT_SHOWN, full_id_pattern


@lru_cache(maxsize=1)
def _compiled() -> re.Pattern:
    return re.compile(full_id_pattern())


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def mask_full_ids(text: str) -> str:
    """``text`` with every full ID masked as ``522425********0014`` (the length kept). An
    ID is found in the text with full-width digits and X read as ASCII; what is not part of
    an ID is kept as written."""
    pattern = _compiled()
    folded = text.translate(FULL_WIDTH)  # one character for one: positions in both agree
    found = True
    while found:  # a match eats one boundary character: IDs side by side need a second pass
        found, kept, last = False, [], 0
        for m in pattern.finditer(folded):
            whole = m.group(0)  # the ID with at most one boundary character on each side
            start = m.start() + (0 if _ascii_alnum(whole[0]) else 1)
            end = m.start() + (len(whole) if _ascii_alnum(whole[-1]) else len(whole) - 1)
            value = folded[start:end]
            hidden = len(value) - ID_KEPT_HEAD - ID_KEPT_TAIL
            kept.append((last, start, value[:ID_KEPT_HEAD] + "*" * hidden + value[-ID_KEPT_TAIL:]))
            last, found = end, True
        if found:
            folded, text = (_spliced(t, kept, last) for t in (folded, text))
    return text


def _spliced(text: str, masked: list[tuple[int, int, str]], last: int) -> str:
    """``text`` with each masked ID (the text kept from ``a``, the ID from ``b``) in place."""
    parts = []
    for a, b, value in masked:
        parts += [text[a:b], value]
    return "".join(parts) + text[last:]


@lru_cache(maxsize=1)
def _maybe_id() -> str:
    """What a value :func:`mask_full_ids` may rewrite contains: an ID, or a full-width
    character it reads as ASCII (a digit, or the X an ID may end in). One pattern, so
    Arrow reads each value once."""
    return f"(?:{full_id_pattern()})|[{re.escape(''.join(map(chr, FULL_WIDTH)))}]"


def mask_full_ids_in(values: pd.Series) -> pd.Series:
    """:func:`mask_full_ids` over a column: Arrow finds the few values holding an ID (or a
    full-width digit), only those are rewritten."""
    s = values.astype("string")
    if s.empty:
        return s
    hit = matches_regex(s, _maybe_id())
    if not hit.any():
        return s
    return s.mask(hit, s[hit].map(mask_full_ids).astype("string"))


def masked_rows(rows: list[dict]) -> list[dict]:
    """A reader's rejected or skipped rows (``{"row", "reason", "text", ...}``) as run.json
    and the quarantine show them: the text masked first, then cut to
    :data:`schemas.gate.ROW_TEXT_SHOWN` characters (cutting first could leave part of an ID
    the pattern no longer sees).

    >>> masked_rows([{"row": 3, "reason": "totals", "text": "合计 522425198001010014"}])
    [{'row': 3, 'reason': 'totals', 'text': '合计 522425********0014'}]
    """
    return [{**r, "text": mask_full_ids(r["text"])[:ROW_TEXT_SHOWN]} if isinstance(r.get("text"), str) else dict(r)
            for r in rows]
