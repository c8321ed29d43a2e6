"""Shared set-up of the GST tests: a Maharashtra branch with its GSTIN, products with HSN codes, customers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from udyog_gst.models import Party, ProductTax, Registration
from udyog_gst.services import check_registration

from udyog_crm.models import Customer
from udyog_inventory import services as stock
from udyog_inventory.models import Product, Unit, Warehouse
from udyog_sdk.models import Base

ORDERS = "/api/v1/sales/orders"
INVOICES = "/api/v1/sales/invoices"
CREDIT_NOTES = "/api/v1/sales/credit-notes"
CUSTOMERS = "/api/v1/crm/customers"
PRODUCTS = "/api/v1/inventory/products"
GST = "/api/v1/gst"

#: Valid GSTINs (checksums computed with stdnum's Luhn mod 36) of one company PAN in several states.
SUPPLIER_MH = "27AAKCS4821M1ZW"
BUYER_KA = "29AAFFK7263Q1ZH"
BUYER_MH = "27AADFD5512K1ZI"
LADAKH = "38AAKCS4821M1ZT"
OTHER_TERRITORY = "97AAKCS4821M1ZP"
CENTRE = "99AAKCS4821M1ZL"
SEZ_MH = "27AAHCS3390L1ZV"
CHANDIGARH = "04AAKCS4821M1Z4"
DNH_DD = "26AAKCS4821M1ZY"
LAKSHADWEEP = "31AAKCS4821M1Z7"
ANDAMAN = "35AAKCS4821M1ZZ"


def branch_model() -> Any:
    """The core's branch class by table name (the tests import nothing from the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


def world(tenant: Any, *, gst: bool = True, on_hand: str = "5000") -> dict[str, str]:
    """Commit a world in ``tenant``: branch PUNE (27) with GSTIN, warehouse W1 with stock, products and customers.

    Products: GHEE (HSN 0405, ₹100.10), PICKLE (2001, ₹250.00), MILK (04012000 UHT, ₹60.00), PLAIN (no HSN, ₹10).
    Customers: KA (registered, 29), MH (registered, 27), UR (unregistered, shipping 29), URMH (unregistered,
    no state), UT (unregistered, shipping 04), SEZ (registered 27, SEZ), EXP (export). No sales terms: margin 0.
    With ``gst=False`` no GST rows are written (a tenant without the plugin).
    """
    with tenant.scope() as scope:
        session = scope.session
        branch = branch_model()
        pune = branch(code="PUNE", name="Pune factory", address="Chakan", state_code="27")
        session.add(pune)
        session.flush()
        unit = Unit(code="pcs", name="Piece")
        session.add(unit)
        session.flush()
        products = {
            "ghee": Product(
                sku="GHEE", name="Cow ghee 1 L", unit_id=unit.id, price=Decimal("100.10"), cost=Decimal("80")
            ),
            "pickle": Product(
                sku="PICKLE", name="Mango pickle", unit_id=unit.id, price=Decimal("250.00"), cost=Decimal("100")
            ),
            "milk": Product(
                sku="MILK", name="UHT milk 1 L", unit_id=unit.id, price=Decimal("60.00"), cost=Decimal("40")
            ),
            "plain": Product(sku="PLAIN", name="No HSN", unit_id=unit.id, price=Decimal("10.00"), cost=Decimal("5")),
        }
        house = Warehouse(code="W1", name="Pune FG", branch_id=pune.id)
        customers = {
            "ka": Customer(code="KA", name="Kaveri Agencies", shipping_state_code="29", billing_state_code="29"),
            "mh": Customer(code="MH", name="Deccan Foods", shipping_state_code="27", billing_state_code="27"),
            "ur": Customer(code="UR", name="Walk-in Bengaluru", shipping_address="Bengaluru", shipping_state_code="29"),
            "urmh": Customer(code="URMH", name="Counter sale"),
            "ut": Customer(code="UT", name="Chandigarh Stores", shipping_state_code="04"),
            "sez": Customer(code="SEZ", name="Hinjawadi SEZ Unit", shipping_state_code="27"),
            "exp": Customer(code="EXP", name="Dubai Importers"),
        }
        session.add_all([*products.values(), house, *customers.values()])
        session.flush()
        for product in products.values():
            stock.receive(product.id, house.id, Decimal(on_hand), unit_cost=product.cost)
        if gst:
            session.add(Registration(**check_registration({"branch_id": pune.id, "gstin": SUPPLIER_MH})))
            for key, hsn in (("ghee", "0405"), ("pickle", "2001"), ("milk", "04012000")):
                session.add(ProductTax(record_id=products[key].id, hsn_code=hsn))
            session.add_all(
                [
                    Party(record_id=customers["ka"].id, gstin=BUYER_KA),
                    Party(record_id=customers["mh"].id, gstin=BUYER_MH),
                    Party(record_id=customers["sez"].id, gstin=SEZ_MH, sez=True),
                    Party(record_id=customers["exp"].id, export=True),
                ]
            )
        session.commit()
        ids = {k: str(p.id) for k, p in products.items()}
        ids.update({k: str(c.id) for k, c in customers.items()})
        ids["w1"] = str(house.id)
        ids["branch"] = str(pune.id)
        return ids


def order(client: Any, w: dict[str, str], customer: str, *lines: tuple[str, str], **header: Any) -> dict[str, Any]:
    """Create and confirm an order of ``customer`` from W1; lines are (product key, quantity)."""
    body = {
        "customer_id": w[customer],
        "warehouse_id": w["w1"],
        "lines": [{"product_id": w[p], "quantity": q} for p, q in lines],
        **header,
    }
    made = client.post(ORDERS, json=body, expect=201).data
    return client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200).data


def invoiced(client: Any, w: dict[str, str], customer: str, *lines: tuple[str, str], **header: Any) -> dict[str, Any]:
    """Create, confirm, deliver and invoice an order; the invoice."""
    done = order(client, w, customer, *lines, **header)
    delivered = client.post(f"{ORDERS}/{done['id']}/deliver", json={"version": done["version"]}, expect=200).data
    return client.post(f"{ORDERS}/{done['id']}/invoice", json={"version": delivered["version"]}, expect=201).data


def heads(order_data: dict[str, Any]) -> dict[str, str]:
    """An order's taxes as {name: amount} (one line)."""
    return {t["name"]: t["amount"] for t in order_data["taxes"]}


def download(client: Any, path: str, params: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A download's status, headers and raw bytes (the JSON helpers decode text)."""
    return client.transport("GET", path, params, None, client.headers)
