"""Tables of the hr plugin (published: payroll and other plugins may read them).

Every table is tenant-scoped (``tenant_id`` leads every key and index),
references between them are composite tenant keys, and records people edit
carry a ``version``. Day counts and hours are exact decimals
(:class:`udyog_sdk.models.Money`), coordinates ``Money(9, 6)``.

Published for other plugins (stable names): :class:`Employee` (``hr_employee``)
and :class:`Department` (``hr_department``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from sqlalchemy import Boolean, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk

#: Genders recorded on an employee (professional tax and reports read them).
GENDERS = ("male", "female", "other")
#: Attendance states of a day: a half day pays half and loses half.
ATTENDANCE_STATUSES = ("present", "half_day", "absent")
#: Where an attendance's times and position came from.
ATTENDANCE_SOURCES = ("gps", "manual", "hr")
#: Leave request states; only ``approved`` requests count in balances and the attendance summary.
LEAVE_STATUSES = ("pending", "approved", "rejected", "cancelled")
#: Kinds of leave credit: opening balances, monthly accruals and adjustments (which may be negative).
ALLOCATION_KINDS = ("opening", "accrual", "adjustment")


class Department(VersionedMixin, TenantMixin, Base):
    """A department (Production, Sales, Accounts ...)."""

    __tablename__ = "hr_department"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_hr_department_name", "tenant_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Shift(VersionedMixin, TenantMixin, Base):
    """Working hours and weekly offs; an employee without a shift has Sunday off."""

    __tablename__ = "hr_shift"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(60))
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=10)
    #: Hours worked that make a full day, and a half day (below: absent).
    full_day_hours: Mapped[decimal.Decimal] = mapped_column(Money(4, 2), default=decimal.Decimal("8"))
    half_day_hours: Mapped[decimal.Decimal] = mapped_column(Money(4, 2), default=decimal.Decimal("4"))
    #: ISO weekdays off, comma separated: ``"7"`` is Sunday, ``"6,7"`` Saturday and Sunday.
    weekly_offs: Mapped[str] = mapped_column(String(13), default="7")


class Employee(VersionedMixin, TenantMixin, Base):
    """An employee: identity, organisation, statutory numbers and bank account (published for payroll)."""

    __tablename__ = "hr_employee"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        tenant_fk("branch_id", "core_branch"),
        tenant_fk("department_id", "hr_department"),
        tenant_fk("manager_id", "hr_employee"),
        tenant_fk("shift_id", "hr_shift"),
        Index("ix_hr_employee_name", "tenant_id", "name", "id"),
        Index("ix_hr_employee_user", "tenant_id", "user_id"),
        Index("ix_hr_employee_manager", "tenant_id", "manager_id"),
        Index("ix_hr_employee_department", "tenant_id", "department_id"),
        Index("ix_hr_employee_branch", "tenant_id", "branch_id"),
    )

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    branch_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    designation: Mapped[str | None] = mapped_column(String(120), nullable=True)
    date_of_joining: Mapped[dt.date]
    date_of_leaving: Mapped[dt.date | None] = mapped_column(nullable=True)
    date_of_birth: Mapped[dt.date]
    gender: Mapped[str] = mapped_column(String(8))
    #: Two-letter state or UT code of the place of work (``MH``, ``KA``): professional tax follows it.
    work_state: Mapped[str] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pan: Mapped[str | None] = mapped_column(String(10), nullable=True)
    uan: Mapped[str | None] = mapped_column(String(12), nullable=True)
    esi_number: Mapped[str | None] = mapped_column(String(17), nullable=True)
    bank_account_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    bank_ifsc: Mapped[str | None] = mapped_column(String(11), nullable=True)
    #: The employee's login (``core_user``), for "own records" rules and self check-in.
    user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    manager_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    #: The manager's login, kept by hr from ``manager_id``: leave requests are routed to it.
    manager_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    shift_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Geofence(VersionedMixin, TenantMixin, Base):
    """A branch's geofence: a centre and a radius; check-ins farther away are flagged (one per core branch)."""

    __tablename__ = "hr_geofence"
    __table_args__ = (UniqueConstraint("tenant_id", "branch_id"), tenant_fk("branch_id", "core_branch"))

    branch_id: Mapped[uuid.UUID]
    latitude: Mapped[decimal.Decimal] = mapped_column(Money(9, 6))
    longitude: Mapped[decimal.Decimal] = mapped_column(Money(9, 6))
    radius_m: Mapped[int] = mapped_column(Integer, default=200)


