"""CSV and Excel import for any declared resource: check every row, then write all of them or none.

A :class:`udyog_sdk.resources.Resource` that serves ``create`` also serves,
unless declared with ``importable = False``:

- ``POST /api/v1/<plugin>/<path>/import`` (multipart, part ``file``; query
  ``dry_run``) — permission ``<prefix>.import``, and the user must hold
  ``<prefix>.create`` too (an import creates records);
- ``GET .../import/template?format=csv|xlsx`` — the header row of the
  importable columns;
- ``GET .../import/<job_id>`` — a background import's state and result;
- the page ``/<plugin>/<path>/import`` (upload form, error table) and
  ``/<plugin>/<path>/import/<job_id>`` (progress and result).

How a file is read (:func:`read_table`): ``.csv`` as UTF-8 (with or without a
byte-order mark; anything else is refused naming the byte), the delimiter
sniffed among ``, ; TAB |``; ``.xlsx`` (first sheet) with openpyxl, formulas
read as the values Excel saved. The first non-empty row is the header; its
cells name the columns by field name or label (case and spacing ignored).
Empty rows are skipped; unknown columns, duplicate columns and missing
required columns are refused before any row is read. Read-only output
columns (``id``, ``number``, ``version`` …, as an export writes them) are
ignored, so an exported file imports again.

Every row goes through the resource's create path
(:meth:`~udyog_sdk.resources.Resource.create_record`: the input schema with
composed fields, ``validate``, references, ``create``) inside a savepoint;
errors are collected by row number (as the file shows it, the header being
row 1 in a file that starts with it) and column, and at the end the
transaction commits every row or none: a number taken from a gap-free series
for a refused import is given back. Files with more rows than
``UDYOG_IMPORT_BACKGROUND_ROWS`` run as a background job
(:data:`IMPORT_TASK`) that checks every row first (progress 0 to 90 %), then
writes them all in one transaction. See ``docs/import-export.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app, has_app_context, request
from flask_smorest.fields import Upload
from sqlalchemy import UniqueConstraint, inspect, or_, select
from sqlalchemy.exc import DataError, IntegrityError

from udyog_sdk.api import flatten_messages
from udyog_sdk.runtime import UdyogError, current_tenant, current_user, db_session

if TYPE_CHECKING:
    from udyog_sdk.jobs import JobContext
    from udyog_sdk.resources import Resource

__all__ = [
    "IMPORT_TASK",
    "ImportColumn",
    "ImportLimits",
    "ImportRefusedError",
    "ImportResult",
    "QueuedImport",
    "RowError",
    "Table",
    "import_columns",
    "import_file",
    "limits",
    "read_table",
    "run_import_job",
    "template",
]

#: The core's task that runs large imports (its kwargs: resource, file_key, filename, dry_run).
IMPORT_TASK = "core.import_records"
#: The Flask extension key under which resources serving routes in an app are recorded by key.
RESOURCES_EXTENSION = "udyog_sdk.resources"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ROWS = 10_000
DEFAULT_BACKGROUND_ROWS = 200
#: Columns a file may have.
MAX_COLUMNS = 200
#: Row errors kept in a result (more are counted, not listed).
MAX_REPORTED_ERRORS = 1000
#: Rows checked between two progress reports of a background import.
CHECK_CHUNK = 100

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What a CSV cell starting with one of these gets in front on export, and loses again on import.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LABEL_COLUMNS = ("title", "name", "code", "number", "email")
_MISSING = object()


@dataclass(frozen=True)
class ImportLimits:
    """The deployment's import limits (``UDYOG_IMPORT_*``; see ``docs/import-export.md``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    background_rows: int = DEFAULT_BACKGROUND_ROWS


