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
ID_M_START = np.array([0.35, 0.15, 0.1, 0.1, 0.25, 0.05])  # EM's start for m of the six ID levels


@dataclass
class FSModel:
    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float
    iterations: int = 0

    def field_weights(self, levels: pd.DataFrame) -> dict[str, np.ndarray]:
        """``log2(m/u)`` of each field at each pair's level: what the explanation shows."""
        return {f: np.log2(m / self.u[f])[levels[f].to_numpy()] for f, m in self.m.items()}

    def weight(self, levels: pd.DataFrame) -> np.ndarray:
        w = np.zeros(len(levels))
        for fw in self.field_weights(levels).values():
            w += fw
        return w

    def probability(self, levels: pd.DataFrame) -> np.ndarray:
        prior_w = np.log2(self.prior / (1 - self.prior))
        return 1.0 / (1.0 + np.exp2(-(self.weight(levels) + prior_w)))

    def as_dict(self, level_names: dict[str, list[str]] | None = None) -> dict:
        """The fitted model for run.json: m and u per level (named when names are given),
        the prior, the EM iterations run."""
        def per_level(p: dict[str, np.ndarray]) -> dict:
            return {f: (dict(zip(level_names[f], np.round(v, 6).tolist())) if level_names
                        else np.round(v, 6).tolist()) for f, v in p.items()}
        return {"prior": round(self.prior, 8), "iterations": self.iterations, "m": per_level(self.m),
                "u": per_level(self.u)}


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
        model.iterations += 1
        p = model.probability(residual)
        model.prior = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        for f in learn:
            model.m[f] = frequencies(residual[f].to_numpy(), n_levels[f], weights=p)
    return model
