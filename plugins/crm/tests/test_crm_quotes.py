"""Quotes: numbers, totals from lines, line changes, conversion through the ``crm_quote_convert`` hook."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from udyog_crm.hookspecs import Conversion, QuoteData
from udyog_crm.models import Quote
from udyog_crm.services import line_amount
from udyog_sdk import UdyogError, hookimpl
from udyog_sdk.models import Base

pytestmark = pytest.mark.udyog_plugins("crm")

CUSTOMERS = "/api/v1/crm/customers"
QUOTES = "/api/v1/crm/quotes"
LINES = "/api/v1/crm/quote-lines"


def a_customer(client, code: str = "DIST-PUN") -> str:
    body = {"code": code, "name": "Deccan Foods Distributors", "billing_state_code": "27"}
    return client.post(CUSTOMERS, json=body, expect=201).data["id"]


def a_quote(client, customer_id: str, **values: object) -> dict:
    body = {
        "customer_id": customer_id,
        "quote_date": "2026-06-15",
        "lines": [
            {
                "description": "Mango pickle 500 g carton",
                "quantity": "40",
                "unit_price": "2160.00",
                "discount_pct": "5",
            },
            {"description": "Urad papad 200 g carton", "quantity": "2.5", "unit_price": "1000.10"},
        ],
        **values,
    }
    return client.post(QUOTES, json=body, expect=201).data


def events(tenant, name: str) -> list[dict]:
    [outbox] = [m.class_ for m in Base.registry.mappers if m.class_.__table__.name == "core_outbox"]
    with tenant.scope(write=False) as scope:
        return list(scope.session.scalars(select(outbox.payload).where(outbox.name == name)))


def test_line_amount_is_quantity_times_price_less_discount():
    assert line_amount(Decimal("40"), Decimal("2160.00"), Decimal("5")) == Decimal("82080.00")
    assert line_amount(Decimal("2.5"), Decimal("1000.10"), Decimal("0")) == Decimal("2500.25")
    assert line_amount(Decimal("0.333"), Decimal("10.00"), Decimal("12.5")) == Decimal("2.91")  # 2.91375 → 2.91
    assert line_amount(Decimal("1"), Decimal("99.99"), Decimal("100")) == Decimal("0.00")


def test_a_quote_is_numbered_and_totalled_from_its_lines(udyog_client, udyog_user):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    assert quote["number"] == "QT/2026-27/0001" and quote["status"] == "draft"
    assert (quote["gross_total"], quote["discount_total"], quote["total"]) == ("88900.25", "4320.00", "84580.25")
    assert [line["amount"] for line in quote["lines"]] == ["82080.00", "2500.25"]
    assert quote["owner_id"] == str(udyog_user.id)
    second = a_quote(udyog_client, quote["customer_id"], lines=[])
    assert second["number"] == "QT/2026-27/0002" and second["total"] == "0.00"


def test_changing_lines_re_totals_the_quote(udyog_client):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    line = udyog_client.post(
        LINES,
        json={"quote_id": quote["id"], "description": "Lime pickle", "quantity": "10", "unit_price": "100.00",
              "discount_pct": "10"},
        expect=201,
    ).data  # fmt: skip
    assert line["amount"] == "900.00" and line["sequence"] == 30
    after_add = udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data
    assert after_add["total"] == "85480.25" and after_add["version"] == quote["version"] + 1
    udyog_client.patch(f"{LINES}/{line['id']}", json={"version": 1, "quantity": "20"}, expect=200)
    assert udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data["total"] == "86380.25"
    udyog_client.delete(f"{LINES}/{line['id']}", expect=200)
    assert udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data["total"] == "84580.25"
    listed = udyog_client.get(LINES, params={"quote_id": quote["id"]}, expect=200).data
    assert [x["description"] for x in listed] == ["Mango pickle 500 g carton", "Urad papad 200 g carton"]


def test_bad_quotes_and_lines_are_refused_field_by_field(udyog_client, udyog_other_client):
    refused = udyog_client.post(
        QUOTES,
        json={"quote_date": "someday", "status": "converted", "valid_until": "x",
              "lines": [{"description": "", "quantity": "0", "unit_price": "-1", "discount_pct": "101"}]},
        expect=422,
    )  # fmt: skip
    assert set(refused.errors) >= {"customer_id", "quote_date", "status", "valid_until"}
    assert {k for k in refused.errors if k.startswith("lines.")} == {
        "lines.0.description", "lines.0.quantity", "lines.0.unit_price", "lines.0.discount_pct"
    }  # fmt: skip
    refused = udyog_client.post(
        QUOTES, json={"customer_id": a_customer(udyog_other_client), "quote_date": "2026-06-15"}, expect=422
    )
    assert refused.errors == {"customer_id": ["no such customer"]}
    quote = a_quote(udyog_client, a_customer(udyog_client))
    refused = udyog_client.post(
        LINES,
        json={"quote_id": quote["id"], "description": "x", "quantity": "1.0001", "unit_price": "1.001"},
        expect=422,
    )
    assert set(refused.errors) == {"quantity", "unit_price"}
    assert udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data["total"] == "84580.25"


def test_converting_without_a_converter_is_refused(udyog_client):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    refused = udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json={"version": quote["version"]}, expect=409)
    assert refused.message == "no enabled plugin converts quotes (enable sales)"
    after = udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data
    assert after["status"] == "draft" and after["version"] == quote["version"]
    empty = a_quote(udyog_client, quote["customer_id"], lines=[])
    refused = udyog_client.post(f"{QUOTES}/{empty['id']}/convert", json={"version": empty["version"]}, expect=422)
    assert refused.errors == {"lines": ["add at least one line"]}
    udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json={}, expect=422)


class FakeSales:
    """A converter registered by the test, as the sales plugin would implement the hook."""

    def __init__(self) -> None:
        self.seen: list[QuoteData] = []
        self.refuse = False

    @hookimpl
    def crm_quote_convert(self, quote: QuoteData) -> Conversion | None:
        if self.refuse:
            raise UdyogError("warehouse missing", status=422, errors={"warehouse_id": ["choose a warehouse"]})
        self.seen.append(quote)
        return Conversion("sales.order", uuid.UUID(int=7), f"SO-{quote.number[-4:]}", url="/sales/orders/x")


@pytest.fixture
def converter(udyog_kernel):
    fake = FakeSales()
    udyog_kernel.pm.register(fake, name="crm_test_fake_sales")
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    yield fake
    udyog_kernel.pm.unregister(fake)
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)


def test_a_converter_turns_the_quote_into_its_document_once(udyog_client, udyog_tenant, converter):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    converter.refuse = True
    refused = udyog_client.post(
        f"{QUOTES}/{quote['id']}/convert", json={"version": quote["version"], "options": {}}, expect=422
    )
    assert refused.errors == {"warehouse_id": ["choose a warehouse"]}
    assert udyog_client.get(f"{QUOTES}/{quote['id']}", expect=200).data["status"] == "draft"

    converter.refuse = False
    answer = udyog_client.post(
        f"{QUOTES}/{quote['id']}/convert",
        json={"version": quote["version"], "options": {"warehouse_id": "W1"}},
        expect=200,
    )
    done = answer.data
    assert (done["status"], done["converted_kind"], done["converted_number"]) == ("converted", "sales.order", "SO-0001")
    assert done["converted_id"] == str(uuid.UUID(int=7)) and answer.meta["conversion"]["url"] == "/sales/orders/x"
    [seen] = converter.seen
    assert seen.number == "QT/2026-27/0001" and seen.options == {"warehouse_id": "W1"}
    assert [(x.quantity, x.unit_price, x.discount_pct) for x in seen.lines] == [
        (Decimal("40.000"), Decimal("2160.00"), Decimal("5.00")),
        (Decimal("2.500"), Decimal("1000.10"), Decimal("0.00")),
    ]
    [event] = events(udyog_tenant, "crm.quote.converted")
    assert event["record_number"] == "SO-0001" and event["quote_id"] == quote["id"]

    again = udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json={"version": done["version"]}, expect=409)
    assert again.errors == {"status": ["quote is converted"]}
    udyog_client.patch(f"{QUOTES}/{quote['id']}", json={"version": done["version"], "notes": "late"}, expect=409)
    udyog_client.post(
        LINES, json={"quote_id": quote["id"], "description": "x", "quantity": "1", "unit_price": "1"}, expect=409
    )
    udyog_client.delete(f"{QUOTES}/{quote['id']}", expect=409)
    assert len(converter.seen) == 1


def test_a_cancelled_quote_is_not_converted(udyog_client, converter):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    cancelled = udyog_client.patch(
        f"{QUOTES}/{quote['id']}", json={"version": quote["version"], "status": "cancelled"}, expect=200
    ).data
    refused = udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json={"version": cancelled["version"]}, expect=409)
    assert refused.errors == {"status": ["quote is cancelled"]}
    stale = a_quote(udyog_client, quote["customer_id"])
    udyog_client.post(f"{QUOTES}/{stale['id']}/convert", json={"version": stale["version"] + 5}, expect=409)
    assert converter.seen == []


@pytest.mark.udyog_user(roles=["Sales Executive"])
def test_an_executive_sees_only_own_quotes(udyog_client, udyog_client_factory, udyog_user_factory, udyog_tenant):
    manager = udyog_client_factory(udyog_user_factory(roles=["Sales Manager"], email="manager@acme.test"))
    customer_id = a_customer(udyog_client)
    a_quote(udyog_client, customer_id)
    mine = udyog_client.get(QUOTES, expect=200).data
    assert len(mine) == 1
    managers = a_quote(manager, a_customer(manager, "DIST-BLR"))
    udyog_client.get(f"{QUOTES}/{managers['id']}", expect=404)
    assert {line["quote_id"] for line in udyog_client.get(LINES, expect=200).data} == {mine[0]["id"]}
    udyog_client.get(f"{LINES}/{managers['lines'][0]['id']}", expect=404)
    assert len(manager.get(LINES, expect=200).data) == 4
    assert len(manager.get(QUOTES, expect=200).data) == 2
    with udyog_tenant.scope(write=False) as scope:
        assert len(scope.session.scalars(select(Quote)).all()) == 2


def test_amounts_that_do_not_fit_and_odd_dates_are_refused_not_failing(udyog_client):
    customer_id = a_customer(udyog_client)
    huge = {"description": "x", "quantity": "999999999999999", "unit_price": "9999999999999999"}
    refused = udyog_client.post(
        QUOTES, json={"customer_id": customer_id, "quote_date": "2026-06-15", "lines": [huge]}, expect=422
    )
    assert set(refused.errors) == {"quantity"}
    half = {"description": "x", "quantity": "1", "unit_price": "6000000000000000"}
    refused = udyog_client.post(
        QUOTES, json={"customer_id": customer_id, "quote_date": "2026-06-15", "lines": [half, half]}, expect=422
    )
    assert set(refused.errors) == {"quantity"}
    refused = udyog_client.post(
        QUOTES, json={"customer_id": customer_id, "quote_date": "2026-06-15", "valid_until": "2026-06-14"}, expect=422
    )
    assert refused.errors == {"valid_until": ["must be on or after the quote date"]}
    for day in ("0001-01-01", "9999-12-31"):
        answer = udyog_client.post(QUOTES, json={"customer_id": customer_id, "quote_date": day})
        assert answer.status in (201, 409, 422), answer.text
    assert udyog_client.get(QUOTES, params={"quote_date": "2026-06-15"}, expect=200).data == []


def test_the_quote_page_converts_through_its_button(udyog_client, udyog_web_client, udyog_kernel):
    quote = a_quote(udyog_client, a_customer(udyog_client))
    page = udyog_web_client.get(f"/crm/quotes/{quote['id']}").text
    assert f'action="/crm/quotes/{quote["id"]}/convert"' in page and "Convert into an order" in page
    refused = udyog_web_client.submit(f"/crm/quotes/{quote['id']}/convert", {"version": str(quote["version"])})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(f"/crm/quotes/{quote['id']}")
    shown = udyog_web_client.get(f"/crm/quotes/{quote['id']}").text
    assert "no enabled plugin converts quotes (enable sales)" in shown

    fake = FakeSales()
    udyog_kernel.pm.register(fake, name="crm_test_fake_sales")
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    try:
        done = udyog_web_client.submit(f"/crm/quotes/{quote['id']}/convert", {"version": str(quote["version"])})
    finally:
        udyog_kernel.pm.unregister(fake)
        udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    assert done.status_code == 303 and done.headers["Location"].endswith("/sales/orders/x")
    after = udyog_web_client.get(f"/crm/quotes/{quote['id']}").text
    assert "SO-0001" in after and "Convert into an order" not in after
