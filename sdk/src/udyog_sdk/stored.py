"""Checking what a JSON column holds before a document is made of it.

A plugin that stores rows in a JSON column (an invoice's tax lines, a
payslip's components) writes them in a known shape; only a change made in
the database, or a damaged restore, can put anything else there. A page or
document built from such a value should answer 409 naming the fault, not
fail halfway with a 500. These functions say what, if anything, is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

#: Amounts at or above this are refused (money, rates and quantities are far smaller).
AMOUNT_LIMIT = Decimal(10) ** 15


def json_kind(value: Any) -> str:
    """What a JSON value is, in words: ``null``, ``an object``, ``a string``, ``a number``, ``a list``, …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    for kind, words in ((Mapping, "an object"), (str, "a string"), ((int, float), "a number"), (list, "a list")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def is_amount(value: Any) -> bool:
    """Whether ``value`` (a number or its text) is a finite decimal below :data:`AMOUNT_LIMIT` in size."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return False
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return False
    return amount.is_finite() and abs(amount) < AMOUNT_LIMIT


def rows_problem(
    value: Any,
    *,
    texts: Sequence[str] = (),
    amounts: Sequence[str] = (),
    integers: Sequence[str] = (),
    noun: str = "lines",
) -> str | None:
    """Why ``value`` is not a list of row objects of the given shape, or None when it is.

    Each row must be an object holding every key of ``integers`` (whole
    numbers), ``texts`` (strings) and ``amounts`` (:func:`is_amount`). The
    reason names the first fault: ``expected a list of lines, found an
    object``, ``entry 2 has no hsn``, ``entry 1: igst 'abc' is not an amount``.
    """
    if not isinstance(value, list):
        return f"expected a list of {noun}, found {json_kind(value)}"
    for number, row in enumerate(value, start=1):
        if not isinstance(row, Mapping):
            return f"entry {number} is {json_kind(row)}, not an object"
        missing = [key for key in (*integers, *texts, *amounts) if key not in row]
        if missing:
            return f"entry {number} has no {', '.join(missing)}"
        not_text = [key for key in texts if not isinstance(row[key], str)]
        if not_text:
            return f"entry {number}: {', '.join(not_text)} not text"
        for key in integers:
            if isinstance(row[key], bool) or not isinstance(row[key], int):
                return f"entry {number}: {key} {row[key]!r} is not a whole number"
        for key in amounts:
            if not is_amount(row[key]):
                return f"entry {number}: {key} {row[key]!r} is not an amount"
    return None
