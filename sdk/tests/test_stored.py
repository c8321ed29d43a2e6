"""udyog_sdk.stored: what is wrong with a stored JSON value, in words."""

from __future__ import annotations

from decimal import Decimal

from udyog_sdk.stored import is_amount, json_kind, rows_problem

SHAPE = {"texts": ("hsn",), "amounts": ("rate", "igst"), "integers": ("line_no",)}


def test_a_well_formed_list_of_rows_has_no_problem():
    rows = [
        {"line_no": 1, "hsn": "0405", "rate": "12", "igst": 330},
        {"line_no": 2, "hsn": "", "rate": 0, "igst": "0.00"},
    ]
    assert rows_problem(rows, **SHAPE) is None
    assert rows_problem([], **SHAPE) is None


def test_each_fault_is_named_with_its_entry():
    assert rows_problem({"marker": "x"}, **SHAPE) == "expected a list of lines, found an object"
    assert rows_problem(None, noun="components") == "expected a list of components, found null"
    assert rows_problem(["x"], **SHAPE) == "entry 1 is a string, not an object"
    ok = {"line_no": 1, "hsn": "0405", "rate": "5", "igst": "1"}
    assert rows_problem([ok, {"line_no": 2}], **SHAPE) == "entry 2 has no hsn, rate, igst"
    assert rows_problem([{**ok, "hsn": 405}], **SHAPE) == "entry 1: hsn not text"
    assert rows_problem([{**ok, "line_no": True}], **SHAPE) == "entry 1: line_no True is not a whole number"
    assert rows_problem([{**ok, "line_no": "1"}], **SHAPE) == "entry 1: line_no '1' is not a whole number"
    assert rows_problem([{**ok, "igst": "abc"}], **SHAPE) == "entry 1: igst 'abc' is not an amount"


def test_amounts_are_finite_decimals_below_ten_to_the_fifteen():
    assert is_amount("12.50") and is_amount(3) and is_amount(0.5) and is_amount(Decimal("-7"))
    assert is_amount("999999999999999.99")
    assert not is_amount("1000000000000000")
    assert not is_amount("NaN") and not is_amount("Infinity") and not is_amount("1e400")
    assert not is_amount(True) and not is_amount(None) and not is_amount([1]) and not is_amount("")


def test_json_kinds_in_words():
    assert [json_kind(v) for v in (None, True, {}, "s", 1, 1.5, [])] == [
        "null",
        "true or false",
        "an object",
        "a string",
        "a number",
        "a number",
        "a list",
    ]
