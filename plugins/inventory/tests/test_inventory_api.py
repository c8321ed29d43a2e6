"""The inventory's REST API and pages: resources, movements, ledger, balances, valuation, permissions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import udyog_inventory

pytestmark = pytest.mark.udyog_plugins("inventory")

API = "/api/v1/inventory"


def setup_world(client, *, track_lots: bool = False, reorder_point: str | None = None) -> dict[str, str]:
    branch = client.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune"}, expect=201).data["id"]
    pcs = client.post(f"{API}/units", json={"code": "pcs", "name": "Piece"}, expect=201).data["id"]
    box = client.post(f"{API}/units", json={"code": "box12", "name": "Box of 12"}, expect=201).data["id"]
    client.post(f"{API}/conversions", json={"from_unit_id": box, "to_unit_id": pcs, "factor": "12"}, expect=201)
    category = client.post(f"{API}/categories", json={"name": "Pickles"}, expect=201).data["id"]
    product = client.post(
        f"{API}/products",
        json={
            "sku": "PKL-1",
            "name": "Mango pickle 500 g",
            "unit_id": pcs,
            "category_id": category,
            "price": "120.00",
            "cost": "70.00",
            "track_lots": track_lots,
            "reorder_point": reorder_point,
        },
        expect=201,
    ).data["id"]
    w1 = client.post(f"{API}/warehouses", json={"code": "W1", "name": "Pune FG", "branch_id": branch}, expect=201)
    w2 = client.post(f"{API}/warehouses", json={"code": "W2", "name": "Pune RM", "branch_id": branch}, expect=201)
    return {"product": product, "pcs": pcs, "box": box, "w1": w1.data["id"], "w2": w2.data["id"], "branch": branch}


def test_movements_through_the_api_and_the_ledger_they_leave(udyog_client):
    w = setup_world(udyog_client)
    got = udyog_client.post(
        f"{API}/receipts",
        json={
            "product_id": w["product"],
            "warehouse_id": w["w1"],
            "quantity": "2",
            "unit_id": w["box"],
            "unit_cost": "70",
        },
        expect=201,
    ).data
    assert (got["kind"], got["quantity"], got["value"]) == ("receipt", "24.000", "1680.00")
    issued = udyog_client.post(
        f"{API}/issues", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "4"}, expect=201
    ).data
    assert (issued["kind"], issued["on_hand_delta"], issued["value"]) == ("issue", "-4.000", "280.00")
    moved = udyog_client.post(
        f"{API}/transfers",
        json={"product_id": w["product"], "from_warehouse_id": w["w1"], "to_warehouse_id": w["w2"], "quantity": "5"},
        expect=201,
    ).data
    assert (moved["out"]["kind"], moved["in"]["kind"]) == ("transfer_out", "transfer_in")
    adjusted = udyog_client.post(
        f"{API}/adjustments",
        json={"product_id": w["product"], "warehouse_id": w["w2"], "quantity_delta": "-1", "note": "broken"},
        expect=201,
    ).data
    assert adjusted["on_hand_delta"] == "-1.000"
    balances = udyog_client.get(f"{API}/balances", params={"product_id": w["product"]}, expect=200).data
    assert {(b["warehouse_id"], b["on_hand"], b["available"]) for b in balances} == {
        (w["w1"], "15.000", "15.000"),
        (w["w2"], "4.000", "4.000"),
    }
    ledger = udyog_client.get(f"{API}/moves", params={"limit": 2}, expect=200)
    assert [m["kind"] for m in ledger.data] == ["adjustment", "transfer_in"]
    assert [(m["sku"], m["product_name"], m["warehouse_code"], m["lot_code"]) for m in ledger.data] == [
        ("PKL-1", "Mango pickle 500 g", "W2", ""),
        ("PKL-1", "Mango pickle 500 g", "W2", ""),
    ]
    rest = udyog_client.get(
        f"{API}/moves", params={"limit": 10, "cursor": ledger.pagination["next_cursor"]}, expect=200
    )
    assert [m["kind"] for m in rest.data] == ["transfer_out", "issue", "receipt"]
    assert rest.pagination["has_more"] is False and "total" not in rest.meta and "total" not in rest.pagination
    only = udyog_client.get(f"{API}/moves", params={"kind": "issue", "warehouse_id": w["w1"]}, expect=200).data
    assert [m["id"] for m in only] == [issued["id"]]
    since = udyog_client.get(f"{API}/moves", params={"moved_at__gte": moved["out"]["moved_at"]}, expect=200).data
    assert {m["kind"] for m in since} == {"transfer_out", "transfer_in", "adjustment"}
    value = udyog_client.get(f"{API}/valuation", expect=200)
    assert [(v["sku"], v["quantity"], v["value"]) for v in value.data] == [("PKL-1", "19.000", "1330.00")]
    assert value.meta["total_value"] == "1330.00"


def test_bad_movements_are_refused_naming_the_field(udyog_client, udyog_other_client):
    w = setup_world(udyog_client)
    bad = udyog_client.post(f"{API}/issues", json={"quantity": "-1", "from_reserved": "maybe"}, expect=422)
    assert set(bad.errors) == {"product_id", "warehouse_id", "quantity", "from_reserved"}
    short = udyog_client.post(
        f"{API}/issues", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1"}, expect=409
    )
    assert short.errors == {"quantity": ["only 0.000 of PKL-1 in W1 is available"]}
    udyog_client.post(
        f"{API}/receipts", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1.0001"}, expect=422
    )
    unknown = udyog_client.post(
        f"{API}/receipts",
        json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1", "qty": 1},
        expect=422,
    )
    assert "qty" in unknown.errors
    no_unit = udyog_client.post(
        f"{API}/receipts",
        json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1", "unit_id": w["branch"]},
        expect=422,
    )
    assert no_unit.errors == {"unit_id": ["no conversion to the product's unit"]}
    lot = udyog_client.post(
        f"{API}/receipts",
        json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1", "lot_code": "L1"},
        expect=422,
    )
    assert lot.errors == {"lot_code": ["product PKL-1 is not tracked by lot"]}
    no_note = udyog_client.post(
        f"{API}/adjustments",
        json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity_delta": "0"},
        expect=422,
    )
    assert set(no_note.errors) == {"quantity_delta", "note"}
    # another tenant's warehouse is no warehouse here
    theirs = udyog_other_client.post("/api/v1/core/branches", json={"code": "X", "name": "X"}, expect=201).data["id"]
    refused = udyog_client.post(f"{API}/warehouses", json={"code": "W9", "name": "W9", "branch_id": theirs}, expect=422)
    assert refused.errors == {"branch_id": ["no such branch"]}
    udyog_client.post(f"{API}/warehouses", json={"code": "W1", "name": "Again", "branch_id": w["branch"]}, expect=409)
    udyog_client.post(f"{API}/products", json={"sku": "PKL-1", "name": "Again", "unit_id": w["pcs"]}, expect=409)
    udyog_client.post(
        f"{API}/conversions", json={"from_unit_id": w["pcs"], "to_unit_id": w["box"], "factor": "0.1"}, expect=409
    )
    udyog_client.get(f"{API}/moves", params={"kind": "x" * 20}, expect=422)
    udyog_client.get(f"{API}/balances", params={"below_reorder": "perhaps"}, expect=422)


def test_lots_by_code_and_the_product_rules_once_stock_moved(udyog_client):
    w = setup_world(udyog_client, track_lots=True)
    got = udyog_client.post(
        f"{API}/receipts",
        json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "6", "lot_code": "MP-01"},
        expect=201,
    ).data
    lots = udyog_client.get(f"{API}/lots", params={"product_id": w["product"]}, expect=200).data
    assert [(lot["code"], lot["id"]) for lot in lots] == [("MP-01", got["lot_id"])]
    missing = udyog_client.post(
        f"{API}/issues", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1"}, expect=422
    )
    assert missing.errors == {"lot_id": ["required: product PKL-1 is tracked by lot"]}
    product = udyog_client.get(f"{API}/products/{w['product']}", expect=200).data
    changed = udyog_client.patch(
        f"{API}/products/{w['product']}", json={"version": product["version"], "valuation": "average"}, expect=409
    )
    assert changed.errors == {"valuation": ["cannot change once the product has stock movements"]}


def test_below_reorder_lists_low_products_and_the_dashboard_shows_them(udyog_client, udyog_web_client):
    w = setup_world(udyog_client, reorder_point="10")
    udyog_client.post(
        f"{API}/receipts", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "6"}, expect=201
    )
    low = udyog_client.get(f"{API}/balances", params={"below_reorder": "true"}, expect=200).data
    assert [b["product_id"] for b in low] == [w["product"]]
    assert udyog_client.get(f"{API}/balances", params={"below_reorder": "false"}, expect=200).data == []
    home = udyog_web_client.get("/").text
    assert "Low stock" in home and "PKL-1" in home
    udyog_client.post(
        f"{API}/receipts", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "6"}, expect=201
    )
    assert udyog_client.get(f"{API}/balances", params={"below_reorder": "true"}, expect=200).data == []


def test_the_pages_and_the_receipt_and_adjustment_forms(udyog_client, udyog_web_client):
    w = setup_world(udyog_client)
    home = udyog_web_client.get("/").text
    for path in ("/inventory/products", "/inventory/balances", "/inventory/moves", "/inventory/receive"):
        assert f'href="{path}"' in home
        assert udyog_web_client.get(path).status_code == 200
    form = udyog_web_client.get("/inventory/receive").text
    assert "PKL-1" in form and "W1" in form
    done = udyog_web_client.submit(
        "/inventory/receive", {"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "5", "unit_cost": "71"}
    )
    assert done.status_code == 303
    refused = udyog_web_client.submit(
        "/inventory/adjust",
        {"product_id": w["product"], "warehouse_id": w["w1"], "quantity_delta": "-9", "note": "lost"},
    )
    assert refused.status_code == 422 and "only 5.000 of PKL-1 in W1 is available" in refused.text
    done = udyog_web_client.submit(
        "/inventory/adjust",
        {"product_id": w["product"], "warehouse_id": w["w1"], "quantity_delta": "-2", "note": "lost"},
    )
    assert done.status_code == 303
    ledger = udyog_web_client.get("/inventory/moves")
    assert ledger.status_code == 200 and "adjustment" in ledger.text
    balances = udyog_client.get(f"{API}/balances", expect=200).data
    assert [b["on_hand"] for b in balances] == ["3.000"]
    move = udyog_client.get(f"{API}/moves", expect=200).data[0]
    assert udyog_web_client.get(f"/inventory/moves/{move['id']}").status_code == 200
    assert udyog_web_client.get(f"/inventory/balances/{balances[0]['id']}").status_code == 200
    assert udyog_web_client.get(f"/inventory/products/{w['product']}").status_code == 200
    assert udyog_web_client.get("/inventory/balances?below_reorder=true").status_code == 200
    valuation = udyog_web_client.get("/inventory/valuation")
    assert valuation.status_code == 200 and "PKL-1" in valuation.text and "213.00" in valuation.text


def test_the_templates_have_no_inline_style_or_script():
    folder = Path(udyog_inventory.__file__).parent / "templates"
    templates = list(folder.rglob("*.html"))
    assert len(templates) == 4
    pattern = r"\sstyle=|<style\b|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+="
    assert [p.name for p in templates if re.search(pattern, p.read_text())] == []


@pytest.mark.udyog_user(permissions=["inventory.product.read", "inventory.move.read", "inventory.balance.read"])
def test_a_reader_cannot_move_stock(udyog_client):
    udyog_client.get(f"{API}/moves", expect=200)
    refused = udyog_client.post(f"{API}/receipts", json={}, expect=403)
    assert refused.errors == {"permission": ["inventory.receipt.create"]}
    udyog_client.get(f"{API}/valuation", expect=403)


@pytest.mark.udyog_user(roles=["Store Keeper"])
def test_the_store_keeper_may_do_everything_in_the_stores(udyog_client, udyog_user_factory, udyog_client_factory):
    owner = udyog_client_factory(udyog_user_factory(roles=["Owner"]))
    branch = owner.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune"}, expect=201).data["id"]
    udyog_client.post(f"{API}/warehouses", json={"code": "W1", "name": "W1", "branch_id": branch}, expect=201)
    udyog_client.get(f"{API}/valuation", expect=200)


def test_another_tenant_sees_none_of_the_ledger(udyog_client, udyog_other_client):
    w = setup_world(udyog_client)
    udyog_client.post(
        f"{API}/receipts", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "3"}, expect=201
    )
    assert udyog_other_client.get(f"{API}/moves", expect=200).data == []
    assert udyog_other_client.get(f"{API}/balances", expect=200).data == []
    assert udyog_other_client.get(f"{API}/valuation", expect=200).data == []
    refused = udyog_other_client.post(
        f"{API}/issues", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1"}, expect=422
    )
    assert refused.errors == {"product_id": ["no such product"]}


def test_a_ledger_page_after_a_cursor_bounds_moved_at_for_the_index(udyog_client):
    """The keyset's OR condition gives PostgreSQL no index bound; the SDK adds moved_at <= the cursor's."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    w = setup_world(udyog_client)
    for quantity in ("1", "2", "3"):
        udyog_client.post(
            f"{API}/receipts",
            json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": quantity},
            expect=201,
        )
    seen: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "FROM inventory_move" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", spy)
    try:
        first = udyog_client.get(f"{API}/moves", params={"limit": 1}, expect=200)
        assert seen and "moved_at <=" not in seen[-1]
        second = udyog_client.get(
            f"{API}/moves", params={"limit": 1, "cursor": first.pagination["next_cursor"]}, expect=200
        )
        assert "inventory_move.moved_at <=" in seen[-1]
        third = udyog_client.get(
            f"{API}/moves", params={"limit": 5, "cursor": second.pagination["next_cursor"]}, expect=200
        )
        assert [m["quantity"] for m in first.data + second.data + third.data] == ["3.000", "2.000", "1.000"]
        ascending = udyog_client.get(f"{API}/moves", params={"limit": 1, "sort": "moved_at"}, expect=200)
        udyog_client.get(
            f"{API}/moves", params={"sort": "moved_at", "cursor": ascending.pagination["next_cursor"]}, expect=200
        )
        assert "inventory_move.moved_at >=" in seen[-1]
    finally:
        event.remove(Engine, "before_cursor_execute", spy)


