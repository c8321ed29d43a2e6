"""Tests of the warranty plugin, with the fixtures of Udyog's pytest plugin (docs/testing-plugins.md).

Each test gets a fresh, migrated database (SQLite, and PostgreSQL when
UDYOG_TEST_DATABASE_URL is set) with the plugin, and the plugins it requires
(ledger, notes), enabled for tenant ``acme``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from udyog_warranty.models import Card, VoucherTerm
from udyog_warranty.services import add_months, create_card, ends_on

from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("warranty")

CARDS = "/api/v1/warranty/cards"
VOUCHERS = "/api/v1/ledger/vouchers"
NOTES = "/api/v1/notes/notes"
NOTEBOOKS = "/api/v1/notes/notebooks"


def card(serial_no: str = "SN-1001", **values: object) -> dict[str, object]:
    return {
        "serial_no": serial_no,
        "product": "Mixer grinder 750 W",
        "customer": "Asha Traders",
        "starts_on": "2026-01-31",
        **values,
    }


def voucher(**values: object) -> dict[str, object]:
    return {"party": "Asha Traders", "amount": "4999.00", "issued_on": "2026-01-31", **values}


def note(client, title: str) -> object:
    book = client.post(NOTEBOOKS, json={"title": f"Desk: {title}"}, expect=201).data
    return client.post(NOTES, json={"notebook_id": book["id"], "title": title, "body": "it hums"})


def test_months_are_calendar_months_and_the_end_is_the_day_before():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert ends_on(dt.date(2026, 1, 31), 12) == dt.date(2027, 1, 30)
    assert ends_on(dt.date(2026, 3, 1), 1) == dt.date(2026, 3, 31)


def test_cards_are_registered_listed_changed_and_deleted(udyog_client):
    made = udyog_client.post(CARDS, json=card(), expect=201).data
    assert (made["months"], made["ends_on"], made["version"]) == (12, "2027-01-30", 1)
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
        CARDS, json={"serial_no": "no spaces", "starts_on": "someday", "months": 0, "voucher_id": "x"}, expect=422
    )
    assert set(refused.errors) == {"serial_no", "product", "customer", "starts_on", "months", "voucher_id"}
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


def test_the_term_comes_from_the_sales_vouchers_contributed_field(udyog_client, udyog_tenant):
    sold = udyog_client.post(VOUCHERS, json=voucher(warranty_months=24), expect=201).data
    assert sold["warranty_months"] == 24  # the ledger's API shows the field this plugin adds
    assert udyog_client.get(f"{VOUCHERS}/{sold['id']}", expect=200).data["warranty_months"] == 24
    refused = udyog_client.post(VOUCHERS, json=voucher(warranty_months=0), expect=422)
    assert list(refused.errors) == ["warranty_months"]
    made = udyog_client.post(CARDS, json=card(voucher_id=sold["id"]), expect=201).data
    assert (made["months"], made["ends_on"]) == (24, "2028-01-30")
    plain = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    assert plain["warranty_months"] is None
    assert udyog_client.post(CARDS, json=card("SN-2", voucher_id=plain["id"]), expect=201).data["months"] == 12
    filtered = udyog_client.get(VOUCHERS, params={"warranty_months": 24}, expect=200).data
    assert [v["id"] for v in filtered] == [sold["id"]]
    with udyog_tenant.scope(write=False) as scope:  # stored in this plugin's side table, not the ledger's
        assert scope.session.scalars(select(VoucherTerm.months)).all() == [24]


def test_a_card_names_only_a_voucher_of_its_own_tenant(udyog_client, udyog_other_client):
    theirs = udyog_other_client.post(VOUCHERS, json=voucher(), expect=201).data
    refused = udyog_client.post(CARDS, json=card(voucher_id=theirs["id"]), expect=422)
    assert refused.errors == {"voucher_id": ["no such voucher"]}


@pytest.mark.udyog_plugins("ledger")
def test_without_the_plugin_vouchers_have_no_warranty_field(udyog_client):
    made = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    assert "warranty_months" not in made
    assert udyog_client.post(VOUCHERS, json=voucher(warranty_months=12), expect=422).errors == {
        "warranty_months": ["Unknown field."]
    }
    udyog_client.get(CARDS, expect=404)


def test_claim_notes_must_name_a_card_under_warranty(udyog_client):
    refused = note(udyog_client, "Claim SN-404: motor burnt")
    assert refused.status == 422 and refused.errors == {"title": ["no warranty card for serial number 'SN-404'"]}
    udyog_client.post(CARDS, json=card("SN-OLD", starts_on="2020-01-01", months=12), expect=201)
    refused = note(udyog_client, "claim SN-OLD: lid cracked")
    assert refused.errors == {"title": ["the warranty of SN-OLD ended on 2020-12-31"]}
    udyog_client.post(CARDS, json=card(starts_on=dt.date.today().isoformat()), expect=201)
    assert note(udyog_client, "Claim SN-1001: jar leaks").status == 201
    assert note(udyog_client, "Service visit, no claim").status == 201  # not a claim: not checked


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
    form = udyog_web_client.get("/ledger/vouchers/new")
    assert 'name="warranty_months"' in form.text  # the contributed field is on the ledger's form


@pytest.mark.udyog_user(permissions=["ledger.voucher.read"])
def test_the_expiring_page_needs_the_read_permission(udyog_web_client):
    assert udyog_web_client.get("/warranty/expiring").status_code == 403


def test_the_api_over_real_http(udyog_live_client):
    made = udyog_live_client.post(CARDS, json=card(), expect=201).data
    assert udyog_live_client.get(f"{CARDS}/{made['id']}", expect=200).data["customer"] == "Asha Traders"
