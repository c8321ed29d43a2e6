"""Demo data of the crm plugin: distributors of an Indian food manufacturer (``udyog demo``, ``make run``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_sdk.models import utcnow

from . import services
from .models import Activity, CheckIn, Contact, Customer, Deal, Lead, Stage

#: code, name, city address, state code, credit days, contact, phone.
CUSTOMERS = (
    ("DIST-PUN", "Deccan Foods Distributors", "Plot 14, Market Yard, Gultekdi, Pune 411037", "27", 30,
     "Sanjay Patil", "+91 20 2426 1188"),
    ("DIST-MUM", "Konkan Provisions LLP", "Gala 7, APMC Market, Vashi, Navi Mumbai 400703", "27", 21,
     "Farhan Shaikh", "+91 22 2788 4410"),
    ("DIST-BLR", "Kaveri Agencies", "No. 52, 3rd Cross, Yeshwanthpur, Bengaluru 560022", "29", 30,
     "Lakshmi Narayan", "+91 80 2337 5120"),
    ("DIST-AMD", "Sabarmati Trading Co.", "12 Kalupur Kothi Pole, Ahmedabad 380001", "24", 15,
     "Hiren Shah", "+91 79 2214 6630"),
    ("DIST-SRT", "Tapi Foods Pvt Ltd", "B-9, Udhna Udyog Nagar, Surat 394210", "24", 45,
     "Meena Desai", "+91 261 227 4455"),
)  # fmt: skip


def load_demo(session: Any, progress: Any) -> None:
    """Add the demo records unless they are there (checked by the first customer's code)."""
    services.seed_stages(session)
    if session.scalar(select(Customer.id).where(Customer.code == CUSTOMERS[0][0])) is not None:
        return
    today = dt.date.today()
    customers: dict[str, Customer] = {}
    for code, name, address, state, days, contact, phone in CUSTOMERS:
        customer = Customer(
            code=code,
            name=name,
            phone=phone,
            email=f"orders@{code.lower().replace('-', '')}.example",
            billing_address=address,
            billing_state_code=state,
            shipping_address=address,
            shipping_state_code=state,
            credit_days=days,
        )
        session.add(customer)
        session.flush()
        session.add(
            Contact(customer_id=customer.id, name=contact, designation="Proprietor", phone=phone, is_primary=True)
        )
        customers[code] = customer
    progress(f"crm: {len(CUSTOMERS)} distributors with contacts")

    leads = [
        Lead(name="Ravi Hegde", company="Malnad Super Mart, Shivamogga", state_code="29", source="Trade fair",
             status="qualified", phone="+91 8182 222 310"),
        Lead(name="Pooja Joshi", company="Nashik Fresh Retail", state_code="27", source="Website", status="new"),
        Lead(name="Kunal Mehta", company="Rajkot Kirana Network", state_code="24", source="Referral",
             status="contacted"),
    ]  # fmt: skip
    session.add_all(leads)
    session.flush()

    stage = {s.name: s for s in session.scalars(select(Stage))}
    deals = [
        ("Pune monsoon stock-up: pickles and papad", "DIST-PUN", "Proposal", "485000"),
        ("Navi Mumbai festive hampers", "DIST-MUM", "Negotiation", "920000"),
        ("Bengaluru ready-to-eat range listing", "DIST-BLR", "Qualification", "310000"),
        ("Ahmedabad annual distribution contract", "DIST-AMD", "Won", "1450000"),
        ("Surat snack line trial", "DIST-SRT", "Lost", "120000"),
        ("Shivamogga first order", None, "Prospecting", "75000"),
    ]
    for title, code, stage_name, amount in deals:
        target = stage.get(stage_name) or next(iter(stage.values()))
        deal = Deal(
            title=title,
            customer_id=customers[code].id if code else None,
            lead_id=leads[0].id if code is None else None,
            stage_id=target.id,
            amount=Decimal(amount),
            expected_close=today + dt.timedelta(days=30),
        )
        session.add(deal)
        session.flush()
        services.apply_stage(deal, target)
    progress(f"crm: {len(deals)} deals across the pipeline")

    quote = services.create_quote(
        {
            "customer_id": customers["DIST-PUN"].id,
            "quote_date": today,
            "valid_until": today + dt.timedelta(days=15),
            "status": "sent",
            "notes": "Prices ex-works Pune; GST extra.",
        },
        [
            {"description": "Mango pickle 500 g (carton of 24)", "quantity": Decimal("40"),
             "unit_price": Decimal("2160.00"), "discount_pct": Decimal("5")},
            {"description": "Lime pickle 500 g (carton of 24)", "quantity": Decimal("25"),
             "unit_price": Decimal("1980.00"), "discount_pct": Decimal("5")},
            {"description": "Urad papad 200 g (carton of 50)", "quantity": Decimal("30"),
             "unit_price": Decimal("2250.00"), "discount_pct": Decimal("0")},
        ],
    )  # fmt: skip
    progress(f"crm: quote {quote.number}")

    session.add(
        CheckIn(
            customer_id=customers["DIST-PUN"].id,
            latitude=Decimal("18.488900"),
            longitude=Decimal("73.871600"),
            accuracy_m=Decimal("12.00"),
            source="gps",
            checked_at=utcnow(),
            note="Met Sanjay: wants the monsoon scheme by Friday.",
        )
    )
    session.add_all(
        [
            Activity(kind="call", subject="Call Sanjay Patil about the monsoon scheme", due_on=today,
                     customer_id=customers["DIST-PUN"].id),
            Activity(kind="meeting", subject="Tasting at Kaveri Agencies", due_on=today + dt.timedelta(days=3),
                     customer_id=customers["DIST-BLR"].id),
            Activity(kind="email", subject="Send price list to Nashik Fresh Retail",
                     due_on=today - dt.timedelta(days=1), lead_id=leads[1].id),
            Activity(kind="task", subject="Collect signed contract from Sabarmati Trading", done=True,
                     done_at=utcnow(), customer_id=customers["DIST-AMD"].id),
        ]
    )  # fmt: skip
    session.flush()
    progress("crm: a check-in and follow-ups")
