"""Marshmallow schemas of the ``hr`` plugin: what the API reads and writes.

Bounds fit the columns. Decimal bounds are plain validator functions: a
``Range`` on an ``as_string`` decimal would render its bounds as strings in
the OpenAPI document. Statutory numbers are normalised (trimmed, upper case)
before they are checked; the PAN with python-stdnum.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.in_ import pan as stdnum_pan

from udyog_sdk.api import UTCDateTimeField
from udyog_sdk.fields import ExactDecimal

from .models import ATTENDANCE_STATUSES, GENDERS, LEAVE_STATUSES, WORK_STATES

WEEKLY_OFFS_RE = re.compile(r"^[1-7](,[1-7]){0,6}$")
IFSC_RE = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")


def _between(
    low: decimal.Decimal | int, high: decimal.Decimal | int, *, low_open: bool = False
) -> Callable[[Any], None]:
    """A validator: ``low <= value <= high`` (``low < value`` with ``low_open``)."""

    def check(value: Any) -> None:
        if value is None:
            return
        if (value <= low if low_open else value < low) or value > high:
            sign = "more than" if low_open else "at least"
            raise ma.ValidationError(f"must be {sign} {low} and at most {high}")

    return check


def _text(max_length: int, **kwargs: Any) -> ma.fields.String:
    kwargs.setdefault("load_default", "")
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


def _name(max_length: int, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=max_length), **kwargs)


class Normalised(ma.fields.String):
    """A code people type with spaces or in lower case: trimmed, inner spaces dropped, upper case; empty is None."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = "".join(text.split()).upper()
        return text or None


def _pan(value: str | None) -> None:
    if value is None:
        return
    try:
        stdnum_pan.validate(value)
    except StdnumError as exc:
        raise ma.ValidationError("must be a PAN: 5 letters, 4 digits and a letter, e.g. ABCPE1234F") from exc
    if value[3] != "P":
        raise ma.ValidationError("must be an individual's PAN: its 4th character is P")


def _digits(count_low: int, count_high: int, what: str) -> Callable[[str | None], None]:
    def check(value: str | None) -> None:
        if value is not None and (not value.isdigit() or not count_low <= len(value) <= count_high):
            span = str(count_low) if count_low == count_high else f"{count_low} to {count_high}"
            raise ma.ValidationError(f"must be {what}: {span} digits")

    return check


def _ifsc(value: str | None) -> None:
    if value is not None and not IFSC_RE.match(value):
        raise ma.ValidationError("must be an IFSC: 4 letters, a zero and 6 letters or digits, e.g. HDFC0001234")


def _weekly_offs(value: str) -> None:
    if not WEEKLY_OFFS_RE.match(value) or len(set(value.split(","))) != len(value.split(",")):
        raise ma.ValidationError('must be ISO weekdays 1 (Monday) to 7 (Sunday), comma separated, e.g. "6,7"')


def _latitude(**kwargs: Any) -> ExactDecimal:
    return ExactDecimal(
        6,
        digits=3,
        validate=_between(-90, 90),
        metadata={"description": "Degrees north, -90 to 90, at most 6 decimals"},
        **kwargs,
    )


def _longitude(**kwargs: Any) -> ExactDecimal:
    return ExactDecimal(
        6,
        digits=3,
        validate=_between(-180, 180),
        metadata={"description": "Degrees east, -180 to 180, at most 6 decimals"},
        **kwargs,
    )


class DepartmentSchema(ma.Schema):
    """A department."""

    id = ma.fields.UUID(dump_only=True)
    code = _name(16)
    name = _name(120)
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class ShiftSchema(ma.Schema):
    """A shift: hours, grace, what makes a full and a half day, and the weekly offs."""

    id = ma.fields.UUID(dump_only=True)
    name = _name(60)
    start_time = ma.fields.Time(required=True, metadata={"description": "HH:MM, local time"})
    end_time = ma.fields.Time(
        required=True, metadata={"description": "HH:MM, local time (before the start: overnight)"}
    )
    grace_minutes = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=0, max=240))
    full_day_hours = ExactDecimal(
        2,
        digits=2,
        load_default=decimal.Decimal("8"),
        validate=_between(0, 24, low_open=True),
        metadata={"label": "Hours for a full day"},
    )
    half_day_hours = ExactDecimal(
        2,
        digits=2,
        load_default=decimal.Decimal("4"),
        validate=_between(0, 24, low_open=True),
        metadata={"label": "Hours for a half day"},
    )
    weekly_offs = ma.fields.String(
        load_default="7",
        validate=_weekly_offs,
        metadata={"label": "Weekly offs", "description": 'ISO weekdays off: "7" Sunday, "6,7" Saturday and Sunday'},
    )
    version = ma.fields.Integer(dump_only=True)


