"""The demo data: licences, shelf lives and passed batches on the demo lots (one near expiry), loaded twice."""

from __future__ import annotations

import pytest
from fssai_kit import branch_model
from sqlalchemy import select
from udyog_fssai import demo, services
from udyog_fssai.models import Batch, Licence, ProductFood

from udyog_inventory.demo import load_demo as inventory_demo

pytestmark = pytest.mark.udyog_plugins("fssai")


def test_the_demo_loads_once_with_a_batch_near_expiry(udyog_tenant):
    # The real clock: inventory's demo dates its lots from today.
    steps: list[str] = []
    with udyog_tenant.scope() as scope:
        s = scope.session
        branch = branch_model()
        s.add_all([branch(code="PUNE", name="Pune factory"), branch(code="BLR", name="Bengaluru depot")])
        s.flush()
        inventory_demo(s, steps.append)
        demo.load(s, steps.append)
        s.commit()
        demo.load(s, steps.append)
        s.commit()
        assert sorted(s.scalars(select(Licence.number))) == ["11526027000123", "21226029000456"]
        assert len(s.scalars(select(ProductFood)).all()) == 3
        batches = s.scalars(select(Batch).order_by(Batch.number)).all()
        assert [b.number for b in batches] == ["GH-2610-07", "GH-2611-02", "LP-2611-01", "MP-2611-01", "MP-2611-02"]
        assert {b.qc_status for b in batches} == {"passed"}
        assert all(b.expires_on > b.produced_on for b in batches)
        near = services.expiry_watch()
        assert [(r.number, r.status) for r in near] == [("GH-2610-07", "near_expiry")]
    assert steps.count("fssai: 5 batches with QC passed") == 1
