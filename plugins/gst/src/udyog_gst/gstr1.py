"""GSTR-1 for a month: the GST portal's JSON and an Excel workbook of the same rows.

Sections: ``b2b``, ``b2cl``, ``b2cs``, ``exp``, ``cdnr``, ``cdnur``, ``hsn``
(``hsn_b2b`` and ``hsn_b2c``) and ``doc_issue``. ``fp`` is ``MMYYYY``, dates
``dd-mm-yyyy``, ``pos`` a 2-digit string; amounts are exact decimals (kept
as strings while stored, written as JSON numbers digit for digit).

Credit notes carry an amount only (sales has no credit-note lines): their
taxable value and tax are the original invoice's, in proportion to the
note's amount over the invoice's total, each rounded to paise half up.
A credit note on an invoice that went to ``b2cs`` is netted off there.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from copy import copy
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory.models import Product, Unit
from udyog_sales.models import CreditNote, Invoice
from udyog_sdk import UdyogError, db_session
from udyog_sdk.exports import Column, table_to_xlsx
from udyog_sdk.models import utcnow

from . import data
from .identifiers import normalise
from .models import InvoiceTax, Registration, Return
from .services import ZERO, invoice_gst_lines, money

NUMERIC_KEYS = frozenset({"txval", "iamt", "camt", "samt", "csamt", "rt", "val", "qty"})
#: Units of quantity (UQC) the portal knows, for common unit codes.
UQC = {
    "pcs": "PCS",
    "nos": "NOS",
    "no": "NOS",
    "kg": "KGS",
    "kgs": "KGS",
    "g": "GMS",
    "gm": "GMS",
    "gms": "GMS",
    "l": "LTR",
    "ltr": "LTR",
    "ml": "MLT",
    "box": "BOX",
    "bag": "BAG",
    "btl": "BTL",
    "can": "CAN",
    "pkt": "PAC",
    "pac": "PAC",
    "doz": "DOZ",
    "ton": "TON",
    "mtr": "MTR",
    "m": "MTR",
    "set": "SET",
    "unt": "UNT",
}


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    """``MMYYYY`` → the month's first and last day; 422 naming ``period`` otherwise."""
    if not re.fullmatch(r"(0[1-9]|1[0-2])20[0-9]{2}", period or ""):
        raise UdyogError("invalid period", status=422, errors={"period": ["MMYYYY, e.g. 102025"]})
    month, year = int(period[:2]), int(period[2:])
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _date(day: dt.date) -> str:
    return day.strftime("%d-%m-%Y")


def _heads(line: Mapping[str, Any], ratio: Decimal | None = None) -> dict[str, Decimal]:
    def part(key: str) -> Decimal:
        value = Decimal(str(line[key]))
        return money(value * ratio) if ratio is not None else value

    return {
        "txval": part("taxable"),
        "iamt": part("igst"),
        "camt": part("cgst"),
        "samt": part("sgst") + part("utgst"),
        "csamt": ZERO,
    }


def _add(into: dict[str, Decimal], values: Mapping[str, Decimal], sign: int = 1) -> None:
    for key, value in values.items():
        into[key] = into.get(key, ZERO) + sign * value


def _items(lines: Iterable[Mapping[str, Any]], ratio: Decimal | None = None) -> list[dict[str, Any]]:
    """An invoice's (or note's) items: one per rate, numbered, as the portal groups them."""
    by_rate: dict[Decimal, dict[str, Decimal]] = {}
    for line in lines:
        _add(by_rate.setdefault(Decimal(str(line["rate"])), {}), _heads(line, ratio))
    return [
        {"num": num, "itm_det": {"rt": rate, **values}}
        for num, (rate, values) in enumerate(sorted(by_rate.items()), start=1)
    ]


def _series_prefix(number: str) -> str:
    return re.sub(r"[0-9]+$", "", number)


