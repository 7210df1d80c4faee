"""Reading back the CSV the exports write: semicolons behind a UTF-8 byte-order mark."""

import csv
import io


def csv_rows(data: bytes | str) -> list[list[str]]:
    """The rows of an export's CSV, checking it is the kind Swedish Excel opens."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    assert text.startswith("\ufeff"), "no byte-order mark: Excel would read cp1252"
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


def csv_dicts(data: bytes | str) -> list[dict[str, str]]:
    header, *rows = csv_rows(data)
    return [dict(zip(header, row, strict=True)) for row in rows]
