"""A plugin whose hooks and declarations are wrong (for udyog plugin check)."""

from udyog_sdk import Plugin

plugin = Plugin(name="checkhooks", version="0.1.0", title="Check hooks", package=__name__)
