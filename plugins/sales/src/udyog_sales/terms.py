"""The account terms sales contributes to crm's customers (``crm.customer``).

Input rules, enforced by the fields themselves (a field that ignores its
input loads to nothing, so the side row is left as it is):

- ``outstanding`` is maintained by sales only: any input is ignored.
- ``is_distributor``, ``margin_pct`` and ``credit_limit`` are taken only
  from users holding ``sales.account.write``; others' input is ignored, so a
  sales executive editing a customer's address cannot raise its credit limit.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_sdk import current_user
from udyog_sdk.fields import ExactDecimal, FieldContribution

from .models import AccountTerms

WRITE = "sales.account.write"


def _may_write() -> bool:
    user = current_user()
    return user is not None and user.can(WRITE)


def _limit_fits(value: Any) -> None:
    if not 0 <= value < 10**15:
        raise ma.ValidationError("must be at least 0 and less than 1000000000000000")


def _margin_fits(value: Any) -> None:
    if not 0 <= value <= 500:
        raise ma.ValidationError("must be between 0 and 500")


class GuardedDecimal(ExactDecimal):
    """A decimal taken only from holders of ``sales.account.write`` (others' input is ignored)."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        """The value for permitted users; ``missing`` (ignored) for the others."""
        if not _may_write():
            return ma.missing
        return super().deserialize(value, attr, data, **kwargs)


class GuardedBoolean(ma.fields.Boolean):
    """A boolean taken only from holders of ``sales.account.write``."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        """The value for permitted users; ``missing`` (ignored) for the others."""
        if not _may_write():
            return ma.missing
        return super().deserialize(value, attr, data, **kwargs)


class ReadOnlyDecimal(ExactDecimal):
    """A decimal shown, never read: input is ignored (``outstanding``)."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        """Always ``missing``: sales alone maintains the value."""
        return ma.missing


def contribution() -> FieldContribution:
    """The account terms on ``crm.customer``, stored in ``sales_account``."""
    return FieldContribution(
        "crm.customer",
        AccountTerms,
        {
            "is_distributor": GuardedBoolean(
                allow_none=True,
                metadata={"label": "Distributor", "description": f"Sales terms: set by holders of {WRITE}"},
            ),
            "margin_pct": GuardedDecimal(
                2,
                digits=3,
                allow_none=True,
                validate=_margin_fits,
                metadata={"label": "Margin (%)", "description": "Added to the base price of every product"},
            ),
            "credit_limit": GuardedDecimal(
                2,
                digits=15,
                allow_none=True,
                validate=_limit_fits,
                metadata={"label": "Credit limit", "description": "Empty: no limit"},
            ),
            "outstanding": ReadOnlyDecimal(
                2,
                digits=16,
                allow_none=True,
                # Shown on the customer's pages, but no form input: sales alone maintains it.
                metadata={
                    "label": "Outstanding",
                    "description": "Maintained by sales (read-only)",
                    "widget": "readonly",
                },
            ),
        },
        filters=["is_distributor"],
        list_columns=["is_distributor", "outstanding"],
    )
