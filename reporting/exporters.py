"""One interface for every export: an identifier, a name, options and rows.

An exporter says what its sheets are and yields their rows; the base class
writes them as xlsx (openpyxl in write-only mode, streamed, with Swedish
number formats, a frozen header, an autofilter and fitted column widths) or
as CSV. Adding an export is a small class registered with `@register`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, ClassVar

from django import forms
from django.db.models import Max
from django.db.models.functions import Length
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations.models import AllocationRun, Grant, Pot
from allocations.rates import round_rate
from applications.models import Application, ApplicationUnit, ApplicationUse

from .documents import RenderError, latest_run
from .formulas import DEFAULT_DELIMITER, CsvWriter, formula_like, text_cell

KRONOR_FORMAT = '#,##0 "kr"'
INTEGER_FORMAT = "#,##0"
RATE_FORMAT = '#,##0.00 "kr"'
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MAX_WIDTH = 60
PROGRESS_EVERY = 5000

Progress = Callable[[int], None]


class ExportError(RenderError):
    """An export cannot be made as asked; the message is for the official."""


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text, integer, kronor, rate, date, datetime (local, without a zone)
    width: int | None = None  # longest value in characters, if the exporter knows it
    total: bool = False  # summed in the sheet's total row


@dataclass
class Sheet:
    title: str
    columns: list[Column]
    rows: Iterable[Sequence]
    totals: bool = False
    footer: list[Sequence] = field(default_factory=list)  # rows after the total, unfiltered


EXPORTERS: dict[str, type[Exporter]] = {}


def register(cls: type[Exporter]) -> type[Exporter]:
    EXPORTERS[cls.identifier] = cls
    return cls


def get_exporter(identifier: str) -> type[Exporter]:
    try:
        return EXPORTERS[identifier]
    except KeyError:
        raise ExportError(_("There is no export called “%(id)s”.") % {"id": identifier}) from None


class Exporter:
    identifier: ClassVar[str]
    verbose_name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]] = ("xlsx", "csv")
    # Extra options, as form fields: the form on the export page and the job's params.
    options: ClassVar[dict[str, forms.Field]] = {}

    def __init__(self, grant: Grant, options: dict | None = None):
        self.grant = grant
        self.options = options or {}

    # ---------------------------------------------------------------- to override

    def sheets(self) -> Iterator[Sheet]:
        """The workbook's sheets, each with its rows (a generator: rows are streamed)."""
        raise NotImplementedError

    def flat(self) -> Sheet:
        """The one table a CSV holds; by default the first sheet."""
        return next(iter(self.sheets()))

    def row_count(self) -> int | None:
        """How many rows to expect, for the progress bar."""
        return None

    def filename(self, fmt: str) -> str:
        return f"{self.grant.slug}-{self.identifier}.{fmt}"

    # ---------------------------------------------------------------- writing

    def write(
        self,
        fmt: str,
        out: IO[bytes],
        progress: Progress | None = None,
        *,
        delimiter: str = DEFAULT_DELIMITER,
    ) -> int:
        """Write the export to a binary file; returns the number of data rows.

        A CSV's `delimiter` is "semicolon" (with a byte-order mark, for Swedish Excel) or
        "comma" (see `reporting.formulas`).
        """
        if fmt not in self.formats:
            raise ExportError(
                _("The export “%(name)s” has no format %(format)s.")
                % {"name": self.verbose_name, "format": fmt}
            )
        counter = _Counter(self.row_count(), progress)
        if fmt == "xlsx":
            write_xlsx(self.sheets(), out, counter)
        elif fmt == "csv":
            write_csv(self.flat(), out, counter, delimiter)
        else:
            self.write_other(fmt, out, counter)
        return counter.rows

    def write_other(self, fmt: str, out: IO[bytes], counter: _Counter) -> None:
        raise NotImplementedError