def limits() -> ImportLimits:
    """The limits of the running app (its config ``UDYOG_IMPORT_MAX_BYTES``, ``…_MAX_ROWS``, ``…_BACKGROUND_ROWS``)."""
    if not has_app_context():
        return ImportLimits()
    config = current_app.config
    return ImportLimits(
        max_bytes=int(config.get("UDYOG_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)),
        max_rows=int(config.get("UDYOG_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)),
        background_rows=int(config.get("UDYOG_IMPORT_BACKGROUND_ROWS", DEFAULT_BACKGROUND_ROWS)),
    )


def _file_error(message: str, status: int = 422, key: str = "file") -> UdyogError:
    return UdyogError(message, status=status, errors={key: [message]})


# -- reading a file ---------------------------------------------------------------------------


@dataclass
class Table:
    """The cells of an uploaded file: its header and its non-empty rows with their row numbers."""

    headers: list[str]
    header_row: int
    #: (row number as the file shows it, cells).
    rows: list[tuple[int, list[Any]]]
    #: ``csv`` or ``xlsx``: CSV cells are text; Excel cells are typed (numbers, dates, booleans).
    source: str
    skipped_empty: int = 0


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_table(data: bytes, filename: str, *, max_rows: int | None = None) -> Table:
    """Read an uploaded ``.csv`` or ``.xlsx`` file (422 or 415 with the reason when it cannot be read).

    ``max_rows`` bounds the data rows (empty rows are not counted).
    """
    max_rows = limits().max_rows if max_rows is None else max_rows
    name = (filename or "").lower()
    if not data:
        raise _file_error("the file is empty")
    if name.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        if not name.endswith(".xlsx"):
            raise _file_error("this looks like an Excel workbook: name it .xlsx", status=415)
        rows, source = _xlsx_rows(data), "xlsx"
    elif name.endswith((".csv", ".txt")):
        rows, source = _csv_rows(data), "csv"
    elif name.endswith(".xls"):
        raise _file_error("old Excel files (.xls) cannot be read: save it as .xlsx or CSV", status=415)
    else:
        raise _file_error("send a .csv or .xlsx file", status=415)
    return _table(rows, source, max_rows)


def _table(rows: Iterable[tuple[int, list[Any]]], source: str, max_rows: int) -> Table:
    headers: list[str] | None = None
    header_row = 0
    body: list[tuple[int, list[Any]]] = []
    skipped = 0
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            if headers is not None:
                skipped += 1
            continue
        if headers is None:
            header_row = number
            headers = [_header_text(c) for c in cells]
            while headers and not headers[-1]:
                headers.pop()
            if len(headers) > MAX_COLUMNS:
                raise _file_error(f"the file has {len(headers)} columns: at most {MAX_COLUMNS} are read")
            continue
        if len(body) >= max_rows:
            raise _file_error(f"the file has more than {max_rows} rows: split it into smaller files")
        body.append((number, list(cells)))
    if headers is None:
        raise _file_error("the file has no header row: its first row must name the columns")
    width = len(headers)
    for number, cells in body:
        extra = [i for i, c in enumerate(cells[width:], start=width) if not _blank(c)]
        if extra:
            raise _file_error(f"row {number} has values in column {extra[0] + 1}, which has no header")
    for index, header in enumerate(headers):
        if not header and any(index < len(cells) and not _blank(cells[index]) for _, cells in body):
            raise _file_error(f"column {index + 1} has values but no header", key="columns")
    return Table(headers, header_row, body, source, skipped)


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _csv_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _file_error('the file is UTF-16 text: save it as "CSV UTF-8" (comma delimited)')
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}): "
            'save it as "CSV UTF-8" (comma delimited)'
        ) from None
    if "\x00" in text:
        raise _file_error("the file contains NUL characters: it is not a CSV text file")
    sample = text[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        first = sample.split("\n", 1)[0]
        delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
        dialect = type("Sniffed", (csv.excel,), {"delimiter": delimiter})
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        return [(number, row) for number, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise _file_error(f"the CSV file cannot be read: {exc}") from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise _file_error(f"the Excel file cannot be read ({type(exc).__name__}): save it again as .xlsx") from None
    try:
        if not book.worksheets:
            raise _file_error("the workbook has no sheet")
        sheet = book.worksheets[0]
        out: list[tuple[int, list[Any]]] = []
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            out.append((number, list(row)))
        return out
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise _file_error(f"the Excel file cannot be read ({type(exc).__name__}): save it again as .xlsx") from None
    finally:
        book.close()


# -- columns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportColumn:
    """A column an import reads: the input key, its label, its field, and the record it refers to."""

    key: str
    label: str
    field: ma.fields.Field
    required: bool
    kind: str
    help: str = ""
    #: The mapped class of a tenant reference (cells may name the record by title, name or code).
    target: Any = None


def _kind(fld: ma.fields.Field) -> str:
    from udyog_sdk import _pages

    return _pages._kind(fld)


def import_columns(resource: Resource) -> list[ImportColumn]:
    """The columns an import of ``resource`` reads, in the schema's order (composed fields after the own)."""
    from udyog_sdk._pages import label_of

    input_fields = getattr(resource, "input_fields", None)
    if input_fields is not None:
        fields: Mapping[str, ma.fields.Field] = input_fields("create")
    else:
        schema = resource.input_schema()
        fields = {(f.data_key or n): f for n, f in schema.fields.items() if not f.dump_only}
    composition = resource.composition() if hasattr(resource, "composition") else None
    composed = composition.fields if composition is not None else {}
    attrs = {key: attr for attr, key in resource._input_keys().items()}
    out = []
    for key, fld in fields.items():
        kind = _kind(fld)
        if not kind or key == "version":
            continue
        label = composed[key].label if key in composed else label_of(key, fld)
        target = resource.references.get(attrs.get(key, key))
        required = bool(fld.required)
        help_text = str(fld.metadata.get("description") or (composed[key].help if key in composed else "") or "")
        out.append(ImportColumn(key, label, fld, required, kind, help_text, target))
    return out


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.replace("_", " ").split()).strip(" *")


def _output_only(resource: Resource, importable: Mapping[str, ImportColumn]) -> dict[str, str]:
    """Normalised name or label → key of output fields that are not imported (id, number, version …)."""
    from udyog_sdk._pages import label_of

    found: dict[str, str] = {}
    for name, fld in resource.schema().fields.items():
        key = fld.data_key or name
        if key in importable or fld.load_only:
            continue
        found[_norm(key)] = key
        found.setdefault(_norm(label_of(name, fld)), key)
    return found


@dataclass
class ColumnMap:
    """Which column of the file feeds which import column (None: an ignored read-only column)."""

    columns: list[ImportColumn | None]
    ignored: list[str]


def map_headers(resource: Resource, headers: Sequence[str]) -> ColumnMap:
    """Match a file's headers to ``resource``'s columns by name or label; 422 naming what does not fit."""
    columns = import_columns(resource)
    by_key = {_norm(c.key): c for c in columns}
    labels: dict[str, list[ImportColumn]] = {}
    for column in columns:
        labels.setdefault(_norm(column.label), []).append(column)
    readonly = _output_only(resource, {c.key: c for c in columns})
    mapped: list[ImportColumn | None] = []
    ignored: list[str] = []
    unknown: list[str] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for header in headers:
        wanted = _norm(header)
        column = by_key.get(wanted)
        if column is None and len(labels.get(wanted, [])) == 1:
            column = labels[wanted][0]
        if column is None:
            if not header or wanted in readonly:
                mapped.append(None)
                if header:
                    ignored.append(header)
                continue
            if len(labels.get(wanted, [])) > 1:
                names = ", ".join(c.key for c in labels[wanted])
                problems.append(f"column {header!r} is ambiguous: name one of {names} instead")
            else:
                unknown.append(header)
            mapped.append(None)
            continue
        if column.key in seen:
            problems.append(f"columns {seen[column.key]!r} and {header!r} both fill {column.label!r}")
        seen[column.key] = header
        mapped.append(column)
    if unknown:
        accepted = ", ".join(c.label for c in columns)
        problems.insert(0, f"unknown column(s): {', '.join(map(repr, unknown))}; the columns are: {accepted}")
    missing = [c.label for c in columns if c.required and c.key not in seen]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if problems:
        raise UdyogError(
            f"the file's columns do not fit {(resource.label_plural or '').lower()}",
            status=422,
            errors={"columns": problems},
        )
    return ColumnMap(mapped, ignored)


# -- cells to input ---------------------------------------------------------------------------------


_NUMBER_NOISE = re.compile(r"[\s,_\u00a0\u202f]|^(?:₹|rs\.?|inr)\s*", re.IGNORECASE)
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _number_text(value: str) -> str:
    return _NUMBER_NOISE.sub("", value.strip())


def _convert(value: Any, column: ImportColumn, source: str, tz: dt.tzinfo, refs: _References) -> Any:
    """A cell as the input the column's schema field reads, or ``_MISSING`` for an empty cell."""
    if _blank(value):
        return _MISSING
    if isinstance(value, str):
        value = value.strip()
        if source == "csv" and value.startswith("'") and value[1:2] and value[1] in (*FORMULA_START, "'"):
            value = value[1:]
    fld = column.field
    kind = column.kind
    if kind == "checkbox":
        if isinstance(value, (bool, int, float)):
            return bool(value)
        return str(value).strip().lower()
    if kind == "number":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value if isinstance(value, int) else repr(value)
        return _number_text(str(value))
    if kind == "decimal":
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (int, decimal.Decimal)):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        return _number_text(str(value))
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value)
        found = _DAY_FIRST.match(text)
        if found:
            day, month, year = (int(g) for g in found.groups())
            try:
                return dt.date(year, month, day).isoformat()
            except ValueError:
                return text
        return text
    if kind == "datetime-local":
        moment: Any = value
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(moment, dt.datetime):
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            return moment.isoformat()
        return _as_text(value)
    text = _as_text(value)
    if column.target is not None:
        return refs.resolve(column, text)
    for validator in fld.validators:
        if isinstance(validator, ma.validate.OneOf):
            for choice in validator.choices:
                if isinstance(choice, str) and choice.casefold() == text.casefold():
                    return choice
    return text