class EmployeeSchema(ma.Schema):
    """An employee; the code comes from the series ``hr.employee`` unless given."""

    id = ma.fields.UUID(dump_only=True)
    code = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "Left out: the next number of the series hr.employee"},
    )
    name = _name(120)
    branch_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Branch"})
    department_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Department"})
    designation = ma.fields.String(allow_none=True, load_default=None, validate=ma.validate.Length(max=120))
    date_of_joining = ma.fields.Date(required=True)
    date_of_leaving = ma.fields.Date(allow_none=True, load_default=None)
    date_of_birth = ma.fields.Date(required=True)
    gender = ma.fields.String(required=True, validate=ma.validate.OneOf(GENDERS))
    work_state = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(WORK_STATES)),
        metadata={"label": "State of work", "description": "Two-letter state or UT code, e.g. MH, KA"},
    )
    email = ma.fields.Email(allow_none=True, load_default=None, validate=ma.validate.Length(max=254))
    phone = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Regexp(r"^\+?[0-9 ()-]{6,32}$", error="must be a phone number: digits, spaces, + ( ) -"),
    )
    pan = Normalised(allow_none=True, load_default=None, validate=_pan, metadata={"label": "PAN"})
    uan = Normalised(
        allow_none=True, load_default=None, validate=_digits(12, 12, "a UAN"), metadata={"label": "UAN (EPF)"}
    )
    esi_number = Normalised(
        allow_none=True,
        load_default=None,
        validate=_digits(10, 17, "an ESI insurance number"),
        metadata={"label": "ESI number"},
    )
    bank_account_number = Normalised(
        allow_none=True,
        load_default=None,
        validate=_digits(9, 18, "a bank account number"),
        metadata={"label": "Bank account number"},
    )
    bank_ifsc = Normalised(allow_none=True, load_default=None, validate=_ifsc, metadata={"label": "IFSC"})
    user_id = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"label": "Login", "reference": "user", "description": "The user account of the employee"},
    )
    manager_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Manager"})
    manager_user_id = ma.fields.UUID(
        dump_only=True, metadata={"label": "Manager's login", "reference": "user", "description": "Leave goes to it"}
    )
    shift_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Shift"})
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)

    @ma.validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        joined, left, born = data.get("date_of_joining"), data.get("date_of_leaving"), data.get("date_of_birth")
        if joined is not None and left is not None and left < joined:
            raise ma.ValidationError("must be on or after the date of joining", "date_of_leaving")
        if joined is not None and born is not None and born >= joined:
            raise ma.ValidationError("must be before the date of joining", "date_of_birth")
        if joined is not None and joined.year < 1900:
            raise ma.ValidationError("must be in 1900 or later", "date_of_joining")
        if born is not None and born.year < 1900:
            raise ma.ValidationError("must be in 1900 or later", "date_of_birth")


class GeofenceSchema(ma.Schema):
    """A branch's geofence (one per branch)."""

    id = ma.fields.UUID(dump_only=True)
    branch_id = ma.fields.UUID(required=True, metadata={"label": "Branch"})
    latitude = _latitude(required=True)
    longitude = _longitude(required=True)
    radius_m = ma.fields.Integer(
        load_default=200, validate=ma.validate.Range(min=10, max=100000), metadata={"label": "Radius (m)"}
    )
    version = ma.fields.Integer(dump_only=True)


class HolidaySchema(ma.Schema):
    """A holiday of the company (no branch) or of one branch."""

    id = ma.fields.UUID(dump_only=True)
    holiday_date = ma.fields.Date(required=True, metadata={"label": "Date"})
    name = _name(120)
    branch_id = ma.fields.UUID(
        allow_none=True, load_default=None, metadata={"label": "Branch", "description": "Empty: every branch"}
    )
    version = ma.fields.Integer(dump_only=True)


