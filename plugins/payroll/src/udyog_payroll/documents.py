"""Payroll's files: payslip PDF, payroll register (Excel), PF ECR-style and ESI statements, bank transfer file."""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from udyog_sdk import UdyogError, current_tenant
from udyog_sdk.exports import Column, PdfDocument, table_to_csv, table_to_xlsx
from udyog_sdk.formatting import amount_in_words
from udyog_sdk.stored import is_amount, json_kind, rows_problem

from .models import HEAD_FIELDS, Payslip, Run

ZERO = Decimal("0")
#: What each of a payslip's ``lines`` holds: ``{code, name, kind, amount}``.
LINE_KEYS = ("code", "name", "kind", "amount")


def check_payslip(slip: Payslip, *, lines: bool = True) -> Payslip:
    """``slip`` once its JSON columns hold what a computation writes; 409 naming the column and the fault otherwise.

    ``lines`` (checked unless the document does not show the components) is
    a list of ``{code, name, kind, amount}``, ``heads`` an object of amounts,
    ``snapshot`` and ``tax`` objects. A run always writes them so; a row
    changed in the database or a damaged restore answers 409 rather than
    failing halfway through a payslip or a register.
    """

    def damaged(field: str, reason: str) -> UdyogError:
        name = slip.number or f"of {slip.employee_code}"
        message = f"payslip {name} cannot be shown: its stored {field} are damaged"
        return UdyogError(message, status=409, errors={field: [reason]})

    if lines:
        reason = rows_problem(slip.lines, texts=LINE_KEYS[:3], amounts=LINE_KEYS[3:], noun="components")
        if reason is not None:
            raise damaged("lines", reason)
    for field in ("heads", "snapshot", "tax"):
        value = getattr(slip, field)
        if not isinstance(value, Mapping):
            raise damaged(field, f"expected an object, found {json_kind(value)}")
    for head in HEAD_FIELDS:
        if head in slip.heads and not is_amount(slip.heads[head]):
            raise damaged("heads", f"{head} {slip.heads[head]!r} is not an amount")
    return slip


def period_label(year: int, month: int) -> str:
    """``April 2025``."""
    return f"{calendar.month_name[month]} {year}"


def employer_name(settings: Mapping[str, Any]) -> str:
    """The employer's name on documents: the setting, else the organisation's name."""
    return (settings.get("employer_name") or "").strip() or current_tenant().name


def payslip_pdf(slip: Payslip, run: Run, settings: Mapping[str, Any]) -> bytes:
    """One payslip: employer, employee and identifiers, days, earnings, deductions, net pay in words.

    409 when the payslip's stored components or heads are damaged (:func:`check_payslip`).
    """
    check_payslip(slip)
    doc = PdfDocument(
        f"Payslip for {period_label(slip.year, slip.month)}",
        subtitle=f"{employer_name(settings)} · {slip.number or 'not approved yet'}",
    )
    doc.key_values(
        [
            ("Employee", f"{slip.employee_name} ({slip.employee_code})"),
            ("Designation", slip.designation or "—"),
            ("PAN", slip.pan or "—"),
            ("UAN", slip.uan or "—"),
            ("ESI number", slip.esi_number or "—"),
            ("Bank account", f"{slip.bank_account_number or '—'} · {slip.bank_ifsc or ''}".strip(" ·")),
            ("Days", f"{slip.days_payable} payable of {slip.days_in_month}; loss of pay {slip.lop_days}"),
            ("Tax regime", "new" if slip.tax_regime == "new" else "old (on request)"),
            ("Status", run.state),
        ],
        label_width=38,
    )
    earnings = [line for line in slip.lines if line["kind"] == "earning"]
    doc.heading("Earnings")
    doc.table(
        [Column("name", "Component", width=5), Column("amount", "Amount ₹", "money", width=2)],
        [{"name": line["name"], "amount": Decimal(line["amount"])} for line in earnings],
    )
    deductions = [
        ("Provident fund (employee)", slip.epf_employee),
        ("ESI (employee)", slip.esi_employee),
        ("Professional tax", slip.professional_tax),
        ("Income tax (TDS)", slip.tds),
        *((line["name"], Decimal(line["amount"])) for line in slip.lines if line["kind"] == "deduction"),
    ]
    doc.heading("Deductions")
    doc.table(
        [Column("name", "Deduction", width=5), Column("amount", "Amount ₹", "money", width=2)],
        [{"name": name, "amount": amount} for name, amount in deductions if amount],
    )
    doc.totals([("Gross earnings", slip.gross), ("Total deductions", slip.total_deductions), ("Net pay", slip.net_pay)])
    doc.paragraph(f"Net pay in words: {amount_in_words(slip.net_pay)}")
    doc.heading("Employer's contributions")
    doc.table(
        [Column("name", "Head", width=5), Column("amount", "Amount ₹", "money", width=2)],
        [
            {"name": "Pension (EPS)", "amount": slip.eps},
            {"name": "Provident fund (employer)", "amount": slip.epf_employer},
            {"name": "EDLI", "amount": slip.edli},
            {"name": "PF admin charges", "amount": slip.epf_admin},
            {"name": "ESI (employer)", "amount": slip.esi_employer},
        ],
    )
    tax = slip.tax or {}
    if tax:
        doc.paragraph(
            f"Income tax ({tax.get('regime')} regime): projected gross ₹{tax.get('projected_gross')}, deductions"
            f" ₹{tax.get('deductions')}, taxable ₹{tax.get('taxable_income')},"
            f" tax for the year ₹{tax.get('annual_tax')},"
            f" deducted before ₹{tax.get('deducted_before')}, {tax.get('months_remaining')} months remaining.",
            size=8,
        )
    return doc.output()