class Holiday(VersionedMixin, TenantMixin, Base):
    """A paid holiday: for one branch, or for the whole company when ``branch_id`` is empty."""

    __tablename__ = "hr_holiday"
    __table_args__ = (
        tenant_fk("branch_id", "core_branch"),
        Index("ix_hr_holiday_date", "tenant_id", "holiday_date", "id"),
    )

    holiday_date: Mapped[dt.date]
    name: Mapped[str] = mapped_column(String(120))
    branch_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class Attendance(VersionedMixin, TenantMixin, Base):
    """One employee's day: check-in and check-out (with the browser's position if given) or a status set by HR."""

    __tablename__ = "hr_attendance"
    __table_args__ = (
        UniqueConstraint("tenant_id", "employee_id", "attendance_date"),
        tenant_fk("employee_id", "hr_employee"),
        Index("ix_hr_attendance_date", "tenant_id", "attendance_date", "employee_id"),
    )

    employee_id: Mapped[uuid.UUID]
    attendance_date: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(10), default="present")
    source: Mapped[str] = mapped_column(String(8), default="manual")
    check_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    check_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worked_hours: Mapped[decimal.Decimal | None] = mapped_column(Money(5, 2), nullable=True)
    check_in_latitude: Mapped[decimal.Decimal | None] = mapped_column(Money(9, 6), nullable=True)
    check_in_longitude: Mapped[decimal.Decimal | None] = mapped_column(Money(9, 6), nullable=True)
    check_in_accuracy_m: Mapped[decimal.Decimal | None] = mapped_column(Money(10, 2), nullable=True)
    check_in_distance_m: Mapped[decimal.Decimal | None] = mapped_column(Money(12, 2), nullable=True)
    #: True when the check-in lay outside the branch's geofence; None without a fence or a position.
    check_in_outside: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    check_out_latitude: Mapped[decimal.Decimal | None] = mapped_column(Money(9, 6), nullable=True)
    check_out_longitude: Mapped[decimal.Decimal | None] = mapped_column(Money(9, 6), nullable=True)
    check_out_accuracy_m: Mapped[decimal.Decimal | None] = mapped_column(Money(10, 2), nullable=True)
    check_out_distance_m: Mapped[decimal.Decimal | None] = mapped_column(Money(12, 2), nullable=True)
    check_out_outside: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class LeaveType(VersionedMixin, TenantMixin, Base):
    """A kind of leave: paid or not, days accrued each month, and the most that may be held."""

    __tablename__ = "hr_leave_type"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    paid: Mapped[bool] = mapped_column(Boolean, default=True)
    monthly_accrual: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=decimal.Decimal("0"))
    max_balance: Mapped[decimal.Decimal | None] = mapped_column(Money(6, 2), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LeaveAllocation(VersionedMixin, TenantMixin, Base):
    """A credit (or, for adjustments, a debit) of leave days; a balance is their sum less approved leave."""

    __tablename__ = "hr_leave_allocation"
    __table_args__ = (
        # One accrual per employee, leave type and month (opening balances and adjustments have no period).
        UniqueConstraint("tenant_id", "employee_id", "leave_type_id", "period"),
        tenant_fk("employee_id", "hr_employee"),
        tenant_fk("leave_type_id", "hr_leave_type"),
    )

    employee_id: Mapped[uuid.UUID]
    leave_type_id: Mapped[uuid.UUID]
    days: Mapped[decimal.Decimal] = mapped_column(Money(6, 2))
    kind: Mapped[str] = mapped_column(String(10), default="adjustment")
    #: ``YYYY-MM`` of an accrual, else empty.
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class LeaveRequest(VersionedMixin, TenantMixin, Base):
    """Leave asked for by an employee, approved or rejected by the manager (or an HR Manager)."""

    __tablename__ = "hr_leave_request"
    __table_args__ = (
        tenant_fk("employee_id", "hr_employee"),
        tenant_fk("leave_type_id", "hr_leave_type"),
        Index("ix_hr_leave_request_employee", "tenant_id", "employee_id", "from_date"),
        Index("ix_hr_leave_request_dates", "tenant_id", "status", "from_date", "to_date"),
        Index("ix_hr_leave_request_approver", "tenant_id", "approver_user_id", "status"),
    )

    employee_id: Mapped[uuid.UUID]
    leave_type_id: Mapped[uuid.UUID]
    from_date: Mapped[dt.date]
    to_date: Mapped[dt.date]
    half_day: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Working days taken (weekly offs and holidays inside the range are not counted).
    days: Mapped[decimal.Decimal] = mapped_column(Money(6, 2), default=decimal.Decimal("0"))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: The login that approves: the manager's, taken when the request is made (HR Managers may always).
    approver_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


#: States and union territories where people work: ISO 3166-2:IN code → (name, GST state code).
WORK_STATES: dict[str, tuple[str, str]] = {
    "AN": ("Andaman and Nicobar Islands", "35"),
    "AP": ("Andhra Pradesh", "37"),
    "AR": ("Arunachal Pradesh", "12"),
    "AS": ("Assam", "18"),
    "BR": ("Bihar", "10"),
    "CH": ("Chandigarh", "04"),
    "CG": ("Chhattisgarh", "22"),
    "DH": ("Dadra and Nagar Haveli and Daman and Diu", "26"),
    "DL": ("Delhi", "07"),
    "GA": ("Goa", "30"),
    "GJ": ("Gujarat", "24"),
    "HR": ("Haryana", "06"),
    "HP": ("Himachal Pradesh", "02"),
    "JK": ("Jammu and Kashmir", "01"),
    "JH": ("Jharkhand", "20"),
    "KA": ("Karnataka", "29"),
    "KL": ("Kerala", "32"),
    "LA": ("Ladakh", "38"),
    "LD": ("Lakshadweep", "31"),
    "MP": ("Madhya Pradesh", "23"),
    "MH": ("Maharashtra", "27"),
    "MN": ("Manipur", "14"),
    "ML": ("Meghalaya", "17"),
    "MZ": ("Mizoram", "15"),
    "NL": ("Nagaland", "13"),
    "OD": ("Odisha", "21"),
    "PY": ("Puducherry", "34"),
    "PB": ("Punjab", "03"),
    "RJ": ("Rajasthan", "08"),
    "SK": ("Sikkim", "11"),
    "TN": ("Tamil Nadu", "33"),
    "TG": ("Telangana", "36"),
    "TR": ("Tripura", "16"),
    "UP": ("Uttar Pradesh", "09"),
    "UK": ("Uttarakhand", "05"),
    "WB": ("West Bengal", "19"),
}