class AttendanceSchema(ma.Schema):
    """An attendance day, as HR records or corrects it (employees check in through ``/attendance/check-in``)."""

    id = ma.fields.UUID(dump_only=True)
    employee_id = ma.fields.UUID(required=True, metadata={"label": "Employee"})
    attendance_date = ma.fields.Date(required=True, metadata={"label": "Date"})
    status = ma.fields.String(load_default="present", validate=ma.validate.OneOf(ATTENDANCE_STATUSES))
    source = ma.fields.String(dump_only=True)
    check_in_at = UTCDateTimeField(allow_none=True, load_default=None, metadata={"label": "Checked in"})
    check_out_at = UTCDateTimeField(allow_none=True, load_default=None, metadata={"label": "Checked out"})
    worked_hours = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    check_in_latitude = ma.fields.Decimal(dump_only=True, as_string=True, places=6)
    check_in_longitude = ma.fields.Decimal(dump_only=True, as_string=True, places=6)
    check_in_accuracy_m = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    check_in_distance_m = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    check_in_outside = ma.fields.Boolean(dump_only=True, metadata={"label": "Checked in outside the geofence"})
    check_out_latitude = ma.fields.Decimal(dump_only=True, as_string=True, places=6)
    check_out_longitude = ma.fields.Decimal(dump_only=True, as_string=True, places=6)
    check_out_accuracy_m = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    check_out_distance_m = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    check_out_outside = ma.fields.Boolean(dump_only=True, metadata={"label": "Checked out outside the geofence"})
    note = _text(2000, metadata={"widget": "textarea"})
    version = ma.fields.Integer(dump_only=True)

    @ma.validates_schema
    def _times(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("check_in_at"), data.get("check_out_at")
        if start is not None and end is not None and end < start:
            raise ma.ValidationError("must be at or after the check-in", "check_out_at")


class AttendancePunchSchema(ma.Schema):
    """A check-in or check-out: where the browser says you are (optional), for yourself or (HR) an employee."""

    employee_id = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"description": "Left out: the employee linked to your login (others need hr.attendance.write)"},
    )
    latitude = _latitude(allow_none=True, load_default=None)
    longitude = _longitude(allow_none=True, load_default=None)
    accuracy_m = ExactDecimal(
        2,
        digits=6,
        allow_none=True,
        load_default=None,
        validate=_between(0, decimal.Decimal("100000")),
        metadata={"label": "Accuracy (m)", "description": "Radius of the fix in metres, at least 0"},
    )
    note = _text(2000, load_default=None, allow_none=True)

    @ma.validates_schema
    def _both(self, data: dict[str, Any], **kwargs: Any) -> None:
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None):
            missing = "latitude" if lat is None else "longitude"
            raise ma.ValidationError("give both latitude and longitude, or neither", missing)
        if lat is None and data.get("accuracy_m") is not None:
            raise ma.ValidationError("an accuracy needs a position", "accuracy_m")


class LeaveTypeSchema(ma.Schema):
    """A leave type."""

    id = ma.fields.UUID(dump_only=True)
    code = _name(16)
    name = _name(120)
    paid = ma.fields.Boolean(load_default=True)
    monthly_accrual = ExactDecimal(
        2,
        digits=2,
        load_default=decimal.Decimal("0"),
        validate=_between(0, 31),
        metadata={"label": "Days accrued each month"},
    )
    max_balance = ExactDecimal(
        2,
        digits=4,
        allow_none=True,
        load_default=None,
        validate=_between(0, 3660),
        metadata={"label": "Most days held", "description": "Accrual stops at this balance; empty: no limit"},
    )
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class LeaveAllocationSchema(ma.Schema):
    """Days credited to an employee's leave (an opening balance or an adjustment, which may be negative)."""

    id = ma.fields.UUID(dump_only=True)
    employee_id = ma.fields.UUID(required=True, metadata={"label": "Employee"})
    leave_type_id = ma.fields.UUID(required=True, metadata={"label": "Leave type"})
    days = ExactDecimal(2, digits=4, required=True, validate=_between(-3660, 3660))
    kind = ma.fields.String(load_default="adjustment", validate=ma.validate.OneOf(("opening", "adjustment")))
    period = ma.fields.String(dump_only=True, metadata={"description": "YYYY-MM of an accrual"})
    note = _text(2000)
    version = ma.fields.Integer(dump_only=True)

    @ma.validates("days")
    def _not_zero(self, value: decimal.Decimal, **kwargs: Any) -> None:
        if value == 0:
            raise ma.ValidationError("must not be zero")


