"""Synthetic exports of both agencies with ground truth, for tests, benchmarks and demos.

Nothing in the reconciliation path imports this package.

    >>> from flows.synth import build_world
    >>> w = build_world(200, seed=1)
    >>> len(w.ps) >= 200 and set(w.pairs.columns) >= {"household_no", "archive_no"}
    True
"""
from flows.synth.layout import render, write_world
from flows.synth.scenario import World, build_world

__all__ = ["World", "build_world", "render", "write_world"]
