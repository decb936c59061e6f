"""Headers of the tables officials read, as data: read by the core that shapes the table and
by the connector that writes it, so neither imports the other.

>>> list(progress_headers())[:3], progress_headers()["entry_rate"]
(['level', 'code', 'name'], '录入率')
"""
from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import yaml

from schemas.config import HERE


@lru_cache(maxsize=1)
def progress_headers() -> Mapping[str, str]:
    """The progress report's columns in order, each with its Chinese header (``progress_labels.yaml``)."""
    declared = yaml.safe_load((HERE / "progress_labels.yaml").read_text(encoding="utf-8"))
    return MappingProxyType({str(k): str(v) for k, v in declared.items()})