class _References:
    """Resolves reference cells: a record's id, or its title, name, code or number (unique), cached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, str], str | ValueError] = {}

    def resolve(self, column: ImportColumn, text: str) -> str:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
        key = (column.target, text)
        if key not in self._cache:
            self._cache[key] = self._lookup(column, text)
        found = self._cache[key]
        if isinstance(found, ValueError):
            raise found
        return found

    def _lookup(self, column: ImportColumn, text: str) -> str | ValueError:
        target = column.target
        what = target.__name__.lower()
        names = [n for n in _LABEL_COLUMNS if hasattr(target, n)]
        if not names:
            return ValueError(f"not a valid id of a {what}")
        query = select(target.id).where(or_(*(getattr(target, n) == text for n in names))).limit(2)
        ids = db_session().scalars(query).all()
        if not ids:
            return ValueError(f"no such {what}: {text!r}")
        if len(ids) > 1:
            return ValueError(f"several records of {what} are called {text!r}: give its id")
        return str(ids[0])


# -- rows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: its number in the file, the column (None: the whole row), the messages."""

    row: int
    column: str | None
    field: str | None
    messages: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as results and the API show it."""
        return {"row": self.row, "column": self.column, "field": self.field, "messages": list(self.messages)}


@dataclass
class ImportResult:
    """The outcome of an import: counts, ignored columns and the row errors."""

    resource: str
    filename: str
    dry_run: bool
    rows: int = 0
    valid: int = 0
    created: int = 0
    skipped_empty: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rows_with_errors: int = 0
    background: bool = False
    #: Row errors found (listed up to MAX_REPORTED_ERRORS).
    entries: int = 0

    @property
    def ok(self) -> bool:
        """Whether every row passed."""
        return self.rows_with_errors == 0

    def add(self, error: RowError) -> None:
        """Keep ``error`` (up to :data:`MAX_REPORTED_ERRORS`; more are only counted)."""
        self.error_count += len(error.messages)
        self.entries += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the API's and the job's result."""
        return {
            "resource": self.resource,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "valid": self.valid,
            "created": self.created,
            "skipped_empty": self.skipped_empty,
            "ignored_columns": list(self.ignored_columns),
            "errors": [e.as_dict() for e in self.errors],
            "error_count": self.error_count,
            "rows_with_errors": self.rows_with_errors,
            "errors_truncated": len(self.errors) < self.entries,
        }

    def summary(self, label_plural: str) -> str:
        """One line for people."""
        if not self.ok:
            rows = "1 row has" if self.rows_with_errors == 1 else f"{self.rows_with_errors} rows have"
            return f"{rows} errors: nothing was imported"
        if self.dry_run:
            return f"all {self.rows} rows are valid; nothing was written (dry run)"
        return f"imported {self.created} {label_plural.lower()}"

    def envelope_errors(self) -> dict[str, list[str]]:
        """The row errors as the error envelope's fields: ``row.<n>`` or ``row.<n>.<column>``."""
        out: dict[str, list[str]] = {}
        for error in self.errors:
            key = f"row.{error.row}" + (f".{error.column}" if error.column else "")
            out.setdefault(key, []).extend(error.messages)
        return out


