"""A Fellegi-Sunter model estimated from each run's own data.

For each comparison field, ``m[level]`` is how often a true pair shows that level and
``u[level]`` how often a non-pair does; a pair's match weight is the sum of
``log2(m/u)`` and its probability follows from the prior share of true pairs.

Where the estimates come from (no labelled data is needed):
- ``u``: pairs the blocking proposes between records that the exact-ID passes already
  matched to someone else: known non-pairs that look like the candidates do;
- ``m`` of name, village, size, roster: the pairs the exact-ID passes matched (their
  IDs agree; the other fields disagree as often as in any true pair);
- ``m`` of the ID comparison and the prior: expectation-maximisation on the residual
  candidates, with everything else held fixed.

    >>> import numpy as np, pandas as pd
    >>> model = FSModel(m={"f": np.array([0.9, 0.1])}, u={"f": np.array([0.1, 0.9])}, prior=0.5)
    >>> model.probability(pd.DataFrame({"f": [0, 1]})).round(2).tolist()
    [0.9, 0.1]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SMOOTHING = 1.0
ID_M_START = np.array([0.4, 0.2, 0.15, 0.2, 0.05])


@dataclass
class FSModel:
    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float

    def weight(self, levels: pd.DataFrame) -> np.ndarray:
        w = np.zeros(len(levels))
        for f, m in self.m.items():
            lv = levels[f].to_numpy()
            w += np.log2(m[lv] / self.u[f][lv])
        return w

    def probability(self, levels: pd.DataFrame) -> np.ndarray:
        prior_w = np.log2(self.prior / (1 - self.prior))
        return 1.0 / (1.0 + np.exp2(-(self.weight(levels) + prior_w)))

    def as_dict(self) -> dict:
        return {"prior": self.prior, "m": {k: v.round(6).tolist() for k, v in self.m.items()},
                "u": {k: v.round(6).tolist() for k, v in self.u.items()}}


def frequencies(levels: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    counts = np.bincount(levels, weights=weights, minlength=n).astype(float)
    return (counts + SMOOTHING) / (counts.sum() + SMOOTHING * n)


def estimate(known_pairs: pd.DataFrame, known_nonpairs: pd.DataFrame, residual: pd.DataFrame,
             n_levels: dict[str, int], iterations: int = 25, learn: tuple[str, ...] = ("id",)) -> FSModel:
    """Fit ``m``/``u``/prior; ``learn`` names the fields whose ``m`` EM may move."""
    u = {f: frequencies(known_nonpairs[f].to_numpy(), n) for f, n in n_levels.items()}
    m = {f: (ID_M_START.copy() if f in learn else frequencies(known_pairs[f].to_numpy(), n))
         for f, n in n_levels.items()}
    model = FSModel(m=m, u=u, prior=0.1)
    if residual.empty:
        return model
    for _ in range(iterations):
        p = model.probability(residual)
        model.prior = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        for f in learn:
            model.m[f] = frequencies(residual[f].to_numpy(), n_levels[f], weights=p)
    return model
