"""Synthetic exports of both agencies with ground truth, for tests, benchmarks and demos.

Built on numpy, python-stdnum (ID check characters), OpenCC's character tables and
pypinyin directly; it imports nothing of ``reconcile`` or ``flows``, so that what it
generates does not bend with the code it is meant to test. It reads ``schemas`` (regions,
named defaults) and writes through ``connectors.native``. Nothing in the reconciliation
path imports this package.

    >>> from anju_synth import build_world
    >>> w = build_world(200, seed=1)
    >>> len(w.ps) >= 200 and set(w.pairs.columns) >= {"household_no", "archive_no"}
    True
"""
from anju_synth.layout import render, write_world
from anju_synth.scenario import World, build_world

__all__ = ["World", "build_world", "render", "write_world"]
