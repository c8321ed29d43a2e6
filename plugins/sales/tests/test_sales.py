"""Tests of the plugin, with the fixtures of Udyog's pytest plugin (docs/testing-plugins.md).

Each test gets a fresh, migrated database (SQLite, and PostgreSQL when
UDYOG_TEST_DATABASE_URL is set) with the plugin enabled for tenant ``acme``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from udyog_sales.models import Item
from udyog_sales.services import create_item

from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("sales")

ITEMS = "/api/v1/sales/items"


def item(code: str = "A-1", **values: object) -> dict[str, object]:
    return {"code": code, "name": "Mango pulp 1 kg", "quantity": 5, "unit_price": "85.50", **values}


def test_items_are_created_listed_updated_and_deleted(udyog_client):
    made = udyog_client.post(ITEMS, json=item(), expect=201).data
    assert made["code"] == "A-1" and made["unit_price"] == "85.50" and made["version"] == 1
    udyog_client.post(ITEMS, json=item("B-2", name="Lime pickle 500 g"), expect=201)
    listed = udyog_client.get(ITEMS, params={"sort": "-code"}, expect=200)
    assert [i["code"] for i in listed.data] == ["B-2", "A-1"]
    changed = udyog_client.patch(f"{ITEMS}/{made['id']}", json={"version": 1, "quantity": 7}, expect=200).data
    assert changed["quantity"] == 7 and changed["version"] == 2
    udyog_client.patch(f"{ITEMS}/{made['id']}", json={"version": 1, "quantity": 9}, expect=409)  # stale
    udyog_client.delete(f"{ITEMS}/{made['id']}", expect=200)
    udyog_client.get(f"{ITEMS}/{made['id']}", expect=404)


def test_bad_input_is_refused_field_by_field(udyog_client):
    refused = udyog_client.post(ITEMS, json={"code": "", "quantity": -1, "unit_price": "lots"}, expect=422)
    assert set(refused.errors) == {"code", "name", "quantity", "unit_price"}
    assert udyog_client.get(ITEMS, expect=200).data == []


def test_a_code_is_taken_once(udyog_client):
    udyog_client.post(ITEMS, json=item(), expect=201)
    refused = udyog_client.post(ITEMS, json=item(), expect=409)
    assert refused.errors == {"code": ["an item 'A-1' already exists"]}


@pytest.mark.udyog_user(roles=["Sales Viewer"])
def test_a_viewer_reads_but_cannot_change(udyog_client):
    udyog_client.get(ITEMS, expect=200)
    refused = udyog_client.post(ITEMS, json=item(), expect=403)
    assert refused.errors == {"permission": ["sales.item.create"]}


def test_another_tenant_sees_none_of_the_items(udyog_client, udyog_other_client):
    made = udyog_client.post(ITEMS, json=item(), expect=201).data
    assert udyog_other_client.get(ITEMS, expect=200).data == []
    udyog_other_client.get(f"{ITEMS}/{made['id']}", expect=404)
    udyog_other_client.delete(f"{ITEMS}/{made['id']}", expect=404)
    udyog_other_client.post(ITEMS, json=item(), expect=201)  # the same code in another tenant is fine


def test_the_service_works_in_a_tenant_scope(udyog_tenant):
    with udyog_tenant.scope() as scope:
        create_item({"code": "S-1", "name": "Salt", "quantity": 1, "unit_price": 10, "notes": ""})
        scope.session.commit()
        with pytest.raises(UdyogError) as taken:
            create_item({"code": "S-1", "name": "Salt again", "unit_price": 10})
        assert taken.value.status == 409
    with udyog_tenant.scope(write=False) as scope:
        assert scope.session.scalars(select(Item.code)).all() == ["S-1"]


def test_the_items_page_is_in_the_menu(udyog_web_client, udyog_client):
    udyog_client.post(ITEMS, json=item(name="Shown on the page"), expect=201)
    assert 'href="/sales/items"' in udyog_web_client.get("/").text
    page = udyog_web_client.get("/sales/items")
    assert page.status_code == 200 and "Shown on the page" in page.text


def test_the_api_over_real_http(udyog_live_client):
    made = udyog_live_client.post(ITEMS, json=item(), expect=201).data
    assert udyog_live_client.get(f"{ITEMS}/{made['id']}", expect=200).data["name"] == "Mango pulp 1 kg"