class _Counter:
    def __init__(self, expected: int | None, progress: Progress | None):
        self.expected, self.progress, self.rows = expected, progress, 0

    def tick(self) -> None:
        self.rows += 1
        if self.progress and self.expected and self.rows % PROGRESS_EVERY == 0:
            self.progress(min(95, 5 + 90 * self.rows // self.expected))


# ---------------------------------------------------------------- xlsx and csv


SHEET_TITLE_JUNK = re.compile(r"[\[\]:*?/\\\s]+")


def sheet_title(title: str, used: set[str]) -> str:
    """A valid, unique sheet name: at most 31 characters, none of []:*?/\\."""
    base = SHEET_TITLE_JUNK.sub(" ", title).strip() or "-"
    name, n = base[:31], 1
    while name.lower() in used:
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    used.add(name.lower())
    return name


def column_width(column: Column) -> float:
    natural = {"kronor": 16, "integer": 10, "rate": 14, "date": 11, "datetime": 16}.get(
        column.kind, 12
    )
    longest = max(len(str(column.header)), column.width or natural)
    return min(longest + 2, MAX_WIDTH)


def _as_text(ws, values: list) -> list:
    """The row with every formula-like text made a text cell (see `reporting.formulas`)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell

    for i, value in enumerate(values):
        if isinstance(value, Cell):
            if formula_like(value.value):
                text_cell(value)
        elif formula_like(value):
            cell = WriteOnlyCell(ws, value)
            text_cell(cell)
            values[i] = cell
    return values


def write_xlsx(sheets: Iterable[Sheet], out: IO[bytes], counter: _Counter) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    used: set[str] = set()
    formats = {
        "kronor": KRONOR_FORMAT,
        "integer": INTEGER_FORMAT,
        "rate": RATE_FORMAT,
        "date": DATE_FORMAT,
        "datetime": DATETIME_FORMAT,
    }
    for sheet in sheets:
        ws = workbook.create_sheet(sheet_title(sheet.title, used))
        ws.freeze_panes = "A2"
        width = len(sheet.columns)
        for i, column in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = column_width(column)
        bold = Font(bold=True)

        def styled(value, fmt=None, strong=False, ws=ws, bold=bold):
            cell = WriteOnlyCell(ws, value)
            if fmt:
                cell.number_format = fmt
            if strong:
                cell.font = bold
            return cell

        ws.append(_as_text(ws, [styled(str(c.header), strong=True) for c in sheet.columns]))
        # Styling a cell looks its style up in the workbook; copying a styled cell's
        # style array is what makes 100 000 formatted rows fast.
        templates = [
            styled(None, formats[c.kind]) if c.kind in formats else None for c in sheet.columns
        ]
        styled_at = [i for i, t in enumerate(templates) if t is not None]
        sums: list[int | None] = [None] * width
        summed = [i for i, c in enumerate(sheet.columns) if c.total]
        n = 0
        for row in sheet.rows:
            values = list(row)
            for i in summed:
                if values[i] is not None:
                    sums[i] = (sums[i] or 0) + values[i]
            for i in styled_at:
                if values[i] is not None:
                    cell = WriteOnlyCell(ws, values[i])
                    cell._style = templates[i]._style  # read only, never changed
                    values[i] = cell
            ws.append(_as_text(ws, values))
            n += 1
            counter.tick()
        last = get_column_letter(width)
        ws.auto_filter.ref = f"A1:{last}{n + 1}"
        if sheet.totals:
            total_row = [styled(_("Total"), strong=True)] + [None] * (width - 1)
            for i in summed:
                total_row[i] = styled(sums[i], formats.get(sheet.columns[i].kind), strong=True)
            ws.append(_as_text(ws, total_row))
        for extra in sheet.footer:
            ws.append(
                _as_text(
                    ws,
                    [
                        styled(v, formats.get(c.kind)) if isinstance(v, int) else v
                        for v, c in zip(extra, sheet.columns, strict=False)
                    ],
                )
            )
    if not used:
        workbook.create_sheet("-")
    workbook.save(out)


def write_csv(
    sheet: Sheet, out: IO[bytes], counter: _Counter, delimiter: str = DEFAULT_DELIMITER
) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = CsvWriter(text, delimiter)
        writer.writerow([str(c.header) for c in sheet.columns])
        for row in sheet.rows:
            writer.writerow(["" if v is None else _csv_value(v) for v in row])
            counter.tick()
    finally:
        text.detach()


def _csv_value(value):
    # Numbers stay numbers, so that the formula rule leaves a negative amount alone.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return value
    return str(value)


# ---------------------------------------------------------------- allocations


def _run_option(grant: Grant, options: dict) -> AllocationRun:
    number = options.get("run")
    if number:
        run = grant.runs.filter(number=number).first()
        if run is None:
            raise ExportError(
                _("“%(grant)s” has no run %(number)s.") % {"grant": grant.title, "number": number}
            )
        return run
    return latest_run(grant)


@register
class AllocationsExporter(Exporter):
    """A run's allocations: a summary sheet, then a sheet per pot with its rows."""

    identifier = "allocations"
    verbose_name = gettext_lazy("Allocations")

    def __init__(self, grant: Grant, options: dict | None = None):
        super().__init__(grant, options)
        self.run = _run_option(grant, self.options)

    def filename(self, fmt: str) -> str:
        return f"{self.grant.slug}-run-{self.run.number}-allocations.{fmt}"

    def row_count(self) -> int:
        return self.run.rows.count()

    def _leaves(self) -> list:
        parents = set(
            Pot.objects.filter(grant=self.grant)
            .exclude(parent=None)
            .values_list("parent_id", flat=True)
        )
        return [pr for pr in self.run.pot_results.select_related("pot") if pr.pot_id not in parents]

    def summary(self) -> Sheet:
        results = list(self.run.pot_results.select_related("pot"))
        longest = max((len(pr.path) for pr in results), default=0)
        allocated = sum(pr.allocated for pr in results if pr.pot.parent_id is None)
        rows = [
            (
                pr.pot.slug,
                pr.path,
                pr.amount,
                pr.allocated,
                pr.unallocated,
                round_rate(pr.rate) if pr.rate is not None else None,
            )
            for pr in results
        ]
        return Sheet(
            title=_("Summary"),
            columns=[
                Column(_("Pot id"), width=max((len(pr.pot.slug) for pr in results), default=0)),
                Column(_("Pot"), width=longest),
                Column(_("Amount"), "kronor"),
                Column(_("Allocated"), "kronor"),
                Column(_("Not allocated"), "kronor"),
                Column(_("Rate"), "rate"),
            ],
            rows=rows,
            footer=[
                (
                    "",
                    _("Grant"),
                    self.run.grant_amount,
                    allocated,
                    self.run.grant_amount - allocated,
                    None,
                )
            ],
        )

    def _row_columns(self, longest: dict) -> list[Column]:
        return [
            Column(_("Organisation id"), width=longest.get("org_slug")),
            Column(_("Organisation"), width=longest.get("org")),
            Column(_("Organisation number"), width=11),
            Column(_("Unit id"), width=longest.get("unit_slug")),
            Column(_("Unit"), width=longest.get("unit")),
            Column(_("Quantity"), "integer", total=True),
            Column(_("Amount"), "kronor", total=True),
        ]

    def _longest(self, rows) -> dict:
        return rows.aggregate(
            org_slug=Max(Length("organisation__slug")),
            org=Max(Length("organisation__name")),
            unit_slug=Max(Length("unit__slug")),
            unit=Max(Length("unit__name")),
            pot=Max(Length("pot__slug")),
        )

    # An allocation row as the sheets show it, after its organisation's number.
    ROW_FIELDS = ("unit__slug", "unit__name", "quantity", "amount")

    def _rows(self, rows) -> Iterator[tuple]:
        for org, name, number, *rest in (
            rows.order_by("id")
            .values_list(
                "organisation__slug",
                "organisation__name",
                "organisation__org_number",
                *self.ROW_FIELDS,
            )
            .iterator(chunk_size=5000)
        ):
            yield (org, name, number or None, *rest)

    def sheets(self) -> Iterator[Sheet]:
        yield self.summary()
        for pr in self._leaves():
            rows = self.run.rows.filter(pot_id=pr.pot_id)
            yield Sheet(
                title=pr.pot.name,
                columns=self._row_columns(self._longest(rows)),
                rows=self._rows(rows),
                totals=True,
            )

    def flat(self) -> Sheet:
        rows = self.run.rows.all()
        longest = self._longest(rows)
        paths = dict(self.run.pot_results.values_list("pot_id", "path"))
        return Sheet(
            title=_("Allocations"),
            columns=[
                Column(_("Pot id"), width=longest.get("pot")),
                Column(_("Pot")),
                *self._row_columns(longest),
            ],
            rows=(
                (slug, paths.get(pot_id, ""), org, name, number or None, *rest)
                for pot_id, slug, org, name, number, *rest in rows.order_by("id")
                .values_list(
                    "pot_id",
                    "pot__slug",
                    "organisation__slug",
                    "organisation__name",
                    "organisation__org_number",
                    *self.ROW_FIELDS,
                )
                .iterator(chunk_size=5000)
            ),
        )


# ---------------------------------------------------------------- applications


class PotChoice(forms.ChoiceField):
    """The pot, by its id in the grant; filled in per grant by the export form."""


@register
class ApplicationsExporter(Exporter):
    """The applications to one pot, with status, units, uses and amounts."""

    identifier = "applications"
    verbose_name = gettext_lazy("Applications")
    options = {"pot": PotChoice(label=gettext_lazy("Pot"))}

    def __init__(self, grant: Grant, options: dict | None = None):
        super().__init__(grant, options)
        slug = self.options.get("pot")
        self.pot = grant.pots.filter(slug=slug).first() if slug else None
        if self.pot is None:
            raise ExportError(
                _("“%(grant)s” has no pot “%(pot)s”.") % {"grant": grant.title, "pot": slug or ""}
            )

    def filename(self, fmt: str) -> str:
        return f"{self.grant.slug}-{self.pot.slug}-applications.{fmt}"

    def row_count(self) -> int:
        return self.pot.applications.count()

    def sheets(self) -> Iterator[Sheet]:
        apps = list(
            Application.objects.filter(pot=self.pot)
            .select_related("organisation")
            .order_by("position", "id")
        )
        units: dict[int, list] = {}
        for app_id, unit_id, name, places, customers in (
            ApplicationUnit.objects.filter(application__pot=self.pot)
            .order_by("application_id", "position")
            .values_list(
                "application_id",
                "grant_unit__unit_id",
                "grant_unit__unit__name",
                "grant_unit__places",
                "grant_unit__customers",
            )
        ):
            units.setdefault(app_id, []).append((unit_id, name, places or 0, customers or 0))
        uses: dict[int, list[str]] = {}
        for app_id, label in (
            ApplicationUse.objects.filter(application__pot=self.pot)
            .order_by("application_id", "position")
            .values_list("application_id", "use__label")
        ):
            uses.setdefault(app_id, []).append(label)
        by_unit, by_org = self._allocated()
        rows = []
        for app in apps:
            mine = units.get(app.pk, [])
            if mine:
                allocated = sum(by_unit.get(unit_id, 0) for unit_id, *_rest in mine)
            else:  # an organisation's money goes with its first application
                allocated = by_org.pop(app.organisation_id, 0)
            rows.append(
                (
                    app.slug,
                    app.organisation.name,
                    app.organisation.org_number or None,
                    str(app.get_status_display()),
                    app.status_reason or None,
                    "; ".join(name for _u, name, _p, _c in mine) or None,
                    sum(p for *_r, p, _c in mine) if mine else None,
                    sum(c for *_r, c in mine) if mine else None,
                    "; ".join(uses.get(app.pk, [])) or None,
                    app.intended_use or None,
                    app.requested_amount,
                    app.granted_amount,
                    allocated,
                )
            )
        yield Sheet(
            title=self.pot.name,
            columns=[
                Column(_("Application"), width=max((len(a.slug) for a in apps), default=0)),
                Column(
                    _("Organisation"),
                    width=max((len(a.organisation.name) for a in apps), default=0),
                ),
                Column(_("Organisation number"), width=11),
                Column(_("Status"), width=10),
                Column(_("Reason"), width=40),
                Column(_("Units"), width=40),
                Column(_("Places"), "integer", total=True),
                Column(_("Customers"), "integer", total=True),
                Column(_("Uses"), width=40),
                Column(_("Intended use"), width=40),
                Column(_("Requested"), "kronor", total=True),
                Column(_("Granted"), "kronor", total=True),
                Column(_("Allocated"), "kronor", total=True),
            ],
            rows=rows,
            totals=True,
        )

    def _allocated(self) -> tuple[dict[int, int], dict[int, int]]:
        """What the latest run gives from this pot, per unit and per organisation."""
        try:
            run = latest_run(self.grant)
        except RenderError:
            return {}, {}
        by_unit: dict[int, int] = {}
        by_org: dict[int, int] = {}
        for org_id, unit_id, amount in run.rows.filter(pot=self.pot).values_list(
            "organisation_id", "unit_id", "amount"
        ):
            if unit_id is not None:
                by_unit[unit_id] = by_unit.get(unit_id, 0) + amount
            by_org[org_id] = by_org.get(org_id, 0) + amount
        return by_unit, by_org
