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


def retention_settings(raw: dict | None, path: str | Path = "settings") -> dict:
    """The ``retention:`` section as ``{"days": int, "month_ends": int | None}``, each key
    defaulting to ``schemas.defaults`` (KEEP_DAYS, KEEP_MONTH_ENDS). ``month_ends``: a
    number keeps the newest that many month ends, ``all`` (or nothing) keeps every one.
    A bad value is one line naming the file and the key."""
    from schemas.defaults import KEEP_DAYS, KEEP_MONTH_ENDS

    section = (raw or {}).get("retention")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise SourceError(str(path), "retention: not a mapping", expected="`days:` and `month_ends:` lines")
    unknown = sorted(set(map(str, section)) - {"days", "month_ends"})
    if unknown:
        raise SourceError(str(path), f"retention: unknown key {', '.join(unknown)}", expected="days, month_ends")

    def count(key: str, value, allow_all: bool):
        if allow_all and (value is None or str(value).strip().lower() == "all"):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SourceError(str(path), f"retention.{key}: {value!r} is not a whole number of 0 or more",
                              expected="a number" + (" or `all`" if allow_all else ""))
        return value

    days = count("days", section.get("days", KEEP_DAYS), allow_all=False)
    month_ends = count("month_ends", section["month_ends"], True) if "month_ends" in section else KEEP_MONTH_ENDS
    return {"days": days, "month_ends": month_ends}
