"""GST data shipped with the plugin: state codes, dated thresholds and dated HSN rates.

Every rate and threshold is data with an effective-from date (INDIA.md):
code reads it through :func:`in_force`, never as a constant of its own.
HSN rates are copied into each tenant's table ``gst_hsn_rate`` when the
plugin is enabled (a policy the tenant may edit); thresholds are read from
here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

T = TypeVar("T")

#: GST state codes (the first two characters of a GSTIN) and their names.
#: stdnum 2.2 lacks 38, 97 and 99, so Udyog keeps its own table.
STATES: dict[str, str] = {
    "01": "Jammu and Kashmir",
    "02": "Himachal Pradesh",
    "03": "Punjab",
    "04": "Chandigarh",
    "05": "Uttarakhand",
    "06": "Haryana",
    "07": "Delhi",
    "08": "Rajasthan",
    "09": "Uttar Pradesh",
    "10": "Bihar",
    "11": "Sikkim",
    "12": "Arunachal Pradesh",
    "13": "Nagaland",
    "14": "Manipur",
    "15": "Mizoram",
    "16": "Tripura",
    "17": "Meghalaya",
    "18": "Assam",
    "19": "West Bengal",
    "20": "Jharkhand",
    "21": "Odisha",
    "22": "Chhattisgarh",
    "23": "Madhya Pradesh",
    "24": "Gujarat",
    "25": "Daman and Diu (old code)",
    "26": "Dadra and Nagar Haveli and Daman and Diu",
    "27": "Maharashtra",
    "28": "Andhra Pradesh (old code)",
    "29": "Karnataka",
    "30": "Goa",
    "31": "Lakshadweep",
    "32": "Kerala",
    "33": "Tamil Nadu",
    "34": "Puducherry",
    "35": "Andaman and Nicobar Islands",
    "36": "Telangana",
    "37": "Andhra Pradesh",
    "38": "Ladakh",
    "97": "Other Territory",
    "99": "Centre Jurisdiction",
}
#: Codes accepted on old documents only (GSTINs issued under them stay valid).
LEGACY_STATES = frozenset({"25", "28"})
#: The place-of-supply code of exports (never a registration's state).
EXPORT_POS = "96"
#: Union territories without a legislature: they charge UTGST instead of SGST.
UTGST_STATES = frozenset({"04", "26", "31", "35", "38", "97"})


@dataclass(frozen=True)
class Dated(Generic[T]):
    """A value in force from ``since`` (inclusive) until the next entry's date."""

    since: dt.date
    value: T


def in_force(history: Sequence[Dated[T]], on: dt.date) -> T | None:
    """The value of ``history`` in force on ``on`` (None before the first entry)."""
    found: T | None = None
    for entry in sorted(history, key=lambda e: e.since):
        if entry.since <= on:
            found = entry.value
    return found


CRORE = Decimal("10000000")
LAKH = Decimal("100000")

#: E-invoicing (IRN) is required when the aggregate turnover in any year since 2017-18 exceeded this.
EINVOICE_TURNOVER: tuple[Dated[Decimal], ...] = (
    Dated(dt.date(2020, 10, 1), 500 * CRORE),
    Dated(dt.date(2021, 1, 1), 100 * CRORE),
    Dated(dt.date(2021, 4, 1), 50 * CRORE),
    Dated(dt.date(2022, 4, 1), 20 * CRORE),
    Dated(dt.date(2022, 10, 1), 10 * CRORE),
    Dated(dt.date(2023, 8, 1), 5 * CRORE),
)
#: An e-way bill is needed when an inter-state consignment's value including tax exceeds this.
EWAY_BILL_INTERSTATE: tuple[Dated[Decimal], ...] = (Dated(dt.date(2018, 4, 1), Decimal("50000")),)
#: GSTR-1: an inter-state invoice to an unregistered buyer above this is B2C large (b2cl).
B2CL_LIMIT: tuple[Dated[Decimal], ...] = (
    Dated(dt.date(2017, 7, 1), Decimal("250000")),
    Dated(dt.date(2024, 8, 1), Decimal("100000")),
)
#: HSN digits on invoices: (turnover limit, digits up to it, digits above it).
HSN_DIGITS: tuple[Dated[tuple[Decimal, int, int]], ...] = (Dated(dt.date(2021, 4, 1), (5 * CRORE, 4, 6)),)