class LeaveRequestSchema(ma.Schema):
    """A leave request; its days are counted (working days only) and it is decided by the manager or HR."""

    id = ma.fields.UUID(dump_only=True)
    employee_id = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"label": "Employee", "description": "Left out: the employee linked to your login"},
    )
    leave_type_id = ma.fields.UUID(required=True, metadata={"label": "Leave type"})
    from_date = ma.fields.Date(required=True)
    to_date = ma.fields.Date(required=True)
    half_day = ma.fields.Boolean(load_default=False, metadata={"description": "Half a day (one-day requests only)"})
    days = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    reason = _text(2000, metadata={"widget": "textarea"})
    status = ma.fields.String(dump_only=True, metadata={"description": " | ".join(LEAVE_STATUSES)})
    approver_user_id = ma.fields.UUID(dump_only=True, metadata={"label": "Approver", "reference": "user"})
    decided_by = ma.fields.UUID(dump_only=True, metadata={"reference": "user"})
    decided_at = UTCDateTimeField(dump_only=True)
    decision_note = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True)

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_leave_range(data)


def check_leave_range(data: dict[str, Any]) -> None:
    """The dates of a leave request in order, at most a year, and a half day only on a one-day request."""
    start, end = data.get("from_date"), data.get("to_date")
    if start is not None and end is not None:
        if end < start:
            raise ma.ValidationError("must be on or after from_date", "to_date")
        if (end - start).days > 366:
            raise ma.ValidationError("a request covers at most a year", "to_date")
        if data.get("half_day") and end != start:
            raise ma.ValidationError("only for a one-day request", "half_day")
    for name in ("from_date", "to_date"):
        value = data.get(name)
        if value is not None and value.year < 1900:
            raise ma.ValidationError("must be in 1900 or later", name)


class LeaveRequestUpdateSchema(ma.Schema):
    """A change of a pending request."""

    leave_type_id = ma.fields.UUID(metadata={"label": "Leave type"})
    from_date = ma.fields.Date()
    to_date = ma.fields.Date()
    half_day = ma.fields.Boolean()
    reason = _text(2000, load_default=ma.missing, metadata={"widget": "textarea"})
    version = ma.fields.Integer(required=True)


class LeaveDecisionSchema(ma.Schema):
    """Approve, reject or cancel a leave request: the version read and an optional note."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    note = _text(2000)


class AccrualMonthSchema(ma.Schema):
    """A month."""

    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1900, max=9999))
    month = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))


class AttendanceSummaryQuerySchema(AccrualMonthSchema):
    """The month of the attendance summary, and optionally some employees."""

    employee_id = ma.fields.List(ma.fields.UUID(), load_default=None, validate=ma.validate.Length(max=1000))


class AttendanceSummarySchema(ma.Schema):
    """One employee's month."""

    employee_id = ma.fields.UUID()
    employee_code = ma.fields.String()
    employee_name = ma.fields.String()
    days_in_month = ma.fields.Integer()
    days_payable = ma.fields.Decimal(as_string=True)
    loss_of_pay_days = ma.fields.Decimal(as_string=True)
    days_present = ma.fields.Decimal(as_string=True)
    paid_leave_days = ma.fields.Decimal(as_string=True)
    holidays = ma.fields.Integer()
    weekly_offs = ma.fields.Integer()


class LeaveBalanceQuerySchema(ma.Schema):
    """Whose balances (default: everyone the user sees)."""

    employee_id = ma.fields.UUID(load_default=None)


class LeaveBalanceSchema(ma.Schema):
    """An employee's balance of one leave type."""

    employee_id = ma.fields.UUID()
    leave_type_id = ma.fields.UUID()
    leave_type = ma.fields.String()
    allocated = ma.fields.Decimal(as_string=True)
    taken = ma.fields.Decimal(as_string=True)
    pending = ma.fields.Decimal(as_string=True)
    balance = ma.fields.Decimal(as_string=True)


class LeaveAccrualSchema(ma.Schema):
    """What an accrual run credited."""

    period = ma.fields.String()
    credited = ma.fields.Integer()
