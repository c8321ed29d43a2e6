"""Tables of the ``payroll`` plugin; each table's name starts with ``payroll_``.

- :class:`StatutoryRule`: one dated version of a statutory rule (EPF, ESI, a state's professional
  tax, an income-tax regime) as JSON, seeded from :data:`udyog_payroll.statutory.DEFAULT_RULES`.
- :class:`Component`: a salary component (basic, DA, HRA, ...), an earning or a deduction.
- :class:`Structure` and :class:`StructureLine`: a salary structure, each line a component as a
  fixed amount or a formula of ``GROSS`` and other components.
- :class:`Assignment`: an employee's structure and monthly gross from a date.
- :class:`Run`: a month's payroll run (draft, computed, approved, paid) with its totals.
- :class:`Payslip`: one employee's month in a run, with every statutory head and a snapshot of
  the employee's identifiers; numbered from the series ``payroll.payslip`` on approval.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, Money, TenantMixin, VersionedMixin, tenant_fk

#: What a component does to pay: adds to gross, or comes off the net.
COMPONENT_KINDS = ("earning", "deduction")
#: The states of a run, in order.
RUN_STATES = ("draft", "computed", "approved", "paid")
ZERO = decimal.Decimal("0")


class StatutoryRule(VersionedMixin, TenantMixin, Base):
    """One dated version of a statutory rule: ``kind`` and ``scope`` say which, ``params`` hold its data."""

    __tablename__ = "payroll_statutory_rule"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "scope", "effective_from"),)

    kind: Mapped[str] = mapped_column(String(24))
    #: The state (professional tax), the regime and age band (income tax), empty otherwise.
    scope: Mapped[str] = mapped_column(String(16), default="")
    effective_from: Mapped[dt.date] = mapped_column(Date)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")


class Component(VersionedMixin, TenantMixin, Base):
    """A salary component; ``code`` is the name formulas use (``BASIC``, ``HRA``)."""

    __tablename__ = "payroll_component"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12), default="earning")
    #: Part of PF wages (basic and DA).
    pf_wage: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Reduced in proportion to loss of pay.
    prorated: Mapped[bool] = mapped_column(Boolean, default=True)
    sequence: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Structure(VersionedMixin, TenantMixin, Base):
    """A salary structure: the components an employee's monthly gross is split into."""

    __tablename__ = "payroll_structure"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StructureLine(TenantMixin, Base):
    """A component of a structure: a fixed monthly ``amount`` or a ``formula``."""

    __tablename__ = "payroll_structure_line"
    __table_args__ = (
        tenant_fk("structure_id", "payroll_structure", ondelete="CASCADE"),
        tenant_fk("component_id", "payroll_component"),
        UniqueConstraint("tenant_id", "structure_id", "component_id"),
    )

    structure_id: Mapped[uuid.UUID]
    component_id: Mapped[uuid.UUID]
    amount: Mapped[decimal.Decimal | None] = mapped_column(Money(12, 2), nullable=True, default=None)
    formula: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)


class Assignment(VersionedMixin, TenantMixin, Base):
    """An employee's salary from ``effective_from``: structure, monthly gross and statutory options."""

    __tablename__ = "payroll_assignment"
    __table_args__ = (
        tenant_fk("employee_id", "hr_employee"),
        tenant_fk("structure_id", "payroll_structure"),
        UniqueConstraint("tenant_id", "employee_id", "effective_from"),
    )

    employee_id: Mapped[uuid.UUID]
    structure_id: Mapped[uuid.UUID]
    effective_from: Mapped[dt.date] = mapped_column(Date)
    monthly_gross: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    #: Income-tax regime: ``new`` (the default) or ``old`` (on the employee's request).
    tax_regime: Mapped[str] = mapped_column(String(8), default="new")
    pf_applicable: Mapped[bool] = mapped_column(Boolean, default=True)
    esi_applicable: Mapped[bool] = mapped_column(Boolean, default=True)
    pt_applicable: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Declared exemptions and deductions for the year (old regime only: 80C, HRA exemption, ...).
    declared_deductions: Mapped[decimal.Decimal] = mapped_column(Money(12, 2), default=ZERO)


