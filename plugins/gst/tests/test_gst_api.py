"""GST through the HTTP API: registrations, parties, HSN codes, taxes on orders and invoices, rule 46, flags."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")
from typing import Any

import pytest
from gst_kit import (
    BUYER_KA,
    CENTRE,
    CUSTOMERS,
    GST,
    INVOICES,
    LADAKH,
    ORDERS,
    OTHER_TERRITORY,
    PRODUCTS,
    SUPPLIER_MH,
    download,
    heads,
    invoiced,
    order,
    world,
)
from udyog_gst.identifiers import check_character

from udyog_sdk import hookimpl

pytestmark = pytest.mark.udyog_plugins("gst")

SERIES = "/api/v1/core/series"


def settings(client: Any, **values: Any) -> None:
    """Change the tenant's GST settings."""
    version = client.get("/api/v1/core/settings/gst", expect=200).data["version"]
    client.patch("/api/v1/core/settings/gst", json={"version": version, "values": values}, expect=200)


# -- registrations and parties ----------------------------------------------------------------


def test_a_branch_registration_is_normalised_and_validated(udyog_client, udyog_tenant):
    w = world(udyog_tenant, gst=False)
    bad = udyog_client.post(
        f"{GST}/registrations", json={"branch_id": w["branch"], "gstin": "27AAKCS4821M1ZX"}, expect=422
    )
    assert "check character" in bad.errors["gstin"][0]
    wrong_state = udyog_client.post(
        f"{GST}/registrations", json={"branch_id": w["branch"], "gstin": BUYER_KA}, expect=422
    )
    assert "state 29" in wrong_state.errors["gstin"][0] and "27" in wrong_state.errors["gstin"][0]
    made = udyog_client.post(
        f"{GST}/registrations", json={"branch_id": w["branch"], "gstin": " 27-aakcs-4821-m1zw "}, expect=201
    ).data
    assert (made["gstin"], made["pan"], made["state_code"]) == (SUPPLIER_MH, "AAKCS4821M", "27")
    # one registration per branch
    udyog_client.post(f"{GST}/registrations", json={"branch_id": w["branch"], "gstin": SUPPLIER_MH}, expect=409)


def test_customers_get_gstin_pan_and_flags_through_crm(udyog_client, udyog_tenant):
    world(udyog_tenant)
    made = udyog_client.post(
        CUSTOMERS, json={"code": "L1", "name": "Leh Traders", "gstin": "38aakcs4821m1zt"}, expect=201
    ).data
    assert (made["gstin"], made["pan"], made["gst_state"]) == (LADAKH, "AAKCS4821M", "38")
    for code, gstin in (("O1", OTHER_TERRITORY), ("C1", CENTRE)):
        assert (
            udyog_client.post(CUSTOMERS, json={"code": code, "name": code, "gstin": gstin}, expect=201).data[
                "gst_state"
            ]
            == gstin[:2]
        )
    bad = udyog_client.post(CUSTOMERS, json={"code": "B1", "name": "Bad", "gstin": "27AAKCS4821M1ZX"}, expect=422)
    assert "check character" in bad.errors["gstin"][0]
    bad_pan = udyog_client.post(CUSTOMERS, json={"code": "B2", "name": "Bad", "pan": "ABCDE1234F"}, expect=422)
    assert "holder type" in bad_pan.errors["pan"][0]
    unregistered = udyog_client.post(
        CUSTOMERS, json={"code": "U1", "name": "Unregistered", "pan": "aafpk1234c", "gstin": ""}, expect=201
    ).data
    assert (unregistered["gstin"], unregistered["pan"], unregistered["gst_state"]) == (None, "AAFPK1234C", None)
    sez = udyog_client.post(CUSTOMERS, json={"code": "S1", "name": "SEZ", "gstin": BUYER_KA, "sez": True}, expect=201)
    assert sez.data["sez"] is True
    found = udyog_client.get(CUSTOMERS, params={"gstin": LADAKH}, expect=200).data
    assert [c["code"] for c in found] == ["L1"]


