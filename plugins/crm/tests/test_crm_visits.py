"""Field visits and follow-ups: GPS check-ins (API and the geolocation page), activities, the dashboard, demo data."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from udyog_crm.demo import load_demo
from udyog_crm.models import Activity, CheckIn, Customer, Deal, Quote

pytestmark = pytest.mark.udyog_plugins("crm")

CUSTOMERS = "/api/v1/crm/customers"
CHECKINS = "/api/v1/crm/checkins"
ACTIVITIES = "/api/v1/crm/activities"


def a_customer(client, code: str = "DIST-BLR") -> str:
    body = {"code": code, "name": "Kaveri Agencies", "billing_state_code": "29"}
    return client.post(CUSTOMERS, json=body, expect=201).data["id"]


def test_a_check_in_records_where_when_and_who(udyog_client, udyog_user):
    customer_id = a_customer(udyog_client)
    made = udyog_client.post(
        CHECKINS,
        json={"customer_id": customer_id, "latitude": "12.971599", "longitude": "77.594566", "accuracy_m": "8.5",
              "source": "gps"},
        expect=201,
    ).data  # fmt: skip
    assert (made["latitude"], made["longitude"], made["accuracy_m"]) == ("12.971599", "77.594566", "8.50")
    assert made["user_id"] == str(udyog_user.id) and made["checked_at"] is not None
    at = udyog_client.post(
        CHECKINS,
        json={
            "customer_id": customer_id,
            "latitude": "-33.8",
            "longitude": "-180",
            "checked_at": "2026-06-01T10:00:00Z",
        },
        expect=201,
    ).data
    assert at["checked_at"].startswith("2026-06-01T10:00:00") and at["source"] == "manual"
    listed = udyog_client.get(CHECKINS, params={"customer_id": customer_id}, expect=200).data
    assert [c["id"] for c in listed] == [made["id"], at["id"]]  # newest first


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"latitude": "90.000001"}, "latitude"),
        ({"latitude": "-91"}, "latitude"),
        ({"latitude": "12.1234567"}, "latitude"),
        ({"latitude": "north"}, "latitude"),
        ({"longitude": "180.5"}, "longitude"),
        ({"longitude": "-181"}, "longitude"),
        ({"accuracy_m": "-1"}, "accuracy_m"),
        ({"source": "guess"}, "source"),
        ({"checked_at": "yesterday"}, "checked_at"),
    ],
)
def test_check_ins_out_of_range_are_refused(udyog_client, values, field):
    body = {"customer_id": a_customer(udyog_client), "latitude": "12.97", "longitude": "77.59", **values}
    refused = udyog_client.post(CHECKINS, json=body, expect=422)
    assert set(refused.errors) == {field}


def test_a_check_in_needs_a_customer_and_coordinates(udyog_client, udyog_other_client):
    refused = udyog_client.post(CHECKINS, json={}, expect=422)
    assert set(refused.errors) == {"customer_id", "latitude", "longitude"}
    theirs = a_customer(udyog_other_client)
    refused = udyog_client.post(CHECKINS, json={"customer_id": theirs, "latitude": "1", "longitude": "1"}, expect=422)
    assert refused.errors == {"customer_id": ["no such customer"]}


def test_the_check_in_page_uses_the_shell_s_geolocation_and_takes_typed_coordinates(udyog_client, udyog_web_client):
    customer_id = a_customer(udyog_client)
    page = udyog_web_client.get("/crm/checkin")
    assert page.status_code == 200
    html = page.text
    for hidden in ("gps_latitude", "gps_longitude", "gps_accuracy_m"):
        assert f'type="hidden" name="{hidden}"' in html
    assert 'name="latitude"' in html and 'name="longitude"' in html and "Kaveri Agencies" in html
    assert '<script src="/core/static/geolocate.js">' in html and "data-geolocate" in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [] and " onclick=" not in html
    script = udyog_web_client.get("/core/static/geolocate.js")
    assert script.status_code == 200 and b"navigator.geolocation" in script.data

    typed = udyog_web_client.submit(
        "/crm/checkin", {"customer_id": customer_id, "latitude": "12.9716", "longitude": "77.5946", "note": "typed"}
    )
    assert typed.status_code == 303
    gps = udyog_web_client.submit(
        "/crm/checkin",
        {
            "customer_id": customer_id,
            "gps_latitude": "12.971601",
            "gps_longitude": "77.594601",
            "gps_accuracy_m": "15.00",
        },
    )
    assert gps.status_code == 303
    made = {c["note"] or "gps": c for c in udyog_client.get(CHECKINS, expect=200).data}
    assert (made["typed"]["source"], made["typed"]["latitude"]) == ("manual", "12.971600")
    assert (made["gps"]["source"], made["gps"]["accuracy_m"]) == ("gps", "15.00")

    refused = udyog_web_client.submit("/crm/checkin", {"customer_id": customer_id, "latitude": "95", "longitude": ""})
    assert refused.status_code == 422 and "is-invalid" in refused.text and 'value="95"' in refused.text
    assert len(udyog_client.get(CHECKINS, expect=200).data) == 2


@pytest.mark.udyog_user(roles=["Sales Executive"])
def test_an_executive_sees_only_own_check_ins_and_activities(udyog_client, udyog_client_factory, udyog_user_factory):
    manager = udyog_client_factory(udyog_user_factory(roles=["Sales Manager"], email="manager@acme.test"))
    own_customer = a_customer(udyog_client)
    udyog_client.post(CHECKINS, json={"customer_id": own_customer, "latitude": "1", "longitude": "2"}, expect=201)
    other_customer = a_customer(manager, "DIST-AMD")
    manager.post(CHECKINS, json={"customer_id": other_customer, "latitude": "3", "longitude": "4"}, expect=201)
    assert [c["latitude"] for c in udyog_client.get(CHECKINS, expect=200).data] == ["1.000000"]
    assert len(manager.get(CHECKINS, expect=200).data) == 2
    udyog_client.post(ACTIVITIES, json={"subject": "Own call", "kind": "call"}, expect=201)
    manager.post(ACTIVITIES, json={"subject": "Manager's task"}, expect=201)
    assert [a["subject"] for a in udyog_client.get(ACTIVITIES, expect=200).data] == ["Own call"]


def test_activities_are_done_and_show_as_follow_ups_due(udyog_client, udyog_web_client, udyog_user):
    today = dt.date.today()
    refused = udyog_client.post(ACTIVITIES, json={"subject": "", "kind": "fax", "due_on": "tomorrow"}, expect=422)
    assert set(refused.errors) == {"subject", "kind", "due_on"}
    due = udyog_client.post(
        ACTIVITIES, json={"subject": "Call Lakshmi about listing", "kind": "call", "due_on": str(today)}, expect=201
    ).data
    assert due["owner_id"] == str(udyog_user.id) and due["done_at"] is None
    udyog_client.post(
        ACTIVITIES, json={"subject": "Send samples next month", "due_on": str(today + dt.timedelta(days=30))}
    )
    udyog_client.post(ACTIVITIES, json={"subject": "Overdue e-mail", "kind": "email", "due_on": "2026-01-01"})
    udyog_client.post(ACTIVITIES, json={"subject": "Unassigned task", "owner_id": None, "due_on": "2026-01-02"})
    other = udyog_client.post(ACTIVITIES, json={"subject": "Someone else's call", "due_on": "2026-01-02"}).data
    udyog_client.patch(f"{ACTIVITIES}/{other['id']}", json={"version": 1, "owner_id": str(uuid.uuid4())}, expect=200)
    home = udyog_web_client.get("/").text
    assert "My follow-ups due" in home
    assert "Call: Call Lakshmi about listing" in home and "Email: Overdue e-mail" in home
    assert "Send samples next month" not in home and "Someone else" not in home
    assert "Task: Unassigned task" in home and "unassigned" in home
    done = udyog_client.patch(f"{ACTIVITIES}/{due['id']}", json={"version": 1, "done": True}, expect=200).data
    assert done["done"] and done["done_at"] is not None
    assert "Call Lakshmi about listing" not in udyog_web_client.get("/").text
    reopened = udyog_client.patch(f"{ACTIVITIES}/{due['id']}", json={"version": 2, "done": False}, expect=200).data
    assert reopened["done_at"] is None


def test_demo_data_loads_once(udyog_tenant):
    messages: list[str] = []
    with udyog_tenant.scope() as scope:
        load_demo(scope.session, messages.append)
        scope.session.commit()
        counts = {m: scope.session.scalar(select(func.count()).select_from(m)) for m in (Customer, Deal, Quote)}
        load_demo(scope.session, messages.append)
        scope.session.commit()
        again = {m: scope.session.scalar(select(func.count()).select_from(m)) for m in (Customer, Deal, Quote)}
        states = {c.billing_state_code for c in scope.session.scalars(select(Customer))}
        assert scope.session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert scope.session.scalar(select(func.count()).select_from(Activity)) == 4
    assert counts == again and counts[Customer] == 5 and counts[Deal] == 6 and counts[Quote] == 1
    assert states == {"27", "29", "24"} and any("quote QT/" in m for m in messages)


def test_every_crm_page_renders_with_the_demo_data(udyog_tenant, udyog_web_client, udyog_client):
    with udyog_tenant.scope() as scope:
        load_demo(scope.session, lambda message: None)
        scope.session.commit()
    for path in (
        "customers",
        "contacts",
        "leads",
        "stages",
        "deals",
        "quotes",
        "quote-lines",
        "activities",
        "checkins",
    ):
        listed = udyog_web_client.get(f"/crm/{path}")
        assert listed.status_code == 200, path
        assert udyog_web_client.get(f"/crm/{path}/new").status_code == 200, path
        first = udyog_client.get(f"/api/v1/crm/{path}", expect=200).data[0]
        detail = udyog_web_client.get(f"/crm/{path}/{first['id']}")
        assert detail.status_code == 200, path
    quote = udyog_client.get("/api/v1/crm/quotes", expect=200).data[0]
    page = udyog_web_client.get(f"/crm/quotes/{quote['id']}").text
    assert quote["number"] in page and "Mango pickle 500 g (carton of 24)" in page  # its lines, as related records
    pipeline = udyog_web_client.get("/crm/pipeline").text
    assert "Ahmedabad annual distribution contract" in pipeline and "Sabarmati Trading Co." in pipeline


def test_a_quote_and_a_deal_are_made_through_the_forms(udyog_client, udyog_web_client, udyog_tenant):
    customer_id = a_customer(udyog_client)
    answer = udyog_web_client.submit("/crm/quotes/new", {"customer_id": customer_id, "quote_date": "2026-07-01"})
    assert answer.status_code == 303
    stage = udyog_client.get("/api/v1/crm/stages", params={"outcome": "won"}, expect=200).data[0]
    answer = udyog_web_client.submit(
        "/crm/deals/new", {"title": "Form deal", "stage_id": stage["id"], "amount": "1000.00"}
    )
    assert answer.status_code == 303
    with udyog_tenant.scope(write=False) as scope:
        quote = scope.session.scalar(select(Quote))
        deal = scope.session.scalar(select(Deal))
    assert quote.number == "QT/2026-27/0001" and quote.total == 0
    assert deal.closed_at is not None


def test_only_a_check_ins_note_changes_afterwards(udyog_client):
    made = udyog_client.post(
        CHECKINS, json={"customer_id": a_customer(udyog_client), "latitude": "1", "longitude": "2"}, expect=201
    ).data
    refused = udyog_client.patch(f"{CHECKINS}/{made['id']}", json={"version": 1, "latitude": "3"}, expect=422)
    assert set(refused.errors) == {"latitude"}
    noted = udyog_client.patch(f"{CHECKINS}/{made['id']}", json={"version": 1, "note": "gate closed"}, expect=200).data
    assert (noted["note"], noted["latitude"], noted["version"]) == ("gate closed", "1.000000", 2)


def test_the_check_in_page_searches_customers_when_there_are_many(udyog_client, udyog_web_client, udyog_tenant):
    """Past MAX_CHOICES active customers the check-in form's select becomes the SDK's search picker."""
    from udyog_sdk.pickers import MAX_CHOICES

    with udyog_tenant.scope() as scope:
        scope.session.add_all(Customer(code=f"C-{i:03}", name=f"Retailer {i:03}") for i in range(MAX_CHOICES))
        scope.session.add(Customer(code="OLD", name="Closed Retailer", active=False))
        scope.session.commit()
    few = udyog_web_client.get("/crm/checkin").text
    assert 'id="customer_id" name="customer_id" required>' in few and "Retailer 000 (C-000)" in few
    assert "Closed Retailer" not in few and "data-reference-picker" not in few
    last = a_customer(udyog_client, "ZZ-LAST")
    many = udyog_web_client.get("/crm/checkin").text
    assert "data-reference-picker" in many and 'data-url="/crm/checkin/customers"' in many
    assert "reference-picker.js" in many and "geolocate.js" in many
    found = udyog_web_client.get("/crm/checkin/customers", query_string={"q": "kaveri"}).get_json()
    assert found == [{"id": last, "label": "Kaveri Agencies (ZZ-LAST)"}]
    assert udyog_web_client.get("/crm/checkin/customers", query_string={"q": "closed"}).get_json() == []
    # A refused check-in keeps the chosen customer (named for users without JavaScript).
    refused = udyog_web_client.submit("/crm/checkin", {"customer_id": last, "latitude": "95", "longitude": ""})
    assert (
        refused.status_code == 422
        and f'value="{last}"' in refused.text
        and "Now: Kaveri Agencies (ZZ-LAST)." in refused.text
    )
    done = udyog_web_client.submit("/crm/checkin", {"customer_id": last, "latitude": "12.9", "longitude": "77.5"})
    assert done.status_code == 303
    assert [c["customer_id"] for c in udyog_client.get(CHECKINS, expect=200).data] == [last]
