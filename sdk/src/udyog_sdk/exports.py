"""Export helpers: tables as CSV, Excel and PDF, a PDF document builder, and every resource's list export.

Tables::

    from udyog_sdk.exports import Column, table_to_csv, table_to_pdf, table_to_xlsx

    columns = [Column("number", "Invoice"), Column("party", "Party"), Column("amount", "Amount", "money")]
    rows = [{"number": "INV/2025-26/0001", "party": "Ravi", "amount": Decimal("1234.50")}]
    table_to_xlsx(columns, rows)         # bytes of an .xlsx workbook
    table_to_pdf("Invoices", columns, rows)
    table_to_csv(columns, rows)

Rows are mappings (by column key) or sequences (by position). Values keep
their types: a ``Decimal`` is a numeric Excel cell with as many decimals as
it has (never a float on the way), and written digit for digit to CSV;
dates are date cells; aware timestamps are shown in the tenant's timezone.
CSV cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``) get a leading apostrophe, which an import strips again.

Documents (invoices, payslips)::

    doc = PdfDocument("Tax invoice", subtitle="Acme Foods Pvt Ltd")
    doc.key_values([("Invoice no.", "INV/2025-26/0001"), ("Date", date(2026, 4, 1))])
    doc.table(columns, rows)
    doc.totals([("Taxable value", Decimal("1000.00")), ("Total", Decimal("1180.00"))])
    pdf_bytes = doc.output()

PDFs use Noto Sans, with Noto Sans Devanagari as fallback (both from their
PyPI packages), so ``₹`` and Hindi text render; Devanagari is shaped with
HarfBuzz. Every resource serves ``GET /api/v1/<plugin>/<path>/export``
(:func:`add_export_route`). See ``docs/import-export.md``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import functools
import io
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Response, current_app, has_app_context

from udyog_sdk.runtime import UdyogError, active_tenant, db_session

if TYPE_CHECKING:
    from fpdf import FPDF

    from udyog_sdk.api import Blueprint
    from udyog_sdk.resources import Resource

__all__ = [
    "FORMATS",
    "Column",
    "PdfDocument",
    "export_resource",
    "format_inr",
    "format_number",
    "table_to_csv",
    "table_to_pdf",
    "table_to_xlsx",
]

#: Export formats and their content types.
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
DEFAULT_EXPORT_ROWS = 10_000
#: A PDF holds at most this many rows (a table of more is no document anyone reads).
PDF_MAX_ROWS = 2_000
#: Column kinds: how values are written and aligned.
KINDS = ("text", "number", "money", "date", "datetime", "bool")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XLSX = re.compile(r"[\000-\010\013\014\016-\037]")
_CELL_TYPES = (str, int, float, decimal.Decimal, dt.date, dt.time)
_DEVANAGARI = re.compile(r"[\u0900-\u097f\ua8e0-\ua8ff]")


@dataclass(frozen=True)
class Column:
    """One column of a table: the key rows are read by, its heading, and how its values look.

    ``kind`` is ``text``, ``number``, ``money`` (two decimals, Indian digit
    grouping in PDFs), ``date``, ``datetime`` or ``bool``; None guesses from
    the values. ``places`` fixes the decimals of numbers; ``width`` is a
    relative width in PDFs.
    """

    key: str
    label: str = ""
    kind: str | None = None
    places: int | None = None
    width: float | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: kind must be one of {', '.join(KINDS)}")

    @property
    def heading(self) -> str:
        """The label, or the key made readable."""
        return self.label or self.key.replace("_", " ").capitalize()


def _columns(columns: Sequence[Column | str | tuple[str, str]]) -> list[Column]:
    out = []
    for item in columns:
        if isinstance(item, Column):
            out.append(item)
        elif isinstance(item, tuple):
            out.append(Column(item[0], item[1]))
        else:
            out.append(Column(str(item)))
    return out


def _cells(columns: Sequence[Column], row: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
    if isinstance(row, Mapping):
        return [row.get(c.key) for c in columns]
    values = list(row)
    return [values[i] if i < len(values) else None for i in range(len(columns))]


def _zone(tz: dt.tzinfo | str | None) -> dt.tzinfo:
    if isinstance(tz, dt.tzinfo):
        return tz
    name = tz
    if name is None:
        tenant = active_tenant()
        name = tenant.timezone if tenant is not None else "Asia/Kolkata"
    try:
        return ZoneInfo(name)
    except (LookupError, ValueError, OSError):
        return dt.UTC


def _local(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return value.astimezone(tz) if value.tzinfo is not None else value


# -- number formatting ------------------------------------------------------------------------


def format_number(value: decimal.Decimal | int | float, places: int | None = None, *, indian: bool = True) -> str:
    """``1234567.5`` → ``12,34,567.50`` (Indian grouping: thousands, then lakhs and crores) or ``1,234,567.50``.

    ``places`` fixes the decimals (rounded half up); None keeps a Decimal's own.
    """
    number = decimal.Decimal(str(value)) if isinstance(value, float) else decimal.Decimal(value)
    if places is not None:
        number = number.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    if indian and len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        groups = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        whole = ",".join([*groups, tail])
    elif not indian:
        whole = f"{int(whole):,}"
    return sign + whole + (f".{fraction}" if fraction else "")


def format_inr(value: decimal.Decimal | int | float, places: int = 2) -> str:
    """``Decimal("123456.5")`` → ``₹ 1,23,456.50``."""
    return "₹ " + format_number(value, places)


def _guess(values: Iterable[Any]) -> str:
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, (int, float, decimal.Decimal)):
            return "number"
        if isinstance(value, dt.datetime):
            return "datetime"
        if isinstance(value, dt.date):
            return "date"
        return "text"
    return "text"


def _kinds(columns: Sequence[Column], rows: Sequence[list[Any]]) -> list[str]:
    return [c.kind or _guess(r[i] for r in rows[:200]) for i, c in enumerate(columns)]


# -- CSV -------------------------------------------------------------------------------------------


def _csv_text(value: Any, tz: dt.tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        return _local(value, tz).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float, uuid.UUID)):
        return str(value)
    text = str(value)
    if text.startswith((*FORMULA_START, "'")) and (text[0] != "'" or text[1:2] in (*FORMULA_START, "'")):
        return "'" + text
    return text


def table_to_csv(
    columns: Sequence[Column | str | tuple[str, str]],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    tz: dt.tzinfo | str | None = None,
) -> bytes:
    """A CSV file (UTF-8 with a byte-order mark, so Excel reads it as UTF-8): header, then the rows."""
    cols = _columns(columns)
    zone = _zone(tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in cols])
    for row in rows:
        writer.writerow([_csv_text(v, zone) for v in _cells(cols, row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# -- Excel -----------------------------------------------------------------------------------------


def _number_format(value: Any, column: Column, kind: str) -> str | None:
    if kind == "money":
        return "#,##0.00"
    if isinstance(value, bool):
        return None
    if isinstance(value, decimal.Decimal):
        places = column.places
        if places is None:
            exponent = value.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return "#,##0" + ("." + "0" * places if places else "")
    if isinstance(value, float) and column.places is not None:
        return "#,##0" + ("." + "0" * column.places if column.places else "")
    if isinstance(value, dt.datetime):
        return "yyyy-mm-dd hh:mm"
    if isinstance(value, dt.date):
        return "yyyy-mm-dd"
    return None


def table_to_xlsx(
    columns: Sequence[Column | str | tuple[str, str]],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    sheet: str = "Sheet1",
    tz: dt.tzinfo | str | None = None,
) -> bytes:
    """An ``.xlsx`` workbook with one sheet: a bold, frozen header row, then the rows as typed cells.

    Decimals are numeric cells written digit for digit (Excel itself keeps
    15 significant digits), with a number format of their decimals; dates
    and timestamps (in the tenant's timezone) are date cells; text is never
    taken for a formula.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    cols = _columns(columns)
    zone = _zone(tz)
    book = Workbook(write_only=True)
    title = re.sub(r"[\[\]:*?/\\]", " ", sheet).strip()[:31] or "Sheet1"
    ws = book.create_sheet(title)
    ws.freeze_panes = "A2"
    widths = [min(60, max(8, len(c.heading) + 2)) for c in cols]
    data = [_cells(cols, row) for row in rows]
    kinds = _kinds(cols, data)
    for index, values in enumerate(data[:200]):
        del index
        for i, value in enumerate(values):
            widths[i] = min(60, max(widths[i], len(str(value if value is not None else "")) + 2))
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    header = []
    for column in cols:
        cell = WriteOnlyCell(ws, value=_ILLEGAL_XLSX.sub("", column.heading))
        cell.font = bold
        cell.data_type = "s"
        header.append(cell)
    ws.append(header)
    for values in data:
        line = []
        for column, kind, value in zip(cols, kinds, values, strict=True):
            if isinstance(value, dt.datetime):
                value = _local(value, zone).replace(tzinfo=None)
            elif value is not None and not isinstance(value, _CELL_TYPES):
                value = str(value)  # UUIDs and anything else: as text
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=_ILLEGAL_XLSX.sub("", value))
                cell.data_type = "s"  # never a formula, whatever the text starts with
            else:
                cell = WriteOnlyCell(ws, value=value)
                fmt = _number_format(value, column, kind)
                if fmt:
                    cell.number_format = fmt
            line.append(cell)
        ws.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- PDF -------------------------------------------------------------------------------------------


