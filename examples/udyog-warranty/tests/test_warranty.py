"""Tests of the warranty plugin, with the fixtures of Udyog's pytest plugin (docs/testing-plugins.md).

Each test gets a fresh, migrated database (SQLite, and PostgreSQL when
UDYOG_TEST_DATABASE_URL is set) with the plugin, and the plugins it requires
(crm, inventory, sales), enabled for tenant ``acme``. The goods are sold
through sales' API, as a user would: no test writes another plugin's rows.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from udyog_warranty.models import Card, ProductTerm
from udyog_warranty.services import add_months, create_card, ends_on

from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("warranty")

CARDS = "/api/v1/warranty/cards"
PRODUCTS = "/api/v1/inventory/products"
ORDERS = "/api/v1/sales/orders"
INVOICES = "/api/v1/sales/invoices"


def card(serial_no: str = "SN-1001", **values: object) -> dict[str, object]:
    return {
        "serial_no": serial_no,
        "product": "Mixer grinder 750 W",
        "customer": "Asha Traders",
        "starts_on": "2026-01-31",
        **values,
    }


def shop(client: Any) -> dict[str, str]:
    """A branch, a unit, a warehouse and a customer, made through the API; their ids."""
    branch = client.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune"}, expect=201).data["id"]
    unit = client.post("/api/v1/inventory/units", json={"code": "pcs", "name": "Piece"}, expect=201).data["id"]
    house = client.post(
        "/api/v1/inventory/warehouses", json={"code": "W1", "name": "Pune FG", "branch_id": branch}, expect=201
    ).data["id"]
    customer = client.post("/api/v1/crm/customers", json={"code": "C1", "name": "Asha Traders"}, expect=201).data["id"]
    return {"unit": unit, "warehouse": house, "customer": customer}


def product(client: Any, where: dict[str, str], sku: str, name: str, **values: object) -> dict[str, Any]:
    """A product priced ₹4999 with 10 in stock (a receipt through the API)."""
    made = client.post(
        PRODUCTS, json={"sku": sku, "name": name, "unit_id": where["unit"], "price": "4999.00", **values}, expect=201
    ).data
    client.post(
        "/api/v1/inventory/receipts",
        json={"product_id": made["id"], "warehouse_id": where["warehouse"], "quantity": "10", "unit_cost": "3000"},
        expect=201,
    )
    return made


def sell(client: Any, where: dict[str, str], *lines: tuple[str, str]) -> dict[str, Any]:
    """An order of (product id, quantity) lines: created, confirmed, delivered and invoiced; the invoice."""
    rows = [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines]
    order = client.post(
        ORDERS, json={"customer_id": where["customer"], "warehouse_id": where["warehouse"], "lines": rows}, expect=201
    ).data
    order = client.post(f"{ORDERS}/{order['id']}/confirm", json={"version": order["version"]}, expect=200).data
    order = client.post(f"{ORDERS}/{order['id']}/deliver", json={"version": order["version"]}, expect=200).data
    return client.post(f"{ORDERS}/{order['id']}/invoice", json={"version": order["version"]}, expect=201).data


def test_months_are_calendar_months_and_the_end_is_the_day_before():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert ends_on(dt.date(2026, 1, 31), 12) == dt.date(2027, 1, 30)
    assert ends_on(dt.date(2026, 3, 1), 1) == dt.date(2026, 3, 31)


def test_cards_are_registered_listed_changed_and_deleted(udyog_client):
    made = udyog_client.post(CARDS, json=card(), expect=201).data
    assert (made["months"], made["ends_on"], made["version"], made["invoice_id"]) == (12, "2027-01-30", 1, None)
    udyog_client.post(CARDS, json=card("SN-0007", months=6, starts_on="2026-05-01"), expect=201)
    listed = udyog_client.get(CARDS, params={"sort": "ends_on"}, expect=200).data
    assert [c["serial_no"] for c in listed] == ["SN-0007", "SN-1001"]
    soon = udyog_client.get(CARDS, params={"ends_on__lte": "2026-12-31"}, expect=200).data
    assert [c["serial_no"] for c in soon] == ["SN-0007"]
    changed = udyog_client.patch(f"{CARDS}/{made['id']}", json={"version": 1, "months": 24}, expect=200).data
    assert (changed["months"], changed["ends_on"], changed["version"]) == (24, "2028-01-30", 2)
    udyog_client.patch(f"{CARDS}/{made['id']}", json={"version": 1, "months": 36}, expect=409)  # stale
    udyog_client.delete(f"{CARDS}/{made['id']}", expect=200)
    udyog_client.get(f"{CARDS}/{made['id']}", expect=404)


def test_bad_input_is_refused_field_by_field(udyog_client):
    refused = udyog_client.post(
        CARDS, json={"serial_no": "no spaces", "starts_on": "someday", "months": 0, "invoice_id": "x"}, expect=422
    )
    assert set(refused.errors) == {"serial_no", "product", "customer", "starts_on", "months", "invoice_id"}
    made = udyog_client.post(CARDS, json=card(), expect=201).data
    refused = udyog_client.patch(f"{CARDS}/{made['id']}", json={"version": 1, "months": None}, expect=422)
    assert refused.errors == {"months": ["give a number of months"]}
    refused = udyog_client.patch(f"{CARDS}/{made['id']}", json={"version": 1, "serial_no": "SN-2"}, expect=422)
    assert "serial_no" in refused.errors  # fixed once registered
    assert [c["serial_no"] for c in udyog_client.get(CARDS, expect=200).data] == ["SN-1001"]


def test_a_serial_number_has_one_card(udyog_client):
    udyog_client.post(CARDS, json=card(), expect=201)
    refused = udyog_client.post(CARDS, json=card(), expect=409)
    assert refused.errors == {"serial_no": ["'SN-1001' already has a warranty card"]}


def test_products_carry_the_contributed_warranty_term(udyog_client, udyog_tenant):
    where = shop(udyog_client)
    mixer = product(udyog_client, where, "MX-750", "Mixer grinder 750 W", warranty_months=24)
    assert mixer["warranty_months"] == 24  # inventory's API shows the field this plugin adds
    assert udyog_client.get(f"{PRODUCTS}/{mixer['id']}", expect=200).data["warranty_months"] == 24
    for bad in (0, 121, "two years"):
        refused = udyog_client.post(
            PRODUCTS, json={"sku": "BAD", "name": "Bad", "unit_id": where["unit"], "warranty_months": bad}, expect=422
        )
        assert list(refused.errors) == ["warranty_months"]
    jar = udyog_client.post(PRODUCTS, json={"sku": "JAR", "name": "Spare jar", "unit_id": where["unit"]}, expect=201)
    assert jar.data["warranty_months"] is None
    changed = udyog_client.patch(
        f"{PRODUCTS}/{mixer['id']}", json={"version": mixer["version"], "warranty_months": 36}, expect=200
    ).data
    assert changed["warranty_months"] == 36
    filtered = udyog_client.get(PRODUCTS, params={"warranty_months__gte": 12}, expect=200).data
    assert [p["sku"] for p in filtered] == ["MX-750"]
    with udyog_tenant.scope(write=False) as scope:  # stored in this plugin's side table, not inventory's
        assert scope.session.scalars(select(ProductTerm.months)).all() == [36]


def test_invoicing_a_product_with_a_term_registers_a_card_per_line(udyog_client):
    where = shop(udyog_client)
    mixer = product(udyog_client, where, "MX-750", "Mixer grinder 750 W", warranty_months=24)
    fan = product(udyog_client, where, "FAN-1", "Table fan", warranty_months=6)
    jar = product(udyog_client, where, "JAR", "Spare jar")  # no term: no card
    invoice = sell(udyog_client, where, (mixer["id"], "2"), (jar["id"], "1"), (fan["id"], "1"))
    starts = dt.date.fromisoformat(invoice["invoice_date"])
    cards = udyog_client.get(CARDS, params={"invoice_id": invoice["id"], "sort": "serial_no"}, expect=200).data
    number = invoice["number"]
    assert [(c["serial_no"], c["product"], c["customer"], c["months"]) for c in cards] == [
        (f"{number}/1", "Mixer grinder 750 W", "Asha Traders", 24),
        (f"{number}/3", "Table fan", "Asha Traders", 6),
    ]
    assert [(c["starts_on"], c["ends_on"]) for c in cards] == [
        (starts.isoformat(), ends_on(starts, 24).isoformat()),
        (starts.isoformat(), ends_on(starts, 6).isoformat()),
    ]
    assert cards[0]["notes"] == f"Invoice {number}, line 1: MX-750, quantity 2.000"
    assert udyog_client.get(CARDS, expect=200).data == cards  # nothing for the jar


def test_no_card_for_goods_without_a_term(udyog_client):
    where = shop(udyog_client)
    jar = product(udyog_client, where, "JAR", "Spare jar")
    invoice = sell(udyog_client, where, (jar["id"], "3"))
    assert invoice["state"] == "issued"
    assert udyog_client.get(CARDS, expect=200).data == []


def test_a_card_number_taken_by_hand_does_not_refuse_the_invoice(udyog_client):
    where = shop(udyog_client)
    mixer = product(udyog_client, where, "MX-750", "Mixer grinder 750 W", warranty_months=12)
    first = sell(udyog_client, where, (mixer["id"], "1"))
    prefix, seq = re.fullmatch(r"(.*?)(\d+)", first["number"]).groups()
    taken = f"{prefix}{int(seq) + 1:0{len(seq)}d}/1"  # the next invoice's first line, registered by hand
    udyog_client.post(CARDS, json=card(taken), expect=201)
    second = sell(udyog_client, where, (mixer["id"], "1"))
    assert f"{second['number']}/1" == taken
    made = udyog_client.get(CARDS, params={"invoice_id": second["id"]}, expect=200).data
    assert [c["serial_no"] for c in made] == [f"{taken}-2"]


def test_a_cancelled_invoice_takes_its_cards_with_it(udyog_client):
    where = shop(udyog_client)
    mixer = product(udyog_client, where, "MX-750", "Mixer grinder 750 W", warranty_months=12)
    invoice = sell(udyog_client, where, (mixer["id"], "1"))
    by_hand = udyog_client.post(CARDS, json=card(invoice_id=invoice["id"]), expect=201).data
    assert len(udyog_client.get(CARDS, params={"invoice_id": invoice["id"]}, expect=200).data) == 2
    udyog_client.post(f"{INVOICES}/{invoice['id']}/cancel", json={"version": invoice["version"]}, expect=200)
    left = udyog_client.get(CARDS, params={"invoice_id": invoice["id"]}, expect=200).data
    assert [c["id"] for c in left] == [by_hand["id"]]  # a card registered by hand stays


def test_a_card_names_only_an_invoice_of_its_own_tenant(udyog_client, udyog_other_client):
    where = shop(udyog_other_client)
    jar = product(udyog_other_client, where, "JAR", "Spare jar")
    theirs = sell(udyog_other_client, where, (jar["id"], "1"))
    refused = udyog_client.post(CARDS, json=card(invoice_id=theirs["id"]), expect=422)
    assert refused.errors == {"invoice_id": ["no such invoice"]}


@pytest.mark.udyog_plugins("sales")
def test_without_the_plugin_products_have_no_warranty_field(udyog_client):
    where = shop(udyog_client)
    made = product(udyog_client, where, "MX-750", "Mixer grinder 750 W")
    assert "warranty_months" not in made
    refused = udyog_client.post(
        PRODUCTS, json={"sku": "FAN", "name": "Fan", "unit_id": where["unit"], "warranty_months": 12}, expect=422
    )
    assert refused.errors == {"warranty_months": ["Unknown field."]}
    sell(udyog_client, where, (made["id"], "1"))  # invoicing works without the plugin
    udyog_client.get(CARDS, expect=404)


@pytest.mark.udyog_user(roles=["Warranty Viewer"])
def test_a_viewer_reads_but_cannot_register(udyog_client):
    udyog_client.get(CARDS, expect=200)
    refused = udyog_client.post(CARDS, json=card(), expect=403)
    assert refused.errors == {"permission": ["warranty.card.create"]}


def test_another_tenant_sees_none_of_the_cards(udyog_client, udyog_other_client):
    made = udyog_client.post(CARDS, json=card(), expect=201).data
    assert udyog_other_client.get(CARDS, expect=200).data == []
    udyog_other_client.get(f"{CARDS}/{made['id']}", expect=404)
    udyog_other_client.post(CARDS, json=card(), expect=201)  # the same serial number elsewhere is fine


def test_the_service_works_in_a_tenant_scope(udyog_tenant):
    with udyog_tenant.scope() as scope:
        create_card(
            {"serial_no": "S-1", "product": "Fan", "customer": "Ravi", "starts_on": dt.date(2026, 4, 1), "notes": ""}
        )
        scope.session.commit()
        with pytest.raises(UdyogError) as taken:
            create_card({"serial_no": "S-1", "product": "Fan", "customer": "Ravi", "starts_on": dt.date(2026, 4, 1)})
        assert taken.value.status == 409
    with udyog_tenant.scope(write=False) as scope:
        assert scope.session.scalars(select(Card.ends_on)).all() == [dt.date(2027, 3, 31)]


def test_the_pages_list_cards_and_those_expiring(udyog_web_client, udyog_client):
    today = dt.date.today()
    udyog_client.post(CARDS, json=card("SN-SOON", starts_on=(today - dt.timedelta(days=360)).isoformat()), expect=201)
    udyog_client.post(CARDS, json=card("SN-LATER", starts_on=today.isoformat()), expect=201)
    home = udyog_web_client.get("/").text
    assert 'href="/warranty/cards"' in home and 'href="/warranty/expiring"' in home
    listing = udyog_web_client.get("/warranty/cards")
    assert listing.status_code == 200 and "SN-SOON" in listing.text and "SN-LATER" in listing.text
    expiring = udyog_web_client.get("/warranty/expiring")
    assert expiring.status_code == 200 and "SN-SOON" in expiring.text and "SN-LATER" not in expiring.text
    bad = udyog_web_client.get("/warranty/expiring?days=lots")
    assert bad.status_code == 200 and "days must be a whole number from 0 to 366" in bad.text
    form = udyog_web_client.get("/inventory/products/new")
    assert 'name="warranty_months"' in form.text  # the contributed field is on inventory's form


@pytest.mark.udyog_user(permissions=["inventory.product.read"])
def test_the_expiring_page_needs_the_read_permission(udyog_web_client):
    assert udyog_web_client.get("/warranty/expiring").status_code == 403


def test_the_api_over_real_http(udyog_live_client):
    made = udyog_live_client.post(CARDS, json=card(), expect=201).data
    assert udyog_live_client.get(f"{CARDS}/{made['id']}", expect=200).data["customer"] == "Asha Traders"