class ImportRefusedError(UdyogError):
    """Rows of an import have errors (422): nothing was written; ``result`` lists them by row and column."""

    def __init__(self, result: ImportResult, label_plural: str) -> None:
        super().__init__(result.summary(label_plural), status=422, errors=result.envelope_errors())
        self.result = result


class _Importer:
    """Runs a table's rows through a resource's create path."""

    def __init__(self, resource: Resource, table: Table, mapping: ColumnMap, result: ImportResult) -> None:
        self.resource = resource
        self.table = table
        self.mapping = mapping
        self.result = result
        self.refs = _References()
        self.tz = _tenant_zone()
        self.header_of = {c.key: h for c, h in zip(mapping.columns, table.headers, strict=False) if c is not None}
        self.unique_keys = _unique_keys(resource)
        self.seen: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {k: {} for k in self.unique_keys}

    def column_of(self, key: str) -> str | None:
        return self.header_of.get(key.split(".", 1)[0])

    def fail(self, row: int, errors: Mapping[str, Sequence[str]]) -> None:
        self.result.rows_with_errors += 1
        for key, messages in errors.items():
            column = self.column_of(key) if key != "_schema" else None
            if column is None and key != "_schema":
                messages = [f"{key}: {m}" for m in messages]
            self.result.add(RowError(row, column, None if key == "_schema" else key, list(messages)))

    def load(self, number: int, cells: Sequence[Any]) -> dict[str, Any] | None:
        raw: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for index, column in enumerate(self.mapping.columns):
            if column is None:
                continue
            cell = cells[index] if index < len(cells) else None
            try:
                value = _convert(cell, column, self.table.source, self.tz, self.refs)
            except ValueError as exc:
                errors[column.key] = [str(exc)]
                continue
            if value is not _MISSING:
                raw[column.key] = value
        from udyog_sdk.api import _scan_text

        _scan_text(raw, "", errors)
        if errors:
            self.fail(number, errors)
            return None
        try:
            data: dict[str, Any] = self.resource.input_schema().load(raw)
        except ma.ValidationError as exc:
            self.fail(number, flatten_messages(exc.messages))
            return None
        return data

    def duplicate(self, number: int, data: Mapping[str, Any]) -> bool:
        for key_columns, seen in self.seen.items():
            if not all(k in data and data[k] is not None for k in key_columns):
                continue
            values = tuple(data[k] for k in key_columns)
            first = seen.get(values)
            if first is not None:
                named = ", ".join(self.column_of(k) or k for k in key_columns)
                self.fail(number, {key_columns[0]: [f"the same {named} as row {first}"]})
                return True
            seen[values] = number
        return False

    def write(self, number: int, data: dict[str, Any]) -> bool:
        session = db_session()
        try:
            with session.begin_nested():
                self.resource.create_record(data)
        except UdyogError as exc:
            if exc.status >= 500:
                raise
            self.fail(number, exc.errors or {"_schema": [exc.message]})
            return False
        except IntegrityError:
            self.fail(number, self._conflict(data))
            return False
        except DataError:
            self.fail(number, {"_schema": ["a value does not fit its field"]})
            return False
        return True

    def _conflict(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        model = self.resource.model
        label = (self.resource.label or "record").lower()
        for key_columns in self.unique_keys:
            if not all(k in data and data[k] is not None for k in key_columns):
                continue
            attrs = {key: attr for attr, key in self.resource._input_keys().items()}
            query = select(model.id)
            for k in key_columns:
                query = query.where(getattr(model, attrs.get(k, k)) == data[k])
            if db_session().scalar(query.limit(1)) is not None:
                named = ", ".join(self.column_of(k) or k for k in key_columns)
                return {key_columns[0]: [f"a {label} with this {named} exists already"]}
        return {"_schema": ["conflicts with existing data (a duplicate, or a record still in use)"]}

    def run(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        for number, cells in rows:
            data = self.load(number, cells)
            if data is None or self.duplicate(number, data):
                continue
            if self.write(number, data):
                self.result.valid += 1


def _tenant_zone() -> dt.tzinfo:
    try:
        return ZoneInfo(current_tenant().timezone)
    except (LookupError, ValueError, KeyError, OSError):
        return dt.UTC


def _unique_keys(resource: Resource) -> list[tuple[str, ...]]:
    """Input keys of each unique constraint of the model (besides the tenant), where all are input fields."""
    table = resource.model.__table__
    mapper = inspect(resource.model)
    keys = resource._input_keys()
    found: list[tuple[str, ...]] = []
    groups = [c.columns for c in table.constraints if isinstance(c, UniqueConstraint)]
    groups += [i.columns for i in table.indexes if i.unique]
    for columns in groups:
        names = [c for c in columns if c.name != "tenant_id"]
        if not names or len(names) == len(columns):
            continue
        try:
            attrs = [mapper.get_property_by_column(c).key for c in names]
        except Exception:  # noqa: BLE001 - an unmapped column: no key to check
            continue
        if all(a in keys for a in attrs):
            found.append(tuple(keys[a] for a in attrs))
    return found


# -- running an import ----------------------------------------------------------------------------------


def _check_permissions(resource: Resource) -> None:
    user = current_user()
    needed = resource.permission("create")
    if user is not None and not user.can(needed):
        raise UdyogError(f"permission required: {needed}", status=403, errors={"permission": [needed]})


def prepare(resource: Resource, data: bytes, filename: str) -> tuple[Table, ColumnMap, ImportResult]:
    """Read a file and match its columns (file-level errors raise 4xx); the empty result to fill."""
    table = read_table(data, filename)
    mapping = map_headers(resource, table.headers)
    result = ImportResult(
        resource=resource.permission_prefix,
        filename=filename,
        dry_run=False,
        rows=len(table.rows),
        skipped_empty=table.skipped_empty,
        ignored_columns=list(mapping.ignored),
    )
    return table, mapping, result


@dataclass(frozen=True)
class QueuedImport:
    """An import handed to a background job: the run's id and the rows the file has."""

    job_id: uuid.UUID
    rows: int


def import_file(
    resource: Resource, data: bytes, filename: str, *, dry_run: bool = False, background: bool | None = None
) -> ImportResult | QueuedImport:
    """Import ``data`` into ``resource`` for the current user: a result, or the id of a queued background run.

    Small files run here: every row is created in a savepoint and the
    transaction commits all of them (nothing for a dry run, or when any row
    has errors: then a 422 :class:`UdyogError` lists them by row and column).
    Files with more rows than the background limit (or ``background=True``)
    are stored as a work file and a run of :data:`IMPORT_TASK` is queued and
    committed; a :class:`QueuedImport` names it.
    """
    from udyog_sdk import workfiles
    from udyog_sdk.jobs import enqueue

    _check_permissions(resource)
    table, mapping, result = prepare(resource, data, filename)
    result.dry_run = dry_run
    if background is None:
        background = len(table.rows) > limits().background_rows
    if background:
        key = workfiles.put(data)
        run_id = enqueue(
            IMPORT_TASK,
            {"resource": resource.permission_prefix, "file_key": key, "filename": filename, "dry_run": dry_run},
        )
        db_session().commit()
        return QueuedImport(run_id, len(table.rows))
    session = db_session()
    try:
        _Importer(resource, table, mapping, result).run(table.rows)
    except BaseException:
        session.rollback()
        raise
    if not result.ok:
        session.rollback()
        raise ImportRefusedError(result, resource.label_plural or "")
    if dry_run:
        session.rollback()
    else:
        result.created = result.valid
        session.commit()
    return result


def run_import_job(
    ctx: JobContext, resource: Resource, file_key: str, filename: str, dry_run: bool = False
) -> dict[str, Any]:
    """The body of a background import (called by the core's :data:`IMPORT_TASK`, in the tenant's scope).

    Checks every row in chunks, each rolled back, reporting progress from 0
    to 90 % (the checkpoint commits nothing but the progress); then, unless
    it is a dry run, writes all rows in the run's own transaction, committed
    with the run's success. Row errors raise :class:`udyog_sdk.JobFailed`
    with the result, so nothing is written. The work file is removed at the
    end, whatever the outcome that the rows decide.
    """
    from udyog_sdk import workfiles
    from udyog_sdk.jobs import JobFailed

    tenant = current_tenant()
    if not tenant.is_enabled(resource.plugin):
        raise JobFailed(f"plugin {resource.plugin!r} is not enabled for this tenant")
    try:
        with workfiles.open_file(file_key) as handle:
            data = handle.read()
    except FileNotFoundError:
        raise JobFailed("the uploaded file is no longer stored: upload it again") from None
    label = resource.label_plural or ""
    try:
        _check_permissions(resource)
        table, mapping, result = prepare(resource, data, filename)
    except UdyogError as exc:
        workfiles.remove(file_key)
        raise JobFailed(exc.message, result={"errors": [], "file_errors": exc.errors}) from None
    result.dry_run = dry_run
    result.background = True
    session = db_session()
    total = len(table.rows)
    ctx.progress(0, f"checking {total} rows")
    checker = _Importer(resource, table, mapping, result)
    for start in range(0, total, CHECK_CHUNK):
        chunk = session.begin_nested()
        try:
            checker.run(table.rows[start : start + CHECK_CHUNK])
        finally:
            chunk.rollback()
        done = min(total, start + CHECK_CHUNK)
        ctx.progress(90 * done / max(total, 1), f"checked {done} of {total} rows")
    if not result.ok:
        workfiles.remove(file_key)
        raise JobFailed(result.summary(label), result=result.as_dict())
    if dry_run:
        workfiles.remove(file_key)
        ctx.progress(100, result.summary(label))
        return result.as_dict()
    ctx.progress(90, f"writing {total} rows")
    written = ImportResult(
        resource=result.resource,
        filename=filename,
        dry_run=False,
        rows=result.rows,
        skipped_empty=result.skipped_empty,
        ignored_columns=result.ignored_columns,
        background=True,
    )
    _Importer(resource, table, mapping, written).run(table.rows)
    workfiles.remove(file_key)
    if not written.ok:
        raise JobFailed(written.summary(label), result=written.as_dict())
    written.created = written.valid
    return written.as_dict()


# -- templates ------------------------------------------------------------------------------------------


def template(resource: Resource, fmt: str = "csv") -> tuple[bytes, str, str]:
    """An empty file with the importable columns' labels as its header: (content, content type, file name)."""
    from udyog_sdk import exports

    columns = [exports.Column(c.key, c.label) for c in import_columns(resource)]
    base = f"{resource.plugin}-{resource.path}-import"
    if fmt == "xlsx":
        return exports.table_to_xlsx(columns, [], sheet=resource.label_plural or "Import"), XLSX_TYPE, f"{base}.xlsx"
    return exports.table_to_csv(columns, []), "text/csv; charset=utf-8", f"{base}.csv"


# -- where the task finds the resource -------------------------------------------------------------------


def record_resource(resource: Resource, app: Any) -> None:
    """Remember ``resource`` in ``app`` by key (its permission prefix), for background imports."""
    app.extensions.setdefault(RESOURCES_EXTENSION, {}).setdefault(resource.permission_prefix, resource)


def app_resource(key: str) -> Resource | None:
    """The resource serving routes in the current app under ``key``, if any."""
    if not has_app_context():
        return None
    found: Resource | None = current_app.extensions.get(RESOURCES_EXTENSION, {}).get(key)
    return found


def result_of(status: Any) -> Mapping[str, Any]:
    """The result mapping of a run status (empty while it runs)."""
    result = getattr(status, "result", None)
    return result if isinstance(result, Mapping) else {}


# -- the REST API ---------------------------------------------------------------------------------------


class ImportUploadSchema(ma.Schema):
    """The file to import, as the part ``file`` of a multipart/form-data body."""

    file = Upload(
        required=True,
        metadata={"description": "a .csv (UTF-8) or .xlsx file whose first row names the columns"},
    )


class ImportArgsSchema(ma.Schema):
    """How to import."""

    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "check every row and report, but write nothing"},
    )


