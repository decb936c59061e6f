"""The pure reconciliation core: normalize, match, classify, unify. No I/O, no Prefect.

The public surface is :mod:`reconcile.pipeline`; the stage modules are its internals.
"""
from reconcile.pipeline import Canonical, Settings, Tables, find_discrepancies, match, normalize, run

__all__ = ["Canonical", "Settings", "Tables", "find_discrepancies", "match", "normalize", "run"]
