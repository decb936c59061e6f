"""Key membership for string keys, asked of Arrow directly.

pandas' ``isin`` on Arrow strings builds one Python scalar per value of the set; at a
million keys that costs seconds. Shared by the core and the publishing gate.
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrow(s) -> pa.Array:
    s = pd.Series(s) if not isinstance(s, pd.Series) else s
    return pa.array(s.astype("string").array).cast(pa.large_string())


def isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for string keys; NA is never in.

    >>> isin(pd.Series(["a", None, "c"]), ["a", "b"]).tolist()
    [True, False, False]
    """
    if len(s) == 0:
        return pd.Series(False, index=s.index, dtype=bool)
    hit = pc.fill_null(pc.is_in(_arrow(s), value_set=_arrow(values), skip_nulls=True), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index, dtype=bool)
