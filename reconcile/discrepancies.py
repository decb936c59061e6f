"""The discrepancy engine: applies every rule of the catalog and dresses the hits.

Rules say *which* records are wrong (``rules.py``); the catalog says *how* to tell
people (``schemas/catalog.yaml``). This module joins the two and gives each problem a
stable id: a hash of rule, both record keys and field, so the same problem on the same
records has the same id in every run and the ledger can follow it.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from reconcile.rules import RULES, RuleContext
from schemas.config import Catalog, load_catalog
from schemas.defaults import RULE_THREADS
from schemas.field_labels import field_labels
from reconcile.frames import positions, sort_rows, taken
from reconcile.masking import mask_full_ids_in

DISCREPANCY_COLUMNS = [
    "discrepancy_id", "rule", "severity", "owner", "agency", "household_no", "archive_no",
    "county_code", "field", "ps_value", "ha_value", "suggested_value", "explanation", "message", "message_en",
    "action", "action_en", "status", "first_seen",
]
HIT_COLUMNS = ["household_no", "archive_no", "agency", "field", "ps_value", "ha_value", "suggested_value",
               "explanation"]  # explanation: why the matcher scored a REVIEW_MATCH pair as it did
# What analysts read in discrepancies.parquet (the gate's analyst_text). A value may be
# an ID typed into a name cell: the message masks it; ps_value/ha_value keep it for the agencies.
ANALYST_TEXT = ("message", "message_en", "action", "action_en")
_HASH_KEY = "anju-discrepancy"  # 16 bytes: part of the id contract, never change it


def stable_ids(parts: list[pd.Series]) -> pd.Series:
    """16 hex digits from the joined parts; equal inputs give equal ids in every run."""
    if not len(parts[0]):
        return pd.Series([], dtype="string", index=parts[0].index)
    joined = parts[0].fillna("").astype("string").str.cat([p.fillna("").astype("string") for p in parts[1:]],
                                                          sep="|")
    h = pd.util.hash_pandas_object(joined, index=False, hash_key=_HASH_KEY).to_numpy(np.uint64)
    hexed = np.frombuffer(h.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16").astype("U16")
    return pd.Series(hexed, index=parts[0].index, dtype="string")


def fill_template(template: str, frame: pd.DataFrame) -> pd.Series:
    """Vectorized ``str.format``: ``{name}`` takes the frame's column, NA as empty."""
    pieces = re.split(r"\{(\w+)\}", template)
    out = pd.Series(pieces[0], index=frame.index, dtype="string")
    for i, piece in enumerate(pieces[1:]):
        out = out + (frame[piece].fillna("").astype("string") if i % 2 == 0 else piece)
    return out


def _empty_hits() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in HIT_COLUMNS})


def _check_records(code: str, record: str, hits: pd.DataFrame) -> None:
    """The hits name the records the catalog says (``record``); otherwise the rule is wrong."""
    has_ps, has_ha = hits["household_no"].notna(), hits["archive_no"].notna()
    agency = hits["agency"]
    ok = {"ps": has_ps & ~has_ha, "ha": has_ha & ~has_ps, "pair": has_ps & has_ha,
          "agency": ((agency == "ps") & has_ps & ~has_ha) | ((agency == "ha") & has_ha & ~has_ps)}[record]
    if not ok.fillna(False).all():
        raise AssertionError(f"rule {code}: {int((~ok.fillna(False)).sum())} hit(s) name other records than "
                             f"catalog.yaml's record: {record}")


def _dressed(code: str, spec, ctx: RuleContext) -> pd.DataFrame | None:
    """One rule's hits with the catalog's words (None: no hit)."""
    hits = RULES[code](ctx)
    hits = pd.concat([_empty_hits(), hits.astype("string")], ignore_index=True)[HIT_COLUMNS]
    if hits.empty:
        return None
    _check_records(code, spec.record, hits)
    hits["rule"], hits["severity"] = code, spec.severity
    hits["owner"] = hits["agency"] if spec.owner == "agency" else spec.owner
    hits["agency"] = hits["agency"].fillna("")
    # Chinese text names a field as the agency's own header, never by its code
    hits["field_zh"] = field_labels(hits["field"], hits["agency"])
    for col in ANALYST_TEXT:
        attr = {"message": "message_zh", "action": "action_zh"}.get(col, col)
        hits[col] = mask_full_ids_in(fill_template(getattr(spec, attr), hits))
    return hits


def classify(ctx: RuleContext, catalog: Catalog | None = None) -> pd.DataFrame:
    """Every discrepancy of every rule, one row each, sorted for byte-stable output."""
    catalog = catalog or load_catalog()
    # the rules read the context and write nothing to it: they run side by side (mostly
    # pandas and Arrow, which let go of the GIL), their frames kept in the catalog's order
    with ThreadPoolExecutor(max_workers=RULE_THREADS) as pool:
        found = list(pool.map(lambda item: _dressed(item[0], item[1], ctx), catalog.items()))
    frames = [hits for hits in found if hits is not None]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in DISCREPANCY_COLUMNS})
    d = pd.concat(frames, ignore_index=True)
    county = taken(ctx.ps["county_code"], positions(d["household_no"], ctx.ps["household_no"]), d.index)
    d["county_code"] = county.fillna(
        taken(ctx.ha["county_code"], positions(d["archive_no"], ctx.ha["archive_no"]), d.index))
    d["discrepancy_id"] = stable_ids([d["rule"], d["household_no"], d["archive_no"], d["field"]])
    d["status"] = "new"
    d["first_seen"] = ctx.as_of.strftime("%Y-%m-%d")
    d = d[DISCREPANCY_COLUMNS].astype("string")
    d = sort_rows(d, ["rule", "county_code", "household_no", "archive_no", "field"], na_position="first")
    return d.drop_duplicates("discrepancy_id").reset_index(drop=True)