def _doc_series(numbers: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Documents issued, per series (the number without its counter): from, to, total, cancelled, net."""
    groups: dict[str, list[tuple[str, bool]]] = {}
    for number, cancelled in numbers:
        groups.setdefault(_series_prefix(number), []).append((number, cancelled))
    out = []
    for num, (_prefix, docs) in enumerate(sorted(groups.items()), start=1):
        ordered = sorted(docs, key=lambda d: (len(d[0]), d[0]))
        cancelled = sum(1 for _, c in docs if c)
        out.append(
            {
                "num": num,
                "from": ordered[0][0],
                "to": ordered[-1][0],
                "totnum": len(docs),
                "cancel": cancelled,
                "net_issue": len(docs) - cancelled,
            }
        )
    return out


class _Context:
    """What the builder reads once: registrations, customers, products and units."""

    def __init__(self, invoices: list[Invoice], notes: list[CreditNote], originals: dict[uuid.UUID, Invoice]) -> None:
        session = db_session()
        every = {i.id: i for i in [*invoices, *originals.values()]}
        self.gst = (
            {
                row.record_id: row
                for row in session.scalars(select(InvoiceTax).where(InvoiceTax.record_id.in_(list(every))))
            }
            if every
            else {}
        )
        product_ids = {line.product_id for inv in every.values() for line in inv.lines}
        products = (
            {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(product_ids)))}
            if product_ids
            else {}
        )
        units = {u.id: u for u in session.scalars(select(Unit))}
        self.product_name = {pid: p.name for pid, p in products.items()}
        self.uqc = {
            pid: UQC.get((units[p.unit_id].code if p.unit_id in units else "").lower(), "OTH")
            for pid, p in products.items()
        }
        customer_ids = {i.customer_id for i in every.values()} | {n.customer_id for n in notes}
        self.customers = (
            {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
            if customer_ids
            else {}
        )


def _kind(invoice: Invoice, gst: InvoiceTax) -> str:
    """b2b, exp, b2cl or b2cs: the section an invoice goes to (B2CL threshold by the invoice date)."""
    if gst.export:
        return "exp"
    if gst.buyer_gstin:
        return "b2b"
    limit = data.in_force(data.B2CL_LIMIT, invoice.invoice_date)
    if gst.inter_state and limit is not None and invoice.total > limit:
        return "b2cl"
    return "b2cs"


def registered_gstins() -> list[str]:
    """The tenant's GSTINs (branches in one state share one), sorted."""
    return sorted(set(db_session().scalars(select(Registration.gstin))))


def filing_gstin(gstin: str | None = None) -> str:
    """The GSTIN a GSTR-1 is filed for: ``gstin`` if it is one of the tenant's registrations, else its only one.

    GSTR-1 is filed per GSTIN. A tenant registered in several states must name
    one (422 naming ``gstin``); one without a registration gets a 409.
    """
    known = registered_gstins()
    if not known:
        raise UdyogError("no GST registration", status=409, errors={"gstin": ["register a branch's GSTIN first"]})
    if gstin in (None, ""):
        if len(known) > 1:
            reason = f"the tenant has several GSTINs ({', '.join(known)}): name the one to file for"
            raise UdyogError("which GSTIN?", status=422, errors={"gstin": [reason]})
        return known[0]
    wanted = normalise(str(gstin))
    if wanted not in known:
        raise UdyogError("unknown GSTIN", status=422, errors={"gstin": ["not one of the tenant's registrations"]})
    return wanted


def build(period: str, gstin: str | None = None) -> dict[str, Any]:
    """GSTR-1 of the month ``period`` (``MMYYYY``) for one of the tenant's GSTINs, amounts as Decimals.

    ``gstin`` as :func:`filing_gstin` resolves it. Only the invoices issued
    under that GSTIN (its branches' warehouses), and the credit notes against
    them, are in it.
    """
    first, last = parse_period(period)
    session = db_session()
    filed_for = filing_gstin(gstin)
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.invoice_date >= first, Invoice.invoice_date <= last)
            .order_by(Invoice.invoice_date, Invoice.number)
        )
    )
    notes = list(
        session.scalars(
            select(CreditNote)
            .where(CreditNote.note_date >= first, CreditNote.note_date <= last)
            .order_by(CreditNote.note_date, CreditNote.number)
        )
    )
    wanted = {n.invoice_id for n in notes} - {i.id for i in invoices}
    originals = {i.id: i for i in invoices}
    if wanted:
        originals.update({i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(wanted)))})
    ctx = _Context(invoices, notes, originals)

    def ours(invoice_id: uuid.UUID) -> bool:
        row = ctx.gst.get(invoice_id)
        return row is not None and row.supplier_gstin == filed_for

    invoices = [i for i in invoices if ours(i.id)]
    notes = [n for n in notes if ours(n.invoice_id)]

    b2b: dict[str, list[dict[str, Any]]] = {}
    b2cl: dict[str, list[dict[str, Any]]] = {}
    b2cs: dict[tuple[str, str, Decimal], dict[str, Decimal]] = {}
    exp: list[dict[str, Any]] = []
    hsn: dict[str, dict[tuple[str, str, Decimal], dict[str, Decimal]]] = {"hsn_b2b": {}, "hsn_b2c": {}}
    hsn_desc: dict[str, str] = {}
    total = ZERO

    def add_hsn(inv: Invoice, gst: InvoiceTax, ratio: Decimal | None, sign: int) -> None:
        bucket = hsn["hsn_b2b" if gst.buyer_gstin else "hsn_b2c"]
        quantities = {line.line_no: line for line in inv.lines}
        for line in gst.lines:
            source = quantities.get(int(line["line_no"]))
            product_id = source.product_id if source is not None else None
            key = (
                str(line["hsn"]),
                ctx.uqc.get(product_id, "OTH") if product_id else "OTH",
                Decimal(str(line["rate"])),
            )
            if product_id is not None:
                hsn_desc.setdefault(key[0], ctx.product_name.get(product_id, ""))
            values = dict(_heads(line, ratio))
            values["qty"] = source.quantity if source is not None and ratio is None else Decimal("0")
            _add(bucket.setdefault(key, {}), values, sign)

    def add_b2cs(gst: InvoiceTax, ratio: Decimal | None, sign: int) -> None:
        supply = "INTER" if gst.inter_state else "INTRA"
        for line in gst.lines:
            key = (supply, gst.place_of_supply, Decimal(str(line["rate"])))
            _add(b2cs.setdefault(key, {}), _heads(line, ratio), sign)

    for inv in invoices:
        gst = ctx.gst.get(inv.id)
        if inv.state == "cancelled" or gst is None:
            continue
        invoice_gst_lines(gst, inv.number)  # damaged stored lines: 409 naming the invoice, not a failed sum
        total += inv.total
        kind = _kind(inv, gst)
        entry = {"inum": inv.number, "idt": _date(inv.invoice_date), "val": inv.total}
        if kind == "b2b":
            b2b.setdefault(gst.buyer_gstin or "", []).append(
                {
                    **entry,
                    "pos": gst.place_of_supply,
                    "rchrg": "N",
                    "inv_typ": "SEWP" if gst.sez else "R",
                    "itms": _items(gst.lines),
                }
            )
        elif kind == "b2cl":
            b2cl.setdefault(gst.place_of_supply, []).append({**entry, "itms": _items(gst.lines)})
        elif kind == "exp":
            exp.append({**entry, "itms": [item["itm_det"] for item in _items(gst.lines)]})
        else:
            add_b2cs(gst, None, 1)
        add_hsn(inv, gst, None, 1)

    cdnr: dict[str, list[dict[str, Any]]] = {}
    cdnur: list[dict[str, Any]] = []
    for note in notes:
        original = originals.get(note.invoice_id)
        gst = ctx.gst.get(note.invoice_id)
        if note.state == "cancelled" or original is None or gst is None or original.total == 0:
            continue
        invoice_gst_lines(gst, original.number)
        ratio = Decimal(note.amount) / Decimal(original.total)
        kind = _kind(original, gst)
        entry = {"ntty": "C", "nt_num": note.number, "nt_dt": _date(note.note_date), "val": note.amount}
        if kind == "b2b":
            cdnr.setdefault(gst.buyer_gstin or "", []).append(
                {
                    **entry,
                    "pos": gst.place_of_supply,
                    "rchrg": "N",
                    "inv_typ": "SEWP" if gst.sez else "R",
                    "itms": _items(gst.lines, ratio),
                }
            )
        elif kind in ("b2cl", "exp"):
            cdnur.append(
                {
                    "typ": "B2CL" if kind == "b2cl" else "EXPWP",
                    **entry,
                    "pos": gst.place_of_supply,
                    "itms": _items(gst.lines, ratio),
                }
            )
        else:
            add_b2cs(gst, ratio, -1)
        add_hsn(original, gst, ratio, -1)

    doc_det = []
    invoice_docs = _doc_series([(i.number, i.state == "cancelled") for i in invoices])
    if invoice_docs:
        doc_det.append({"doc_num": 1, "doc_typ": "Invoices for outward supply", "docs": invoice_docs})
    note_docs = _doc_series([(n.number, n.state == "cancelled") for n in notes])
    if note_docs:
        doc_det.append({"doc_num": 5, "doc_typ": "Credit Note", "docs": note_docs})

    def hsn_rows(bucket: dict[tuple[str, str, Decimal], dict[str, Decimal]]) -> list[dict[str, Any]]:
        return [
            {
                "num": num,
                "hsn_sc": code,
                "desc": hsn_desc.get(code, "")[:30],
                "uqc": uqc,
                "qty": values.get("qty", ZERO),
                "rt": rate,
                **{k: values.get(k, ZERO) for k in ("txval", "iamt", "camt", "samt", "csamt")},
            }
            for num, ((code, uqc, rate), values) in enumerate(sorted(bucket.items()), start=1)
        ]

    return {
        "gstin": filed_for,
        "fp": period,
        "b2b": [{"ctin": ctin, "inv": invs} for ctin, invs in sorted(b2b.items())],
        "b2cl": [{"pos": pos, "inv": invs} for pos, invs in sorted(b2cl.items())],
        "b2cs": [
            {"sply_ty": supply, "pos": pos, "typ": "OE", "rt": rate, **values}
            for (supply, pos, rate), values in sorted(b2cs.items())
        ],
        "exp": [{"exp_typ": "WPAY", "inv": exp}] if exp else [],
        "cdnr": [{"ctin": ctin, "nt": nts} for ctin, nts in sorted(cdnr.items())],
        "cdnur": cdnur,
        "hsn": {"hsn_b2b": hsn_rows(hsn["hsn_b2b"]), "hsn_b2c": hsn_rows(hsn["hsn_b2c"])},
        "doc_issue": {"doc_det": doc_det},
        "_total": total,
    }


