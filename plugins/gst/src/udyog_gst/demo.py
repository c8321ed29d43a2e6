"""Demo data of GST: the branches' GSTINs, customers' GSTINs, HSN codes on the products, invoiced orders.

Runs after sales' demo data. With GST enabled, sales' demo confirmations are
refused (no GSTIN, no HSN codes yet) and its orders stay drafts; once the
registrations and codes are in, this confirms the second and delivers and
invoices the third, as sales' demo meant to. Idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory.models import Product
from udyog_sales import services as sales
from udyog_sales.models import Order
from udyog_sdk import UdyogError, db_session

from .models import Party, ProductTax, Registration
from .services import branch_model, check_registration, seed_rates

LEGAL_NAME = "Sunrise Foods Private Limited"
#: branch code → GSTIN (one PAN, one registration per state).
REGISTRATIONS = {"PUNE": "27AAKCS4821M1ZW", "BLR": "29AAKCS4821M1ZS"}
#: customer code → (GSTIN or None for unregistered).
PARTIES = {
    "DIST-BLR": "29AAFFK7263Q1ZH",  # Karnataka distributor
    "DIST-PUN": "27AADFD5512K1ZI",  # Maharashtra distributor
    "DIST-AMD": "24AAHCS3390L1Z1",  # Gujarat distributor
    "DIST-MUM": None,  # unregistered
}
#: sku → HSN code.
HSN = {
    "PKL-MANGO-500": "2001",
    "PKL-LIME-500": "2001",
    "SPC-TURMERIC": "0910",
    "SPC-CHILLI": "0904",
    "PPD-URAD-200": "2106",
    "GHE-COW-1L": "0405",
}


def load(progress: Callable[[str], None]) -> None:
    """Load the demo registrations, parties, HSN codes and invoice sales' draft demo orders."""
    session = db_session()
    seed_rates()
    branch = branch_model()
    for code, gstin in REGISTRATIONS.items():
        found = session.scalar(select(branch).where(branch.code == code))
        if found is None or session.scalar(select(Registration.id).where(Registration.branch_id == found.id)):
            continue
        values = check_registration({"branch_id": found.id, "gstin": gstin})
        session.add(Registration(**values, legal_name=LEGAL_NAME, trade_name="Sunrise Foods"))
    session.flush()
    customers = {c.code: c for c in session.scalars(select(Customer).where(Customer.code.in_(list(PARTIES))))}
    for code, gstin in PARTIES.items():
        customer = customers.get(code)
        if customer is None or session.scalar(select(Party.id).where(Party.record_id == customer.id)):
            continue
        session.add(Party(record_id=customer.id, gstin=gstin, sez=False, export=False))
    products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(list(HSN))))}
    for sku, hsn in HSN.items():
        product = products.get(sku)
        if product is None or session.scalar(select(ProductTax.id).where(ProductTax.record_id == product.id)):
            continue
        session.add(ProductTax(record_id=product.id, hsn_code=hsn))
    session.flush()
    progress(f"gst: {len(REGISTRATIONS)} registrations, {len(PARTIES)} customers, {len(HSN)} HSN codes")
    drafts = list(session.scalars(select(Order).where(Order.state == "draft").order_by(Order.number).limit(3)))
    # As sales' demo meant them: the second order confirmed, the third delivered and invoiced.
    for order, invoice_it in zip(drafts[1:], (False, True), strict=False):
        try:
            with session.begin_nested():
                sales.confirm_order(order, order.version)
                session.flush()
                if invoice_it:
                    sales.deliver_order(order, order.version)
                    session.flush()
                    invoice = sales.invoice_order(order, order.version)
        except UdyogError as exc:
            progress(f"gst: demo order {order.number} left as it was ({exc.message})")
        else:
            what = f"invoiced as {invoice.number} (₹{invoice.total})" if invoice_it else f"confirmed (₹{order.total})"
            progress(f"gst: demo order {order.number} {what}")
    session.flush()
