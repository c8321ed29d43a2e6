"""Pricing arithmetic of an order: plain functions on Decimals, no database.

Rounding is to paise, half up (as Indian invoices round), at these points:
the unit price; each line's amount after its discount; the order-level
discount; its share on each line (the last line takes the remainder, so the
shares add up exactly); each tax.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

PAISE = Decimal("0.01")
HUNDRED = Decimal("100")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    """``value`` rounded to paise, half up."""
    return Decimal(value).quantize(PAISE, rounding=ROUND_HALF_UP)


def unit_price(base_price: Decimal, margin_pct: Decimal) -> Decimal:
    """The default unit price: the base price plus the distributor's margin in percent, to paise."""
    return money(Decimal(base_price) * (HUNDRED + Decimal(margin_pct)) / HUNDRED)


def line_amount(quantity: Decimal, price: Decimal, discount_pct: Decimal) -> Decimal:
    """A line's amount: quantity times unit price less the line's discount in percent, to paise."""
    gross = Decimal(quantity) * Decimal(price)
    return money(gross * (HUNDRED - Decimal(discount_pct)) / HUNDRED)


def order_discount(subtotal: Decimal, discount_pct: Decimal) -> Decimal:
    """The order-level discount on ``subtotal`` (the sum of the line amounts), to paise."""
    return money(Decimal(subtotal) * Decimal(discount_pct) / HUNDRED)


def spread(amounts: Sequence[Decimal], discount: Decimal) -> list[Decimal]:
    """Each line's taxable amount once ``discount`` is spread over ``amounts`` in proportion.

    The shares are rounded to paise and the last non-zero line takes the
    remainder, so ``sum(result) == sum(amounts) - discount`` exactly.
    """
    total = sum(amounts, ZERO)
    if not amounts:
        return []
    if total == 0 or discount == 0:
        return [money(a) for a in amounts]
    shares = [money(Decimal(a) * discount / total) for a in amounts]
    last = max(i for i, a in enumerate(amounts) if a != 0)
    shares[last] = discount - (sum(shares, ZERO) - shares[last])
    return [money(a - s) for a, s in zip(amounts, shares, strict=True)]