def test_hsn_digits_follow_the_turnover_setting(udyog_client, udyog_tenant):
    world(udyog_tenant)
    base = {"unit_id": None}
    units = udyog_client.get("/api/v1/inventory/units", expect=200).data
    base["unit_id"] = units[0]["id"]
    four = udyog_client.post(PRODUCTS, json={**base, "sku": "A", "name": "A", "hsn_code": "0405"}, expect=201).data
    assert four["hsn_code"] == "0405"
    udyog_client.post(PRODUCTS, json={**base, "sku": "B", "name": "B", "hsn_code": "04x5"}, expect=422)
    settings(udyog_client, turnover_previous_year="50000000.01")  # above ₹5 crore: 6 digits
    refused = udyog_client.post(PRODUCTS, json={**base, "sku": "C", "name": "C", "hsn_code": "0405"}, expect=422)
    assert "6 digits" in refused.errors["hsn_code"][0] or "at least 6" in refused.errors["hsn_code"][0]
    six = udyog_client.post(PRODUCTS, json={**base, "sku": "D", "name": "D", "hsn_code": "0405.90"}, expect=201).data
    assert six["hsn_code"] == "040590"
    settings(udyog_client, turnover_previous_year="50000000.00")  # exactly ₹5 crore: 4 digits
    udyog_client.post(PRODUCTS, json={**base, "sku": "E", "name": "E", "hsn_code": "2001"}, expect=201)


# -- taxes on orders and invoices ----------------------------------------------------------------


