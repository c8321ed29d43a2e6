"""GSTR-1: the portal's JSON and the Excel workbook, built by a background job, through the API and the pages."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")
from typing import Any

import pytest
from gst_kit import BUYER_KA, BUYER_MH, GST, SUPPLIER_MH, download, world
from sqlalchemy import select
from udyog_gst import gstr1

from udyog_sales import services as sales

pytestmark = pytest.mark.udyog_plugins("gst")

PLUGINS = ("crm", "inventory", "sales", "gst")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """The plugins with background jobs run in the queuing process when it commits (the SDK's eager mode)."""
    return kernel_factory(PLUGINS, backend=backend, jobs_eager=True)


def sell(tenant: Any, w: dict[str, str], customer: str, day: dt.date, *lines: tuple[str, str]) -> str:
    """Confirm an order dated ``day`` and invoice it on ``day`` (services, so the date can be in the past)."""
    with tenant.scope() as scope:
        made = sales.create_order(
            {
                "customer_id": uuid.UUID(w[customer]),
                "warehouse_id": uuid.UUID(w["w1"]),
                "order_date": day,
                "lines": [{"product_id": uuid.UUID(w[p]), "quantity": D(q)} for p, q in lines],
            }
        )
        sales.confirm_order(made, made.version)
        invoice = sales.issue_invoice(made, on=day)
        scope.session.commit()
        return str(invoice.id)


def credit(tenant: Any, invoice_id: str, amount: str, day: dt.date) -> None:
    """A credit note against an invoice, dated ``day``."""
    with tenant.scope() as scope:
        sales.create_credit_note({"invoice_id": uuid.UUID(invoice_id), "amount": D(amount), "note_date": day})
        scope.session.commit()


def cancel(tenant: Any, invoice_id: str) -> None:
    """Cancel an invoice (it keeps its number)."""
    from sqlalchemy import select

    from udyog_sales.models import Invoice

    with tenant.scope() as scope:
        sales.cancel_invoice(scope.session.scalar(select(Invoice).where(Invoice.id == uuid.UUID(invoice_id))))
        scope.session.commit()


def build(tenant: Any, period: str) -> dict[str, Any]:
    """The month's GSTR-1 as the builder returns it."""
    with tenant.scope(write=False):
        return gstr1.build(period)


def october(tenant: Any) -> dict[str, str]:
    """October 2025: B2B inter- and intra-state, B2C large and small, a cancelled invoice, two credit notes."""
    w = world(tenant)
    day = dt.date(2025, 10, 6)
    ids = {
        "ka": sell(tenant, w, "ka", day, ("ghee", "3"), ("pickle", "2")),  # 800.30 + IGST 40.02 → 840.00
        "mh": sell(tenant, w, "mh", day, ("ghee", "1")),  # 100.10 + 2.50 + 2.50 → 105.00
        "ur": sell(tenant, w, "ur", dt.date(2025, 10, 7), ("pickle", "500")),  # 1,25,000 + 6,250 → b2cl
        "urmh": sell(tenant, w, "urmh", dt.date(2025, 10, 8), ("pickle", "4")),  # 1,000 + 25 + 25 → b2cs
        "void": sell(tenant, w, "mh", dt.date(2025, 10, 9), ("ghee", "1")),
    }
    cancel(tenant, ids["void"])
    credit(tenant, ids["ka"], "84.00", dt.date(2025, 10, 20))  # 10% of the invoice
    credit(tenant, ids["ur"], "13125.00", dt.date(2025, 10, 21))  # 10% of the B2CL invoice
    return ids


def test_gstr1_sections_with_worked_values(udyog_tenant):
    october(udyog_tenant)
    data = build(udyog_tenant, "102025")
    assert (data["gstin"], data["fp"]) == (SUPPLIER_MH, "102025")
    b2b = {party["ctin"]: party["inv"] for party in data["b2b"]}
    assert set(b2b) == {BUYER_KA, BUYER_MH}
    (ka,) = b2b[BUYER_KA]
    assert (ka["inum"], ka["idt"], ka["val"], ka["pos"], ka["rchrg"], ka["inv_typ"]) == (
        "INV/2025-26/0001", "06-10-2025", D("840.00"), "29", "N", "R",
    )  # fmt: skip
    assert ka["itms"] == [
        {"num": 1, "itm_det": {"rt": D("5"), "txval": D("800.30"), "iamt": D("40.02"), "camt": D("0.00"),
                               "samt": D("0.00"), "csamt": D("0.00")}}
    ]  # fmt: skip
    (mh,) = b2b[BUYER_MH]  # the cancelled invoice of the same buyer is left out
    assert (mh["pos"], mh["val"]) == ("27", D("105.00"))
    assert mh["itms"][0]["itm_det"] == {
        "rt": D("5"), "txval": D("100.10"), "iamt": D("0.00"), "camt": D("2.50"), "samt": D("2.50"), "csamt": D("0.00"),
    }  # fmt: skip
    assert [(g["pos"], [i["inum"] for i in g["inv"]]) for g in data["b2cl"]] == [("29", ["INV/2025-26/0003"])]
    assert data["b2cl"][0]["inv"][0]["val"] == D("131250.00")
    assert data["b2cs"] == [
        {"sply_ty": "INTRA", "pos": "27", "typ": "OE", "rt": D("5"), "txval": D("1000.00"), "iamt": D("0.00"),
         "camt": D("25.00"), "samt": D("25.00"), "csamt": D("0.00")}
    ]  # fmt: skip
    (cdnr,) = data["cdnr"]
    assert cdnr["ctin"] == BUYER_KA
    (note,) = cdnr["nt"]
    assert (note["ntty"], note["nt_num"], note["nt_dt"], note["val"], note["pos"]) == (
        "C", "CN/2025-26/0001", "20-10-2025", D("84.00"), "29",
    )  # fmt: skip
    # 10% of each line, rounded per line: ghee 30.03 + pickle 50.00; IGST 1.50 + 2.50
    assert note["itms"][0]["itm_det"]["txval"] == D("80.03") and note["itms"][0]["itm_det"]["iamt"] == D("4.00")
    (unregistered,) = data["cdnur"]
    assert (unregistered["typ"], unregistered["nt_num"], unregistered["pos"]) == ("B2CL", "CN/2025-26/0002", "29")
    assert unregistered["itms"][0]["itm_det"]["txval"] == D("12500.00")
    assert unregistered["itms"][0]["itm_det"]["iamt"] == D("625.00")
    hsn_b2b = {(r["hsn_sc"], r["uqc"]): r for r in data["hsn"]["hsn_b2b"]}
    ghee = hsn_b2b[("0405", "PCS")]
    assert (ghee["qty"], ghee["rt"], ghee["txval"], ghee["iamt"], ghee["camt"], ghee["samt"]) == (
        D("4.000"), D("5"), D("370.37"), D("13.52"), D("2.50"), D("2.50"),
    )  # fmt: skip
    pickle_b2b = hsn_b2b[("2001", "PCS")]
    assert (pickle_b2b["qty"], pickle_b2b["txval"], pickle_b2b["iamt"]) == (D("2.000"), D("450.00"), D("22.50"))
    (pickle_b2c,) = data["hsn"]["hsn_b2c"]
    assert (pickle_b2c["hsn_sc"], pickle_b2c["qty"], pickle_b2c["txval"], pickle_b2c["iamt"], pickle_b2c["camt"]) == (
        "2001", D("504.000"), D("113500.00"), D("5625.00"), D("25.00"),
    )  # fmt: skip
    invoices, notes = data["doc_issue"]["doc_det"]
    assert invoices["doc_typ"] == "Invoices for outward supply"
    assert invoices["docs"] == [
        {"num": 1, "from": "INV/2025-26/0001", "to": "INV/2025-26/0005", "totnum": 5, "cancel": 1, "net_issue": 4}
    ]
    assert (notes["doc_num"], notes["docs"][0]["totnum"], notes["docs"][0]["cancel"]) == (5, 2, 0)


def test_an_invoice_whose_stored_lines_are_damaged_refuses_the_return_naming_it(udyog_tenant):
    from sqlalchemy import update
    from udyog_gst.models import InvoiceTax

    from udyog_sales.models import Invoice
    from udyog_sdk import UdyogError

    ids = october(udyog_tenant)
    with udyog_tenant.scope() as scope:
        number = scope.session.scalar(select(Invoice.number).where(Invoice.id == uuid.UUID(ids["ka"])))
        scope.session.execute(
            update(InvoiceTax).where(InvoiceTax.record_id == uuid.UUID(ids["ka"])).values(lines={"marker": "x"})
        )
        scope.session.commit()
    with pytest.raises(UdyogError) as refused:
        build(udyog_tenant, "102025")
    assert refused.value.status == 409
    assert refused.value.message == f"invoice {number} cannot be shown: its stored lines are damaged"
    assert refused.value.errors == {"lines": ["expected a list of lines, found an object"]}


def test_b2cl_threshold_is_decided_by_the_invoice_date(udyog_tenant):
    w = world(udyog_tenant)
    # 500 jars at ₹250 inter-state to an unregistered buyer, at 12% (before the reform): 1,40,000
    sell(udyog_tenant, w, "ur", dt.date(2024, 7, 31), ("pickle", "500"))
    sell(udyog_tenant, w, "ur", dt.date(2024, 8, 1), ("pickle", "500"))
    july, august = build(udyog_tenant, "072024"), build(udyog_tenant, "082024")
    assert july["b2cl"] == []  # not over ₹2,50,000 before 01-08-2024
    assert july["b2cs"] == [
        {"sply_ty": "INTER", "pos": "29", "typ": "OE", "rt": D("12"), "txval": D("125000.00"), "iamt": D("15000.00"),
         "camt": D("0.00"), "samt": D("0.00"), "csamt": D("0.00")}
    ]  # fmt: skip
    assert august["b2cs"] == []
    assert august["b2cl"][0]["pos"] == "29" and august["b2cl"][0]["inv"][0]["val"] == D("140000.00")
    assert august["b2cl"][0]["inv"][0]["idt"] == "01-08-2024"


def test_exports_and_sez(udyog_tenant):
    w = world(udyog_tenant)
    sell(udyog_tenant, w, "exp", dt.date(2025, 11, 3), ("pickle", "10"))
    sell(udyog_tenant, w, "sez", dt.date(2025, 11, 4), ("pickle", "10"))
    data = build(udyog_tenant, "112025")
    (exports,) = data["exp"]
    assert exports["exp_typ"] == "WPAY" and exports["inv"][0]["itms"][0]["iamt"] == D("125.00")
    (sez,) = data["b2b"]
    assert (sez["inv"][0]["inv_typ"], sez["inv"][0]["pos"]) == ("SEWP", "27")
    assert sez["inv"][0]["itms"][0]["itm_det"]["iamt"] == D("125.00")


def test_the_json_file_keeps_amounts_exact():
    text = gstr1.portal_json(
        {"fp": "102025", "b2cs": [{"pos": "27", "rt": "5.00", "txval": "1000.10", "iamt": "0.00"}]}
    )
    assert '"txval": 1000.1' in text and '"rt": 5' in text and '"pos": "27"' in text
    parsed = json.loads(text, parse_float=D)
    assert parsed["b2cs"][0]["txval"] == D("1000.1")


def test_bad_periods_are_refused(udyog_client, udyog_tenant):
    world(udyog_tenant)
    for period in ("132025", "2025-10", "10-2025", ""):
        refused = udyog_client.post(f"{GST}/gstr1", json={"period": period}, expect=422)
        assert "period" in refused.errors


def test_generated_by_a_job_through_the_api_with_json_and_excel_downloads(udyog_client, udyog_tenant):
    october(udyog_tenant)
    queued = udyog_client.post(f"{GST}/gstr1", json={"period": "102025"}, expect=202).data
    run = udyog_client.get(f"{GST}/gstr1/runs/{queued['run_id']}", expect=200).data
    assert (run["state"], run["period"]) == ("succeeded", "102025")
    listed = udyog_client.get(f"{GST}/gstr1", expect=200).data
    assert [r["id"] for r in listed] == [run["return_id"]] and listed[0]["total_value"] == "133245.00"
    stored = udyog_client.get(f"{GST}/gstr1/{run['return_id']}", expect=200).data
    assert stored["data"]["b2b"][0]["ctin"] in (BUYER_KA, BUYER_MH)
    status, headers, body = download(udyog_client, f"{GST}/gstr1/{run['return_id']}/download")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    portal = json.loads(body, parse_float=D)
    assert portal["fp"] == "102025" and portal["b2cl"][0]["inv"][0]["val"] == D("131250")
    assert portal["hsn"]["hsn_b2c"][0]["txval"] == D("113500")
    status, headers, body = download(udyog_client, f"{GST}/gstr1/{run['return_id']}/download", {"format": "xlsx"})
    assert status == 200 and "spreadsheetml" in headers["Content-Type"]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["b2b", "b2cl", "b2cs", "exp", "cdnr", "cdnur", "hsn_b2b", "docs", "hsn_b2c"]
    b2b = book["b2b"]
    assert b2b["A1"].value == "GSTIN of recipient"
    rows = {(r[0].value, r[1].value): r for r in b2b.iter_rows(min_row=2)}
    assert D(str(rows[(BUYER_KA, "INV/2025-26/0001")][8].value)) == D("800.3")
    docs = book["docs"]
    assert [c.value for c in docs[2]][:6] == [
        "Invoices for outward supply",
        "INV/2025-26/0001",
        "INV/2025-26/0005",
        5,
        1,
        4,
    ]
    udyog_client.get(f"{GST}/gstr1/{queued['run_id']}", expect=404)  # a run's id names no return


def test_a_month_without_a_registration_is_refused_before_it_is_queued(udyog_client, udyog_tenant):
    world(udyog_tenant, gst=False)
    refused = udyog_client.post(f"{GST}/gstr1", json={"period": "102025"}, expect=409)
    assert refused.errors == {"gstin": ["register a branch's GSTIN first"]}
    assert udyog_client.get(f"{GST}/gstr1", expect=200).data == []


def test_the_pages_generate_and_download_a_return_and_show_a_tax_invoice(udyog_web_client, udyog_tenant):
    ids = october(udyog_tenant)
    answer = udyog_web_client.submit("/gst/returns", {"period": "2025-10"})
    assert answer.status_code == 303 and "run=" in answer.headers["Location"]
    page = udyog_web_client.get(answer.headers["Location"])
    assert page.status_code == 200 and "102025" in page.text and SUPPLIER_MH in page.text
    assert "Excel" in page.text and "succeeded" in page.text
    invoice = udyog_web_client.get(f"/gst/invoices/{ids['ka']}")
    assert invoice.status_code == 200
    assert "29 · Karnataka" in invoice.text and BUYER_KA in invoice.text and "Eight Hundred Forty" in invoice.text
    listing = udyog_web_client.get("/gst/invoices")
    assert "INV/2025-26/0001" in listing.text
    pdf = udyog_web_client.get(f"/gst/invoices/{ids['ka']}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


SUPPLIER_KA = "29AAKCS4821M1ZS"  # the same company's registration in Karnataka


def _bengaluru_branch(tenant: Any, w: dict[str, str]) -> None:
    """A second branch, in Karnataka, with its own GSTIN and a stocked warehouse ``w2``."""
    from gst_kit import branch_model
    from udyog_gst.models import Registration
    from udyog_gst.services import check_registration

    from udyog_inventory import services as stock
    from udyog_inventory.models import Warehouse

    with tenant.scope() as scope:
        blr = branch_model()(code="BLR", name="Bengaluru depot", address="Peenya", state_code="29")
        scope.session.add(blr)
        scope.session.flush()
        house = Warehouse(code="W2", name="Bengaluru FG", branch_id=blr.id)
        scope.session.add(house)
        scope.session.flush()
        stock.receive(uuid.UUID(w["ghee"]), house.id, D("100"), unit_cost=D("80"))
        scope.session.add(Registration(**check_registration({"branch_id": blr.id, "gstin": SUPPLIER_KA})))
        scope.session.commit()
        w["w2"] = str(house.id)


def test_gstr1_is_filed_per_gstin(udyog_tenant, udyog_client):
    w = world(udyog_tenant)
    _bengaluru_branch(udyog_tenant, w)
    day = dt.date(2025, 10, 6)
    pune = sell(udyog_tenant, w, "ka", day, ("ghee", "3"))  # Pune → Karnataka: IGST
    with udyog_tenant.scope() as scope:  # Bengaluru → Karnataka: CGST + SGST
        made = sales.create_order(
            {
                "customer_id": uuid.UUID(w["ka"]),
                "warehouse_id": uuid.UUID(w["w2"]),
                "order_date": day,
                "lines": [{"product_id": uuid.UUID(w["ghee"]), "quantity": D("2")}],
            }
        )
        sales.confirm_order(made, made.version)
        bengaluru = str(sales.issue_invoice(made, on=day).id)
        scope.session.commit()

    # Two GSTINs: the return must name one.
    refused = udyog_client.post(f"{GST}/gstr1", json={"period": "102025"}, expect=422)
    assert "several GSTINs" in refused.errors["gstin"][0]
    refused = udyog_client.post(f"{GST}/gstr1", json={"period": "102025", "gstin": BUYER_MH}, expect=422)
    assert refused.errors == {"gstin": ["not one of the tenant's registrations"]}

    with udyog_tenant.scope(write=False):
        ka = gstr1.build("102025", "29aakcs4821m1zs")  # normalised
        mh = gstr1.build("102025", SUPPLIER_MH)
    assert (ka["gstin"], mh["gstin"]) == (SUPPLIER_KA, SUPPLIER_MH)
    [ka_invoice] = ka["b2b"][0]["inv"]
    [mh_invoice] = mh["b2b"][0]["inv"]
    with udyog_tenant.scope(write=False) as scope:
        from udyog_sales.models import Invoice

        numbers = {str(i.id): i.number for i in scope.session.scalars(select(Invoice))}
    assert (ka_invoice["inum"], mh_invoice["inum"]) == (numbers[bengaluru], numbers[pune])
    assert ka_invoice["itms"][0]["itm_det"]["camt"] == D("5.01")  # 200.20 x 2.5%, intra-state in Karnataka
    assert mh_invoice["itms"][0]["itm_det"]["iamt"] == D("15.02")  # 300.30 x 5%, inter-state from Pune
    assert [d["docs"][0]["totnum"] for d in ka["doc_issue"]["doc_det"]] == [1]
    assert [d["docs"][0]["totnum"] for d in mh["doc_issue"]["doc_det"]] == [1]

    queued = udyog_client.post(f"{GST}/gstr1", json={"period": "102025", "gstin": SUPPLIER_KA}, expect=202).data
    run = udyog_client.get(f"{GST}/gstr1/runs/{queued['run_id']}", expect=200).data
    stored = udyog_client.get(f"{GST}/gstr1/{run['return_id']}", expect=200).data
    assert stored["gstin"] == SUPPLIER_KA
