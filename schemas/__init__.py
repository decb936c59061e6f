"""Contracts: header aliases, vocabularies, the discrepancy catalog, region codes and
pandera models for every frame Anju reads, works on and publishes.

Everything here is declared as data (YAML beside this file) or as pandera models;
the engines that apply them live in ``reconcile`` and ``connectors``.
"""
from schemas.config import (
    SOURCES,
    Catalog,
    ColumnSpec,
    SourceSpec,
    Vocabulary,
    load_catalog,
    load_source_specs,
    load_vocabularies,
)
from schemas.regions import county_codes

__all__ = [
    "SOURCES",
    "Catalog",
    "ColumnSpec",
    "SourceSpec",
    "Vocabulary",
    "county_codes",
    "load_catalog",
    "load_source_specs",
    "load_vocabularies",
]
