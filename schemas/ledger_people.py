"""The 台账 workbook's columns as data (``ledger_people.yaml``) and the pandera model of
the people's rows read back from it.

    >>> [c.header for c in people_columns()][:3]
    ['整改责任单位', '责任人', '整改时限']
    >>> column("progress").values
    ('未开始', '整改中', '已完成')
    >>> header_index()["问题编号"]
    'discrepancy_id'
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import yaml

from schemas.config import fold

HERE = Path(__file__).parent
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ID_PATTERN = r"^[0-9a-f]{16}$"


@dataclass(frozen=True)
class LedgerColumn:
    header: str
    name: str
    kind: str = "text"            # text | date | list
    values: tuple[str, ...] = ()  # the allowed values of a list
    locked: bool = True           # a machine column; the people's are unlocked
    rules: tuple[str, ...] = ()   # only these rules' rows ask it (empty: every row)


@dataclass(frozen=True)
class Reject:
    """One refused cell of an imported workbook, said so a county officer can find it."""
    file: str
    sheet: str
    row: int | None
    column: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}，工作表「{self.sheet}」" + (f"，第 {self.row} 行" if self.row else "")
        return f"{where}，列「{self.column}」：{self.problem}"


@lru_cache(maxsize=1)
def _spec() -> dict:
    return yaml.safe_load((HERE / "ledger_people.yaml").read_text(encoding="utf-8"))


def _columns(part: str, locked: bool) -> tuple[LedgerColumn, ...]:
    return tuple(LedgerColumn(header=c["header"], name=c["name"], kind=c.get("kind", "text"),
                              values=tuple(c.get("values", ())), locked=locked, rules=tuple(c.get("rules", ())))
                 for c in _spec()[part])


def machine_columns() -> tuple[LedgerColumn, ...]:
    return _columns("machine", True)


def people_columns() -> tuple[LedgerColumn, ...]:
    return _columns("people", False)


def ledger_columns() -> tuple[LedgerColumn, ...]:
    """Every column of the workbook, in its order."""
    return machine_columns() + people_columns()


PEOPLE = tuple(c.name for c in people_columns())
KEY: str = _spec()["key"]
SHEET: str = _spec()["sheet"]
PROTECTION_PASSWORD: str = _spec()["protection_password"]
MEANING: dict[str, str] = dict(_spec()["meaning"])


def column(name: str) -> LedgerColumn:
    return next(c for c in ledger_columns() if c.name == name)


def header_of(name: str) -> str:
    return column(name).header


@lru_cache(maxsize=1)
def header_index() -> dict[str, str]:
    """Folded header (and internal name) -> internal name: how a re-saved sheet is read."""
    out = {}
    for c in ledger_columns():
        out[fold(c.header)] = c.name
        out[fold(c.name)] = c.name
    return out


@lru_cache(maxsize=1)
def people_rows_schema() -> pa.DataFrameSchema:
    """The people's rows as read from a workbook: ``row`` (the sheet row), the key, and
    each people's column as text (dates ISO, lists one of their values, empty as NA).
    A column may be absent (a person deleted it): absent means unchanged, not emptied."""
    cols = {"row": pa.Column(int, pa.Check.ge(1)),
            KEY: pa.Column("string", pa.Check.str_matches(ID_PATTERN))}
    for c in people_columns():
        checks = []
        if c.kind == "list":
            checks.append(pa.Check.isin(list(c.values)))
        elif c.kind == "date":
            checks.append(pa.Check.str_matches(DATE_PATTERN))
        cols[c.name] = pa.Column("string", checks, nullable=True, required=False)
    return pa.DataFrameSchema(cols, strict=False, coerce=False, name="LedgerPeopleRows")
