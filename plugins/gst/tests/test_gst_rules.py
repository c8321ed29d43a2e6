"""GST rules from INDIA.md with their own worked values: identifiers, states, heads, rounding, dates, thresholds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")

import pytest
from gst_kit import ANDAMAN, CENTRE, CHANDIGARH, DNH_DD, LADAKH, LAKSHADWEEP, OTHER_TERRITORY, SUPPLIER_MH
from udyog_gst import data
from udyog_gst.identifiers import IdentifierError, check_character, normalise, validate_gstin, validate_pan
from udyog_gst.services import Supply, place_of_supply, rate_for, split

# -- identifiers -------------------------------------------------------------------------------


def test_gstins_are_normalised_before_they_are_checked():
    assert normalise(" 27aakcs4821m1zw ") == SUPPLIER_MH
    assert validate_gstin("27-AAKCS-4821-M1Z-W") == SUPPLIER_MH
    assert validate_gstin("27 aakcs 4821 m 1zw") == SUPPLIER_MH


@pytest.mark.parametrize("gstin", [LADAKH, OTHER_TERRITORY, CENTRE])
def test_state_codes_38_97_and_99_are_accepted_though_stdnum_refuses_them(gstin):
    from stdnum.in_ import gstin as stdnum_gstin

    assert not stdnum_gstin.is_valid(gstin)  # why Udyog keeps its own state table
    assert validate_gstin(gstin) == gstin


@pytest.mark.parametrize(
    ("gstin", "reason"),
    [
        ("27AAKCS4821M1ZX", "check character"),  # last character changed
        ("27AAKCS4821M1Z", "15 characters"),
        ("40AAKCS4821M1ZW", "not a GST state code"),
        ("96AAKCS4821M1ZW", "not a GST state code"),  # 96 is a place of supply, never a registration
        ("27AAKCS4821M0ZW", "never 0"),
        ("27AAKCS4821M1AW", "14th character"),
        ("27ABCDE1234F1ZW", "PAN"),
    ],
)
def test_bad_gstins_are_refused_with_the_reason(gstin, reason):
    with pytest.raises(IdentifierError, match=reason):
        validate_gstin(gstin)


def test_the_check_character_is_luhn_mod_36():
    assert check_character("27AAKCS4821M1Z") == "W"
    assert check_character("38AAKCS4821M1Z") == "T"


def test_pans_the_tutorial_sample_is_invalid():
    assert validate_pan("aakcs4821m") == "AAKCS4821M"
    with pytest.raises(IdentifierError, match="holder type"):
        validate_pan("ABCDE1234F")  # 4th character D is no holder type
    with pytest.raises(IdentifierError, match="10 characters"):
        validate_pan("AAKCS4821")
    with pytest.raises(IdentifierError, match="5 letters"):
        validate_pan("AAKC54821M")


def test_the_state_table():
    assert set(data.STATES) == {f"{n:02d}" for n in range(1, 39)} | {"97", "99"}
    assert {"25", "28"} == data.LEGACY_STATES
    assert data.EXPORT_POS == "96" and "96" not in data.STATES
    assert {"04", "26", "31", "35", "38", "97"} == data.UTGST_STATES


# -- heads and rounding ----------------------------------------------------------------------


def _supply(pos: str, supplier: str = "27", *, sez: bool = False) -> Supply:
    return Supply(supplier, pos, sez or pos != supplier, sez, False, None)


def test_cgst_and_sgst_are_rounded_separately_so_they_differ_from_igst_by_a_paisa():
    # ₹100.10 at 5%: 5.005 → IGST 5.01; half is 2.5025 → CGST 2.50 + SGST 2.50 = 5.00.
    assert split(D("100.10"), D("5"), _supply("27")) == [("CGST", D("2.5"), D("2.50")), ("SGST", D("2.5"), D("2.50"))]
    assert split(D("100.10"), D("5"), _supply("29")) == [("IGST", D("5"), D("5.01"))]
    # Half up, not to even: ₹10.50 at 5% is 0.525 → IGST 0.53; at 18% half is 0.945 → 0.95 each.
    assert split(D("10.50"), D("5"), _supply("29")) == [("IGST", D("5"), D("0.53"))]
    assert split(D("10.50"), D("18"), _supply("27"))[0][2] == D("0.95")
    assert split(D("100.00"), D("0"), _supply("27")) == []


@pytest.mark.parametrize("gstin", [CHANDIGARH, DNH_DD, LAKSHADWEEP, ANDAMAN, LADAKH, OTHER_TERRITORY])
def test_union_territories_without_a_legislature_charge_utgst(gstin):
    ut = gstin[:2]
    assert [h[0] for h in split(D("1000.00"), D("18"), _supply(ut, supplier=ut))] == ["CGST", "UTGST"]
    assert split(D("1000.00"), D("18"), _supply(ut, supplier=ut))[1][2] == D("90.00")
    assert [h[0] for h in split(D("1000.00"), D("18"), _supply(ut, supplier="27"))] == ["IGST"]


def test_delhi_and_puducherry_have_legislatures_and_charge_sgst():
    assert [h[0] for h in split(D("100"), D("5"), _supply("07", "07"))] == ["CGST", "SGST"]
    assert [h[0] for h in split(D("100"), D("5"), _supply("34", "34"))] == ["CGST", "SGST"]


class _Customer:
    def __init__(self, shipping: str | None = None, billing: str | None = None) -> None:
        self.shipping_state_code = shipping
        self.billing_state_code = billing


class _Party:
    def __init__(self, gstin: str | None = None, sez: bool = False, export: bool = False) -> None:
        self.gstin, self.sez, self.export = gstin, sez, export


def test_place_of_supply_is_where_the_goods_go():
    # registered Karnataka buyer, goods shipped to its Maharashtra godown: intra-state
    assert place_of_supply(_Customer("27", "29"), _Party("29AAFFK7263Q1ZH"), "27").inter_state is False
    # registered buyer without a shipping state: its GSTIN's state
    assert place_of_supply(_Customer(None, None), _Party("29AAFFK7263Q1ZH"), "27").pos == "29"
    # unregistered: the address on the invoice (shipping, else billing), else the supplier's state
    assert place_of_supply(_Customer(None, "29"), None, "27").pos == "29"
    assert place_of_supply(_Customer(None, None), None, "27") == Supply("27", "27", False, False, False, None)
    # SEZ: IGST even within the state; export: place of supply 96
    sez = place_of_supply(_Customer("27"), _Party("27AAHCS3390L1ZV", sez=True), "27")
    assert (sez.pos, sez.inter_state) == ("27", True)
    export = place_of_supply(_Customer("29"), _Party(export=True), "27")
    assert (export.pos, export.inter_state, export.export) == ("96", True, True)


# -- dated data -----------------------------------------------------------------------------


def _table() -> dict[str, list[tuple[dt.date, D]]]:
    table: dict[str, list[tuple[dt.date, D]]] = {}
    for row in data.HSN_RATES:
        table.setdefault(row.hsn, []).append((row.valid_from, row.rate))
    return table


@pytest.mark.parametrize(
    ("hsn", "before", "after"),
    [
        ("0405", "12", "5"),  # ghee and butter
        ("04059020", "12", "5"),  # ghee by its 8-digit code (prefix 0405)
        ("0406", "12", "5"),  # cheese
        ("21069099", "12", "5"),  # namkeen
        ("04012000", "5", "0"),  # UHT milk
        ("04061000", "5", "0"),  # packaged paneer
        ("19059010", "5", "0"),  # roti
        ("2202", "28", "40"),  # aerated drinks: the 40% slab
        ("7108", "3", "3"),  # gold: 3% continues
        ("7102", "0.25", "0.25"),  # rough diamonds: 0.25% continues
    ],
)
def test_rates_apply_by_the_time_of_supply_around_22_09_2025(hsn, before, after):
    table = _table()
    assert rate_for(hsn, dt.date(2025, 9, 21), table) == D(before)
    assert rate_for(hsn, dt.date(2025, 9, 22), table) == D(after)


def test_no_rate_before_gst_or_for_an_unknown_code():
    assert rate_for("0405", dt.date(2017, 6, 30), _table()) is None
    assert rate_for("9999", dt.date(2025, 10, 1), _table()) is None


def test_slabs_before_and_after_the_reform():
    before = {r.rate for r in data.HSN_RATES if r.valid_from < data.REFORM}
    after = {rate_for(r.hsn, data.REFORM, _table()) for r in data.HSN_RATES}
    assert before <= {D("0"), D("0.25"), D("3"), D("5"), D("12"), D("18"), D("28")}
    assert after <= {D("0"), D("0.25"), D("3"), D("5"), D("18"), D("40")}


def test_thresholds_are_dated():
    assert data.in_force(data.B2CL_LIMIT, dt.date(2024, 7, 31)) == D("250000")
    assert data.in_force(data.B2CL_LIMIT, dt.date(2024, 8, 1)) == D("100000")
    assert data.in_force(data.EINVOICE_TURNOVER, dt.date(2023, 7, 31)) == D("100000000")
    assert data.in_force(data.EINVOICE_TURNOVER, dt.date(2023, 8, 1)) == D("50000000")
    assert data.in_force(data.EWAY_BILL_INTERSTATE, dt.date(2025, 1, 1)) == D("50000")


def test_e_way_bill_threshold_is_exceeded_only_above_50000_inter_state():
    from udyog_gst.services import eway_bill_needed

    day = dt.date(2025, 10, 1)
    assert eway_bill_needed(True, D("50000.00"), day) is False
    assert eway_bill_needed(True, D("50000.01"), day) is True
    assert eway_bill_needed(False, D("90000.00"), day) is False
    assert eway_bill_needed(True, D("90000.00"), dt.date(2018, 3, 31)) is False  # before the rule's data
