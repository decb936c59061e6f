"""Errors a person can act on: which file, sheet, row and column, and what was expected."""
from __future__ import annotations


class SourceError(Exception):
    """An input that cannot be read at all. The message is the whole story: no traceback needed."""

    def __init__(self, location: str, problem: str, *, sheet: str | None = None, row: int | None = None,
                 column: str | None = None, expected: str | None = None):
        self.location, self.problem, self.sheet, self.row, self.column = location, problem, sheet, row, column
        self.expected = expected
        where = [str(location)]
        if sheet:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column!r}")
        text = ", ".join(where) + f": {problem}"
        if expected:
            text += f"; expected {expected}"
        super().__init__(text)


class ClusterError(Exception):
    """The Dask cluster a run was told to use cannot be reached (one line to the user)."""
