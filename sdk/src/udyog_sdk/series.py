"""Number series: what plugins register, and how they take numbers.

A plugin registers series keys (``sales.invoice``) with a default pattern
through ``udyog_series``; tenants set their own pattern. Another plugin may
add constraints to a series through ``udyog_series_constraints`` (GST limits
invoice numbers to 16 characters), checked when a pattern is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

RESETS = ("never", "yearly", "financial_year", "monthly")


@dataclass(frozen=True)
class SeriesDefinition:
    """A series key a plugin registers, with its defaults."""

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
    """A rule another plugin adds to a series; patterns that break it are refused.

    ``resets`` limits the allowed reset periods (None: any).
    """

    key: str
    reason: str
    max_length: int | None = None
    allowed_chars: str | None = None
    resets: tuple[str, ...] | None = None
