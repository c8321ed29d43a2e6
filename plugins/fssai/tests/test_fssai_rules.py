"""The FSSAI rules of INDIA.md with their own worked values (pure functions, no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from udyog_fssai import rules

D = dt.date


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ("10012022000345", True),  # 14 digits
        ("1001202200034", False),  # 13
        ("100120220003456", False),  # 15
        ("1001202200034A", False),  # a letter
        ("\uff11" * 14, False),  # full-width digits are not ASCII digits
        ("", False),
    ],
)
def test_a_licence_number_is_exactly_14_digits(raw: str, valid: bool) -> None:
    assert rules.licence_valid(raw) is valid


def test_spaces_as_printed_on_labels_are_dropped() -> None:
    assert rules.normalise_licence("1 0012 0220 0034 5") == "10012022000345"
    assert rules.licence_valid(rules.normalise_licence("1 0012 0220 0034 5"))


def test_expiry_is_derived_from_the_shelf_life() -> None:
    assert rules.derived_expiry(D(2026, 11, 1), 90) == D(2027, 1, 30)
    assert rules.derived_expiry(D(2026, 11, 1), 365) == D(2027, 11, 1)


@pytest.mark.parametrize(
    ("produced", "expires", "short"),
    [
        (D(2026, 11, 1), D(2027, 2, 1), True),  # exactly 3 months: DD/MM/YY
        (D(2026, 11, 1), D(2027, 2, 2), False),  # a day more: month and year
        (D(2026, 11, 30), D(2027, 2, 28), True),  # 30 Nov + 3 months is clipped to 28 Feb
        (D(2026, 11, 30), D(2027, 3, 1), False),
        (D(2026, 11, 1), D(2026, 11, 15), True),
    ],
)
def test_shelf_life_up_to_three_months_is_short(produced: dt.date, expires: dt.date, short: bool) -> None:
    assert rules.short_shelf_life(produced, expires) is short


def test_label_dates_print_day_month_year_or_month_and_year() -> None:
    assert rules.label_date(D(2026, 10, 31), short=True) == "31/10/26"
    assert rules.label_date(D(2026, 10, 31), short=False) == "OCT 2026"
    assert rules.label_date(D(2027, 1, 5), short=False) == "JAN 2027"


def test_a_batch_label_line_follows_the_shelf_life() -> None:
    short = rules.label_lines("B2611-0001", "manufacture", D(2026, 11, 1), D(2027, 1, 30), None)
    assert short == "Batch B2611-0001 · Mfg 01/11/26 · Use by 30/01/27"
    long = rules.label_lines("GH-7", "packing", D(2026, 10, 2), D(2027, 6, 29), D(2027, 4, 30))
    assert long == "Batch GH-7 · Pkd OCT 2026 · Best before APR 2027 · Use by JUN 2027"


def test_a_batch_is_usable_on_its_expiry_date_and_expired_the_day_after() -> None:
    assert not rules.expired(D(2026, 11, 20), D(2026, 11, 20))
    assert rules.expired(D(2026, 11, 19), D(2026, 11, 20))
    assert rules.remaining_days(D(2026, 12, 20), D(2026, 11, 20)) == 30


def test_add_months_clips_to_the_end_of_the_month() -> None:
    assert rules.add_months(D(2027, 1, 31), 1) == D(2027, 2, 28)
    assert rules.add_months(D(2027, 11, 15), 3) == D(2028, 2, 15)


def test_dates_at_the_end_of_the_calendar_do_not_break_the_label() -> None:
    assert rules.short_shelf_life(D(9999, 11, 1), D(9999, 12, 31))
    assert rules.label_lines("Z", "manufacture", D(9999, 11, 1), D(9999, 12, 31), None).endswith("Use by 31/12/99")
