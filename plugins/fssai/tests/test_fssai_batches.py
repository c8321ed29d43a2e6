"""Licences and batches through the HTTP API: 14 digits, one licence per branch, dates, series, QC."""

from __future__ import annotations

import pytest
from fssai_kit import BATCHES, LICENCES, PRODUCTS, fix_clock, make_batch, world

pytestmark = pytest.mark.udyog_plugins("fssai")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    fix_clock(monkeypatch)


def test_a_licence_is_14_digits_and_one_per_branch(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    body = {"branch_id": w["branch"], "number": "1001202200034", "expires_on": "2027-03-31"}
    refused = udyog_client.post(LICENCES, json=body, expect=422)
    assert refused.errors == {"number": ["exactly 14 digits"]}
    refused = udyog_client.post(LICENCES, json={**body, "number": "1001202200034X"}, expect=422)
    assert refused.errors == {"number": ["exactly 14 digits"]}
    made = udyog_client.post(LICENCES, json={**body, "number": "1 0012 0220 0034 5"}, expect=201).data
    assert made["number"] == "10012022000345" and made["kind"] == "licence"
    again = udyog_client.post(LICENCES, json={**body, "number": "10012022000346"}, expect=409)
    assert "branch_id" in again.errors
    bad = {"branch_id": w["branch"], "number": "10012022000345", "valid_from": "2026-04-01", "expires_on": "2026-03-31"}
    udyog_client.delete(f"{LICENCES}/{made['id']}", expect=200)
    assert udyog_client.post(LICENCES, json=bad, expect=422).errors == {"expires_on": ["must not be before valid_from"]}


def test_expiry_comes_from_the_shelf_life_and_can_be_overridden(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    product = udyog_client.get(f"{PRODUCTS}/{w['ghee']}", expect=200).data
    assert product["shelf_life_days"] is None
    missing = udyog_client.post(BATCHES, json={"product_id": w["ghee"], "produced_on": "2026-11-01"}, expect=422)
    assert "shelf life" in missing.errors["expires_on"][0]
    udyog_client.patch(
        f"{PRODUCTS}/{w['ghee']}",
        json={"version": product["version"], "shelf_life_days": 270, "pack_size": "1 L tin"},
        expect=200,
    )
    derived = make_batch(udyog_client, w, "2026-11-01")
    assert derived["expires_on"] == "2027-07-29"  # 1 Nov 2026 + 270 days
    assert derived["number"] == "B2611-0001"  # the series fssai.batch, monthly
    overridden = make_batch(udyog_client, w, "2026-11-01", "2027-05-31")
    assert overridden["expires_on"] == "2027-05-31" and overridden["number"] == "B2611-0002"
    named = make_batch(udyog_client, w, "2026-11-02", "2027-05-31", number="GH-77")
    assert named["number"] == "GH-77" and named["lot_id"]
    dup = udyog_client.post(
        BATCHES,
        json={"product_id": w["ghee"], "produced_on": "2026-11-02", "number": "GH-77", "expires_on": "2027-01-01"},
        expect=409,
    )
    assert "number" in dup.errors


@pytest.mark.parametrize(
    ("expires_on", "best_before", "field"),
    [
        ("2026-11-01", None, "expires_on"),
        ("2026-10-31", None, "expires_on"),
        ("2027-01-01", "2027-01-02", "best_before"),
    ],
)
def test_the_expiry_must_be_after_manufacture(udyog_client, udyog_tenant, expires_on, best_before, field):
    w = world(udyog_tenant)
    body = {"product_id": w["ghee"], "produced_on": "2026-11-01", "expires_on": expires_on, "best_before": best_before}
    refused = udyog_client.post(BATCHES, json=body, expect=422)
    assert list(refused.errors) == [field]


def test_only_lot_tracked_products_have_batches_and_dates_stay_ordered_on_update(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    refused = udyog_client.post(
        BATCHES, json={"product_id": w["salt"], "produced_on": "2026-11-01", "expires_on": "2027-11-01"}, expect=422
    )
    assert "product_id" in refused.errors
    batch = make_batch(udyog_client, w, "2026-11-01", "2027-11-01")
    bad = udyog_client.patch(
        f"{BATCHES}/{batch['id']}", json={"version": batch["version"], "expires_on": "2026-10-01"}, expect=422
    )
    assert bad.errors == {"expires_on": ["must be after the date of manufacture or packing"]}
    good = udyog_client.patch(
        f"{BATCHES}/{batch['id']}", json={"version": batch["version"], "best_before": "2027-06-01"}, expect=200
    ).data
    assert good["best_before"] == "2027-06-01"


def test_qc_needs_an_inspector_and_hold_needs_a_reason(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-11-01", "2027-11-01", qc="pending")
    assert batch["qc_status"] == "pending"
    refused = udyog_client.post(
        f"{BATCHES}/{batch['id']}/qc", json={"version": batch["version"], "status": "passed"}, expect=422
    )
    assert refused.errors == {"inspector": ["required for a QC decision"]}
    passed = udyog_client.post(
        f"{BATCHES}/{batch['id']}/qc",
        json={"version": batch["version"], "status": "passed", "inspector": "A. Deshpande", "notes": "seal ok"},
        expect=200,
    ).data
    assert (passed["qc_status"], passed["qc_inspector"], passed["qc_notes"]) == ("passed", "A. Deshpande", "seal ok")
    assert passed["qc_at"] is not None
    stale = udyog_client.post(
        f"{BATCHES}/{batch['id']}/hold", json={"version": batch["version"], "reason": "x"}, expect=409
    )
    assert stale.status == 409
    held = udyog_client.post(
        f"{BATCHES}/{batch['id']}/hold", json={"version": passed["version"], "reason": "leak"}, expect=200
    ).data
    assert held["on_hold"] and held["hold_reason"] == "leak"
    released = udyog_client.post(f"{BATCHES}/{batch['id']}/release", json={"version": held["version"]}, expect=200)
    assert released.data["on_hold"] is False


def test_a_shelf_life_past_the_calendar_is_refused_not_a_crash(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    product = udyog_client.get(f"{PRODUCTS}/{w['ghee']}", expect=200).data
    udyog_client.patch(
        f"{PRODUCTS}/{w['ghee']}", json={"version": product["version"], "shelf_life_days": 365}, expect=200
    )
    refused = udyog_client.post(BATCHES, json={"product_id": w["ghee"], "produced_on": "9999-12-01"}, expect=422)
    assert refused.errors == {"expires_on": ["the shelf life runs past the calendar"]}


@pytest.mark.udyog_user(roles=("QC Inspector",))
def test_a_qc_inspector_decides_qc_but_may_not_hold_or_make_batches(
    udyog_client, udyog_tenant, udyog_user_factory, udyog_client_factory
):
    w = world(udyog_tenant)
    officer = udyog_client_factory(udyog_user_factory(roles=("Food Safety Officer", "Store Keeper")))
    batch = make_batch(officer, w, "2026-11-01", "2027-11-01", qc="pending")
    passed = udyog_client.post(
        f"{BATCHES}/{batch['id']}/qc",
        json={"version": batch["version"], "status": "passed", "inspector": "Q"},
        expect=200,
    ).data
    refused = udyog_client.post(
        f"{BATCHES}/{batch['id']}/hold", json={"version": passed["version"], "reason": "x"}, expect=403
    )
    assert refused.errors == {"permission": ["fssai.batch.hold"]}
    udyog_client.post(BATCHES, json={"product_id": w["ghee"], "produced_on": "2026-11-01"}, expect=403)
