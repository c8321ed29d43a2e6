"""The ledger plugin's own tests: only the fixtures of the udyog pytest plugin and the plugin's package."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.udyog_plugins("ledger")

VOUCHERS = "/api/v1/ledger/vouchers"


def voucher(party: str = "Sunrise Foods", amount: str = "1250.50", issued_on: str = "2026-04-01") -> dict[str, str]:
    return {"party": party, "amount": amount, "issued_on": issued_on}


def test_vouchers_are_numbered_from_the_series_in_order(udyog_client):
    first = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    second = udyog_client.post(VOUCHERS, json=voucher(party="Globe Traders"), expect=201).data
    assert (first["number"], second["number"]) == ("V-0001", "V-0002")
    assert first["amount"] == "1250.50" and first["cancelled"] is False and first["version"] == 1
    listed = udyog_client.get(VOUCHERS, params={"sort": "number"}, expect=200)
    assert [v["number"] for v in listed.data] == ["V-0001", "V-0002"]
    assert listed.pagination["has_more"] is False


def test_amounts_are_exact_decimals(udyog_client):
    made = udyog_client.post(VOUCHERS, json=voucher(amount="0.30"), expect=201).data
    assert udyog_client.get(f"{VOUCHERS}/{made['id']}", expect=200).data["amount"] == "0.30"


def test_bad_input_names_each_field(udyog_client):
    answer = udyog_client.post(VOUCHERS, json={"party": "", "amount": "-1", "issued_on": "yesterday"}, expect=422)
    assert answer.success is False
    assert set(answer.errors) == {"party", "amount", "issued_on"}
    assert udyog_client.get(VOUCHERS, expect=200).data == []  # nothing half-written


def test_vouchers_are_cancelled_never_deleted(udyog_client):
    made = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    refused = udyog_client.delete(f"{VOUCHERS}/{made['id']}", expect=409)
    assert "legal document" in refused.message
    cancelled = udyog_client.post(f"{VOUCHERS}/{made['id']}/cancel", json={"version": 1}, expect=200).data
    assert cancelled["cancelled"] is True
    udyog_client.patch(f"{VOUCHERS}/{made['id']}", json={"version": cancelled["version"], "party": "X"}, expect=409)
    udyog_client.post(f"{VOUCHERS}/{made['id']}/cancel", json={"version": cancelled["version"]}, expect=409)


def test_a_stale_version_is_a_conflict(udyog_client):
    made = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    udyog_client.patch(f"{VOUCHERS}/{made['id']}", json={"version": 1, "party": "Renamed"}, expect=200)
    udyog_client.patch(f"{VOUCHERS}/{made['id']}", json={"version": 1, "party": "Lost update"}, expect=409)


@pytest.mark.udyog_user(permissions=["ledger.voucher.read"])
def test_a_reader_may_list_but_not_create_or_cancel(udyog_client, udyog_user_factory, udyog_client_factory):
    owner = udyog_client_factory(udyog_user_factory())
    made = owner.post(VOUCHERS, json=voucher(), expect=201).data
    assert [v["id"] for v in udyog_client.get(VOUCHERS, expect=200).data] == [made["id"]]
    refused = udyog_client.post(VOUCHERS, json=voucher(), expect=403)
    assert refused.errors == {"permission": ["ledger.voucher.create"]}
    udyog_client.post(f"{VOUCHERS}/{made['id']}/cancel", json={"version": 1}, expect=403)


def test_another_tenant_sees_none_of_the_vouchers(udyog_client, udyog_other_client):
    made = udyog_client.post(VOUCHERS, json=voucher(), expect=201).data
    assert udyog_other_client.get(VOUCHERS, expect=200).data == []
    udyog_other_client.get(f"{VOUCHERS}/{made['id']}", expect=404)
    udyog_other_client.post(f"{VOUCHERS}/{made['id']}/cancel", json={"version": 1}, expect=404)
    # The other tenant's series starts at its own first number.
    assert udyog_other_client.post(VOUCHERS, json=voucher(), expect=201).data["number"] == "V-0001"


def test_the_api_over_real_http(udyog_live_client):
    made = udyog_live_client.post(VOUCHERS, json=voucher(), expect=201)
    assert made.headers["Content-Type"].startswith("application/json")
    assert udyog_live_client.get(f"{VOUCHERS}/{made.data['id']}", expect=200).data["party"] == "Sunrise Foods"
    assert udyog_live_client.post(VOUCHERS, json={}, expect=422).errors.keys() >= {"party", "amount", "issued_on"}


def test_the_pages_and_the_menu_entry(udyog_web_client, udyog_client):
    udyog_client.post(VOUCHERS, json=voucher(party="Page Party Pvt Ltd"), expect=201)
    home = udyog_web_client.get("/")
    assert home.status_code == 200 and 'href="/ledger/vouchers"' in home.text
    listing = udyog_web_client.get("/ledger/vouchers")
    assert listing.status_code == 200 and "Page Party Pvt Ltd" in listing.text


def test_a_voucher_made_through_a_form_is_numbered(udyog_web_client, udyog_client):
    answer = udyog_web_client.submit("/ledger/vouchers/new", voucher(party="Form Party"))
    assert answer.status_code == 303, answer.text
    made = udyog_client.get(VOUCHERS, expect=200).data
    assert [(v["party"], v["number"]) for v in made] == [("Form Party", "V-0001")]
    assert answer.headers["Location"] == f"/ledger/vouchers/{made[0]['id']}"