class ImportTemplateArgsSchema(ma.Schema):
    """Which template."""

    format = ma.fields.String(
        load_default="csv", validate=ma.validate.OneOf(["csv", "xlsx"]), metadata={"description": "csv or xlsx"}
    )


class ImportRowErrorSchema(ma.Schema):
    """What is wrong with one row."""

    row = ma.fields.Integer(metadata={"description": "the row number as the file shows it"})
    column = ma.fields.String(allow_none=True, metadata={"description": "the column's header as in the file"})
    field = ma.fields.String(allow_none=True, metadata={"description": "the input field"})
    messages = ma.fields.List(ma.fields.String())


class ImportResultSchema(ma.Schema):
    """The outcome of an import."""

    resource = ma.fields.String()
    filename = ma.fields.String()
    dry_run = ma.fields.Boolean()
    rows = ma.fields.Integer(metadata={"description": "data rows in the file (empty rows not counted)"})
    valid = ma.fields.Integer()
    created = ma.fields.Integer()
    skipped_empty = ma.fields.Integer()
    ignored_columns = ma.fields.List(ma.fields.String(), metadata={"description": "read-only columns not imported"})
    errors = ma.fields.List(ma.fields.Nested(ImportRowErrorSchema))
    error_count = ma.fields.Integer()
    rows_with_errors = ma.fields.Integer()
    errors_truncated = ma.fields.Boolean()


