"""Test plugin ``notes``."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="notes",
    version="0.3.0",
    title="Notes (test plugin)",
    package=__name__,
    sdk=">=1.2,<2",
    optional=("vigilance",),
    description="Notebooks and notes; exercises every kernel contract.",
)
