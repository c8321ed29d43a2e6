"""Number series: what plugins register, and how they take numbers.

A plugin registers series keys (``sales.invoice``) with a default pattern
through ``udyog_series``; tenants set their own pattern. Another plugin may
add constraints to a series through ``udyog_series_constraints`` (GST limits
invoice numbers to 16 characters), checked when a pattern is saved and again
for every number taken. A plugin takes numbers with :func:`next_number`, in
its own transaction, as late in it as it can. See ``docs/number-series.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from udyog_sdk.runtime import current_scope

RESETS = ("never", "yearly", "financial_year", "monthly")


@dataclass(frozen=True)
class SeriesDefinition:
    """A series key a plugin registers, with its defaults.

    ``key`` is ``<plugin>.<thing>``. ``default_pattern`` (e.g.
    ``INV/{FY}/{seq:04}``) and ``reset`` are what a tenant gets when it
    enables the plugin; it may change both. ``gap_free`` marks series whose
    numbers must be consecutive (tax invoices); tenants cannot switch it off.
    ``max_length`` and ``allowed_chars`` (characters, with ranges such as
    ``A-Za-z0-9/-``) hold for every tenant's pattern.
    """

    key: str
    title: str
    default_pattern: str
    reset: str = "never"
    gap_free: bool = False
    max_length: int | None = None
    allowed_chars: str | None = None

    def __post_init__(self) -> None:
        if self.reset not in RESETS:
            raise ValueError(f"series {self.key}: reset must be one of {', '.join(RESETS)}")


@dataclass(frozen=True)
class SeriesConstraint:
    """A rule another plugin adds to a series; patterns and numbers that break it are refused.

    ``reason`` is shown with every refusal, so name the rule and the plugin
    (``"GST rule 46: at most 16 characters"``). ``max_length`` and
    ``allowed_chars`` combine with the series' own limits (the tightest wins);
    ``resets`` limits the allowed reset periods (None: any).
    """

    key: str
    reason: str
    max_length: int | None = None
    allowed_chars: str | None = None
    resets: tuple[str, ...] | None = None


def next_number(key: str, *, branch: str | None = None, on: date | None = None) -> str:
    """Take the next number of series ``key`` in the current transaction.

    Call it as late in the transaction as you can: the counter stays locked
    until the transaction ends (other transactions taking numbers of the
    same series wait), and a rollback gives the number back. ``branch`` is a branch code, required when the tenant's
    pattern has ``{BRANCH}`` (each branch counts on its own). ``on`` is the
    document date (a ``date``, or an aware ``datetime`` taken in the
    tenant's timezone); by default today in the tenant's timezone. It decides
    the date tokens and the reset period.

    Raises :class:`udyog_sdk.UdyogError`: 404 for a key that is not
    registered or whose plugin the tenant has not enabled, 422 for a missing
    or unknown branch, 409 when the tenant's settings break a rule in force
    (the number is not taken then).
    """
    return current_scope().next_number(key, branch=branch, on=on)
