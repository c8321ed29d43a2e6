"""Payslip PDFs and the register on unusual data: long unbroken text renders, damaged stored payslips 409."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pypdf
import pytest
from payroll_kit import assign, employee, run_month, standard
from sqlalchemy import select, update

from udyog_payroll.models import Payslip

pytestmark = pytest.mark.udyog_plugins("payroll")

API = "/api/v1/payroll"
#: An employee's name at its column's limit (120) without a single space.
LONG_WORD = "Ravi" * 30
#: HTML, Devanagari, right-to-left, CJK, an emoji, a zero-width space; and text a spreadsheet would run.
ODD = "<b>घी</b> & مرحبا 中文 🧈\u200b"
FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (the SDK's eager mode)."""
    return kernel_factory(("hr", "payroll"), backend=backend, jobs_eager=True)


def download(client: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    """A download's status, headers and raw bytes."""
    return client.transport("GET", path, None, None, client.headers)


def test_long_unbroken_names_and_unusual_characters_render(udyog_client, udyog_web_client):
    components = [("LONGCOMPONENTNAME", "W" * 80), ("ODD", ODD), ("SHEET", FORMULA)]
    for code, name in components:
        udyog_client.post(f"{API}/components", json={"code": code, "name": name}, expect=201)
    lines = [
        {"component": "BASIC", "formula": "GROSS * 0.5"},
        {"component": "LONGCOMPONENTNAME", "formula": "GROSS * 0.2"},
        {"component": "ODD", "formula": "GROSS * 0.2"},
        {"component": "SHEET", "formula": "GROSS - BASIC - LONGCOMPONENTNAME - ODD"},
    ]
    structure = udyog_client.post(f"{API}/structures", json={"code": "S", "name": ODD, "lines": lines}, expect=201)
    body = {
        "code": "E1",
        "name": LONG_WORD,
        "designation": ODD,
        "date_of_joining": "2024-04-01",
        "date_of_birth": "1994-08-12",
        "gender": "female",
        "work_state": "MH",
        "bank_account_number": "50100234567890",
        "bank_ifsc": "hdfc0001234",
    }
    person = udyog_client.post("/api/v1/hr/employees", json=body, expect=201).data
    udyog_client.post(
        f"{API}/assignments",
        json={
            "employee_id": person["id"],
            "structure_id": structure.data["id"],
            "effective_from": "2025-04-01",
            "monthly_gross": "9999999.99",
        },
        expect=201,
    )
    run = udyog_client.post(f"{API}/runs", json={"year": 2025, "month": 4}, expect=201).data
    udyog_client.post(f"{API}/runs/{run['id']}/compute", json={"version": run["version"]}, expect=202)
    slip = udyog_client.get(f"{API}/runs/{run['id']}/payslips", expect=200).data[0]
    for path in (f"{API}/payslips/{slip['id']}/pdf", f"/payroll/payslips/{slip['id']}/pdf"):
        if path.startswith(API):
            status, headers, pdf = download(udyog_client, path)
        else:
            page = udyog_web_client.get(path)
            status, headers, pdf = page.status_code, dict(page.headers), page.data
        assert (status, headers["Content-Type"]) == (200, "application/pdf"), pdf[:300]
        assert pdf.startswith(b"%PDF")
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).replace("\n", "")
        assert LONG_WORD in text and "W" * 80 in text and "<b>घी</b>" in text  # wrapped, none of it cut
    status, headers, register = download(udyog_client, f"{API}/runs/{run['id']}/register.xlsx")
    assert status == 200 and headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(register)).active
    header = [cell.value for cell in sheet[1]]
    assert {"W" * 80, ODD} <= set(header)
    row = {name: cell.value for name, cell in zip(header, sheet[2], strict=True)}
    assert (row["Name"], row["Designation"]) == (LONG_WORD, ODD)


#: Damaged payslip columns (only a change in the database or a bad restore can store them): column, value, reason.
DAMAGED = [
    ("lines", {"marker": "LEAKA0123456789"}, "expected a list of components, found an object"),  # the leak test's
    ("lines", [{"code": "BASIC", "name": "Basic", "kind": "earning"}], "entry 1 has no amount"),
    ("lines", [{"code": 7, "name": "Basic", "kind": "earning", "amount": "1"}], "entry 1: code not text"),
    (
        "lines",
        [{"code": "B", "name": "B", "kind": "earning", "amount": "1,000"}],
        "entry 1: amount '1,000' is not an amount",
    ),
    ("heads", ["LEAKA0123456789"], "expected an object, found a list"),
    ("heads", {"epf_employee": "Infinity"}, "epf_employee 'Infinity' is not an amount"),
    ("snapshot", "LEAKA0123456789", "expected an object, found a string"),
    ("tax", None, "expected an object, found null"),
]


def test_damaged_stored_payslips_answer_409_naming_the_field(udyog_client, udyog_web_client, udyog_tenant):
    with udyog_tenant.scope() as scope:
        worker = employee(scope.session, "RAVI")
        assign(worker.id, standard(), "30000")
        run = run_month(2025, 4)
        slip = scope.session.scalar(select(Payslip).where(Payslip.run_id == run.id))
        scope.session.commit()
        run_id, slip_id, number = run.id, slip.id, slip.number
        original = {"lines": slip.lines, "heads": slip.heads, "snapshot": slip.snapshot, "tax": slip.tax}
    for column, stored, reason in DAMAGED:
        with udyog_tenant.scope() as scope:
            values = {**original, column: stored}
            scope.session.execute(update(Payslip).where(Payslip.id == slip_id).values(**values))
            scope.session.commit()
        message = f"payslip {number} cannot be shown: its stored {column} are damaged"
        for path in (f"{API}/payslips/{slip_id}/pdf", f"{API}/runs/{run_id}/register.xlsx"):
            refused = udyog_client.get(path, expect=409)
            assert (refused.message, refused.errors) == (message, {column: [reason]}), path
        page = udyog_web_client.get(f"/payroll/payslips/{slip_id}/pdf")
        assert page.status_code == 409 and message in page.text
        # The statements do not show the components: damaged lines leave them alone, damaged heads do not.
        status, _headers, body = download(udyog_client, f"{API}/runs/{run_id}/pf-statement")
        assert status == (200 if column == "lines" else 409), body[:300]
