"""Customers, contacts, leads and stages: CRUD, validation, tenant isolation, record rules, the published service."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from udyog_crm.models import Customer, Stage
from udyog_crm.services import DEFAULT_STAGES, get_customer
from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("crm")

CUSTOMERS = "/api/v1/crm/customers"
CONTACTS = "/api/v1/crm/contacts"
LEADS = "/api/v1/crm/leads"
STAGES = "/api/v1/crm/stages"


def customer(code: str = "DIST-PUN", **values: object) -> dict[str, object]:
    return {
        "code": code,
        "name": "Deccan Foods Distributors",
        "phone": "+91 20 2426 1188",
        "email": "orders@deccan.example",
        "billing_address": "Market Yard, Pune",
        "billing_state_code": "27",
        "shipping_state_code": "27",
        "credit_days": 30,
        **values,
    }


def test_customers_are_created_listed_changed_and_deleted(udyog_client, udyog_user):
    made = udyog_client.post(CUSTOMERS, json=customer(), expect=201).data
    assert (made["billing_state_code"], made["credit_days"], made["active"]) == ("27", 30, True)
    assert made["owner_id"] == str(udyog_user.id) and made["version"] == 1  # the creating user owns it
    udyog_client.post(CUSTOMERS, json=customer("DIST-BLR", name="Kaveri Agencies", billing_state_code="29"), expect=201)
    assert [c["code"] for c in udyog_client.get(CUSTOMERS, params={"billing_state_code": "29"}, expect=200).data] == [
        "DIST-BLR"
    ]
    assert [c["name"] for c in udyog_client.get(CUSTOMERS, params={"q": "kaveri"}, expect=200).data] == [
        "Kaveri Agencies"
    ]
    changed = udyog_client.patch(f"{CUSTOMERS}/{made['id']}", json={"version": 1, "credit_days": 45}, expect=200).data
    assert changed["credit_days"] == 45 and changed["version"] == 2
    udyog_client.patch(f"{CUSTOMERS}/{made['id']}", json={"version": 1, "credit_days": 60}, expect=409)
    udyog_client.delete(f"{CUSTOMERS}/{made['id']}", expect=200)
    udyog_client.get(f"{CUSTOMERS}/{made['id']}", expect=404)


def test_bad_customers_are_refused_field_by_field(udyog_client):
    refused = udyog_client.post(
        CUSTOMERS,
        json={
            "code": "",
            "email": "not-an-email",
            "phone": "call me",
            "billing_state_code": "7",
            "shipping_state_code": "99",
            "credit_days": -1,
            "owner_id": "nobody",
            "active": "perhaps",
        },
        expect=422,
    )
    assert set(refused.errors) == {
        "code",
        "name",
        "email",
        "phone",
        "billing_state_code",
        "shipping_state_code",
        "credit_days",
        "owner_id",
        "active",
    }
    assert "GST state code" in refused.errors["billing_state_code"][0]
    udyog_client.post(CUSTOMERS, json=customer(code="X" * 33), expect=422)
    assert udyog_client.get(CUSTOMERS, expect=200).data == []


def test_a_customer_code_is_taken_once_per_tenant(udyog_client, udyog_other_client):
    udyog_client.post(CUSTOMERS, json=customer(), expect=201)
    refused = udyog_client.post(CUSTOMERS, json=customer(), expect=409)
    assert refused.errors == {"code": ["a customer 'DIST-PUN' already exists"]}
    udyog_other_client.post(CUSTOMERS, json=customer(), expect=201)


def test_another_tenant_sees_none_of_the_customers_or_contacts(udyog_client, udyog_other_client):
    made = udyog_client.post(CUSTOMERS, json=customer(), expect=201).data
    contact = udyog_client.post(CONTACTS, json={"customer_id": made["id"], "name": "Sanjay Patil"}, expect=201).data
    assert udyog_other_client.get(CUSTOMERS, expect=200).data == []
    udyog_other_client.get(f"{CUSTOMERS}/{made['id']}", expect=404)
    udyog_other_client.get(f"{CONTACTS}/{contact['id']}", expect=404)
    refused = udyog_other_client.post(CONTACTS, json={"customer_id": made["id"], "name": "Intruder"}, expect=422)
    assert refused.errors == {"customer_id": ["no such customer"]}


def test_contacts_and_leads_validate_their_fields(udyog_client):
    made = udyog_client.post(CUSTOMERS, json=customer(), expect=201).data
    refused = udyog_client.post(CONTACTS, json={"customer_id": made["id"], "name": "", "email": "x"}, expect=422)
    assert set(refused.errors) == {"name", "email"}
    udyog_client.post(CONTACTS, json={"customer_id": made["id"], "name": "Sanjay", "is_primary": True}, expect=201)
    # a customer with contacts is not deleted from under them
    udyog_client.delete(f"{CUSTOMERS}/{made['id']}", expect=409)

    refused = udyog_client.post(LEADS, json={"name": "", "status": "hot", "state_code": "AB"}, expect=422)
    assert set(refused.errors) == {"name", "status", "state_code"}
    lead = udyog_client.post(LEADS, json={"name": "Pooja Joshi", "company": "Nashik Fresh", "state_code": "27"}).data
    assert lead["status"] == "new"


def test_stages_are_seeded_and_configurable(udyog_client, udyog_tenant):
    listed = udyog_client.get(STAGES, expect=200).data
    assert [(s["name"], s["probability"], s["outcome"]) for s in listed] == [
        (name, probability, outcome) for name, _seq, probability, outcome in DEFAULT_STAGES
    ]
    refused = udyog_client.post(STAGES, json={"name": "", "probability": 101, "outcome": "maybe"}, expect=422)
    assert set(refused.errors) == {"name", "probability", "outcome"}
    udyog_client.post(STAGES, json={"name": "Won", "probability": 100}, expect=409)
    udyog_client.post(STAGES, json={"name": "Sampling", "sequence": 25, "probability": 35}, expect=201)
    with udyog_tenant.scope(write=False) as scope:
        assert len(scope.session.scalars(select(Stage)).all()) == len(DEFAULT_STAGES) + 1


def test_get_customer_is_the_published_lookup(udyog_client, udyog_tenant):
    made = udyog_client.post(CUSTOMERS, json=customer(), expect=201).data
    with udyog_tenant.scope(write=False):
        assert get_customer(uuid.UUID(made["id"])).code == "DIST-PUN"
        with pytest.raises(UdyogError) as missing:
            get_customer(uuid.uuid4())
    assert missing.value.status == 422 and missing.value.errors == {"customer_id": ["no such customer"]}


def test_a_sales_executive_sees_only_own_records(udyog_client, udyog_user_factory, udyog_client_factory):
    executive = udyog_user_factory(roles=["Sales Executive"], email="exec@acme.test")
    as_executive = udyog_client_factory(executive)
    theirs = udyog_client.post(CUSTOMERS, json=customer(owner_id=str(executive.id)), expect=201).data
    mine = udyog_client.post(CUSTOMERS, json=customer("DIST-MUM", name="Konkan Provisions"), expect=201).data
    created = as_executive.post(CUSTOMERS, json=customer("DIST-AMD", name="Sabarmati Trading"), expect=201).data
    assert created["owner_id"] == str(executive.id)
    seen = {c["code"] for c in as_executive.get(CUSTOMERS, expect=200).data}
    assert seen == {"DIST-PUN", "DIST-AMD"}
    as_executive.get(f"{CUSTOMERS}/{mine['id']}", expect=404)
    as_executive.patch(f"{CUSTOMERS}/{mine['id']}", json={"version": 1, "credit_days": 1}, expect=404)
    as_executive.get(f"{CUSTOMERS}/{theirs['id']}", expect=200)
    # contacts of a hidden customer cannot be attached by the executive
    refused = as_executive.post(CONTACTS, json={"customer_id": mine["id"], "name": "Farhan"}, expect=422)
    assert refused.errors == {"customer_id": ["no such customer"]}
    udyog_client.post(CONTACTS, json={"customer_id": mine["id"], "name": "Farhan"}, expect=201)
    as_executive.post(CONTACTS, json={"customer_id": theirs["id"], "name": "Sanjay"}, expect=201)
    assert [c["name"] for c in as_executive.get(CONTACTS, expect=200).data] == ["Sanjay"]
    assert len(udyog_client.get(CONTACTS, expect=200).data) == 2
    # leads likewise: own only; and an executive may not delete
    udyog_client.post(LEADS, json={"name": "Someone else's lead"}, expect=201)
    as_executive.post(LEADS, json={"name": "Own lead"}, expect=201)
    assert [lead["name"] for lead in as_executive.get(LEADS, expect=200).data] == ["Own lead"]
    refused = as_executive.delete(f"{CUSTOMERS}/{theirs['id']}", expect=403)
    assert refused.errors == {"permission": ["crm.customer.delete"]}
    assert {c["code"] for c in udyog_client.get(CUSTOMERS, expect=200).data} == {"DIST-PUN", "DIST-MUM", "DIST-AMD"}


def test_the_customer_pages_and_menu(udyog_client, udyog_web_client, udyog_tenant):
    udyog_client.post(CUSTOMERS, json=customer(name="Shown on the page"), expect=201)
    home = udyog_web_client.get("/").text
    for url in ("/crm/customers", "/crm/pipeline", "/crm/quotes", "/crm/checkin"):
        assert f'href="{url}"' in home
    page = udyog_web_client.get("/crm/customers")
    assert page.status_code == 200 and "Shown on the page" in page.text
    answer = udyog_web_client.submit(
        "/crm/customers/new", {"code": "FORM-1", "name": "From the form", "credit_days": "7"}
    )
    assert answer.status_code == 303
    with udyog_tenant.scope(write=False) as scope:
        made = scope.session.scalar(select(Customer).where(Customer.code == "FORM-1"))
        assert made is not None and made.credit_days == 7
