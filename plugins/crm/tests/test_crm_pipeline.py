"""Deals in the pipeline: moves by API with the version, the kanban page and its no-JavaScript move form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from udyog_crm.models import Deal
from udyog_sdk.models import Base

pytestmark = pytest.mark.udyog_plugins("crm")

DEALS = "/api/v1/crm/deals"
STAGES = "/api/v1/crm/stages"


def stage_ids(client) -> dict[str, str]:
    return {s["name"]: s["id"] for s in client.get(STAGES, expect=200).data}


def a_deal(client, stage: str = "Prospecting", **values: object) -> dict:
    body = {"title": "Pune monsoon stock-up", "stage_id": stage_ids(client)[stage], "amount": "485000.00", **values}
    return client.post(DEALS, json=body, expect=201).data


def events(tenant, name: str) -> list[dict]:
    """Payloads of the domain events ``name`` in the outbox (the core's model, found through the shared Base)."""
    [outbox] = [m.class_ for m in Base.registry.mappers if m.class_.__table__.name == "core_outbox"]
    with tenant.scope(write=False) as scope:
        return list(scope.session.scalars(select(outbox.payload).where(outbox.name == name)))


def test_a_deal_moves_between_stages_with_its_version(udyog_client, udyog_tenant):
    stages = stage_ids(udyog_client)
    deal = a_deal(udyog_client)
    assert deal["closed_at"] is None and deal["version"] == 1
    moved = udyog_client.post(
        f"{DEALS}/{deal['id']}/move", json={"stage_id": stages["Proposal"], "version": 1}, expect=200
    ).data
    assert moved["stage_id"] == stages["Proposal"] and moved["version"] == 2
    stale = udyog_client.post(f"{DEALS}/{deal['id']}/move", json={"stage_id": stages["Won"], "version": 1}, expect=409)
    assert stale.status == 409
    unknown = udyog_client.post(f"{DEALS}/{deal['id']}/move", json={"stage_id": deal["id"], "version": 2}, expect=422)
    assert unknown.errors == {"stage_id": ["no such stage"]}
    assert events(udyog_tenant, "crm.deal.won") == []
    won = udyog_client.post(
        f"{DEALS}/{deal['id']}/move", json={"stage_id": stages["Won"], "version": 2}, expect=200
    ).data
    assert won["closed_at"] is not None and won["version"] == 3
    [payload] = events(udyog_tenant, "crm.deal.won")
    assert payload["deal_id"] == deal["id"] and payload["amount"] == "485000.00"
    reopened = udyog_client.post(
        f"{DEALS}/{deal['id']}/move", json={"stage_id": stages["Negotiation"], "version": 3}, expect=200
    ).data
    assert reopened["closed_at"] is None


def test_bad_deals_and_moves_are_refused(udyog_client, udyog_other_client):
    refused = udyog_client.post(DEALS, json={"title": "", "amount": "-1", "expected_close": "soon"}, expect=422)
    assert set(refused.errors) == {"title", "stage_id", "amount", "expected_close"}
    refused = udyog_client.post(
        DEALS, json={"title": "x", "stage_id": stage_ids(udyog_other_client)["Won"]}, expect=422
    )
    assert refused.errors == {"stage_id": ["no such stage"]}
    deal = a_deal(udyog_client)
    refused = udyog_client.post(f"{DEALS}/{deal['id']}/move", json={"stage_id": "nope"}, expect=422)
    assert set(refused.errors) == {"stage_id", "version"}
    udyog_other_client.post(
        f"{DEALS}/{deal['id']}/move", json={"stage_id": stage_ids(udyog_other_client)["Won"], "version": 1}, expect=404
    )


@pytest.mark.udyog_user(roles=["Sales Executive"])
def test_an_executive_moves_only_own_deals(udyog_client, udyog_other_client, udyog_client_factory, udyog_user_factory):
    manager = udyog_client_factory(udyog_user_factory(roles=["Sales Manager"], email="manager@acme.test"))
    stages = stage_ids(manager)
    theirs = manager.post(DEALS, json={"title": "Manager's deal", "stage_id": stages["Proposal"]}, expect=201).data
    own = a_deal(udyog_client)
    assert [d["title"] for d in udyog_client.get(DEALS, expect=200).data] == [own["title"]]
    udyog_client.post(f"{DEALS}/{theirs['id']}/move", json={"stage_id": stages["Won"], "version": 1}, expect=404)
    udyog_client.post(f"{DEALS}/{own['id']}/move", json={"stage_id": stages["Won"], "version": 1}, expect=200)


def test_the_pipeline_page_has_a_column_per_stage_and_moves_without_javascript(
    udyog_client, udyog_web_client, udyog_tenant
):
    stages = stage_ids(udyog_client)
    deal = a_deal(udyog_client, title="Navi Mumbai festive hampers")
    page = udyog_web_client.get("/crm/pipeline")
    assert page.status_code == 200
    html = page.text
    assert re.findall(r'data-stage="([^"]+)"', html) == list(stages)
    prospecting = html[html.index('data-stage="Prospecting"') : html.index('data-stage="Qualification"')]
    assert "Navi Mumbai festive hampers" in prospecting
    assert f'action="/crm/pipeline/{deal["id"]}/move"' in html and 'name="csrf_token"' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # no inline script

    answer = udyog_web_client.submit(
        f"/crm/pipeline/{deal['id']}/move", {"stage_id": stages["Negotiation"], "version": "1"}
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/crm/pipeline")
    html = udyog_web_client.get("/crm/pipeline").text
    negotiation = html[html.index('data-stage="Negotiation"') : html.index('data-stage="Won"')]
    assert "Navi Mumbai festive hampers" in negotiation and "moved." in html

    stale = udyog_web_client.submit(f"/crm/pipeline/{deal['id']}/move", {"stage_id": stages["Won"], "version": "1"})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    with udyog_tenant.scope(write=False) as scope:
        assert str(scope.session.scalar(select(Deal.stage_id))) == stages["Negotiation"]
    bad = udyog_web_client.submit(f"/crm/pipeline/{deal['id']}/move", {"stage_id": "", "version": "2"})
    assert bad.status_code == 422
    # without the CSRF value the shell refuses the form
    refused = udyog_web_client.client.post(
        f"/crm/pipeline/{deal['id']}/move", data={"stage_id": stages["Won"], "version": "2"}
    )
    assert refused.status_code == 400


@pytest.mark.udyog_user(permissions=["crm.deal.read"])
def test_a_reader_sees_the_pipeline_without_move_forms(udyog_web_client, udyog_client_factory, udyog_user_factory):
    manager = udyog_client_factory(udyog_user_factory(roles=["Sales Manager"], email="manager@acme.test"))
    deal = a_deal(manager)
    html = udyog_web_client.get("/crm/pipeline").text
    assert "Pune monsoon stock-up" in html and f"/crm/pipeline/{deal['id']}/move" not in html
    refused = udyog_web_client.submit(
        f"/crm/pipeline/{deal['id']}/move", {"stage_id": deal["stage_id"], "version": "1"}
    )
    assert refused.status_code == 403


def test_no_crm_template_has_an_inline_style_script_or_handler():
    """The content security policy refuses them; the check-in page's script is a static file."""
    import udyog_crm

    templates = list((Path(udyog_crm.__file__).parent / "templates").rglob("*.html"))
    assert len(templates) >= 2
    offending = [
        f"{path.name}: {match.group(0)}"
        for path in templates
        for match in re.finditer(r"\sstyle=|<style\b|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=", path.read_text())
    ]
    assert not offending
