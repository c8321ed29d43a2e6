"""Column types and keys of the SDK model bases."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from sqlalchemy import MetaData, String, Uuid, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from udyog_sdk.models import NAMING_CONVENTION, Money, TenantMixin, UTCDateTime, is_tenant_model, new_id, tenant_fk


class LocalBase(DeclarativeBase):
    """A metadata of its own, so these tables never mix with the real ones."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {uuid.UUID: Uuid}


class FakeTenant(LocalBase):
    __tablename__ = "core_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Widget(TenantMixin, LocalBase):
    __tablename__ = "sdktest_widget"
    __table_args__ = (tenant_fk("parent_id", "sdktest_widget"),)

    name: Mapped[str] = mapped_column(String(20))
    price: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    rate: Mapped[decimal.Decimal] = mapped_column(Money(9, 4))
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


def test_tenant_keys_lead_with_tenant_id():
    table = Widget.__table__
    assert [c.name for c in table.primary_key.columns] == ["tenant_id", "id"]
    fk = next(f for f in table.foreign_key_constraints if "parent_id" in [c.name for c in f.columns])
    assert [c.name for c in fk.columns] == ["tenant_id", "parent_id"]
    assert [e.target_fullname for e in fk.elements] == ["sdktest_widget.tenant_id", "sdktest_widget.id"]
    assert is_tenant_model(Widget)
    with pytest.raises(ValueError):
        tenant_fk(["a", "b"], "x", "id")


def test_new_ids_are_time_ordered():
    ids = [new_id() for _ in range(50)]
    assert ids == sorted(ids)
    assert ids[0].version == 7


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_money_and_utc_timestamps_round_trip_exactly(backend, database_url_factory):
    from udyog.config import normalize_database_url

    url = normalize_database_url(database_url_factory(backend))
    engine = create_engine(url)
    LocalBase.metadata.create_all(engine)
    tenant = new_id()
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    made = dt.datetime(2025, 9, 22, 10, 0, tzinfo=ist)
    try:
        with Session(engine) as s:
            s.add(FakeTenant(id=tenant))
            s.flush()
            s.add(
                Widget(
                    tenant_id=tenant,
                    name="w",
                    price=decimal.Decimal("0.1") + decimal.Decimal("0.2"),
                    rate=decimal.Decimal("18.00005"),
                    made_at=made,
                )
            )
            s.commit()
            w = s.scalars(select(Widget)).one()
            assert w.price == decimal.Decimal("0.30") and str(w.price) == "0.30"
            assert w.rate == decimal.Decimal("18.0000")  # quantized (half-even) before it is stored
            assert w.made_at == made and w.made_at.utcoffset() == dt.timedelta(0)
            with pytest.raises(Exception, match="naive"):
                s.add(Widget(tenant_id=tenant, name="n", price=1, rate=1, made_at=dt.datetime(2025, 1, 1)))
                s.flush()
    finally:
        engine.dispose()