# -- storage and output -------------------------------------------------------------------------


def storable(value: Any) -> Any:
    """Decimals as strings (for the JSON column), recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


_MARK = "\u0000num:"


def _numbers(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v, key) for v in value]
    if key in NUMERIC_KEYS and isinstance(value, (str, Decimal)):
        return f"{_MARK}{Decimal(str(value)).normalize():f}"
    return value


def portal_json(stored: Mapping[str, Any]) -> str:
    """The portal's JSON text: amounts as numbers written digit for digit (never through float)."""
    text = json.dumps(_numbers(dict(stored)), ensure_ascii=False, indent=1)
    return re.sub(r'"\\u0000num:(-?[0-9.]+)"', r"\1", text)


def generate(period: str, run_id: uuid.UUID | None = None, gstin: str | None = None) -> Return:
    """Build the month's GSTR-1 for ``gstin`` (see :func:`filing_gstin`) and store it (``gst_return``)."""
    built = build(period, gstin)
    total = built.pop("_total")
    row = Return(
        period=period,
        run_id=run_id,
        gstin=built["gstin"],
        data=storable(built),
        generated_at=utcnow(),
        total_value=total,
    )
    db_session().add(row)
    db_session().flush()
    return row


#: The rate and amount columns of an item, as the sections have them.
ITEM_IGST_HEADS = (
    Column("rt", "Rate", "number"),
    Column("txval", "Taxable value", "money"),
    Column("iamt", "IGST", "money"),
)
CESS = Column("csamt", "Cess", "money")
ITEM_ALL_HEADS = (
    *ITEM_IGST_HEADS,
    Column("camt", "CGST", "money"),
    Column("samt", "SGST/UTGST", "money"),
    CESS,
)

