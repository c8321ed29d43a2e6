"""A plugin whose tables, migrations and routes are wrong (for udyog plugin check)."""

from udyog_sdk import Plugin

plugin = Plugin(name="checkschema", version="0.1.0", title="Check schema", package=__name__)
