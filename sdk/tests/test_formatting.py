"""udyog_sdk.formatting: Indian grouping of numbers and amounts, dates, amounts in words."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from udyog_sdk.formatting import (
    amount_in_words,
    current_locale,
    format_amount,
    format_date,
    format_month,
    format_number,
    tenant_today,
)
from udyog_sdk.runtime import TenantContext, bind_scope, unbind_scope


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12345678"), "₹1,23,45,678.00"),
        (Decimal("1234567890.55"), "₹1,23,45,67,890.55"),
        (Decimal("100000"), "₹1,00,000.00"),
        (Decimal("999.5"), "₹999.50"),
        (0, "₹0.00"),
        ("0.005", "₹0.01"),  # half up, as GST rounds
        ("2.675", "₹2.68"),
        (Decimal("-500"), "-₹500.00"),
        (1.1, "₹1.10"),
    ],
)
def test_format_amount_groups_in_lakh_and_crore(value, expected):
    assert format_amount(value) == expected


def test_format_amount_in_hindi_and_other_currencies():
    assert format_amount(Decimal("12345678.5"), locale="hi_IN") == "₹1,23,45,678.50"
    assert format_amount(Decimal("1234.5"), currency="USD") == "$1,234.50"


def test_format_amount_refuses_what_is_not_a_number():
    with pytest.raises(ValueError, match="not a number"):
        format_amount("abc")
    with pytest.raises(ValueError, match="finite"):
        format_amount(Decimal("NaN"))
    with pytest.raises(TypeError):
        format_amount(True)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal("12345678.5"), None, "1,23,45,678.5"),
        (Decimal("12345678.5"), 2, "1,23,45,678.50"),
        (1234567, None, "12,34,567"),
        (1234567, 0, "12,34,567"),
        (Decimal("1.2345"), None, "1.235"),  # the locale's pattern: up to three decimals
        (Decimal("2.5"), 0, "3"),  # half up
        (Decimal("-1000.25"), 1, "-1,000.3"),
        (999, None, "999"),
    ],
)
def test_format_number(value, places, expected):
    assert format_number(value, places=places) == expected


def test_format_date_styles_and_locales():
    day = dt.date(2026, 3, 31)
    assert format_date(day) == "31 Mar 2026"
    assert format_date(day, style="short") == "31/03/26"
    assert format_date(day, style="long") == "31 March 2026"
    assert format_date(day, style="full") == "Tuesday, 31 March 2026"
    assert format_date(day, locale="hi_IN") == "31 मार्च 2026"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "Rupees Zero Only"),
        (1, "Rupees One Only"),
        (15, "Rupees Fifteen Only"),
        (101, "Rupees One Hundred One Only"),
        (1000, "Rupees One Thousand Only"),
        (100000, "Rupees One Lakh Only"),
        (110000, "Rupees One Lakh Ten Thousand Only"),
        (10000000, "Rupees One Crore Only"),
        (
            Decimal("12345678.50"),
            "Rupees One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight and Paise Fifty Only",
        ),
        (
            Decimal("1234567890.55"),
            "Rupees One Hundred Twenty-Three Crore Forty-Five Lakh Sixty-Seven Thousand Eight Hundred Ninety "
            "and Paise Fifty-Five Only",
        ),
        (1000000000000, "Rupees One Lakh Crore Only"),
        ("0.5", "Paise Fifty Only"),
        ("0.01", "Paise One Only"),
        ("0.004", "Rupees Zero Only"),
        ("0.005", "Paise One Only"),  # rounded to paise, half up
        ("99.999", "Rupees One Hundred Only"),
        (Decimal("-100"), "Minus Rupees One Hundred Only"),
        (Decimal("-1.25"), "Minus Rupees One and Paise Twenty-Five Only"),
    ],
)
def test_amount_in_words_indian_numbering(value, expected):
    assert amount_in_words(value) == expected


def test_amount_in_words_is_english_in_every_locale_and_knows_only_inr():
    assert amount_in_words(100000, locale="hi_IN") == "Rupees One Lakh Only"
    with pytest.raises(ValueError, match="INR"):
        amount_in_words(5, currency="USD")


class _Scope:
    def __init__(self, tenant):
        self.tenant = tenant


def _tenant(settings):
    return TenantContext(uuid.uuid4(), "acme", "Acme", "Asia/Kolkata", settings=settings)


def test_the_locale_follows_the_bound_tenant():
    assert current_locale() == "en_IN"  # no scope
    token = bind_scope(_Scope(_tenant({"core": {"locale": "hi_IN"}})))
    try:
        assert current_locale() == "hi_IN"
        assert format_date(dt.date(2026, 3, 31)) == "31 मार्च 2026"
        # An aware datetime is the tenant's date: 20:00 UTC on 31 March is 1 April in IST.
        assert format_date(dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.UTC), locale="en_IN") == "1 Apr 2026"
    finally:
        unbind_scope(token)
    token = bind_scope(_Scope(_tenant({})))
    try:
        assert current_locale() == "en_IN"
    finally:
        unbind_scope(token)


def test_format_month_names_the_month_in_the_locale():
    assert format_month(dt.date(2026, 4, 17), locale="en_IN") == "Apr 2026"
    assert format_month(dt.date(2026, 4, 17), locale="hi_IN") == "अप्रैल 2026"
    token = bind_scope(_Scope(_tenant({"core": {"locale": "hi_IN"}})))
    try:
        assert format_month(dt.date(2026, 12, 1)) == "दिस॰ 2026"  # the tenant's locale by default
    finally:
        unbind_scope(token)


def test_tenant_today_is_the_date_in_the_tenants_timezone():
    late_utc = dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.UTC)  # 01:30 on 1 April in Kolkata
    token = bind_scope(_Scope(_tenant({})))
    try:
        assert tenant_today(late_utc) == dt.date(2026, 4, 1)
    finally:
        unbind_scope(token)
    new_york = TenantContext(uuid.uuid4(), "nyc", "NYC", "America/New_York")
    token = bind_scope(_Scope(new_york))
    try:
        assert tenant_today(late_utc) == dt.date(2026, 3, 31)
    finally:
        unbind_scope(token)


# -- the generic resource pages ---------------------------------------------------------


def test_resource_pages_group_decimals_in_the_tenants_locale(kernel_factory, backend):
    import re

    from udyog.app import create_app
    from udyog.tenancy import create_tenant
    from udyog.testing import TEST_PASSWORD, create_member, login

    kernel = kernel_factory(["ledger"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["ledger"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    made = owner.post(
        "/api/v1/ledger/vouchers", json={"party": "Ravi", "amount": "1234567.50", "issued_on": "2026-04-01"}
    )
    assert made.status_code == 201, made.get_json()
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    client.post("/login", data={"email": "owner@acme.test", "password": TEST_PASSWORD, "csrf_token": token})
    listing = client.get("/ledger/vouchers").text
    assert "<td>12,34,567.50</td>" in listing
    detail = client.get(f"/ledger/vouchers/{made.get_json()['data']['id']}").text
    assert re.search(r"<dd[^>]*>12,34,567.50</dd>", detail)
    # The API and the edit form keep the plain value.
    assert owner.get("/api/v1/ledger/vouchers").get_json()["data"][0]["amount"] == "1234567.50"
    form = client.get(f"/ledger/vouchers/{made.get_json()['data']['id']}/edit").text
    assert 'value="1234567.50"' in form