class ImportQueuedSchema(ma.Schema):
    """A background import, queued."""

    job_id = ma.fields.UUID()
    rows = ma.fields.Integer()
    status_url = ma.fields.String()


class ImportJobSchema(ma.Schema):
    """A background import: its run's state, progress, and (once finished) its result or refusal."""

    job_id = ma.fields.UUID()
    state = ma.fields.String(metadata={"description": "queued | running | retrying | succeeded | failed | cancelled"})
    finished = ma.fields.Boolean()
    progress = ma.fields.Float(allow_none=True)
    message = ma.fields.String()
    error = ma.fields.String(allow_none=True, metadata={"description": "why it failed (row errors: see result)"})
    result = ma.fields.Raw(allow_none=True, metadata={"description": "the import's result (ImportResult)"})


def _read_upload(upload: Any) -> bytes:
    limit = limits().max_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise UdyogError(
            f"the file is too large: at most {limit} bytes", status=413, errors={"file": [f"at most {limit} bytes"]}
        )
    return bytes(data)


def import_status(resource: Resource, job_id: uuid.UUID) -> dict[str, Any]:
    """A background import of ``resource`` as the API shows it (404 unless it is one)."""
    from udyog_sdk.jobs import run_status

    status = run_status(job_id)
    if status is None or status.task != IMPORT_TASK or status.kwargs.get("resource") != resource.permission_prefix:
        raise UdyogError("no such import", status=404)
    result = status.result if isinstance(status.result, Mapping) else None
    message = status.message
    if status.state == "succeeded" and result is not None and "rows" in result:
        message = _summary(result, resource.label_plural or "")
    return {
        "job_id": status.id,
        "state": status.state,
        "finished": status.finished,
        "progress": status.progress,
        "message": message,
        "error": status.error,
        "result": status.result,
    }