def _font_files() -> dict[str, Path]:
    """The TTF files of Noto Sans and Noto Sans Devanagari (their PyPI packages)."""
    import fontpkg_noto_sans
    import fontpkg_noto_sans_devanagari

    return {
        "sans": Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf",
        "sans-italic": Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans-Italic[wdth,wght].ttf",
        "devanagari": Path(fontpkg_noto_sans_devanagari.ROOT) / "files" / "NotoSansDevanagari[wdth,wght].ttf",
    }


@functools.cache
def _static_instance(path: str, weight: int) -> str:
    """A static TTF of variable font ``path`` at weight ``weight`` (other axes at their defaults), kept on disk.

    fpdf2 can instantiate a variable font itself (``variations=``), but that
    takes seconds per document; the instance is made once per font file and
    version (its size and time in the name) and shared by every process of the
    user, written atomically.
    """
    from fontTools.ttLib import TTFont
    from fontTools.varLib.instancer import instantiateVariableFont

    source = Path(path)
    stat = source.stat()
    cache = Path(tempfile.gettempdir()) / f"udyog-fonts-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    target = cache / f"{source.stem.split('[')[0]}-wght{weight}-{stat.st_size}-{int(stat.st_mtime)}.ttf"
    if target.exists():
        return str(target)
    cache.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache / f"{target.name}.lock"):  # one process makes it; the others wait for it
        if not target.exists():
            font = instantiateVariableFont(TTFont(str(source)), {"wght": weight}, static=True)
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            font.save(str(partial))
            os.replace(partial, target)
    return str(target)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (``flock``; where there is none, no lock: the write stays atomic)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_fonts() -> list[str]:
    """Make the bold instances PDFs use now rather than at the first PDF (``make install`` calls it).

    Instancing the variable fonts takes tens of seconds of CPU once per
    machine and font version; returns the files' paths.
    """
    fonts = _font_files()
    return [_static_instance(str(fonts[name]), 700) for name in ("sans", "devanagari")]


