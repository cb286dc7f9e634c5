"""The draft's lines on how its files are written and what of them is read: the [format] section, a CSV's
header_line (or header, where it has none), a workbook's other sheets and title rows, and the columns a
section ignores. Why apart: they are the same for every section, whatever the file holds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from deepcredit.data.format_guess import guess_encoding, guess_format, guess_layout, headerless_names
from deepcredit.data.jsonlines import is_json_lines
from deepcredit.data.sheets import header_row, is_spreadsheet, sheet_names, split_sheet
from deepcredit.data.validate import PLAIN, is_parquet, toml_string


def other_sheets_note(path: Path, others: list[Path]) -> list[str]:
    """A note naming the sheets of a people workbook that no file given reads (they may be its other tables)."""
    if not is_spreadsheet(path):
        return []
    book, sheet = split_sheet(path)
    names = sheet_names(book)
    used = {s or (names[0] if names else None) for b, s in map(split_sheet, [path, *others]) if b == book}
    rest = [n for n in names if n not in used]
    if not rest:
        return []
    return [
        f"# {book.name} also has the sheets {', '.join(map(repr, rest))}: give a table on one of them as",
        f"# {book.name}#<sheet>, e.g. {book.name}#{rest[0]}.",
    ]


def titles_note(files: list[Path]) -> list[str]:
    """A note for each sheet whose header is below its first row: the rows above it are not read."""
    out = []
    for f in files:
        if is_spreadsheet(f) and (at := header_row(f)) > 1:
            out.append(
                f"# {f.name}: the header is in sheet row {at}; the rows above it (a title) are not read."
            )
    return out


def format_lines(files: list[Path]) -> list[str]:
    """A [format] section when the files are not written as DeepCredit writes its own, and what to check."""
    guess = guess_format(files)
    fmt = replace(guess.format, header_line=PLAIN.header_line)  # a file's header line is its section's
    if fmt == PLAIN and not guess.notes:
        return []
    out = [
        "",
        "# How the files write their values (DeepCredit's own: comma-separated, decimal point, ISO dates).",
    ]
    out += [f"# {note}" for note in guess.notes] + ["[format]"]
    if fmt.delimiter != PLAIN.delimiter:
        out.append(f"delimiter = {toml_string(fmt.delimiter)}")
    if fmt.decimal != PLAIN.decimal:
        out.append(f"decimal = {toml_string(fmt.decimal)}")
    if fmt.thousands:
        out.append(f"thousands = {toml_string(fmt.thousands)}  # the mark between groups of three digits")
    if fmt.date_format:
        out.append(
            f"date_format = {toml_string(fmt.date_format)}  # strptime directives; ISO 8601 dates are read too"
        )
    if not fmt.is_utf8:
        out.append(f"encoding = {toml_string(fmt.encoding)}")
    if fmt.missing:
        markers = ", ".join(toml_string(m) for m in fmt.missing)
        out.append(f"missing = [{markers}]  # check: read as empty cells in every column")
    return out


def header_line_of(path: Path) -> list[str]:
    """The header_line line of a section whose CSV file has lines above its header, or the header line of
    one that has no header (none otherwise)."""
    if is_parquet(Path(path)) or is_spreadsheet(Path(path)) or is_json_lines(Path(path)):
        return []
    sep, line = guess_layout(Path(path))
    if names := headerless_names(Path(path), sep, guess_encoding(Path(path)), line):
        return [
            f"# TODO: {Path(path).name} has no header line (its first line is data): name its columns in order, as the",
            "# file's documentation lists them, here and wherever this draft uses column_N below.",
            f"header = [{', '.join(map(toml_string, names))}]",
        ]
    return (
        [
            f"header_line = {line}  # check: the {line - 1} line(s) above it (a title, an export's date?) are "
            "not read"
        ]
        if line > 1
        else []
    )


def ignored_line(types: dict[str, str], taken: set[str]) -> list[str]:
    """A section's ignore line listing the columns no role took, for the user to declare any that matter."""
    rest = [c for c in types if c not in taken]
    if not rest:
        return []
    return [
        f"ignore = [{', '.join(toml_string(c) for c in rest)}]  # TODO: columns not used; declare any that matter"
    ]
