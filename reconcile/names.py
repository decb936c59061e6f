"""Names: one written form per person, and a pinyin key for homophone mistakes.

Traditional characters are folded to simplified with OpenCC's character table (a
name is a sequence of characters; OpenCC's phrase tables are for running text), full-
width forms and spaces go, and the many middle dots of minority names become one.

    >>> import pandas as pd
    >>> clean_names(pd.Series(["張 偉", "阿依古丽•买买提"])).tolist()
    ['张伟', '阿依古丽·买买提']
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from reconcile.frames import matches_regex, nfkc, per_distinct, without_spaces

MIDDLE_DOTS = "·•‧・∙⋅‐.．"


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    text = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text("utf-8")
    table: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            table[ord(parts[0])] = parts[1].split(" ")[0]
    table.update({ord(d): "·" for d in MIDDLE_DOTS})
    return table


@lru_cache(maxsize=1)
def _t2s_class() -> str:
    """The characters :func:`_t2s_table` folds, as one RE2 character class."""
    return "[" + "".join(f"\\x{{{c:x}}}" for c in sorted(_t2s_table())) + "]"


def clean_names(raw: pd.Series) -> pd.Series:
    s = without_spaces(nfkc(raw))
    table = _t2s_table()
    # only names holding a character to fold are translated (no Arrow kernel for translate)
    fold = matches_regex(s, _t2s_class())
    if fold.any():
        s = s.mask(fold, per_distinct(s[fold], lambda name: name.translate(table)))
    return s.mask(s == "")


@lru_cache(maxsize=1)
def _pinyin_of():
    from pypinyin import Style, lazy_pinyin

    return lambda ch: lazy_pinyin(ch, style=Style.NORMAL)[0]


def pinyin_keys(names: pd.Series) -> pd.Series:
    """Toneless pinyin, syllables joined by spaces: 张伟 and 章玮 share ``zhang wei``."""
    chars = sorted(set("".join(names.dropna().unique().tolist())))
    to_py = _pinyin_of()
    table = {ord(c): to_py(c) + " " for c in chars if c != "·"}
    return names.astype("string").str.translate(table).str.strip()
