"""Anything a user typed goes into CSV and xlsx as text, never as a formula.

A spreadsheet takes a cell that begins with `=`, `+`, `-` or `@` for a formula, and strips a
leading tab or carriage return before it looks (OWASP, "CSV injection"). A unit named
`=HYPERLINK("http://…")` must reach an official's Excel as those characters, not as a link.
The rule is here, once; both writers in `reporting.exporters` and the allocations command
apply it. Only text is escaped: numbers and money stay numbers, a negative amount included.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from typing import IO

from defusedcsv import csv as defused_csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# CSV as Swedish Excel opens it by a double click: semicolons (Sweden's list separator, the
# decimal comma taking the comma) and a UTF-8 byte-order mark (or Excel reads cp1252).
# Commas, without a mark, are offered for other tools (RFC 4180).
DELIMITERS = {"semicolon": ";", "comma": ","}
DEFAULT_DELIMITER = "semicolon"
BOM = "\ufeff"
# What a CSV cell that would start a formula is given in front: Excel and LibreOffice read a
# cell that begins with an apostrophe as text (defusedcsv escapes with the same character).
CSV_ESCAPE = "'"


def formula_like(value: object) -> bool:
    """Text that a spreadsheet could read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_text(value: object) -> object:
    """A CSV field: formula-like text behind an apostrophe, anything else as it is."""
    return CSV_ESCAPE + value if formula_like(value) else value


class CsvWriter:
    """defusedcsv's writer (it also escapes `|` and `%`, DDE's), after the rule above.

    defusedcsv leaves a leading tab or carriage return alone, and lets text that looks
    like a negative number through; the rule above covers both, so the CSV and the xlsx
    of an export escape the same cells.
    """

    def __init__(self, out: IO[str], delimiter: str = DEFAULT_DELIMITER):
        if delimiter not in DELIMITERS:
            raise ValueError(f"unknown CSV delimiter {delimiter!r}")
        if delimiter == "semicolon":
            out.write(BOM)
        # Lines end in CR LF (RFC 4180, Excel's own): only then does the csv module quote a
        # field holding a carriage return, which would otherwise split the row in two.
        self._writer = defused_csv.writer(
            out, delimiter=DELIMITERS[delimiter], lineterminator="\r\n"
        )

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([csv_text(v) for v in row])


def text_cell(cell) -> None:
    """Make an openpyxl cell holding formula-like text an explicit text cell.

    openpyxl stores a string that begins with `=` as a formula; as type `s` it is written as
    an inline string, which Excel and LibreOffice show and never evaluate. The quote-prefix
    style is what Excel sets when one types `'=…`: the text stays text even when someone edits
    the cell and presses Enter, and no apostrophe is added to the value, so the export reads
    back exactly as typed (a `'` in front, as in CSV, would be part of the xlsx text).
    """
    cell.data_type = "s"
    # The style array may be shared with other cells (the writer copies a column's template).
    cell._style = copy(cell._style) if cell._style is not None else None
    cell.quotePrefix = True
