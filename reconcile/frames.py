"""Small vectorized helpers the stages share (``isin`` lives in ``schemas.keysets``)."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.keysets import isin  # noqa: F401  (re-exported for the stages)

# Regex pieces RE2 (Arrow) runs natively; ``\s`` and ``\d`` send pandas to Python's ``re``.
WS = r"[ \t\r\n\v\f]"
DIGIT = "[0-9]"


def nfkc(s: pd.Series) -> pd.Series:
    """Unicode NFKC (full-width to half-width, compatibility forms) in Arrow, not per value."""
    s = s.astype("string")
    if len(s) == 0:
        return s
    out = pc.utf8_normalize(pa.array(s.array), form="NFKC")
    return pd.Series(pd.arrays.ArrowStringArray(out), index=s.index, dtype="string")