REGISTER_COLUMNS = [
    Column("number", "Payslip"),
    Column("employee_code", "Code"),
    Column("employee_name", "Name"),
    Column("designation", "Designation"),
    Column("work_state", "State"),
    Column("days_in_month", "Days", "number"),
    Column("days_payable", "Payable", "number"),
    Column("lop_days", "LOP", "number"),
]
TOTALS_COLUMNS = [
    Column("gross", "Gross", "money"),
    Column("epf_employee", "PF (employee)", "money"),
    Column("esi_employee", "ESI (employee)", "money"),
    Column("professional_tax", "Prof. tax", "money"),
    Column("tds", "TDS", "money"),
    Column("other_deductions", "Other deductions", "money"),
    Column("total_deductions", "Total deductions", "money"),
    Column("net_pay", "Net pay", "money"),
    Column("eps", "EPS", "money"),
    Column("epf_employer", "PF (employer)", "money"),
    Column("edli", "EDLI", "money"),
    Column("epf_admin", "PF admin", "money"),
    Column("esi_employer", "ESI (employer)", "money"),
]


def _component_codes(slips: Sequence[Payslip]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for slip in slips:
        for line in slip.lines:
            if line["kind"] == "earning":
                seen.setdefault(line["code"], line["name"])
    return list(seen.items())


def register_xlsx(run: Run, slips: Sequence[Payslip]) -> bytes:
    """The payroll register: one row per payslip with every component and head, then a totals row.

    409 naming the first payslip whose stored components or heads are damaged (:func:`check_payslip`).
    """
    for slip in slips:
        check_payslip(slip)
    components = _component_codes(slips)
    columns = [*REGISTER_COLUMNS, *(Column(f"c_{code}", name, "money") for code, name in components), *TOTALS_COLUMNS]
    rows: list[dict[str, Any]] = []
    totals: dict[str, Decimal] = {}
    for slip in slips:
        row: dict[str, Any] = {c.key: getattr(slip, c.key, None) for c in (*REGISTER_COLUMNS, *TOTALS_COLUMNS)}
        for line in slip.lines:
            if line["kind"] == "earning":
                row[f"c_{line['code']}"] = Decimal(line["amount"])
        for code, _ in components:
            row.setdefault(f"c_{code}", ZERO)
        for column in columns:
            if column.kind == "money":
                totals[column.key] = totals.get(column.key, ZERO) + (row.get(column.key) or ZERO)
        rows.append(row)
    rows.append({"employee_name": f"Total ({len(slips)} employees)", **totals})
    return table_to_xlsx(columns, rows, sheet=f"Payroll {run.year}-{run.month:02d}")


def pf_ecr(slips: Sequence[Payslip]) -> str:
    """The PF statement in the EPFO's ECR text layout: one line per member, fields separated by ``#~#``.

    UAN, name, gross wages, EPF wages, EPS wages, EDLI wages, EPF contribution (employee),
    EPS contribution, EPF-EPS difference (employer), NCP days (loss of pay), refund of advances.
    Members without PF (no contribution) are left out.
    """
    for slip in slips:
        check_payslip(slip, lines=False)
    lines = []
    for slip in slips:
        if not slip.epf_employee and not slip.pf_wages:
            continue
        fields = [
            slip.uan or "",
            slip.employee_name.upper(),
            _whole(slip.gross),
            _whole(slip.epf_wages),
            _whole(slip.eps_wages),
            _whole(slip.edli_wages),
            _whole(slip.epf_employee),
            _whole(slip.eps),
            _whole(slip.epf_employer),
            str(int(slip.lop_days.to_integral_value())),
            "0",
        ]
        lines.append("#~#".join(fields))
    return "\n".join(lines) + ("\n" if lines else "")


def _whole(value: Decimal) -> str:
    return str(int(value.quantize(Decimal(1))))


PF_COLUMNS = [
    Column("uan", "UAN"),
    Column("employee_code", "Code"),
    Column("employee_name", "Name"),
    Column("gross", "Gross wages", "money"),
    Column("epf_wages", "EPF wages", "money"),
    Column("eps_wages", "EPS wages", "money"),
    Column("edli_wages", "EDLI wages", "money"),
    Column("epf_employee", "EE share", "money"),
    Column("eps", "EPS", "money"),
    Column("epf_employer", "ER share", "money"),
    Column("edli", "EDLI", "money"),
    Column("epf_admin", "Admin", "money"),
    Column("lop_days", "NCP days", "number"),
]


def pf_statement_csv(slips: Sequence[Payslip], admin_minimum: Decimal) -> bytes:
    """The PF statement as CSV with a totals line (admin charges at least the establishment's minimum)."""
    for slip in slips:
        check_payslip(slip, lines=False)
    rows = [{c.key: getattr(s, c.key) for c in PF_COLUMNS} for s in slips if s.epf_employee or s.pf_wages]
    totals = {c.key: sum((r[c.key] for r in rows), ZERO) for c in PF_COLUMNS if c.kind == "money"}
    if rows:
        totals["epf_admin"] = max(totals["epf_admin"], admin_minimum)
    rows.append({"employee_name": f"Total ({len(rows)} members)", **totals})
    return table_to_csv(PF_COLUMNS, rows)


ESI_COLUMNS = [
    Column("esi_number", "IP number"),
    Column("employee_code", "Code"),
    Column("employee_name", "IP name"),
    Column("days_payable", "Days paid", "number"),
    Column("esi_wages", "Total monthly wages", "money"),
    Column("esi_employee", "Employee contribution", "money"),
    Column("esi_employer", "Employer contribution", "money"),
    Column("reason", "Reason for zero working days"),
]


def esi_statement_csv(slips: Sequence[Payslip]) -> bytes:
    """The ESI contribution statement (the portal's monthly contribution columns) with a totals line."""
    for slip in slips:
        check_payslip(slip, lines=False)
    rows = []
    for slip in slips:
        if not slip.esi_covered:
            continue
        row = {c.key: getattr(slip, c.key, None) for c in ESI_COLUMNS}
        row["reason"] = "" if slip.days_payable else "1"  # 1: without pay
        rows.append(row)
    totals = {c.key: sum((r[c.key] for r in rows), ZERO) for c in ESI_COLUMNS if c.kind == "money"}
    rows.append({"employee_name": f"Total ({len(rows)} insured persons)", **totals})
    return table_to_csv(ESI_COLUMNS, rows)


def bank_transfer_csv(slips: Sequence[Payslip], run: Run, debit_account: str) -> bytes:
    """The salary transfer file: one credit per payslip with net pay (account, IFSC, amount, narration).

    Payslips without a bank account are left out (pay them otherwise); the amounts are in rupees
    with paise, the narration names the month and the payslip.
    """
    for slip in slips:
        check_payslip(slip, lines=False)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ["Debit account", "Beneficiary account", "IFSC", "Beneficiary name", "Amount", "Payment date", "Narration"]
    )
    when = run.payment_date.strftime("%d-%m-%Y") if run.payment_date else ""
    for slip in slips:
        if not slip.bank_account_number or slip.net_pay <= 0:
            continue
        writer.writerow(
            [
                debit_account,
                slip.bank_account_number,
                slip.bank_ifsc or "",
                _safe(slip.employee_name),
                f"{slip.net_pay:.2f}",
                when,
                f"Salary {calendar.month_abbr[run.month]} {run.year} {slip.number or slip.employee_code}",
            ]
        )
    return buffer.getvalue().encode()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