def add_import_routes(resource: Resource, bp: Any) -> None:
    """Add the import, template and import-status routes of ``resource`` to ``bp`` (prefix ``/api/v1/<plugin>``)."""
    from udyog_sdk.api import envelope, limit_upload, ok
    from udyog_sdk.exports import file_response
    from udyog_sdk.security import requires

    base = f"/{resource.path}/import"
    name = resource.endpoint
    plural = (resource.label_plural or "").lower()
    permission = resource.permission("import")

    def view(fn: Any, suffix: str, doc: str) -> Any:
        fn.__doc__ = doc
        fn.__name__ = f"{name}_{suffix}"
        return requires(permission)(fn)

    def upload(args: dict[str, Any], files: dict[str, Any]) -> Any:
        file = files["file"]
        outcome = import_file(resource, _read_upload(file), file.filename or "", dry_run=args["dry_run"])
        if isinstance(outcome, QueuedImport):
            job = outcome.job_id
            data = {
                "job_id": str(job),
                "rows": outcome.rows,
                "status_url": f"/api/v1/{resource.plugin}/{resource.path}/import/{job}",
            }
            return ok(data, message=f"{outcome.rows} rows: the import runs in the background as job {job}"), 202
        status = 200 if outcome.dry_run else 201
        return ok(outcome.as_dict(), message=outcome.summary(plural)), status

    doc = (
        f"Import {plural} from a CSV or Excel file\n\n"
        "Multipart/form-data, part `file` (.csv in UTF-8, or .xlsx); the first row names the columns "
        "(field names or labels). Every row is checked through the create path; all rows are written, or "
        "none: row errors answer 422 with `errors` keyed `row.<n>.<column>`. `dry_run=true` checks only. "
        "Files with more rows than UDYOG_IMPORT_BACKGROUND_ROWS run as a background job: 202 with its id "
        f"(see GET .../import/{{job_id}}). Needs `{resource.permission('create')}` as well."
    )
    bp.route(base, methods=["POST"], endpoint=f"{name}_import")(
        limit_upload(lambda: limits().max_bytes)(
            bp.arguments(ImportArgsSchema, location="query")(
                bp.arguments(ImportUploadSchema, location="files")(
                    bp.response(201, envelope(ImportResultSchema))(
                        bp.alt_response(200, schema=envelope(ImportResultSchema), description="a dry run's result")(
                            bp.alt_response(202, schema=envelope(ImportQueuedSchema), description="queued")(
                                view(upload, "import", doc)
                            )
                        )
                    )
                )
            )
        )
    )

    def template_(args: dict[str, Any]) -> Any:
        return file_response(*template(resource, args["format"]))

    bp.route(f"{base}/template", methods=["GET"], endpoint=f"{name}_import_template")(
        bp.arguments(ImportTemplateArgsSchema, location="query")(
            bp.response(
                200,
                {"type": "string", "format": "binary"},
                content_type="application/octet-stream",
                description="an empty CSV or Excel file with the importable columns",
            )(view(template_, "import_template", f"A template for importing {plural}"))
        )
    )

    def status_(job_id: uuid.UUID) -> Any:
        return ok(import_status(resource, job_id))

    bp.route(f"{base}/<uuid:job_id>", methods=["GET"], endpoint=f"{name}_import_status")(
        bp.response(200, envelope(ImportJobSchema))(
            view(status_, "import_status", f"A background import of {plural}: progress, then its result")
        )
    )


# -- the pages ---------------------------------------------------------------------------------------------


