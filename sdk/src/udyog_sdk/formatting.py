"""Indian number, currency and date formatting, and amounts in words.

Numbers group the Indian way (lakh and crore: ``1,23,45,678.50``) through
Babel's locale data; ``en_IN`` and ``hi_IN`` both use the pattern
``#,##,##0.###``. The locale defaults to the current tenant's (the core
setting ``locale``) when a tenant scope is bound, else ``en_IN``.

:func:`amount_in_words` spells an amount in Indian numbering (thousand,
lakh, crore) in the form Indian invoices print::

    >>> amount_in_words(Decimal("12345678.50"))
    'Rupees One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight and Paise Fifty Only'

The words are English for every locale (docs/locale.md states the rules).
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from typing import Literal

from babel.dates import format_date as _babel_format_date
from babel.dates import format_skeleton as _babel_format_skeleton
from babel.numbers import format_currency as _babel_format_currency
from babel.numbers import format_decimal as _babel_format_decimal
from babel.numbers import get_currency_precision

from udyog_sdk.runtime import active_tenant

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "amount_in_words",
    "current_locale",
    "format_amount",
    "format_date",
    "format_month",
    "format_number",
    "tenant_today",
]

#: The locale used when no tenant scope is bound or the tenant set none.
DEFAULT_LOCALE = "en_IN"
#: The locales a tenant may choose (the core setting ``locale``).
LOCALES = ("en_IN", "hi_IN")

DateStyle = Literal["short", "medium", "long", "full"]

_ONES = (
    *("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"),
    *("Ten", "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"),
)
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")
#: Currency → (major unit, minor unit) as printed in words.
_UNITS = {"INR": ("Rupees", "Paise")}


def current_locale() -> str:
    """The current tenant's locale (core setting ``locale``), else :data:`DEFAULT_LOCALE`."""
    tenant = active_tenant()
    if tenant is not None:
        core = tenant.settings.get("core") or {}
        value = core.get("locale")
        if value:
            return str(value)
    return DEFAULT_LOCALE


def _to_decimal(value: Decimal | int | float | str) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, float):
        value = repr(value)  # 0.1 → "0.1", not its binary expansion
    try:
        result = Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def format_amount(value: Decimal | int | float | str, *, currency: str = "INR", locale: str | None = None) -> str:
    """``value`` as money with the currency's sign and two decimals: ``₹1,23,45,678.00``.

    Negative amounts read ``-₹500.00``. The amount is rounded to the
    currency's places half up (``0.005`` → ``₹0.01``), as the GST rules round.
    """
    places = get_currency_precision(currency)
    amount = _to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
    return _babel_format_currency(amount, currency, locale=locale or current_locale(), currency_digits=True)


def format_number(value: Decimal | int | float | str, *, places: int | None = None, locale: str | None = None) -> str:
    """``value`` grouped in lakh and crore: ``1,23,45,678.5``.

    With ``places`` None the number keeps its own decimals, up to three (as
    the locale's pattern says); with ``places`` it shows exactly that many.
    Rounding is half up.
    """
    number = _to_decimal(value)
    pattern = None
    if places is None:
        if number.as_tuple().exponent < -3:  # type: ignore[operator]
            number = number.quantize(Decimal("0.001"), rounding=decimal.ROUND_HALF_UP)
    else:
        if places < 0:
            raise ValueError("places must be 0 or more")
        number = number.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
        pattern = "#,##,##0" + ("." + "0" * places if places else "")
    return _babel_format_decimal(number, format=pattern, locale=locale or current_locale(), decimal_quantization=True)


def format_date(value: dt.date | dt.datetime, *, locale: str | None = None, style: DateStyle = "medium") -> str:
    """A date in the locale's ``style``: en_IN medium ``31 Mar 2026``, short ``31/03/26``.

    A timezone-aware datetime is first moved to the current tenant's
    timezone (when a tenant scope is bound), so the date is the tenant's.
    """
    if isinstance(value, dt.datetime):
        tenant = active_tenant()
        if value.tzinfo is not None and tenant is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(tenant.timezone))
        value = value.date()
    return _babel_format_date(value, format=style, locale=locale or current_locale())


def format_month(value: dt.date, *, locale: str | None = None) -> str:
    """A month and its year, abbreviated, in the locale: en_IN ``Apr 2026``, hi_IN ``अप्रैल 2026``.

    For chart labels and period headings (the day is ignored).
    """
    return _babel_format_skeleton("yMMM", value, locale=locale or current_locale())


def tenant_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date where the current tenant is (its ``timezone``); the server's date with no tenant bound.

    At 01:00 in Kolkata the server's UTC clock still shows yesterday: a report
    "for this month" or a document's default date must use the tenant's day.
    ``now`` (timezone-aware) replaces the clock, for tests.
    """
    from zoneinfo import ZoneInfo

    tenant = active_tenant()
    moment = now or dt.datetime.now(dt.UTC)
    if tenant is None:
        return moment.astimezone().date()
    return moment.astimezone(ZoneInfo(tenant.timezone)).date()


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _indian_words(n: int) -> str:
    """A whole number ≥ 1 in words, Indian numbering (crores counted recursively)."""
    parts: list[str] = []
    crores, n = divmod(n, 10_000_000)
    if crores:
        parts.append(f"{_indian_words(crores)} Crore")
    lakhs, n = divmod(n, 100_000)
    if lakhs:
        parts.append(f"{_below_hundred(lakhs)} Lakh")
    thousands, n = divmod(n, 1000)
    if thousands:
        parts.append(f"{_below_hundred(thousands)} Thousand")
    hundreds, n = divmod(n, 100)
    if hundreds:
        parts.append(f"{_ONES[hundreds]} Hundred")
    if n:
        parts.append(_below_hundred(n))
    return " ".join(parts)


def amount_in_words(value: Decimal | int | float | str, *, currency: str = "INR", locale: str | None = None) -> str:
    """An amount in words, Indian numbering, as Indian invoices print it.

    - ``Rupees <words> Only``; with paise ``Rupees <words> and Paise <words> Only``;
      under one rupee ``Paise <words> Only``; zero ``Rupees Zero Only``;
    - the amount is first rounded to paise, half up;
    - groups are thousand, lakh, crore; above 99 crore the crores are counted
      in words themselves (``One Lakh Crore``), no million or billion;
    - tens and units join with a hyphen (``Twenty-Three``), no "and" inside
      the rupees;
    - negative amounts read ``Minus Rupees … Only`` (a credit note prints its
      amount positive; this keeps a negative legible, never silent).

    Only INR is known (``ValueError`` for another currency). ``locale`` is
    accepted for symmetry; the words are English in every locale.
    """
    del locale  # English words in every locale (docs/locale.md)
    try:
        major, minor = _UNITS[currency]
    except KeyError:
        raise ValueError(f"amounts in words know only {', '.join(_UNITS)}, not {currency!r}") from None
    amount = _to_decimal(value).quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    sign = "Minus " if amount < 0 else ""
    rupees, paise = divmod(int(abs(amount) * 100), 100)
    if rupees and paise:
        words = f"{major} {_indian_words(rupees)} and {minor} {_below_hundred(paise)}"
    elif paise:
        words = f"{minor} {_below_hundred(paise)}"
    else:
        words = f"{major} {_indian_words(rupees) if rupees else 'Zero'}"
    return f"{sign}{words} Only"
