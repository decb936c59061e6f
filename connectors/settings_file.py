"""The settings file of ``anju serve`` (``anju.example.yaml`` documents it), read from disk.

Only the bytes: a file that cannot be read, is no YAML or is no mapping is one line naming
the file. What the keys mean, their defaults and the paths they name are ``flows.serve``'s.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from connectors.errors import SourceError


def read_settings_file(path: str | Path) -> dict:
    """The settings file's mapping (an empty file is an empty mapping)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise SourceError(str(path), f"cannot read the settings file ({e.strerror or e})",
                          expected="a settings YAML (see anju.example.yaml)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SourceError(str(path), f"not a readable settings YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise SourceError(str(path), "the settings are not a mapping", expected="`key: value` lines")
    return raw
