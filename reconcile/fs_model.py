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
    return smoothed(np.bincount(levels, weights=weights, minlength=n).astype(float))


def smoothed(counts: np.ndarray) -> np.ndarray:
    """Level counts as frequencies, with :data:`SMOOTHING` added to every level."""
    counts = np.asarray(counts, dtype=float)
    return (counts + SMOOTHING) / (counts.sum() + SMOOTHING * len(counts))


def level_counts(levels: pd.DataFrame, n_levels: dict[str, int]) -> dict[str, np.ndarray]:
    """How many rows show each level of each field: what ``m`` and ``u`` are made of, and
    what partitions add up exactly (integers, in any order)."""
    return {f: np.bincount(levels[f].to_numpy(), minlength=n).astype(np.int64) for f, n in n_levels.items()}


def pattern_counts(levels: pd.DataFrame, fields) -> pd.DataFrame:
    """Rows per distinct combination of levels (``n``), in level order: all EM needs of
    the residual candidates, however many millions they are and wherever they were compared.

    >>> pattern_counts(pd.DataFrame({"a": [1, 0, 1], "b": [0, 0, 0]}), ["a", "b"]).values.tolist()
    [[0, 0, 1], [1, 0, 2]]
    """
    fields = list(fields)
    if levels.empty:
        return pd.DataFrame({**{f: pd.Series(dtype="int64") for f in fields}, "n": pd.Series(dtype="int64")})
    return (levels[fields].astype("int64").value_counts(sort=False).rename("n").reset_index()
            .sort_values(fields, ignore_index=True))


def add_patterns(parts: list[pd.DataFrame], fields) -> pd.DataFrame:
    """The pattern counts of several partitions as one table (what one residual gives)."""
    fields = list(fields)
    both = pd.concat(parts, ignore_index=True)
    return both.groupby(fields, sort=True)["n"].sum().reset_index() if len(both) else pattern_counts(both, fields)


def estimate(known_pairs: pd.DataFrame, known_nonpairs: pd.DataFrame, residual: pd.DataFrame,
             n_levels: dict[str, int], iterations: int = 25, learn: tuple[str, ...] = ("id",)) -> FSModel:
    """Fit ``m``/``u``/prior; ``learn`` names the fields whose ``m`` EM may move."""
    return estimate_from_counts(level_counts(known_pairs, n_levels), level_counts(known_nonpairs, n_levels),
                                pattern_counts(residual, n_levels), n_levels, iterations, learn)


def estimate_from_counts(pair_counts: dict[str, np.ndarray], nonpair_counts: dict[str, np.ndarray],
                         patterns: pd.DataFrame, n_levels: dict[str, int], iterations: int = 25,
                         learn: tuple[str, ...] = ("id",)) -> FSModel:
    """:func:`estimate` from counts: the known pairs' and non-pairs' levels per field
    (:func:`level_counts`) and the residual's patterns (:func:`pattern_counts`). The same
    counts give the same model, whether one process or many partitions counted them."""
    u = {f: smoothed(nonpair_counts[f]) for f in n_levels}
    m = {f: (ID_M_START.copy() if f in learn else smoothed(pair_counts[f])) for f in n_levels}
    model = FSModel(m=m, u=u, prior=0.1)
    rows = patterns["n"].to_numpy(dtype=float) if len(patterns) else np.zeros(0)
    if not rows.sum():
        return model
    for _ in range(iterations):
        model.iterations += 1
        p = model.probability(patterns)
        model.prior = float(np.clip((p * rows).sum() / rows.sum(), 1e-6, 1 - 1e-6))
        for f in learn:
            model.m[f] = frequencies(patterns[f].to_numpy(), n_levels[f], weights=p * rows)
    return model
