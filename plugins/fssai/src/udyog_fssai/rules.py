"""The FSSAI rules as plain functions (see ``shared/domain/INDIA.md``, "FSSAI batches").

- A licence or registration number is exactly 14 digits.
- A batch's expiry (use by) is mandatory and after its date of manufacture or packing; it can be derived
  from the product's shelf life.
- Label dates print as DD/MM/YY when the shelf life is up to 3 months, else as month and year (``OCT 2026``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

LICENCE_RE = re.compile(r"^[0-9]{14}$")
#: English month abbreviations as labels print them, upper case, whatever the locale.
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Up to this many months of shelf life, label dates carry the day.
SHORT_SHELF_LIFE_MONTHS = 3


def normalise_licence(raw: str) -> str:
    """The licence number without spaces (as printed on labels, ``1 2345 6789 0123 4``)."""
    return re.sub(r"\s+", "", raw or "")


def licence_valid(number: str) -> bool:
    """Whether ``number`` is a licence or registration number: exactly 14 digits (ASCII)."""
    return bool(LICENCE_RE.fullmatch(number or ""))


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clipped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def derived_expiry(produced_on: dt.date, shelf_life_days: int) -> dt.date:
    """The expiry of a batch made on ``produced_on`` of a product keeping ``shelf_life_days`` days."""
    return produced_on + dt.timedelta(days=shelf_life_days)


def short_shelf_life(produced_on: dt.date, expires_on: dt.date) -> bool:
    """Whether the shelf life is up to 3 months: the expiry is no later than 3 calendar months after production."""
    try:
        limit = add_months(produced_on, SHORT_SHELF_LIFE_MONTHS)
    except ValueError:  # past 9999-12-31: every date there is within 3 months
        return True
    return expires_on <= limit


def label_date(day: dt.date, *, short: bool) -> str:
    """A date as the label prints it: ``31/10/26`` (short shelf life) or ``OCT 2026``."""
    if short:
        return day.strftime("%d/%m/%y")
    return f"{MONTHS[day.month - 1]} {day.year}"


def label_lines(
    number: str, date_kind: str, produced_on: dt.date, expires_on: dt.date, best_before: dt.date | None
) -> str:
    """One printable line of a batch: ``Batch B-1 · Mfg 01/11/26 · Use by 15/12/26`` (``Pkd`` for packing dates)."""
    short = short_shelf_life(produced_on, expires_on)
    made = "Pkd" if date_kind == "packing" else "Mfg"
    parts = [f"Batch {number}", f"{made} {label_date(produced_on, short=short)}"]
    if best_before is not None:
        parts.append(f"Best before {label_date(best_before, short=short)}")
    parts.append(f"Use by {label_date(expires_on, short=short)}")
    return " · ".join(parts)


def remaining_days(expires_on: dt.date, today: dt.date) -> int:
    """Days of shelf life left on ``today`` (0 on the expiry date, negative after it)."""
    return (expires_on - today).days


def expired(expires_on: dt.date, today: dt.date) -> bool:
    """A batch is expired once its expiry (use-by) date has passed: usable on the date itself, not after."""
    return expires_on < today
