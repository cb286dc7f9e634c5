"""The one error bad input gets: the file, the row (and the line or spreadsheet row) and the column."""

from __future__ import annotations

import re

SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_IN_WORKBOOK = re.compile(r"\.xls[xm](#.*)?$", re.IGNORECASE)


class DataValidationError(ValueError):
    """A data problem, located precisely enough for a person to open the file and fix it."""

    def __init__(self, file: str, problem: str, row: int | None = None, column: str | None = None,
                 line_offset: int | None = None) -> None:
        self.file, self.problem, self.row, self.column = file, problem, row, column
        self.line_offset = line_offset
        where = [file]
        if row is not None:
            place = "sheet row" if _IN_WORKBOOK.search(file) else "line"
            where.append(f"row {row}" + (f" ({place} {row + line_offset})" if line_offset is not None else ""))
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(": ".join([", ".join(where), problem]))

    @property
    def line(self) -> int | None:
        """The physical line in a CSV file (or row in a spreadsheet), where known."""
        return None if self.row is None or self.line_offset is None else self.row + self.line_offset
