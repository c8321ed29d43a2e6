"""Hook implementations of the ledger plugin: everything comes from the resource."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Permission, hookimpl
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import MenuEntry

from .dashboard import udyog_dashboard  # noqa: F401 - registered with this module
from .settings import udyog_settings  # noqa: F401 - registered with this module


@hookimpl
def udyog_blueprints() -> list[Any]:
    from .api import VOUCHERS

    return [VOUCHERS.blueprint(description="Vouchers (test plugin)"), VOUCHERS.page_blueprint()]


@hookimpl
def udyog_resources() -> list[Any]:
    from .api import VOUCHERS

    return [VOUCHERS]


@hookimpl
def udyog_permissions() -> list[Permission]:
    from .api import VOUCHERS

    return VOUCHERS.permissions()


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    from .api import VOUCHERS

    return [VOUCHERS.menu_entry(weight=60, icon="receipt")]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    return [SeriesDefinition("ledger.voucher", "Voucher", "V-{seq:04}", gap_free=True, max_length=16)]
