"""The one place a discrepancy's ``field`` code becomes words a person reads.

A column of an agency's export is labelled by that agency's own header, the first alias
of ``headers/default.yaml`` (what its staff see in their system: PS 家庭人口数, HA
家庭人口); a field compared across both agencies shows both headers. Codes that are not
columns (why an ID is invalid, which dates disagree) are labelled in ``labels.yaml``.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from schemas.config import load_labels, load_source_specs

SOURCES = {"ps": ("ps_households", "ps_members"), "ha": ("ha_archive",)}
BOTH_SEPARATOR = "／"


@lru_cache(maxsize=1)
def headers() -> dict[str, dict[str, str]]:
    """agency -> column -> the agency's first header for it."""
    specs = load_source_specs()
    out: dict[str, dict[str, str]] = {}
    for agency, sources in SOURCES.items():
        out[agency] = {}
        for source in sources:
            for col in specs[source].columns:
                out[agency].setdefault(col.name, col.aliases[0] if col.aliases else col.name)
    return out


def field_label(field: str | None, agency: str | None) -> str:
    """``field`` as the agency of the record calls it; both agencies' headers when the
    discrepancy is about a pair (agency empty or ``both``).

    >>> field_label("household_size", "ps"), field_label("household_size", "")
    ('家庭人口数', '家庭人口数／家庭人口')
    >>> field_label("check_digit", "ha"), field_label("housing_secured", "")
    ('证件号码校验位错误', '住房安全有保障／住房安全有保障认定结果')
    """
    if field is None or field is pd.NA or field == "":
        return ""
    labels = load_labels()
    if field in labels["field"]:
        return labels["field"][field]
    if "," in field or field in labels["agreement"]:  # a review pair's agreement pattern
        return "一致项：" + "、".join(labels["agreement"].get(t, t) for t in field.split(","))
    ps_col, ha_col = labels["field_pairs"].get(field, (field, field))
    h = headers()
    ps, ha = h["ps"].get(ps_col), h["ha"].get(ha_col)
    if agency == "ps":
        return ps or ha or field
    if agency == "ha":
        return ha or ps or field
    both = [x for x in dict.fromkeys((ps, ha)) if x]
    return BOTH_SEPARATOR.join(both) or field


def field_labels(fields: pd.Series, agencies: pd.Series) -> pd.Series:
    """:func:`field_label` over two columns (computed once per distinct pair)."""
    pairs = pd.DataFrame({"f": fields.astype("string"), "a": agencies.astype("string").fillna("")})
    keys = pairs.drop_duplicates()
    keys["label"] = [field_label(None if pd.isna(f) else f, a) for f, a in zip(keys["f"], keys["a"])]
    return pairs.merge(keys, on=["f", "a"], how="left")["label"].set_axis(fields.index).astype("string")
