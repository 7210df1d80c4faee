"""Tables in: reading an uploaded spreadsheet (xlsx or CSV) safely, row by row.

The type is read from the content, never the name; an xlsx is checked before it is unpacked;
every row keeps its spreadsheet number (header = row 1) so a problem names it; nothing is
imported until the whole file is clean. Shared by every import, in whichever layer it lives
(the unit register and datasets in reporting, the placement register in the workflow).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from stimulans.uploads import XLSX_PARTS, too_large, upload_limit

MAX_ROWS = 100_000
MAX_ERRORS = 50


@dataclass(frozen=True)
class Problem:
    row: int | None  # None: the file as a whole
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return self.message
        return _("Row %(row)s: %(message)s") % {"row": self.row, "message": self.message}


class ImportRefused(Exception):
    """The file is not imported; `problems` say where and why."""

    def __init__(self, problems: list[Problem], total: int | None = None):
        self.problems = problems[:MAX_ERRORS]
        self.total = total if total is not None else len(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def summary(self) -> str:
        text = _("The file was not imported: %(count)s problems.") % {"count": self.total}
        if self.total > len(self.problems):
            text += " " + _("The first %(shown)s are listed.") % {"shown": len(self.problems)}
        return text


# ---------------------------------------------------------------- reading

# An xlsx is a zip holding at least these parts; its name and the browser's word are not trusted.
# A workbook may unpack to at most this many times the upload limit: a zip bomb is refused
# before openpyxl inflates it (read-only mode streams the sheet, but not its shared strings).
XLSX_UNPACKED_FACTOR = 20
# Text a spreadsheet program writes has no control characters but tab and line breaks.
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_COLUMNS = 100


def _refused(message: str) -> ImportRefused:
    return ImportRefused([Problem(None, message)])


def _neither(name: str) -> ImportRefused:
    return _refused(
        _(
            "“%(name)s” is neither an Excel workbook (.xlsx) nor a CSV text file (UTF-8 or "
            "Windows-1252). Upload an .xlsx or a .csv file."
        )
        % {"name": name}
    )


def read_table(content: bytes, name: str) -> tuple[list[str], Iterator[tuple[int, list]]]:
    """The header (lower-cased) and the rows (with their spreadsheet row numbers).

    The type is read from the content: a zip with a workbook is an xlsx, text is a CSV,
    anything else is refused; `name` only names the file in the message.
    """
    if len(content) > upload_limit():
        raise _refused(too_large(len(content)))
    if content.startswith(b"PK\x03\x04"):
        _check_workbook(content, name)
        return _read_xlsx(content)
    return _read_csv(_text(content, name))


def _check_workbook(content: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _neither(name) from None
    names = {m.filename for m in members}
    if not all(part in names for part in XLSX_PARTS):
        raise _refused(
            _(
                "“%(name)s” is a zip archive, not an Excel workbook (.xlsx). "
                "Upload an .xlsx or a .csv file."
            )
            % {"name": name}
        )
    # A member never inflates past its declared size (zipfile stops there), so the sum bounds it.
    limit = XLSX_UNPACKED_FACTOR * upload_limit()
    if sum(m.file_size for m in members) > limit:
        raise _refused(
            _("The workbook unpacks to more than %(max)s; save it as CSV or split it.")
            % {"max": filesizeformat(limit)}
        )


def _text(content: bytes, name: str) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")  # what Excel writes on a Swedish Windows
        except UnicodeDecodeError:
            raise _neither(name) from None
    if NOT_TEXT.search(text):
        raise _neither(name)
    return text


class TooManyRows(Exception):
    """More rows than an import takes, blank ones included (each costs reading)."""


def _read_xlsx(content: bytes):
    from openpyxl import load_workbook

    try:
        # Read-only: the sheet is streamed, never held whole in memory.
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True), None)
    except Exception:
        raise _refused(_("The file is not a readable xlsx workbook.")) from None
    if header is None:
        raise _refused(_("The file is empty."))
    header = list(header)
    while header and header[-1] in (None, ""):
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise _refused(_("The file has more than %(max)s columns.") % {"max": MAX_COLUMNS})
    # Rows as wide as the header: a forged sheet size cannot make each row 16 384 cells.
    rows = sheet.iter_rows(min_row=2, max_col=max(len(header), 1), values_only=True)

    def body():
        for number, row in enumerate(rows, start=2):
            if number > MAX_ROWS + 1:
                raise TooManyRows
            if any(v not in (None, "") for v in row):
                yield number, list(row)

    return [_header(h) for h in header], body()


def _read_csv(text: str):
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if header is None:
        raise _refused(_("The file is empty."))

    def body():
        for number, row in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                raise TooManyRows
            if any(v.strip() for v in row):
                yield number, row

    return [_header(h) for h in header], body()


def _header(value) -> str:
    return str(value or "").strip().lower()


def columns(header: list[str], required: tuple, optional: tuple) -> dict[str, int]:
    known = set(required) | set(optional)
    problems = []
    unknown = [h for h in header if h and h not in known]
    if unknown:
        problems.append(
            _("Unknown columns: %(unknown)s (the columns are: %(known)s).")
            % {"unknown": ", ".join(unknown), "known": ", ".join((*required, *optional))}
        )
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(_("Missing columns: %(missing)s.") % {"missing": ", ".join(missing)})
    doubled = sorted({h for h in header if h and header.count(h) > 1})
    if doubled:
        problems.append(_("Columns named twice: %(names)s.") % {"names": ", ".join(doubled)})
    if problems:
        raise ImportRefused([Problem(1, p) for p in problems])
    return {h: i for i, h in enumerate(header) if h}


def cell(row: list, columns: dict[str, int], name: str):
    i = columns.get(name)
    if i is None or i >= len(row):
        return None
    value = row[i]
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class BadValue(ValueError):
    pass


def whole_number(value, column: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue(_("%(column)s: %(value)r is not a whole number") % _p(column, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        text = re.sub(r"[\s\u00a0]", "", str(value))
        if not re.fullmatch(r"\d+", text):
            raise BadValue(_("%(column)s: %(value)r is not a whole number") % _p(column, value))
        number = int(text)
    if number < 0:
        raise BadValue(_("%(column)s: %(value)r is negative") % _p(column, value))
    return number


def _p(column, value) -> dict:
    return {"column": column, "value": value}


YES = {"1", "true", "yes", "ja", "x"}
NO = {"0", "false", "no", "nej"}


def yes_no(value, column: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise BadValue(_("%(column)s: %(value)r is neither yes nor no") % _p(column, value))


def share(value, column: str) -> Decimal | None:
    """A share 0–1: `0.8`, `0,8` or `80 %`."""
    if value is None:
        return None
    text = str(value).strip().replace(",", ".").replace("\u00a0", " ")
    percent = text.endswith("%")
    try:
        number = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        raise BadValue(_("%(column)s: %(value)r is not a share") % _p(column, value)) from None
    if number.is_nan():  # NaN cannot be compared: it is no share
        raise BadValue(_("%(column)s: %(value)r is not a share") % _p(column, value))
    if percent:
        number /= 100
    if not Decimal(0) <= number <= Decimal(1):
        raise BadValue(_("%(column)s: %(value)r is not between 0 and 1") % _p(column, value))
    return number.quantize(Decimal("0.0001"))


def check_rows(rows, check) -> list:
    """Run `check(number, row)` on every row; all problems, or the checked values."""
    problems, out, count = [], [], 0
    try:
        for number, row in rows:
            count += 1
            if count > MAX_ROWS:
                raise TooManyRows
            try:
                out.append(check(number, row))
            except BadValue as exc:
                problems.append(Problem(number, str(exc)))
    except TooManyRows:
        problems.append(
            Problem(None, _("The file has more than %(max)s rows.") % {"max": MAX_ROWS})
        )
    if not count and not problems:
        problems.append(Problem(None, _("The file has no rows below its header.")))
    if problems:
        raise ImportRefused(problems)
    return out