SHEETS: dict[str, list[Column]] = {
    "b2b": [
        Column("ctin", "GSTIN of recipient"),
        Column("inum", "Invoice number"),
        Column("idt", "Invoice date"),
        Column("val", "Invoice value", "money"),
        Column("pos", "Place of supply"),
        Column("rchrg", "Reverse charge"),
        Column("inv_typ", "Invoice type"),
        *ITEM_ALL_HEADS,
    ],
    "b2cl": [
        Column("inum", "Invoice number"),
        Column("idt", "Invoice date"),
        Column("val", "Invoice value", "money"),
        Column("pos", "Place of supply"),
        *ITEM_IGST_HEADS,
        CESS,
    ],
    "b2cs": [
        Column("sply_ty", "Supply type"),
        Column("pos", "Place of supply"),
        Column("typ", "Type"),
        *ITEM_ALL_HEADS,
    ],
    "exp": [
        Column("exp_typ", "Export type"),
        Column("inum", "Invoice number"),
        Column("idt", "Invoice date"),
        Column("val", "Invoice value", "money"),
        *ITEM_IGST_HEADS,
    ],
    "cdnr": [
        Column("ctin", "GSTIN of recipient"),
        Column("nt_num", "Note number"),
        Column("nt_dt", "Note date"),
        Column("ntty", "Note type"),
        Column("val", "Note value", "money"),
        Column("pos", "Place of supply"),
        *ITEM_ALL_HEADS,
    ],
    "cdnur": [
        Column("typ", "UR type"),
        Column("nt_num", "Note number"),
        Column("nt_dt", "Note date"),
        Column("ntty", "Note type"),
        Column("val", "Note value", "money"),
        Column("pos", "Place of supply"),
        *ITEM_IGST_HEADS,
        CESS,
    ],
    "hsn_b2b": [
        Column("hsn_sc", "HSN"),
        Column("desc", "Description"),
        Column("uqc", "UQC"),
        Column("qty", "Quantity", "number"),
        *ITEM_ALL_HEADS,
    ],
    "docs": [
        Column("doc_typ", "Nature of document"),
        Column("from", "Sr. no. from"),
        Column("to", "Sr. no. to"),
        Column("totnum", "Total number", "number"),
        Column("cancel", "Cancelled", "number"),
        Column("net_issue", "Net issued", "number"),
    ],
}
SHEETS["hsn_b2c"] = SHEETS["hsn_b2b"]