def test_a_product_or_warehouse_with_stock_moves_is_not_deleted(udyog_client, udyog_web_client):
    w = setup_world(udyog_client)
    udyog_client.post(
        f"{API}/receipts", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "1"}, expect=201
    )
    udyog_client.delete(f"{API}/products/{w['product']}", expect=409)
    udyog_client.delete(f"{API}/warehouses/{w['w1']}", expect=409)
    udyog_client.delete(f"{API}/warehouses/{w['w2']}", expect=200)  # never used
    assert udyog_client.get(f"{API}/products/{w['product']}", expect=200).data["sku"] == "PKL-1"
    page = udyog_web_client.get("/inventory/balances").text
    assert "Mango pickle 500 g" in page and ">W1<" in page and ">PKL-1<" in page  # names, not ids


def test_the_stock_forms_search_products_when_there_are_many(udyog_client, udyog_web_client, udyog_tenant):
    """Past MAX_CHOICES active products the receipt form's product select becomes the SDK's search picker."""
    import uuid

    from udyog_inventory.models import Product
    from udyog_sdk.pickers import MAX_CHOICES

    w = setup_world(udyog_client)
    with udyog_tenant.scope() as scope:
        scope.session.add_all(
            Product(sku=f"SKU-{i:03}", name=f"Spice {i:03}", unit_id=uuid.UUID(w["pcs"])) for i in range(MAX_CHOICES)
        )
        scope.session.commit()
    form = udyog_web_client.get("/inventory/receive").text
    assert 'data-url="/inventory/stock-forms/products"' in form and "reference-picker.js" in form
    assert "PKL-1 — Mango pickle 500 g" not in form  # not listed: searched
    found = udyog_web_client.get("/inventory/stock-forms/products", query_string={"q": "pkl-1"}).get_json()
    assert found == [{"id": w["product"], "label": "PKL-1 — Mango pickle 500 g"}]
    assert len(udyog_web_client.get("/inventory/stock-forms/products", query_string={"q": "spice"}).get_json()) == 20
    # The form takes the id the picker writes (or that is typed without JavaScript); a refusal keeps it.
    refused = udyog_web_client.submit(
        "/inventory/adjust", {"product_id": w["product"], "warehouse_id": w["w1"], "quantity_delta": "-9"}
    )
    assert refused.status_code == 422 and f'value="{w["product"]}"' in refused.text
    assert "Now: PKL-1 — Mango pickle 500 g." in refused.text
    done = udyog_web_client.submit(
        "/inventory/receive", {"product_id": w["product"], "warehouse_id": w["w1"], "quantity": "5"}
    )
    assert done.status_code == 303
