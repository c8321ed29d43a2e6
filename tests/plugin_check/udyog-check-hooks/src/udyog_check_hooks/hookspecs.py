"""Hooks it publishes: one lacks the plugin's prefix and a docstring."""

from udyog_sdk import hookspec


@hookspec
def refresh_totals(total: int) -> None:
    pass


@hookspec
def checkhooks_rounding(amount: int) -> int:
    """Round an amount.

    Returns: the rounded amount. Broadcast.

    Since: checkhooks 0.1.
    """