#: The reform of 22-09-2025 (56th GST Council): slabs 5/18/40, 12 and 28 removed for most goods.
REFORM = dt.date(2025, 9, 22)
START = dt.date(2017, 7, 1)


@dataclass(frozen=True)
class HsnRate:
    """A shipped rate: ``hsn`` (a code or a prefix of 2 to 8 digits), in force from ``valid_from``."""

    hsn: str
    description: str
    valid_from: dt.date
    rate: Decimal


def _r(hsn: str, description: str, before: str, after: str | None = None) -> list[HsnRate]:
    rows = [HsnRate(hsn, description, START, Decimal(before))]
    if after is not None and after != before:
        rows.append(HsnRate(hsn, description, REFORM, Decimal(after)))
    return rows


#: The rates Udyog ships for a food manufacturer's common goods (before → from 22-09-2025).
HSN_RATES: tuple[HsnRate, ...] = tuple(
    row
    for rows in (
        _r("0401", "Milk and cream, not concentrated (fresh milk, UHT milk)", "0", "0"),
        _r("04012000", "UHT milk", "5", "0"),
        _r("0402", "Milk and cream, concentrated or sweetened (milk powder)", "5", "5"),
        _r("0403", "Curd, lassi, buttermilk (packaged)", "5", "5"),
        _r("0405", "Butter, ghee and other fats from milk", "12", "5"),
        _r("0406", "Cheese and curd", "12", "5"),
        _r("04061000", "Paneer (chena), packaged and labelled", "5", "0"),
        _r("0713", "Dried pulses (packaged and labelled)", "5", "5"),
        _r("1006", "Rice (packaged and labelled)", "5", "5"),
        _r("1101", "Wheat flour (atta), packaged and labelled", "5", "5"),
        _r("1701", "Cane sugar", "5", "5"),
        _r("1704", "Sugar confectionery", "18", "5"),
        _r("1806", "Chocolate and cocoa preparations", "18", "5"),
        _r("1901", "Malt extract, food preparations of flour", "18", "5"),
        _r("1905", "Bread, pastry, cakes, biscuits", "18", "5"),
        _r("19059010", "Roti, chapati, khakhra (pre-packaged)", "5", "0"),
        _r("2001", "Vegetables and fruit preserved in vinegar (pickles)", "12", "5"),
        _r("2007", "Jams, fruit jellies, marmalades", "12", "5"),
        _r("2009", "Fruit juices", "12", "5"),
        _r("2103", "Sauces, ketchup, mixed condiments", "12", "5"),
        _r("2106", "Food preparations n.e.s.", "18", "5"),
        _r("21069099", "Namkeen, bhujia, mixture (pre-packaged)", "12", "5"),
        _r("2201", "Packaged drinking water", "18", "5"),
        _r("2202", "Aerated and sweetened drinks", "28", "40"),
        _r("0904", "Pepper, chillies (spices)", "5", "5"),
        _r("0910", "Ginger, turmeric and other spices", "5", "5"),
        _r("7108", "Gold (unwrought or semi-manufactured)", "3", "3"),
        _r("7102", "Diamonds, rough", "0.25", "0.25"),
        _r("4819", "Cartons, boxes of paper (packing)", "12", "18"),
        _r("9965", "Goods transport services (SAC)", "5", "5"),
        _r("9983", "Other professional and technical services (SAC)", "18", "18"),
    )
    for row in rows
)