def _page_endpoint(resource: Resource) -> Any:
    def endpoint(page: str) -> str:
        return f"{request.blueprint}.{resource.endpoint}_{page}_page"

    return endpoint


def _can(resource: Resource) -> dict[str, bool]:
    user = current_user()
    allowed = {
        "read": {"list", "get"},
        "create": {"create"},
        "write": {"update"},
        "delete": {"delete"},
        "cancel": {"cancel"},
        "import": {"create"},
    }
    out = {
        action: bool(user is not None and ops & resource.enabled and user.can(resource.permission(action)))
        for action, ops in allowed.items()
    }
    out["import"] = out["import"] and bool(getattr(resource, "importable", True))
    out["jobs"] = bool(user is not None and user.can("core.jobs.read"))
    return out


def add_import_pages(resource: Resource, bp: Any) -> None:
    """Add the import page and the background import's status page to ``bp`` (prefix ``/<plugin>``)."""
    from flask import flash, make_response, redirect, render_template, url_for

    from udyog_sdk._pages import breadcrumbs, humanise
    from udyog_sdk.i18n import gettext as _

    base = f"/{resource.path}/import"
    ep = resource.endpoint
    plural = resource.label_plural or ""

    def page(template_name: str, status: int = 200, **context: Any) -> Any:
        endpoint = _page_endpoint(resource)
        if "breadcrumbs" not in context:
            context["breadcrumbs"] = breadcrumbs(resource, endpoint, (_("Import"), None))
        html = render_template(
            template_name,
            resource=resource,
            can=_can(resource),
            endpoint=_page_endpoint(resource),
            humanise=humanise,
            columns=import_columns(resource),
            api_base=f"/api/v1/{resource.plugin}/{resource.path}",
            **context,
        )
        return make_response(html, status)

    def import_page() -> Any:
        if request.method == "GET":
            return page(resource.import_template)
        dry_run = request.form.get("dry_run", "") not in ("", "false", "off")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return page(resource.import_template, 422, general={"file": ["choose a .csv or .xlsx file"]})
        try:
            outcome = import_file(resource, _read_upload(upload), upload.filename, dry_run=dry_run)
        except ImportRefusedError as exc:
            return page(resource.import_template, 422, result=exc.result.as_dict(), summary=exc.message)
        except UdyogError as exc:
            if exc.status >= 500 or exc.status in (403, 404):
                raise
            db_session().rollback()
            return page(resource.import_template, exc.status, general=exc.errors or {"_schema": [exc.message]})
        if isinstance(outcome, QueuedImport):
            flash(_("Import of %(file)s started: it runs in the background.", file=upload.filename), "info")
            return redirect(url_for(_page_endpoint(resource)("import_status"), job_id=outcome.job_id), 303)
        if not dry_run and _can(resource)["read"] and "list" in resource.enabled:
            # Imported: go to the list (a reload must not import the file again).
            summary = outcome.summary(plural)
            message = f"{summary[:1].upper()}{summary[1:]}."
            if outcome.ignored_columns:
                message += f" Read-only columns ignored: {', '.join(outcome.ignored_columns)}."
            if outcome.skipped_empty:
                message += f" {outcome.skipped_empty} empty row(s) skipped."
            flash(message, "success")
            return redirect(url_for(_page_endpoint(resource)("list")), 303)
        return page(resource.import_template, result=outcome.as_dict(), summary=outcome.summary(plural))

    import_page.__name__ = f"{ep}_import_page"
    bp.add_url_rule(
        base,
        f"{ep}_import_page",
        requires_permission(resource.permission("import"))(import_page),
        methods=["GET", "POST"],
    )

    def status_page(job_id: uuid.UUID) -> Any:
        job = import_status(resource, job_id)
        result = job["result"] if isinstance(job["result"], Mapping) and "rows" in job["result"] else None
        summary = job["error"] or ""
        if result is not None and not summary:
            summary = _summary(result, plural)
        endpoint = _page_endpoint(resource)
        crumbs = breadcrumbs(resource, endpoint, (_("Import"), url_for(endpoint("import"))), (_("Job"), None))
        return page(
            resource.import_status_template,
            job=job,
            result=result,
            summary=summary,
            refresh=not job["finished"],
            breadcrumbs=crumbs,
        )

    status_page.__name__ = f"{ep}_import_status_page"
    bp.add_url_rule(
        f"{base}/<uuid:job_id>",
        f"{ep}_import_status_page",
        requires_permission(resource.permission("import"))(status_page),
        methods=["GET"],
    )


def _summary(result: Mapping[str, Any], label_plural: str) -> str:
    done = ImportResult(
        resource=str(result.get("resource", "")),
        filename=str(result.get("filename", "")),
        dry_run=bool(result.get("dry_run")),
        rows=int(result.get("rows") or 0),
        created=int(result.get("created") or 0),
        rows_with_errors=int(result.get("rows_with_errors") or 0),
    )
    return done.summary(label_plural)


def requires_permission(permission: str) -> Any:
    """:func:`udyog_sdk.security.requires` (imported late: security imports nothing of ours)."""
    from udyog_sdk.security import requires

    return requires(permission)
