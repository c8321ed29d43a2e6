"""Payroll through the HTTP API: a small company's month from structure to bank file; own payslips only."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from payroll_kit import EXAMPLE_LINES, assign, employee, run_month, standard
from sqlalchemy import select

from udyog_payroll import services
from udyog_payroll.models import Assignment

pytestmark = pytest.mark.udyog_plugins("payroll")

API = "/api/v1/payroll"


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (the SDK's eager mode)."""
    return kernel_factory(("hr", "payroll"), backend=backend, jobs_eager=True)


def _line(line: dict) -> dict:
    return {k: (str(v) if k == "amount" and v is not None else v) for k, v in line.items()}


def test_a_small_company_month_through_the_api(udyog_client, udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        ids = {
            "RAVI": employee(s, "RAVI", pan="ABCPK1234F").id,
            "ASHA": employee(s, "ASHA", gender="female").id,
            "MEERA": employee(s, "MEERA", gender="female", work_state="KA").id,
            "NOSAL": employee(s, "NOSAL").id,
        }
        s.commit()
    components = udyog_client.get(f"{API}/components", expect=200).data
    assert [c["code"] for c in components] == ["BASIC", "DA", "HRA", "SPECIAL"]
    bad = udyog_client.post(
        f"{API}/structures",
        json={"code": "BAD", "name": "Bad", "lines": [{"component": "BASIC", "formula": "__import__('os')"}]},
        expect=422,
    )
    assert list(bad.errors) == ["lines.0.formula"]
    cycle = udyog_client.post(
        f"{API}/structures",
        json={
            "code": "LOOP",
            "name": "Loop",
            "lines": [{"component": "BASIC", "formula": "HRA"}, {"component": "HRA", "formula": "BASIC"}],
        },
        expect=422,
    )
    assert "circular" in cycle.errors["lines"][0]
    example = udyog_client.post(
        f"{API}/structures",
        json={"code": "EXAMPLE", "name": "Example", "lines": [_line(line) for line in EXAMPLE_LINES]},
        expect=201,
    ).data
    preview = udyog_client.post(f"{API}/structures/{example['id']}/preview", json={"gross": "18000"}, expect=200).data
    assert {p["component"]: p["amount"] for p in preview} == {
        "BASIC": "8000.00",
        "DA": "2000.00",
        "HRA": "3200.00",
        "SPECIAL": "4800.00",
    }
    structures = {s["code"]: s for s in udyog_client.get(f"{API}/structures", expect=200).data}
    for code, structure, gross, regime in (
        ("RAVI", "EXAMPLE", "18000", "new"),
        ("ASHA", "STANDARD", "30000", "new"),
        ("MEERA", "STANDARD", "150000", "old"),
    ):
        udyog_client.post(
            f"{API}/assignments",
            json={
                "employee_id": str(ids[code]),
                "structure_id": structures[structure]["id"],
                "effective_from": "2025-04-01",
                "monthly_gross": gross,
                "tax_regime": regime,
            },
            expect=201,
        )
    refused = udyog_client.post(
        f"{API}/assignments",
        json={
            "employee_id": str(uuid.uuid4()),
            "structure_id": structures["EXAMPLE"]["id"],
            "effective_from": "2025-04-01",
            "monthly_gross": "-5",
        },
        expect=422,
    )
    assert "monthly_gross" in refused.errors
    settings = udyog_client.get("/api/v1/core/settings/payroll", expect=200).data
    udyog_client.patch(
        "/api/v1/core/settings/payroll",
        json={"version": settings["version"], "values": {"loss_of_pay_from_attendance": False}},
        expect=200,
    )
    run = udyog_client.post(f"{API}/runs", json={"year": 2025, "month": 4}, expect=201).data
    assert run["state"] == "draft"
    udyog_client.post(f"{API}/runs", json={"year": 2025, "month": 4}, expect=409)
    queued = udyog_client.post(f"{API}/runs/{run['id']}/compute", expect=202).data
    run = udyog_client.get(f"{API}/runs/{run['id']}", expect=200).data
    assert run["job_id"] == queued["job_id"] and run["job"]["state"] == "succeeded" and not run["computing"]
    assert run["state"] == "computed" and run["employees"] == 3
    assert [item["code"] for item in run["skipped"]] == ["NOSAL"]
    slips = {p["employee_code"]: p for p in udyog_client.get(f"{API}/runs/{run['id']}/payslips", expect=200).data}
    assert set(slips) == {"RAVI", "ASHA", "MEERA"}
    ravi = slips["RAVI"]
    if ravi["days_payable"] != "30.00":  # the tenant kept loss of pay from attendance: no attendance was recorded
        pytest.fail(f"loss of pay setting not applied: {ravi['days_payable']}")
    assert (ravi["epf_employee"], ravi["eps"], ravi["epf_employer"], ravi["edli"]) == (
        "1200.00",
        "833.00",
        "367.00",
        "50.00",
    )
    assert (ravi["esi_employee"], ravi["esi_employer"], ravi["professional_tax"], ravi["tds"]) == (
        "135.00",
        "585.00",
        "200.00",
        "0.00",
    )
    assert ravi["net_pay"] == "16465.00" and ravi["number"] is None
    assert slips["ASHA"]["professional_tax"] == "200.00" and not slips["ASHA"]["esi_covered"]
    meera = slips["MEERA"]
    assert meera["tax_regime"] == "old" and meera["professional_tax"] == "200.00"
    # Old regime: 18 lakh - 50,000 - PT 2,400 = 17,47,600: 1,12,500 + 30% of 7,47,600 = 3,36,780 + cess = 3,50,251.
    assert meera["tax"]["annual_tax"] == "350251" and meera["tds"] == "29188.00"
    version = run["version"]
    udyog_client.post(f"{API}/runs/{run['id']}/approve", json={"version": version + 5}, expect=409)
    approved = udyog_client.post(f"{API}/runs/{run['id']}/approve", json={"version": version}, expect=200).data
    assert approved["state"] == "approved"
    udyog_client.post(f"{API}/runs/{run['id']}/compute", expect=409)
    udyog_client.delete(f"{API}/runs/{run['id']}", expect=409)
    slips = {p["employee_code"]: p for p in udyog_client.get(f"{API}/runs/{run['id']}/payslips", expect=200).data}
    assert [slips[c]["number"] for c in ("ASHA", "MEERA", "RAVI")] == [
        "PS/25-26/000001",
        "PS/25-26/000002",
        "PS/25-26/000003",
    ]

    files = _files(udyog_client, run["id"], slips["RAVI"]["id"])
    assert files["pdf"][:5] == b"%PDF-"
    book = openpyxl.load_workbook(io.BytesIO(files["register"]))
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Payslip", "Code", "Name"] and "Net pay" in header and "Basic" in header
    assert sheet.max_row == 5  # heading, three payslips, totals
    totals = {header[i]: cell.value for i, cell in enumerate(sheet[5])}
    assert totals["Name"] == "Total (3 employees)"
    assert Decimal(str(totals["Net pay"])) == Decimal(approved["total_net"])
    ecr = files["ecr"].decode().splitlines()
    assert len(ecr) == 3
    ravi_line = next(line for line in ecr if "#~#RAVI#~#" in line)
    assert ravi_line.split("#~#")[2:] == ["18000", "10000", "10000", "10000", "1200", "833", "367", "0", "0"]
    esi = files["esi"].decode("utf-8-sig").splitlines()
    assert len(esi) == 3 and "RAVI" in esi[1] and "135.00" in esi[1] and "Total (1 insured persons)" in esi[2]
    bank = files["bank"].decode().splitlines()
    assert bank[0].startswith("Debit account,Beneficiary account,IFSC")
    assert len(bank) == 4 and any(",16465.00," in line for line in bank)
    paid = udyog_client.post(
        f"{API}/runs/{run['id']}/pay", json={"payment_date": "2025-04-30", "version": approved["version"]}, expect=200
    ).data
    assert paid["state"] == "paid" and paid["payment_date"] == "2025-04-30"


def _files(client, run_id: str, payslip_id: str) -> dict[str, bytes]:
    paths = {
        "pdf": f"{API}/payslips/{payslip_id}/pdf",
        "register": f"{API}/runs/{run_id}/register.xlsx",
        "ecr": f"{API}/runs/{run_id}/pf-statement",
        "pf": f"{API}/runs/{run_id}/pf-statement?format=csv",
        "esi": f"{API}/runs/{run_id}/esi-statement",
        "bank": f"{API}/runs/{run_id}/bank-transfer",
    }
    out = {}
    for key, path in paths.items():
        path, _, query = path.partition("?")
        params = dict([query.split("=")]) if query else None
        status, _headers, body = client.transport("GET", path, params, None, client.headers)
        assert status == 200, (path, status, body[:300])
        out[key] = body
    return out


def test_rules_are_data_the_officer_can_extend(udyog_client):
    listed = udyog_client.get(f"{API}/rules", params={"kind": "professional_tax"}, expect=200).data
    assert {(r["scope"], r["effective_from"]) for r in listed} == {
        ("MH", "2023-07-01"),
        ("KA", "2023-04-01"),
        ("KA", "2025-04-01"),
    }
    mh = next(r for r in listed if r["scope"] == "MH")
    bad = udyog_client.post(
        f"{API}/rules",
        json={"kind": "epf", "params": {"effective_from": "2026-04-01", "wage_ceiling": "x"}},
        expect=422,
    )
    assert list(bad.errors) == ["params.wage_ceiling"]
    new = {**mh["params"], "effective_from": "2026-04-01", "female_slabs": []}
    made = udyog_client.post(f"{API}/rules", json={"kind": "professional_tax", "params": new}, expect=201).data
    assert made["scope"] == "MH" and made["effective_from"] == "2026-04-01"
    udyog_client.post(f"{API}/rules", json={"kind": "professional_tax", "params": new}, expect=409)
    changed = udyog_client.put(
        f"{API}/rules/{made['id']}",
        json={"version": made["version"], "params": {**new, "state": "KA"}, "note": "moved"},
        expect=200,
    ).data
    assert changed["scope"] == "KA"


@pytest.mark.udyog_user(roles=["Employee"])
def test_an_employee_reads_only_own_payslips_over_http(udyog_live_client, udyog_user, udyog_user_factory, udyog_tenant):
    other_user = udyog_user_factory(roles=["Employee"], email="other@acme.example")
    with udyog_tenant.scope() as scope:
        s = scope.session
        mine = employee(s, "MINE", user_id=udyog_user.id)
        theirs = employee(s, "THEIRS", user_id=other_user.id)
        structure = standard()
        assign(mine.id, structure, "25000")
        assign(theirs.id, structure, "90000")
        run_month(2025, 4)
        draft = services.create_run(2025, 5)
        services.compute_run(draft, attendance_lop=False)  # computed, not approved: not released to employees
        s.commit()
    own = udyog_live_client.get(f"{API}/my/payslips", expect=200).data
    assert [(p["employee_code"], p["month"]) for p in own] == [("MINE", 4)]
    with udyog_tenant.scope() as scope:
        from sqlalchemy import select

        from udyog_payroll.models import Payslip

        slips = {(p.employee_code, p.month): p.id for p in scope.session.scalars(select(Payslip))}
    udyog_live_client.get(f"{API}/my/payslips/{slips[('MINE', 4)]}", expect=200)
    status, headers, body = udyog_live_client.transport(
        "GET", f"{API}/my/payslips/{slips[('MINE', 4)]}/pdf", None, None, udyog_live_client.headers
    )
    assert status == 200 and body[:5] == b"%PDF-"
    for key in (("THEIRS", 4), ("THEIRS", 5), ("MINE", 5)):
        udyog_live_client.get(f"{API}/my/payslips/{slips[key]}", expect=404)
        status, _, _ = udyog_live_client.transport(
            "GET", f"{API}/my/payslips/{slips[key]}/pdf", None, None, udyog_live_client.headers
        )
        assert status == 404
    for path in (
        f"{API}/payslips/{slips[('THEIRS', 4)]}",
        f"{API}/payslips/{slips[('THEIRS', 4)]}/pdf",
        f"{API}/runs",
    ):
        udyog_live_client.get(path, expect=403)


def test_the_pages_show_runs_structures_rules_and_files(udyog_web_client, udyog_tenant, udyog_user):
    with udyog_tenant.scope() as scope:
        s = scope.session
        mine = employee(s, "OWNER", user_id=udyog_user.id)
        assign(mine.id, standard(), "30000")
        run = run_month(2025, 4)
        s.commit()
        run_id = run.id
    runs = udyog_web_client.get("/payroll/runs")
    assert runs.status_code == 200 and "April 2025" in runs.text
    page = udyog_web_client.get(f"/payroll/runs/{run_id}")
    assert page.status_code == 200 and "PS/25-26/000001" in page.text and "Bank transfer file" in page.text
    for what, start in (("register.xlsx", b"PK"), ("pf-ecr.txt", b"1001"), ("bank.csv", b"Debit")):
        answer = udyog_web_client.get(f"/payroll/runs/{run_id}/files/{what}")
        assert answer.status_code == 200 and answer.data.startswith(start), what
    assert udyog_web_client.get(f"/payroll/runs/{run_id}/files/nothing").status_code == 404
    assert "STANDARD" in udyog_web_client.get("/payroll/structures").text
    assert "professional_tax" in udyog_web_client.get("/payroll/rules").text
    assert "PS/25-26/000001" in udyog_web_client.get("/payroll/my").text
    made = udyog_web_client.submit("/payroll/runs", {"period": "2025-05"})
    assert made.status_code == 303
    assert "May 2025" in udyog_web_client.get("/payroll/runs").text


def test_salary_assignments_are_listed_and_added_on_their_page(udyog_web_client, udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        worker = employee(s, "W-1", name="Ravi Patil")
        structure_id = standard().id
        s.commit()
        worker_id = worker.id
    page = udyog_web_client.get("/payroll/assignments")
    assert page.status_code == 200 and "Ravi Patil" in page.text and 'id="payroll-new-assignment"' in page.text
    form = {
        "employee_id": str(worker_id),
        "structure_id": str(structure_id),
        "effective_from": "2025-04-01",
        "monthly_gross": "18000.00",
        "tax_regime": "old",
        "pf_applicable": "on",  # ESI and PT left unchecked: not sent
    }
    made = udyog_web_client.submit("/payroll/assignments", form)
    assert made.status_code == 303
    listed = udyog_web_client.get("/payroll/assignments").text
    assert "Salary assignment from 01-04-2025 saved." in listed and "18,000.00" in listed and "STANDARD" in listed
    with udyog_tenant.scope(write=False) as scope:
        [row] = scope.session.scalars(select(Assignment).where(Assignment.employee_id == worker_id)).all()
        assert (row.tax_regime, row.pf_applicable, row.esi_applicable, row.pt_applicable) == ("old", True, False, False)

    # The same date again, and a gross that is not an amount: refused with the field named, nothing written.
    again = udyog_web_client.submit("/payroll/assignments", form)
    assert again.status_code == 303
    refused = udyog_web_client.get("/payroll/assignments").text
    assert "The assignment was not saved: effective_from:" in refused
    udyog_web_client.submit("/payroll/assignments", {**form, "effective_from": "2025-05-01", "monthly_gross": "lots"})
    assert "The assignment was not saved: monthly_gross:" in udyog_web_client.get("/payroll/assignments").text
    with udyog_tenant.scope(write=False) as scope:
        assert len(scope.session.scalars(select(Assignment).where(Assignment.employee_id == worker_id)).all()) == 1


def test_the_assignment_form_searches_employees_when_there_are_many(
    udyog_web_client, udyog_tenant, udyog_app, udyog_user_factory, udyog_other_tenant
):
    """Past MAX_CHOICES employees the form's select becomes the SDK's search picker, fed by its choices route."""
    from udyog.testing import WebClient
    from udyog_sdk.pickers import MAX_CHOICES

    with udyog_tenant.scope() as scope:
        s = scope.session
        for i in range(MAX_CHOICES):
            employee(s, f"E-{i:03}", name=f"Worker {i:03}")
        s.commit()
    few = udyog_web_client.get("/payroll/assignments").text
    assert '<select class="form-select form-select-sm" id="assignment-employee" name="employee_id"' in few
    assert "E-000 · Worker 000" in few and "data-reference-picker" not in few
    with udyog_tenant.scope() as scope:
        last_id = str(employee(scope.session, "Z-LAST", name="Zubin Last").id)
        scope.session.commit()
    with udyog_other_tenant.scope() as scope:
        employee(scope.session, "X-1", name="Zubin Elsewhere")
        scope.session.commit()
    many = udyog_web_client.get("/payroll/assignments").text
    assert 'id="assignment-employee" name="employee_id" type="text"' in many and "data-reference-picker" in many
    assert 'data-url="/payroll/assignments/employees"' in many and "reference-picker.js" in many
    found = udyog_web_client.get("/payroll/assignments/employees", query_string={"q": "zubin"})
    assert found.status_code == 200 and found.get_json() == [{"id": last_id, "label": "Z-LAST · Zubin Last"}]
    assert len(udyog_web_client.get("/payroll/assignments/employees", query_string={"q": "e-1"}).get_json()) == 20
    # Only those who may add assignments search employees here.
    reader = WebClient(udyog_app, udyog_user_factory(permissions=["payroll.assignment.read"]))
    denied = reader.get("/payroll/assignments/employees", query_string={"q": "zubin"})
    assert denied.status_code == 403 and denied.get_json()["errors"] == {"permission": ["payroll.assignment.write"]}