def _pdf_text(value: Any, kind: str, column: Column | None, tz: dt.tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if kind == "money" and isinstance(value, (int, float, decimal.Decimal)):
        return format_number(value, 2 if column is None or column.places is None else column.places)
    if isinstance(value, (decimal.Decimal, float)):
        return format_number(value, column.places if column is not None else None)
    if isinstance(value, int):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return _local(value, tz).strftime("%d-%m-%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d-%m-%Y")
    return str(value)


class PdfDocument:
    """A simple A4 document: a title, key-value blocks, paragraphs, tables and totals; page numbers below.

    Build it top to bottom, then call :meth:`output` for the PDF's bytes.
    Text renders in Noto Sans (with Noto Sans Devanagari for Hindi and
    Marathi), so ``₹`` and Devanagari work everywhere.
    """

    def __init__(
        self,
        title: str,
        *,
        subtitle: str = "",
        landscape: bool = False,
        tz: dt.tzinfo | str | None = None,
    ) -> None:
        from fpdf import FPDF

        self.title = title
        self.tz = _zone(tz)
        self._texts: list[str] = [title, subtitle]
        owner = self

        class _Pdf(FPDF):  # type: ignore[misc]
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font(owner._family, "", 8)
                self.set_text_color(110)
                self.cell(0, 6, f"{owner.title} · page {self.page_no()} of {{nb}}", align="C")

        self._family = "NotoSans"
        pdf = _Pdf(orientation="L" if landscape else "P", unit="mm", format="A4")
        pdf.set_title(title)
        pdf.set_creator("Udyog")
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.set_margins(12, 12, 12)
        fonts = _font_files()
        pdf.add_font(self._family, "", str(fonts["sans"]))
        pdf.add_font(self._family, "B", _static_instance(str(fonts["sans"]), 700))
        pdf.add_font(self._family, "I", str(fonts["sans-italic"]))
        pdf.add_font("NotoSansDevanagari", "", str(fonts["devanagari"]))
        pdf.add_font("NotoSansDevanagari", "B", _static_instance(str(fonts["devanagari"]), 700))
        pdf.set_fallback_fonts(["NotoSansDevanagari"])
        self.pdf: FPDF = pdf
        self._shaped = False
        pdf.add_page()
        pdf.set_font(self._family, "B", 16)
        pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            pdf.set_font(self._family, "", 10)
            pdf.set_text_color(90)
            pdf.multi_cell(0, 6, subtitle, new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0)
        pdf.ln(3)

    def _shape_for(self, texts: Iterable[str]) -> None:
        """Turn on HarfBuzz shaping once Devanagari appears (it is slower, and Latin text needs none)."""
        if self._shaped:
            return
        if any(_DEVANAGARI.search(t) for t in texts if t):
            try:
                self.pdf.set_text_shaping(True)
            except (ImportError, ModuleNotFoundError):  # pragma: no cover - uharfbuzz is a dependency
                return
            self._shaped = True

    def heading(self, text: str) -> PdfDocument:
        """A section heading."""
        self._shape_for([text])
        self.pdf.ln(2)
        self.pdf.set_font(self._family, "B", 12)
        self.pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        return self

    def paragraph(self, text: str, *, size: float = 10) -> PdfDocument:
        """A paragraph, wrapped to the page."""
        self._shape_for([text])
        self.pdf.set_font(self._family, "", size)
        self.pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)
        return self

    def key_values(self, items: Sequence[tuple[str, Any]], *, label_width: float = 45) -> PdfDocument:
        """Label: value lines (invoice number, date, party …)."""
        texts = [(str(k), _pdf_text(v, _guess([v]), None, self.tz)) for k, v in items]
        self._shape_for(t for pair in texts for t in pair)
        pdf = self.pdf
        for label, value in texts:
            pdf.set_font(self._family, "B", 10)
            pdf.cell(label_width, 6, label)
            pdf.set_font(self._family, "", 10)
            pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        return self

    def table(
        self,
        columns: Sequence[Column | str | tuple[str, str]],
        rows: Iterable[Mapping[str, Any] | Sequence[Any]],
        *,
        font_size: float = 9,
    ) -> PdfDocument:
        """A table with a repeated heading row; numbers right-aligned with Indian digit grouping."""
        cols = _columns(columns)
        data = [_cells(cols, row) for row in rows]
        kinds = _kinds(cols, data)
        texts = [[_pdf_text(v, k, c, self.tz) for v, k, c in zip(values, kinds, cols, strict=True)] for values in data]
        self._shape_for([c.heading for c in cols])
        self._shape_for(t for line in texts for t in line)
        align = ["RIGHT" if k in ("number", "money") else "LEFT" for k in kinds]
        widths = [c.width or max(1.0, min(6.0, len(c.heading) / 4 + 1)) for c in cols]
        pdf = self.pdf
        pdf.set_font(self._family, "", font_size)
        pdf.set_draw_color(200)
        with pdf.table(
            col_widths=tuple(widths),
            text_align=tuple(align),
            line_height=font_size * 0.55,
            headings_style=_headings_style(),
            repeat_headings=1,
            first_row_as_headings=True,
        ) as table:
            head = table.row()
            for column in cols:
                head.cell(column.heading)
            for line in texts:
                row = table.row()
                for text in line:
                    row.cell(text)
        pdf.ln(3)
        return self

    def totals(self, items: Sequence[tuple[str, Any]], *, width: float = 80) -> PdfDocument:
        """Right-aligned label and amount lines (money shown with ``₹``); the last one bold."""
        pdf = self.pdf
        texts = [
            (label, format_inr(v) if isinstance(v, (int, float, decimal.Decimal)) else str(v)) for label, v in items
        ]
        self._shape_for(t for pair in texts for t in pair)
        left = pdf.w - pdf.r_margin - width
        for index, (label, value) in enumerate(texts):
            last = index == len(texts) - 1
            pdf.set_font(self._family, "B" if last else "", 10)
            pdf.set_x(left)
            pdf.cell(width * 0.55, 6, label, align="R")
            pdf.cell(width * 0.45, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        return self

    def output(self) -> bytes:
        """The PDF's bytes."""
        return bytes(self.pdf.output())


def _headings_style() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(235, 238, 242))


