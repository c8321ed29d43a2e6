"""Test plugin ``tags``."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="tags",
    version="0.2.0",
    title="Tags (test plugin)",
    package=__name__,
    requires=("notes>=0.2",),
)
