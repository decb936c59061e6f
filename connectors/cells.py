"""The one rule for text that a spreadsheet could take for a formula (CSV/formula injection).

Every file Anju writes that a person may open in Excel, WPS or LibreOffice (report.xlsx,
the progress workbook and CSV, the agencies' correction packages 纠错清单 and cleaned
extracts 清洗数据) goes through this module; no writer has its own copy of the rule.

* A text value starting with ``= + - @``, a tab or a carriage return (OWASP, "CSV
  Injection"), or with the full-width ``＝ ＋ － ＠`` that Chinese spreadsheets and input
  methods also turn into formulas, is written with a leading apostrophe-quote ``'``.
  A spreadsheet then shows it as text and never evaluates it, whether it opens the CSV or
  a person later edits the cell of an XLSX.
* A plain negative number written as text (``-12.5``, ``-3``, ``-1e5``) is left alone: it
  cannot call a function or reference a cell, so it is a number, not a formula, and an
  agency's amounts must come back as they went out. ``-1+1`` is not plain: prefixed.
* Numbers and dates keep their types; XLSX text cells are written as text cells
  (xlsxwriter ``strings_to_formulas=False``; openpyxl cells forced to ``data_type 's'``),
  so even a missed prefix could never become a live formula in a workbook.
* Text that starts with ``<r>`` gets the same prefix in the workbooks written with
  xlsxwriter (:func:`text_column`, :func:`xlsx_text`): xlsxwriter takes a string that
  starts with ``<r>`` and ends with ``</r>`` (once cut to Excel's 32,767 characters) for
  rich text already in XML and writes it unescaped, so one cell of an export could
  otherwise add cells of its own, formulas included, to report.xlsx. (The 台账 workbook
  reads such a value back without its prefix.)
* Characters XML 1.0 cannot hold (control characters) become U+FFFD: openpyxl refuses
  them, and one hostile cell must not abort the writing of a package.

Why the prefix is still right for the cleaned extracts, which go back into the agencies'
systems: those files are opened by a person before they are imported, and OWASP's advice
is to neutralise at export, because the exporter cannot know which program reads the
file next. The apostrophe is visible and reversible; the correction package states it
(``APOSTROPHE_NOTE``) so the agency's importer strips one leading ``'`` from a value that
then starts with one of ``FORMULA_START``.
"""
from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PREFIX = "'"
_RISKY = re.compile(r"[=+\-@\t\r＝＋－＠]")
_PLAIN_NEGATIVE = re.compile(r"-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
APOSTROPHE_NOTE = ("说明：以 = + - @ 等字符开头的文本已在前面加英文单引号(')，以免被电子表格当作公式执行；"
                   "导入系统时请去掉该单引号。")


def neutralise(v):
    """``v`` with a leading apostrophe-quote if it is text a spreadsheet would evaluate.

    >>> [neutralise(v) for v in ["=1+1", "@SUM(A1)", "-12.5", "-1+1", "＝1", "张三", 5]]
    ["'=1+1", "'@SUM(A1)", '-12.5', "'-1+1", "'＝1", '张三', 5]
    """
    if isinstance(v, str) and v.startswith(FORMULA_START) and not _PLAIN_NEGATIVE.fullmatch(v):
        return PREFIX + v
    return v


def neutralise_column(s: pd.Series) -> pd.Series:
    """:func:`neutralise` over a column at once; numeric, boolean and date columns are returned as they are."""
    if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
        return s
    if pd.api.types.is_object_dtype(s):  # mixed: only the str values are text
        text = s.where(s.map(lambda v: isinstance(v, str))).astype("string")
    else:
        text = s
    risky = (text.str.match(_RISKY.pattern) & ~text.str.fullmatch(_PLAIN_NEGATIVE.pattern)).fillna(False)
    risky = risky.to_numpy(dtype=bool)
    if not risky.any():
        return s
    out = s.copy()
    out[risky] = PREFIX + text[risky].astype(str)
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column of ``frame`` through :func:`neutralise_column` (a copy)."""
    return frame.apply(neutralise_column) if len(frame.columns) else frame.copy()


RICH_START = "<r>"


def xlsx_text(v: str) -> str:
    """``v`` as xlsxwriter must be given it to write it as text: :func:`neutralise`,
    :func:`xml_safe`, and the prefix for what xlsxwriter could take for rich text's XML.

    >>> [xlsx_text(v) for v in ["<r><t>x</t></r>", "<r>", "a<r>b</r>", "=1"]]
    ["'<r><t>x</t></r>", "'<r>", 'a<r>b</r>', "'=1"]
    """
    v = xml_safe(neutralise(v))
    return PREFIX + v if v.startswith(RICH_START) else v


def xml_safe(v: str) -> str:
    """Text an XLSX can hold: control characters (except tab, LF, CR) become U+FFFD."""
    return _ILLEGAL_XML.sub("\ufffd", v)


def needs_text_cell(v: str) -> bool:
    """Whether openpyxl, given ``v`` as it is, would write something other than plain text:
    a formula (``=…``), an error value (``#N/A``), a refusal (control characters), or text
    that must be prefixed. Everything else may be passed as a plain ``str`` (faster)."""
    return v.startswith(FORMULA_START) or v.startswith("#") or _ILLEGAL_XML.search(v) is not None


def text_cell(cell, value: str):
    """Set an openpyxl cell to ``value`` as text, never a formula, whatever it starts with."""
    cell.value = xml_safe(neutralise(value))
    cell.data_type = "s"
    return cell


def text_column(s: pd.Series) -> pd.Series:
    """A column of text as xlsxwriter's text cells must be given it (:func:`xlsx_text`, a
    whole column at once): risky text prefixed, control characters as U+FFFD."""
    # the pattern as text, not compiled: Arrow's kernel then runs it, not a Python call per value
    text = neutralise_column(s.astype("string")).str.replace(_ILLEGAL_XML.pattern, "\ufffd", regex=True)
    rich = text.str.startswith(RICH_START).fillna(False).to_numpy(dtype=bool)
    if rich.any():
        text = text.copy()
        text[rich] = PREFIX + text[rich]
    return text


def csv_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the text a CSV holds: missing as empty, risky text prefixed, control characters kept
    out (the same U+FFFD as in the workbooks, so both files of a package say the same)."""
    text = frame.astype("string").fillna("")
    return text.apply(lambda s: neutralise_column(s).str.replace(_ILLEGAL_XML, "\ufffd", regex=True))