def table_to_pdf(
    title: str,
    columns: Sequence[Column | str | tuple[str, str]],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    subtitle: str = "",
    landscape: bool | None = None,
    tz: dt.tzinfo | str | None = None,
) -> bytes:
    """A PDF with a title and one table (landscape when there are more than six columns)."""
    cols = _columns(columns)
    doc = PdfDocument(title, subtitle=subtitle, landscape=len(cols) > 6 if landscape is None else landscape, tz=tz)
    doc.table(cols, rows)
    return doc.output()


# -- a resource's list, exported -------------------------------------------------------------------


def export_limit() -> int:
    """The most rows a list export holds (the app's ``UDYOG_EXPORT_MAX_ROWS``)."""
    if not has_app_context():
        return DEFAULT_EXPORT_ROWS
    return int(current_app.config.get("UDYOG_EXPORT_MAX_ROWS", DEFAULT_EXPORT_ROWS))


def _typed(value: Any, fld: ma.fields.Field | None) -> Any:
    """A dumped value back to its Python type, by its schema field (decimals, dates, timestamps)."""
    if value is None or fld is None or not isinstance(value, str):
        return value
    try:
        if isinstance(fld, ma.fields.Decimal):
            return decimal.Decimal(value)
        if isinstance(fld, ma.fields.DateTime):
            return dt.datetime.fromisoformat(value)
        if isinstance(fld, ma.fields.Date):
            return dt.date.fromisoformat(value)
    except (ValueError, decimal.InvalidOperation):
        return value
    return value