class Run(VersionedMixin, TenantMixin, Base):
    """A month's payroll run and its totals."""

    __tablename__ = "payroll_run"
    __table_args__ = (UniqueConstraint("tenant_id", "year", "month"),)

    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="draft")
    #: The latest background job computing it (``core_job_run``): running while that job has not finished.
    job_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True, default=None)
    computed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, default=None)
    approved_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, default=None)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True, default=None)
    paid_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, default=None)
    payment_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, default=None)
    employees: Mapped[int] = mapped_column(Integer, default=0)
    total_gross: Mapped[decimal.Decimal] = mapped_column(Money(16, 2), default=ZERO)
    total_deductions: Mapped[decimal.Decimal] = mapped_column(Money(16, 2), default=ZERO)
    total_net: Mapped[decimal.Decimal] = mapped_column(Money(16, 2), default=ZERO)
    total_employer: Mapped[decimal.Decimal] = mapped_column(Money(16, 2), default=ZERO)
    #: Employees left out and why (no salary assigned, a rule missing), as ``[{employee_id, code, reason}]``.
    skipped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")


#: Amounts of a payslip kept in its ``heads`` JSON (as strings), read as :class:`~decimal.Decimal` attributes.
HEAD_FIELDS = (
    "days_payable",
    "lop_days",
    "monthly_gross",
    "pf_wages",
    "epf_wages",
    "eps_wages",
    "edli_wages",
    "epf_employee",
    "eps",
    "epf_employer",
    "edli",
    "epf_admin",
    "esi_wages",
    "esi_employee",
    "esi_employer",
    "other_deductions",
)
#: The employee's identifiers a payslip keeps in its ``snapshot`` JSON, read as attributes.
SNAPSHOT_FIELDS = (
    "designation",
    "department_id",
    "work_state",
    "gender",
    "pan",
    "uan",
    "esi_number",
    "bank_account_number",
    "bank_ifsc",
)


class Payslip(TenantMixin, Base):
    """One employee's month in a run: earnings, statutory heads, net pay and the employee's identifiers then.

    What queries filter or add up is in columns (period, employee, gross, professional tax, TDS,
    deductions, net pay, ESI coverage); the other heads (:data:`HEAD_FIELDS`) and the employee's
    identifiers (:data:`SNAPSHOT_FIELDS`) are JSON read back as attributes (``slip.eps``,
    ``slip.uan``). A run writes thousands of payslips at once, and every column is a bound
    parameter per row: fewer columns made the bulk write about three times faster.
    """

    __tablename__ = "payroll_payslip"
    #: Not in the audit log: a payslip is computed from audited inputs (assignments, structures, rules,
    #: attendance) by an audited action on its run (compute, approve), and a run writes thousands at once.
    __udyog_audit__ = False
    __table_args__ = (
        tenant_fk("run_id", "payroll_run", ondelete="CASCADE"),
        tenant_fk("employee_id", "hr_employee"),
        UniqueConstraint("tenant_id", "run_id", "employee_id"),
        Index("ix_payroll_payslip_employee", "tenant_id", "employee_id", "year", "month"),
    )

    run_id: Mapped[uuid.UUID]
    employee_id: Mapped[uuid.UUID]
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(40), nullable=True, default=None)
    employee_code: Mapped[str] = mapped_column(String(32))
    employee_name: Mapped[str] = mapped_column(String(120))
    tax_regime: Mapped[str] = mapped_column(String(8), default="new")
    days_in_month: Mapped[int] = mapped_column(Integer)
    esi_covered: Mapped[bool] = mapped_column(Boolean, default=False)
    gross: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    professional_tax: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    tds: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    total_deductions: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    net_pay: Mapped[decimal.Decimal] = mapped_column(Money(12, 2))
    #: :data:`HEAD_FIELDS` as strings.
    heads: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: :data:`SNAPSHOT_FIELDS`: the employee's identifiers when the payslip was computed.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The components: ``[{code, name, kind, amount}]`` (amounts as strings).
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The TDS projection: projected gross, deductions, annual tax, deducted before, months remaining.
    tax: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def _head(name: str) -> property:
    return property(lambda self: decimal.Decimal(self.heads.get(name, "0")), doc=f"``{name}`` from ``heads``")


def _identifier(name: str) -> property:
    return property(lambda self: self.snapshot.get(name), doc=f"``{name}`` from ``snapshot``")


for _name in HEAD_FIELDS:
    setattr(Payslip, _name, _head(_name))
for _name in SNAPSHOT_FIELDS:
    setattr(Payslip, _name, _identifier(_name))
del _name