def test_intra_state_cgst_sgst_and_inter_state_igst_with_round_off(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    intra = order(udyog_client, w, "mh", ("ghee", "1"), order_date="2025-10-01")
    assert heads(intra) == {"CGST": "2.50", "SGST": "2.50"}
    assert [t["rate"] for t in intra["taxes"]] == ["2.5", "2.5"]
    assert (intra["tax_total"], intra["round_off"], intra["total"]) == ("5.00", "-0.10", "105.00")
    inter = order(udyog_client, w, "ka", ("ghee", "1"), order_date="2025-10-01")
    assert heads(inter) == {"IGST": "5.01"}  # differs from CGST + SGST by ₹0.01
    assert (inter["tax_total"], inter["round_off"], inter["total"]) == ("5.01", "-0.11", "105.00")
    taxes = udyog_client.get(f"{GST}/orders/{inter['id']}/taxes", expect=200).data
    assert taxes["place_of_supply"] == "29"
    assert taxes["breakup"] == [
        {"rate": "5", "taxable": "100.10", "igst": "5.01", "cgst": "0.00", "sgst": "0.00", "utgst": "0.00"}
    ]


def test_place_of_supply_for_unregistered_sez_export_and_union_territory(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    assert set(heads(order(udyog_client, w, "ur", ("pickle", "1"), order_date="2025-10-01"))) == {"IGST"}
    assert set(heads(order(udyog_client, w, "urmh", ("pickle", "1"), order_date="2025-10-01"))) == {"CGST", "SGST"}
    assert set(heads(order(udyog_client, w, "sez", ("pickle", "1"), order_date="2025-10-01"))) == {"IGST"}
    assert set(heads(order(udyog_client, w, "exp", ("pickle", "1"), order_date="2025-10-01"))) == {"IGST"}
    assert set(heads(order(udyog_client, w, "ut", ("pickle", "1"), order_date="2025-10-01"))) == {"IGST"}


def test_the_rate_is_the_one_in_force_on_the_order_date(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    before = order(udyog_client, w, "ka", ("pickle", "2"), ("milk", "1"), order_date="2025-09-21")
    assert [(t["line_no"], t["name"], t["rate"], t["amount"]) for t in before["taxes"]] == [
        (1, "IGST", "12", "60.00"),
        (2, "IGST", "5", "3.00"),
    ]
    after = order(udyog_client, w, "ka", ("pickle", "2"), ("milk", "1"), order_date="2025-09-22")
    assert [(t["line_no"], t["name"], t["rate"], t["amount"]) for t in after["taxes"]] == [(1, "IGST", "5", "25.00")]
    assert after["lines"][1]["tax_amount"] == "0.00"  # UHT milk: nil from 22-09-2025
    breakup = udyog_client.get(f"{GST}/orders/{after['id']}/taxes", expect=200).data["breakup"]
    assert [(b["rate"], b["taxable"], b["igst"]) for b in breakup] == [("0", "60.00", "0.00"), ("5", "500.00", "25.00")]


def test_a_product_without_hsn_or_a_branch_without_gstin_refuses_the_confirmation(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(
        ORDERS,
        json={"customer_id": w["mh"], "warehouse_id": w["w1"], "lines": [{"product_id": w["plain"], "quantity": "1"}]},
        expect=201,
    ).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=422)
    assert refused.errors["lines.0.product_id"] == ["the product has no HSN code (GST)"]
    registration = udyog_client.get(f"{GST}/registrations", expect=200).data[0]
    udyog_client.delete(f"{GST}/registrations/{registration['id']}", expect=200)
    other = udyog_client.post(
        ORDERS,
        json={"customer_id": w["mh"], "warehouse_id": w["w1"], "lines": [{"product_id": w["ghee"], "quantity": "1"}]},
        expect=201,
    ).data
    refused = udyog_client.post(f"{ORDERS}/{other['id']}/confirm", json={"version": 1}, expect=422)
    assert "no GSTIN" in refused.errors["warehouse_id"][0]


def test_the_invoice_carries_its_gst_facts_breakup_words_and_pdf(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "ka", ("ghee", "3"), ("pickle", "2"), order_date="2025-10-01")
    # ghee 300.30 → IGST 15.02 (15.015); pickle 500.00 → 25.00; total 840.32 → round-off -0.32 → 840.00
    assert (invoice["tax_total"], invoice["round_off"], invoice["total"]) == ("40.02", "-0.32", "840.00")
    assert (invoice["place_of_supply"], invoice["supplier_gstin"], invoice["buyer_gstin"]) == (
        "29",
        SUPPLIER_MH,
        BUYER_KA,
    )
    assert (invoice["eway_bill_needed"], invoice["einvoice_needed"]) == (False, False)
    view = udyog_client.get(f"{GST}/invoices/{invoice['id']}", expect=200).data
    assert view["place_of_supply_name"] == "29 · Karnataka"
    assert [(ln["hsn"], ln["rate"], ln["taxable"], ln["igst"]) for ln in view["lines"]] == [
        ("0405", "5", "300.30", "15.02"),
        ("2001", "5", "500.00", "25.00"),
    ]
    assert view["breakup"] == [
        {"rate": "5", "taxable": "800.30", "igst": "40.02", "cgst": "0.00", "sgst": "0.00", "utgst": "0.00"}
    ]
    assert view["amount_in_words"] == "Rupees Eight Hundred Forty Only"
    status, headers, pdf = download(udyog_client, f"{GST}/invoices/{invoice['id']}/pdf")
    assert (status, headers["Content-Type"]) == (200, "application/pdf")
    assert pdf.startswith(b"%PDF")


def test_amount_in_words_uses_lakh_and_crore(udyog_client, udyog_tenant):
    w = world(udyog_tenant, on_hand="20000")
    # 12,000 jars of pickle at ₹250 within the state: 30,00,000 + 5% = 31,50,000
    invoice = invoiced(udyog_client, w, "mh", ("pickle", "12000"), order_date="2025-10-01")
    view = udyog_client.get(f"{GST}/invoices/{invoice['id']}", expect=200).data
    assert view["total"] == "3150000.00"
    assert view["amount_in_words"] == "Rupees Thirty-One Lakh Fifty Thousand Only"


def test_e_way_bill_flag_for_inter_state_consignments_over_50000(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    # 190 jars at ₹250 = 47,500 + 5% IGST 2,375 = 49,875: not over ₹50,000
    small = invoiced(udyog_client, w, "ka", ("pickle", "190"), order_date="2025-10-01")
    assert (small["total"], small["eway_bill_needed"]) == ("49875.00", False)
    # 191 jars: 47,750 + 2,387.50 = 50,137.50 → 50,138.00: over
    large = invoiced(udyog_client, w, "ka", ("pickle", "191"), order_date="2025-10-01")
    assert (large["total"], large["eway_bill_needed"]) == ("50138.00", True)
    # the same within the state: no e-way bill flag from the inter-state threshold
    intra = invoiced(udyog_client, w, "mh", ("pickle", "191"), order_date="2025-10-01")
    assert intra["eway_bill_needed"] is False
    view = udyog_client.get(f"{GST}/invoices/{large['id']}", expect=200).data
    assert view["eway_bill_needed"] is True


def test_e_invoice_flag_from_the_turnover_setting(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    settings(udyog_client, aggregate_turnover="50000000.00")  # exactly ₹5 crore: not above
    assert invoiced(udyog_client, w, "mh", ("ghee", "1"))["einvoice_needed"] is False
    settings(udyog_client, aggregate_turnover="50000000.01")
    assert invoiced(udyog_client, w, "mh", ("ghee", "1"))["einvoice_needed"] is True


def test_no_gst_rounding_when_the_setting_is_off(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    settings(udyog_client, round_to_rupee=False)
    done = order(udyog_client, w, "mh", ("ghee", "1"), order_date="2025-10-01")
    assert (done["round_off"], done["total"]) == ("0.00", "105.10")


# -- rule 46 ------------------------------------------------------------------------------------


def _put_series(client: Any, key: str, expect: int, **values: Any) -> Any:
    version = client.get(f"{SERIES}/{key}", expect=200).data["version"]
    return client.put(f"{SERIES}/{key}", json={"version": version, **values}, expect=expect)


@pytest.mark.parametrize("key", ["sales.invoice", "sales.credit_note"])
def test_rule_46_patterns_are_checked_when_saved(udyog_client, udyog_tenant, key):
    world(udyog_tenant)
    for pattern in ("INV/2025-26/{seq:05}", "INV/{FY}/{seq:05}"):  # both render INV/2025-26/00001: 17 characters
        refused = _put_series(udyog_client, key, 422, pattern=pattern)
        assert any("17 characters" in m and "GST rule 46" in m for m in refused.errors["pattern"]), refused.errors
    refused = _put_series(udyog_client, key, 422, pattern="INV_{FY_SHORT}_{seq:04}")
    assert any("GST rule 46" in m for m in refused.errors["pattern"]), refused.errors
    refused = _put_series(udyog_client, key, 422, reset="never")
    assert any("GST rule 46" in m for m in refused.errors["reset"]), refused.errors
    # INV/25-26/00001 (15 characters), written with the token so the counter restarts each financial year
    saved = _put_series(udyog_client, key, 200, pattern="INV/{FY_SHORT}/{seq:05}").data
    assert saved["compliance"]["length"] == 15 and saved["compliance"]["ok"] is True
    assert _put_series(udyog_client, key, 200, pattern="INV/{FY}/{seq:04}").data["compliance"]["ok"] is True
    listed = udyog_client.get(f"{SERIES}/{key}", expect=200).data
    assert {c["plugin"] for c in listed["constraints"]} >= {"gst"}


def test_the_default_invoice_pattern_is_compliant_and_numbers_keep_16_characters(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    series = udyog_client.get(f"{SERIES}/sales.invoice", expect=200).data
    assert series["compliance"]["ok"] is True and series["compliance"]["length"] <= 16
    number = invoiced(udyog_client, w, "mh", ("ghee", "1"))["number"]
    assert len(number) <= 16 and number[0].isalnum()


def test_a_number_starting_with_a_symbol_is_refused_when_issued(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    _put_series(udyog_client, "sales.invoice", 200, pattern="/I/{FY_SHORT}/{seq:04}")
    done = order(udyog_client, w, "mh", ("ghee", "1"))
    refused = udyog_client.post(f"{ORDERS}/{done['id']}/invoice", json={"version": done["version"]}, expect=409)
    assert "letter or a digit" in refused.errors["series"][0]
    assert udyog_client.get(INVOICES, expect=200).data == []


# -- a tenant without GST ------------------------------------------------------------------------


def test_a_tenant_without_gst_confirms_delivers_and_invoices_untaxed(
    udyog_client, udyog_other_client, udyog_tenant, udyog_other_tenant
):
    udyog_other_client.post("/api/v1/core/plugins/gst/disable", expect=200)
    w = world(udyog_other_tenant, gst=False)
    invoice = invoiced(udyog_other_client, w, "mh", ("plain", "3"), ("ghee", "1"))
    assert (invoice["tax_total"], invoice["round_off"], invoice["total"]) == ("0.00", "0.00", "130.10")
    assert "place_of_supply" not in invoice
    udyog_other_client.get(f"{GST}/invoices/{invoice['id']}", expect=404)
    # the tenant with GST still taxes
    mine = world(udyog_tenant)
    assert heads(order(udyog_client, mine, "mh", ("ghee", "1"), order_date="2025-10-01")) == {
        "CGST": "2.50",
        "SGST": "2.50",
    }


def test_credit_notes_take_numbers_from_a_rule_46_series(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "ka", ("ghee", "1"))
    note = udyog_client.post(
        "/api/v1/sales/credit-notes", json={"invoice_id": invoice["id"], "amount": "52.50"}, expect=201
    ).data
    assert len(note["number"]) <= 16
    assert D(note["amount"]) == D("52.50")
    # half of ₹105.00 (100.10 + IGST 5.01 - 0.11): taxable 50.05, IGST 2.505 → 2.51
    tax = udyog_client.get(f"{GST}/credit-notes/{note['id']}", expect=200).data
    assert (tax["place_of_supply"], tax["invoice_number"]) == ("29", invoice["number"])
    assert [(ln["taxable"], ln["igst"]) for ln in tax["lines"]] == [("50.05", "2.51")]


def test_one_registration_per_state_and_legacy_codes_refused(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    branches = "/api/v1/core/branches"
    second = udyog_client.post(branches, json={"code": "NSK", "name": "Nashik", "state_code": "27"}, expect=201).data
    other = "27AAHCS3390L1ZV"  # a valid Maharashtra GSTIN of another PAN
    refused = udyog_client.post(f"{GST}/registrations", json={"branch_id": second["id"], "gstin": other}, expect=422)
    assert "registered already" in refused.errors["gstin"][0]
    shared = udyog_client.post(
        f"{GST}/registrations", json={"branch_id": second["id"], "gstin": SUPPLIER_MH}, expect=201
    ).data
    assert shared["state_code"] == "27"
    old = udyog_client.post(branches, json={"code": "AP", "name": "Old AP", "state_code": "28"}, expect=201).data
    legacy = "28AAKCS4821M1Z" + check_character("28AAKCS4821M1Z")
    refused = udyog_client.post(f"{GST}/registrations", json={"branch_id": old["id"], "gstin": legacy}, expect=422)
    assert "legacy" in refused.errors["gstin"][0]
    current = udyog_client.get(f"{GST}/registrations", params={"branch_id": w["branch"]}, expect=200).data[0]
    changed = udyog_client.patch(
        f"{GST}/registrations/{current['id']}",
        json={"version": current["version"], "legal_name": "Sunrise Foods Private Limited"},
        expect=200,
    ).data
    assert (changed["gstin"], changed["legal_name"]) == (SUPPLIER_MH, "Sunrise Foods Private Limited")
    udyog_client.patch(
        f"{GST}/registrations/{current['id']}", json={"version": changed["version"], "gstin": BUYER_KA}, expect=422
    )


def test_the_rate_table_is_seeded_and_a_tenant_may_add_a_dated_rate(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    ghee = udyog_client.get(f"{GST}/rates", params={"hsn_code": "0405"}, expect=200).data
    assert [(r["valid_from"], r["rate"]) for r in sorted(ghee, key=lambda r: r["valid_from"])] == [
        ("2017-07-01", "12.00"),
        ("2025-09-22", "5.00"),
    ]
    udyog_client.post(f"{GST}/rates", json={"hsn_code": "0405", "valid_from": "2025-09-22", "rate": "5"}, expect=422)
    udyog_client.post(f"{GST}/rates", json={"hsn_code": "04a5", "valid_from": "2026-01-01", "rate": "5"}, expect=422)
    udyog_client.post(f"{GST}/rates", json={"hsn_code": "0405", "valid_from": "2026-04-01", "rate": "18"}, expect=201)
    later = order(udyog_client, w, "ka", ("ghee", "1"), order_date="2026-04-01")
    assert heads(later) == {"IGST": "18.02"}  # 100.10 at 18% = 18.018
    earlier = order(udyog_client, w, "ka", ("ghee", "1"), order_date="2026-03-31")
    assert heads(earlier) == {"IGST": "5.01"}


def test_a_products_own_rate_applies_from_its_date(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    product = udyog_client.get(f"{PRODUCTS}/{w['pickle']}", expect=200).data
    assert (product["hsn_code"], product["gst_rate"]) == ("2001", None)
    udyog_client.patch(
        f"{PRODUCTS}/{w['pickle']}",
        json={"version": product["version"], "gst_rate": "18", "gst_rate_from": "2025-11-01"},
        expect=200,
    )
    assert heads(order(udyog_client, w, "ka", ("pickle", "1"), order_date="2025-10-31")) == {"IGST": "12.50"}
    assert heads(order(udyog_client, w, "ka", ("pickle", "1"), order_date="2025-11-01")) == {"IGST": "45.00"}


class _Batches:
    """Prints a batch line under every invoice line, as FSSAI does through sales' hook."""

    @hookimpl
    def sales_invoice_line_details(self, invoice, line):
        return [f"Batch B-{line.line_no:02d} · Exp 10/2026"]


def test_the_tax_invoice_prints_what_plugins_add_under_each_line(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant)
    udyog_kernel.pm.register(_Batches(), name="zz_batches")
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    invoice = invoiced(udyog_client, w, "mh", ("ghee", "1"), ("pickle", "1"))
    view = udyog_client.get(f"{GST}/invoices/{invoice['id']}", expect=200).data
    assert [line["details"] for line in view["lines"]] == [["Batch B-01 · Exp 10/2026"], ["Batch B-02 · Exp 10/2026"]]
    status, _, pdf = download(udyog_client, f"{GST}/invoices/{invoice['id']}/pdf")
    assert status == 200 and pdf.startswith(b"%PDF")


def test_a_ladakh_branch_charges_cgst_and_utgst_within_the_territory(udyog_client, udyog_tenant):
    import uuid
    from decimal import Decimal

    from gst_kit import branch_model
    from udyog_gst.models import Registration
    from udyog_gst.services import check_registration

    from udyog_inventory import services as stock
    from udyog_inventory.models import Warehouse

    w = world(udyog_tenant)
    with udyog_tenant.scope() as scope:
        leh = branch_model()(code="LEH", name="Leh depot", address="Leh", state_code="38")
        scope.session.add(leh)
        scope.session.flush()
        scope.session.add(Registration(**check_registration({"branch_id": leh.id, "gstin": LADAKH})))
        house = Warehouse(code="W38", name="Leh store", branch_id=leh.id)
        scope.session.add(house)
        scope.session.flush()
        stock.receive(uuid.UUID(w["ghee"]), house.id, Decimal("10"), unit_cost=Decimal("80"))
        scope.session.commit()
        w38 = str(house.id)
    leh_buyer = udyog_client.post(CUSTOMERS, json={"code": "LB", "name": "Leh buyer", "gstin": LADAKH}, expect=201)
    w = {**w, "w1": w38, "lb": leh_buyer.data["id"]}
    # ₹100.10 at 5%: CGST 2.50 + UTGST 2.50 (each half of 5.005, rounded separately)
    done = order(udyog_client, w, "lb", ("ghee", "1"), order_date="2025-10-01")
    assert [(t["name"], t["rate"], t["amount"]) for t in done["taxes"]] == [
        ("CGST", "2.5", "2.50"),
        ("UTGST", "2.5", "2.50"),
    ]
    # from Ladakh to Karnataka: IGST
    assert heads(order(udyog_client, w, "ka", ("ghee", "1"), order_date="2025-10-01")) == {"IGST": "5.01"}


def test_pages_registrations_rates_and_the_sales_invoice_page_show_gst(udyog_web_client, udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "ka", ("ghee", "1"))
    registrations = udyog_web_client.get("/gst/registrations")
    assert registrations.status_code == 200 and SUPPLIER_MH in registrations.text
    rates = udyog_web_client.get("/gst/rates")
    assert rates.status_code == 200 and "0405" in rates.text
    page = udyog_web_client.get(f"/sales/invoices/{invoice['id']}")  # sales' own page, GST's contributed fields
    assert page.status_code == 200
    assert "Place of supply" in page.text and "E-way bill needed" in page.text and BUYER_KA in page.text
    customer = udyog_web_client.get(f"/crm/customers/{w['ka']}")
    assert "GSTIN" in customer.text and BUYER_KA in customer.text


def test_a_number_starting_with_0_is_refused_only_with_e_invoicing(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    _put_series(udyog_client, "sales.invoice", 200, pattern="0{FY_SHORT}/{seq:04}")
    first = invoiced(udyog_client, w, "mh", ("ghee", "1"))
    assert first["number"].startswith("0") and first["einvoice_needed"] is False
    settings(udyog_client, aggregate_turnover="60000000.00")
    done = order(udyog_client, w, "mh", ("ghee", "1"))
    refused = udyog_client.post(f"{ORDERS}/{done['id']}/invoice", json={"version": done["version"]}, expect=409)
    assert "may not start with 0" in refused.errors["series"][0]