def _places(fld: ma.fields.Field) -> int | None:
    """The decimals a Decimal field keeps (marshmallow stores them as a quantum such as ``Decimal("0.01")``)."""
    exact = getattr(fld, "exact_places", None)
    if isinstance(exact, int):
        return exact
    places = getattr(fld, "places", None) if isinstance(fld, ma.fields.Decimal) else None
    if isinstance(places, decimal.Decimal):
        exponent = places.as_tuple().exponent
        return -exponent if isinstance(exponent, int) else None
    return places if isinstance(places, int) else None


def export_columns(resource: Resource) -> list[tuple[Column, ma.fields.Field | None]]:
    """The columns of a resource's export: its output fields (and composed fields), with their schema fields."""
    from udyog_sdk._pages import label_of

    out: list[tuple[Column, ma.fields.Field | None]] = []
    for name, fld in resource.schema().fields.items():
        if fld.load_only:
            continue
        kind = "date" if isinstance(fld, ma.fields.Date) and not isinstance(fld, ma.fields.DateTime) else None
        places = _places(fld)
        out.append((Column(fld.data_key or name, label_of(name, fld), kind, places), fld))
    composition = resource.composition() if hasattr(resource, "composition") else None
    if composition is not None:
        for name, item in composition.fields.items():
            out.append((Column(name, item.label, None, _places(item.field)), item.field))
    return out


def export_query(resource: Resource, args: Mapping[str, Any]) -> Any:
    """The resource's query with the list's filters (composed ones too), search and sort, ordered to the end."""
    from udyog_sdk.api import _order_clause

    query = resource.query()
    composition = resource.composition() if hasattr(resource, "composition") else None
    if composition is not None:
        query = composition.where(query, args)
    listing = resource.listing
    query = listing.where(query, args)
    sort_text = args.get("sort") or listing.default_sort
    order = listing.parse_sort(sort_text) if sort_text else []
    order = [*order, (resource.model.id, order[-1][1] if order else "asc")]
    return query.order_by(None).order_by(*(_order_clause(a, d) for a, d in order))