def sheet_rows(stored: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each sheet, flattened from the stored JSON (one row per invoice item)."""

    def dec(row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: Decimal(str(v)) if k in NUMERIC_KEYS and v is not None else v for k, v in row.items()}

    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SHEETS}
    for party in stored.get("b2b", []):
        for inv in party["inv"]:
            for item in inv["itms"]:
                head = {k: v for k, v in inv.items() if k != "itms"}
                rows["b2b"].append(dec({"ctin": party["ctin"], **head, **item["itm_det"]}))
    for group in stored.get("b2cl", []):
        for inv in group["inv"]:
            for item in inv["itms"]:
                head = {k: v for k, v in inv.items() if k != "itms"}
                rows["b2cl"].append(dec({"pos": group["pos"], **head, **item["itm_det"]}))
    rows["b2cs"] = [dec(r) for r in stored.get("b2cs", [])]
    for group in stored.get("exp", []):
        for inv in group["inv"]:
            for item in inv["itms"]:
                head = {k: v for k, v in inv.items() if k != "itms"}
                rows["exp"].append(dec({"exp_typ": group["exp_typ"], **head, **item}))
    for party in stored.get("cdnr", []):
        for note in party["nt"]:
            for item in note["itms"]:
                head = {k: v for k, v in note.items() if k != "itms"}
                rows["cdnr"].append(dec({"ctin": party["ctin"], **head, **item["itm_det"]}))
    for note in stored.get("cdnur", []):
        for item in note["itms"]:
            head = {k: v for k, v in note.items() if k != "itms"}
            rows["cdnur"].append(dec({**head, **item["itm_det"]}))
    hsn = stored.get("hsn", {})
    rows["hsn_b2b"] = [dec(r) for r in hsn.get("hsn_b2b", [])]
    rows["hsn_b2c"] = [dec(r) for r in hsn.get("hsn_b2c", [])]
    for det in stored.get("doc_issue", {}).get("doc_det", []):
        for doc in det["docs"]:
            rows["docs"].append({"doc_typ": det["doc_typ"], **doc})
    return rows


def workbook(stored: Mapping[str, Any]) -> bytes:
    """The GSTR-1 as an ``.xlsx`` workbook: one sheet per section, each written by the SDK's Excel helper."""
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for name, rows in sheet_rows(stored).items():
        part = load_workbook(io.BytesIO(table_to_xlsx(SHEETS[name], rows, sheet=name)))
        source = part.worksheets[0]
        target = book.create_sheet(name)
        for row in source.iter_rows():
            for cell in row:
                copied = target.cell(row=cell.row, column=cell.column, value=cell.value)
                copied.number_format = cell.number_format
                copied.font = copy(cell.font)
        for key, dim in source.column_dimensions.items():
            target.column_dimensions[key].width = dim.width
        target.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