def export_resource(resource: Resource, args: Mapping[str, Any], fmt: str = "csv") -> tuple[bytes, str, str]:
    """The records the list shows for ``args`` (filters and sort) as a file: (content, content type, file name).

    Bounded by :func:`export_limit` (and :data:`PDF_MAX_ROWS` for PDFs): more
    matching records answer 422 asking to narrow the filters.
    """
    if fmt not in FORMATS:
        raise UdyogError("unknown format", status=422, errors={"format": [f"one of {', '.join(FORMATS)}"]})
    limit = min(export_limit(), PDF_MAX_ROWS) if fmt == "pdf" else export_limit()
    rows = list(db_session().scalars(export_query(resource, args).limit(limit + 1)))
    if len(rows) > limit:
        raise UdyogError(
            f"more than {limit} {(resource.label_plural or '').lower()} match: narrow the export with filters",
            status=422,
            errors={"_schema": [f"an export holds at most {limit} rows as {fmt}"]},
        )
    spec = export_columns(resource)
    columns = [c for c, _ in spec]
    data: list[list[Any]] = []
    for start in range(0, len(rows), 500):
        for dumped in resource.dump_many(rows[start : start + 500]):
            data.append([_typed(dumped.get(c.key), f) for c, f in spec])
    stamp = dt.date.today().isoformat()
    base = f"{resource.plugin}-{resource.path}-{stamp}"
    if fmt == "xlsx":
        return table_to_xlsx(columns, data, sheet=resource.label_plural or "Export"), FORMATS[fmt], f"{base}.xlsx"
    if fmt == "pdf":
        tenant = active_tenant()
        subtitle = f"{tenant.name} · {len(data)} rows · {stamp}" if tenant is not None else f"{len(data)} rows"
        return table_to_pdf(resource.label_plural or "", columns, data, subtitle=subtitle), FORMATS[fmt], f"{base}.pdf"
    return table_to_csv(columns, data), FORMATS[fmt], f"{base}.csv"


def file_response(content: bytes, content_type: str, filename: str) -> Response:
    """A download of ``content`` (never shown inline, never sniffed)."""
    response = Response(content, mimetype=content_type.split(";", 1)[0].strip(), content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def export_args_schema(resource: Resource) -> type[ma.Schema]:
    """The export's query arguments: the list's filters and sort (no page size or cursor), and ``format``.

    Made once per resource and list schema (kept on the resource): every
    application registers the export route again, and a schema class costs a
    class creation each time.
    """
    base: type[ma.Schema] = getattr(resource, "list_schema", None) or resource.listing.schema
    cached: tuple[type[ma.Schema], type[ma.Schema]] | None = resource.__dict__.get("_export_args_schema")
    if cached is None or cached[0] is not base:
        cached = resource.__dict__["_export_args_schema"] = (base, _make_export_args_schema(resource, base))
    return cached[1]


def _make_export_args_schema(resource: Resource, base: type[ma.Schema]) -> type[ma.Schema]:
    declared = base._declared_fields
    meta = type(
        "Meta", (getattr(base, "Meta", object),), {"exclude": tuple(k for k in ("limit", "cursor") if k in declared)}
    )
    attrs = {
        "Meta": meta,
        "format": ma.fields.String(
            load_default="csv",
            validate=ma.validate.OneOf(list(FORMATS)),
            metadata={"description": "csv (default), xlsx or pdf"},
        ),
    }
    return type(f"{resource._schema_base()}ExportArgs", (base,), attrs)


def add_export_route(resource: Resource, bp: Blueprint) -> None:
    """Add ``GET /<path>/export`` (permission read) to ``bp``."""
    from udyog_sdk.security import requires

    plural = (resource.label_plural or "").lower()

    def export(args: dict[str, Any]) -> Response:
        fmt = args.pop("format", "csv")
        return file_response(*export_resource(resource, args, fmt))

    export.__name__ = f"{resource.endpoint}_export"
    export.__doc__ = (
        f"Export {plural} as CSV, Excel or PDF\n\nThe list's filters and sort apply; at most "
        f"UDYOG_EXPORT_MAX_ROWS rows ({PDF_MAX_ROWS} for PDF), more answer 422."
    )
    view = requires(resource.permission("read"))(export)
    bp.route(f"/{resource.path}/export", methods=["GET"], endpoint=f"{resource.endpoint}_export")(
        bp.arguments(export_args_schema(resource), location="query")(
            bp.response(
                200,
                {"type": "string", "format": "binary"},
                content_type="application/octet-stream",
                description="the file (text/csv, .xlsx or application/pdf), as a download",
            )(view)
        )
    )
