"""The stock ledger through the services: balances, refusals, valuation, reservations, lots, events."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from inventory_kit import ledger_agrees, model_of, world
from sqlalchemy import select

from udyog.testing import statements_seen
from udyog_inventory import services
from udyog_inventory.models import CostLayer, Lot, ProductStock, StockMove, Unit, UnitConversion
from udyog_sdk import UdyogError, hookimpl

pytestmark = pytest.mark.udyog_plugins("inventory")


def refused(call, *args, **kwargs) -> UdyogError:
    with pytest.raises(UdyogError) as caught:
        call(*args, **kwargs)
    return caught.value


def outbox(session, name: str) -> list[dict]:
    event = model_of("core_outbox")
    return list(session.scalars(select(event.payload).where(event.name == name).order_by(event.created_at)))


def stock(session, product) -> ProductStock:
    return session.scalar(select(ProductStock).where(ProductStock.product_id == product.id))


def test_every_kind_of_movement_keeps_ledger_and_balances_in_agreement(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s)
        p, w1, w2 = w["product"], w["w1"].id, w["w2"].id
        services.receive(p.id, w1, Decimal("10"), unit_cost=Decimal("5"))
        assert ledger_agrees(s, p.id) == {(w1, None): (Decimal("10"), Decimal("0"))}
        services.issue(p.id, w1, Decimal("3"))
        assert ledger_agrees(s, p.id) == {(w1, None): (Decimal("7"), Decimal("0"))}
        out, into = services.transfer(p.id, w1, w2, Decimal("2"))
        assert (out.kind, into.kind, out.warehouse_id, into.warehouse_id) == ("transfer_out", "transfer_in", w1, w2)
        assert ledger_agrees(s, p.id) == {
            (w1, None): (Decimal("5"), Decimal("0")),
            (w2, None): (Decimal("2"), Decimal("0")),
        }
        services.adjust(p.id, w2, Decimal("-1"), note="broken jar")
        services.adjust(p.id, w1, Decimal("1.5"), note="found")
        assert ledger_agrees(s, p.id) == {
            (w1, None): (Decimal("6.5"), Decimal("0")),
            (w2, None): (Decimal("1"), Decimal("0")),
        }
        services.reserve(p.id, w1, Decimal("4"), reference="sales.order", reference_number="SO-1")
        assert ledger_agrees(s, p.id)[(w1, None)] == (Decimal("6.5"), Decimal("4"))
        assert services.available(p.id, w1) == Decimal("2.5")
        services.release(p.id, w1, Decimal("1"))
        services.issue(p.id, w1, Decimal("3"), from_reserved=True)
        assert ledger_agrees(s, p.id)[(w1, None)] == (Decimal("3.5"), Decimal("0"))
        kinds = [m.kind for m in s.scalars(select(StockMove).order_by(StockMove.moved_at, StockMove.id))]
        assert kinds == [
            "receipt",
            "issue",
            "transfer_out",
            "transfer_in",
            "adjustment",
            "adjustment",
            "reservation",
            "release",
            "issue",
        ]
        total = stock(s, p)
        assert (total.on_hand, total.reserved, total.available) == (Decimal("4.5"), Decimal("0"), Decimal("4.5"))
        assert services.available(p.id) == Decimal("4.5")
        s.commit()


def test_refusals_name_the_field_and_change_nothing(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s)
        p, w1 = w["product"], w["w1"].id
        services.receive(p.id, w1, Decimal("5"))
        short = refused(services.issue, p.id, w1, Decimal("6"))
        assert short.status == 409 and "quantity" in short.errors and "PKL-1" in short.errors["quantity"][0]
        assert short.errors["quantity"] == ["only 5.000 of PKL-1 in W1 is available"]
        assert refused(services.issue, p.id, w1, Decimal("0")).errors == {"quantity": ["must be greater than 0"]}
        assert refused(services.issue, p.id, w1, Decimal("1.0001")).errors == {"quantity": ["at most 3 decimals"]}
        assert refused(services.issue, uuid.uuid4(), w1, Decimal("1")).errors == {"product_id": ["no such product"]}
        assert refused(services.issue, p.id, uuid.uuid4(), Decimal("1")).errors == {
            "warehouse_id": ["no such warehouse"]
        }
        assert refused(services.reserve, p.id, w1, Decimal("5.5")).status == 409
        services.reserve(p.id, w1, Decimal("4"))
        assert refused(services.issue, p.id, w1, Decimal("2")).errors["quantity"] == [
            "only 1.000 of PKL-1 in W1 is available"
        ]
        assert refused(services.issue, p.id, w1, Decimal("5"), from_reserved=True).errors == {
            "quantity": ["only 4.000 of PKL-1 in W1 is reserved"]
        }
        assert refused(services.release, p.id, w1, Decimal("4.5")).status == 409
        assert refused(services.adjust, p.id, w1, Decimal("-2")).errors == {
            "quantity_delta": ["only 1.000 of PKL-1 in W1 is available"]
        }
        assert refused(services.transfer, p.id, w1, w1, Decimal("1")).errors == {
            "to_warehouse_id": ["must differ from from_warehouse_id"]
        }
        assert refused(services.receive, p.id, w1, Decimal("1"), lot_id=uuid.uuid4()).errors == {
            "lot_id": ["product PKL-1 is not tracked by lot"]
        }
        assert ledger_agrees(s, p.id) == {(w1, None): (Decimal("5"), Decimal("4"))}
        assert s.scalar(select(StockMove.id).where(StockMove.kind == "issue")) is None
        # an inactive warehouse takes no new stock, but reservations in it are released or issued
        w["w1"].active = False
        s.flush()
        assert refused(services.receive, p.id, w1, Decimal("1")).errors == {
            "warehouse_id": ["warehouse W1 is inactive"]
        }
        assert refused(services.reserve, p.id, w1, Decimal("1")).status == 422
        services.release(p.id, w1, Decimal("1"))
        services.issue(p.id, w1, Decimal("3"), from_reserved=True)
        assert ledger_agrees(s, p.id) == {(w1, None): (Decimal("2"), Decimal("0"))}


def _allow_negative(client, allow: bool) -> None:
    current = client.get("/api/v1/core/settings/inventory", expect=200).data
    client.patch(
        "/api/v1/core/settings/inventory",
        json={"values": {"allow_negative_stock": allow}, "version": current["version"]},
        expect=200,
    )


def test_negative_stock_only_when_the_tenant_allows_it(udyog_tenant, udyog_client):
    with udyog_tenant.scope() as scope:
        w = world(scope.session)
        p, w1 = w["product"].id, w["w1"].id
        services.receive(p, w1, Decimal("2"), unit_cost=Decimal("10"))
        assert refused(services.issue, p, w1, Decimal("3")).status == 409
        scope.session.commit()
    _allow_negative(udyog_client, True)
    with udyog_tenant.scope() as scope:
        move = services.issue(p, w1, Decimal("3"))
        # 2 from the layer at 10, the missing 1 at the last layer's cost
        assert move.value == Decimal("30.00")
        assert services.available(p, w1) == Decimal("-1")
        assert refused(services.reserve, p, w1, Decimal("1")).status == 409  # reservations never go negative
        ledger_agrees(scope.session, p)
        scope.session.commit()
    _allow_negative(udyog_client, False)
    with udyog_tenant.scope() as scope:
        assert refused(services.issue, p, w1, Decimal("1")).status == 409


def test_fifo_consumes_the_oldest_layers_first(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        p, w1, w2 = (lambda w: (w["product"], w["w1"].id, w["w2"].id))(world(s, valuation="fifo"))
        services.receive(p.id, w1, Decimal("10"), unit_cost=Decimal("5.00"))
        services.receive(p.id, w2, Decimal("10"), unit_cost=Decimal("6.00"))
        services.receive(p.id, w1, Decimal("5"), unit_cost=Decimal("7.50"))
        # 12 from W1: the 10 at 5.00 (W1's and the oldest), then 2 of the 10 at 6.00 (per product, across warehouses)
        first = services.issue(p.id, w1, Decimal("12"))
        assert (first.value, first.unit_cost) == (Decimal("62.00"), Decimal("5.1667"))
        second = services.issue(p.id, w2, Decimal("9"))  # 8 at 6.00 + 1 at 7.50
        assert second.value == Decimal("55.50")
        layers = s.scalars(select(CostLayer).order_by(CostLayer.received_at, CostLayer.id)).all()
        assert [layer.remaining for layer in layers] == [Decimal("0"), Decimal("0"), Decimal("4")]
        total = stock(s, p)
        assert (total.on_hand, total.value) == (Decimal("4"), Decimal("30.00"))
        assert [(v.sku, v.quantity, v.value, v.unit_cost) for v in services.valuation()] == [
            ("PKL-1", Decimal("4"), Decimal("30.00"), Decimal("7.5000"))
        ]


def test_an_issue_of_several_fifo_products_reads_their_layers_together_and_past_the_first_chunk(udyog_tenant):
    from udyog_inventory.models import Product

    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s, valuation="fifo")
        first, w1 = w["product"], w["w1"].id
        second = Product(sku="PKL-2", name="Lime pickle", unit_id=w["unit"].id, price=Decimal("90"), cost=Decimal("1"))
        s.add(second)
        s.flush()
        chunk = services._OpenLayers.CHUNK
        # chunk + 2 layers each, one unit per layer, costing 1, 2, 3, ... (the second product 10x that)
        for n in range(1, chunk + 3):
            services.receive(first.id, w1, Decimal("1"), unit_cost=Decimal(n))
            services.receive(second.id, w1, Decimal("1"), unit_cost=Decimal(10 * n))
        layer_reads: list[str] = []

        def count(statement):
            if "FROM inventory_cost_layer" in statement:
                layer_reads.append(statement)

        with statements_seen(s.get_bind(), count):
            moves = services.issue_many(
                [
                    services.MoveLine(first.id, w1, Decimal(chunk + 1)),  # past the first chunk
                    services.MoveLine(second.id, w1, Decimal("3")),
                ]
            )
        oldest = sum(range(1, chunk + 2))
        assert [m.value for m in moves] == [Decimal(oldest), Decimal(10 * (1 + 2 + 3))]
        # one statement for both products' first chunks, one more for the rest of the first product's
        assert len(layer_reads) == 2, layer_reads
        left = s.scalars(
            select(CostLayer.unit_cost).where(CostLayer.product_id == first.id, CostLayer.remaining > 0)
        ).all()
        assert left == [Decimal(chunk + 2)]
        assert (
            len(s.scalars(select(CostLayer).where(CostLayer.product_id == second.id, CostLayer.remaining > 0)).all())
            == chunk - 1
        )
        assert stock(s, first).value == Decimal(chunk + 2) and stock(s, second).value == Decimal(
            10 * sum(range(4, chunk + 3))
        )


def test_an_availability_snapshot_answers_from_one_read_until_a_movement(udyog_tenant):
    from udyog_inventory.models import Product

    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s, valuation="average")
        first, w1, w2 = w["product"], w["w1"].id, w["w2"].id
        second = Product(sku="PKL-2", name="Lime pickle", unit_id=w["unit"].id, price=Decimal("90"), cost=Decimal("1"))
        s.add(second)
        s.flush()
        services.receive(first.id, w1, Decimal("10"), unit_cost=Decimal("5"))
        services.receive(first.id, w2, Decimal("7"), unit_cost=Decimal("5"))
        services.reserve(first.id, w1, Decimal("4"))
        reads: list[str] = []

        def count(statement):
            if "FROM inventory_balance" in statement:
                reads.append(statement)

        with statements_seen(s.get_bind(), count):
            with services.availability_snapshot([first.id, second.id], w1):
                assert services.available(first.id, w1) == Decimal("6")
                assert services.available(second.id, w1) == Decimal("0")  # no balance row at all
                assert len(reads) == 1
                assert services.available(first.id, w2) == Decimal("7")  # another warehouse: read
                assert len(reads) == 2
                services.issue(first.id, w1, Decimal("1"))  # a movement drops the snapshot
                reads.clear()
                assert services.available(first.id, w1) == Decimal("5")
                assert len(reads) == 1
            reads.clear()
            assert services.available(first.id, w1) == Decimal("5")  # after the block: read
            assert len(reads) == 1


def test_weighted_average_is_a_running_average_per_product(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s, valuation="average")
        p, w1, w2 = w["product"], w["w1"].id, w["w2"].id
        services.receive(p.id, w1, Decimal("10"), unit_cost=Decimal("5.00"))  # 50
        services.receive(p.id, w2, Decimal("30"), unit_cost=Decimal("7.00"))  # 210 → 260 / 40 = 6.50
        issue = services.issue(p.id, w1, Decimal("4"))
        assert (issue.unit_cost, issue.value) == (Decimal("6.5000"), Decimal("26.00"))
        services.receive(p.id, w1, Decimal("4"), unit_cost=Decimal("10.00"))  # 234 + 40 = 274 / 40 = 6.85
        issue = services.issue(p.id, w2, Decimal("3"))
        assert (issue.unit_cost, issue.value) == (Decimal("6.8500"), Decimal("20.55"))
        assert stock(s, p).value == Decimal("253.45")
        # taking everything takes the whole value, no rounding residue
        services.issue(p.id, w1, Decimal("10"))
        last = services.issue(p.id, w2, Decimal("27"))
        assert last.value == Decimal("253.45") - Decimal("68.50")
        assert (stock(s, p).on_hand, stock(s, p).value) == (Decimal("0"), Decimal("0.00"))
        assert s.scalar(select(CostLayer.id)) is None  # no layers for average products


def test_units_convert_product_specific_first(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s)
        pcs = w["unit"]
        kg, box = Unit(code="kg", name="Kilogram"), Unit(code="box12", name="Box of 12")
        s.add_all([kg, box])
        s.flush()
        s.add_all(
            [
                UnitConversion(from_unit_id=box.id, to_unit_id=pcs.id, factor=Decimal("12")),
                UnitConversion(from_unit_id=pcs.id, to_unit_id=kg.id, factor=Decimal("0.5")),
                UnitConversion(
                    from_unit_id=pcs.id, to_unit_id=kg.id, factor=Decimal("0.2"), product_id=w["product"].id
                ),
            ]
        )
        s.flush()
        assert services.convert(Decimal("3"), box.id, pcs.id) == Decimal("36")
        assert services.convert(Decimal("30"), pcs.id, box.id) == Decimal("2.5")
        assert services.convert(Decimal("10"), pcs.id, kg.id) == Decimal("5")
        assert services.convert(Decimal("10"), pcs.id, kg.id, product_id=w["product"].id) == Decimal("2")
        assert services.convert(Decimal("1"), kg.id, pcs.id, product_id=w["product"].id) == Decimal("5")
        assert services.convert(Decimal("7"), kg.id, kg.id) == Decimal("7")
        assert refused(services.convert, Decimal("1"), box.id, kg.id).errors == {
            "to_unit": ["no conversion between these units"]
        }


class Blocker:
    """A plugin holding lots back (QC failed)."""

    blocked: set[uuid.UUID] = set()

    @hookimpl
    def inventory_lot_blocked(self, lot_ids):
        return {lot_id: "QC failed" for lot_id in lot_ids if lot_id in self.blocked}


def test_lots_are_allocated_oldest_first_skipping_blocked_ones(udyog_tenant, udyog_kernel):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s, track_lots=True)
        p, w1 = w["product"], w["w1"].id
        assert refused(services.receive, p.id, w1, Decimal("1")).errors == {
            "lot_id": ["required: product PKL-1 is tracked by lot"]
        }
        new = services.ensure_lot(p.id, "L-NEW", received_on=date(2026, 11, 1))
        old = services.ensure_lot(p.id, "L-OLD", received_on=date(2026, 9, 1))
        mid = services.ensure_lot(p.id, "L-MID", received_on=date(2026, 10, 1))
        for lot, qty in ((new, "10"), (old, "4"), (mid, "5")):
            services.receive(p.id, w1, Decimal(qty), lot_id=lot.id)
        plan = services.allocate(p.id, w1, Decimal("6"))
        assert [(a.lot_id, a.quantity) for a in plan] == [(old.id, Decimal("4")), (mid.id, Decimal("2"))]
        blocker = Blocker()
        blocker.blocked = {old.id}
        udyog_kernel.pm.register(blocker, name="test-blocker")
        try:
            plan = services.allocate(p.id, w1, Decimal("6"))
            assert [(a.lot_id, a.quantity) for a in plan] == [(mid.id, Decimal("5")), (new.id, Decimal("1"))]
            short = refused(services.allocate, p.id, w1, Decimal("16"))
            assert short.status == 409
            assert short.errors == {
                "quantity": ["only 15.000 of PKL-1 in W1 can be allocated (4.000 more is in blocked lots)"]
            }
        finally:
            udyog_kernel.pm.unregister(name="test-blocker")
        ledger_agrees(s, p.id)
        assert s.scalar(select(Lot.code).where(Lot.id == old.id)) == "L-OLD"


def test_allocation_of_a_product_without_lots_is_one_line(udyog_tenant):
    with udyog_tenant.scope() as scope:
        w = world(scope.session)
        p, w1 = w["product"].id, w["w1"].id
        services.receive(p, w1, Decimal("3"))
        assert services.allocate(p, w1, Decimal("3")) == [services.Allocation(w1, None, Decimal("3"))]
        assert refused(services.allocate, p, w1, Decimal("4")).errors == {
            "quantity": ["only 3.000 of PKL-1 in W1 is available"]
        }


def test_the_reorder_event_is_emitted_once_on_the_crossing(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s, reorder_point=Decimal("10"))
        p, w1, w2 = w["product"], w["w1"].id, w["w2"].id
        services.receive(p.id, w1, Decimal("8"))
        services.receive(p.id, w2, Decimal("8"))  # 16 in all
        assert outbox(s, services.REORDER_EVENT) == []
        services.issue(p.id, w1, Decimal("5"))  # 11: still above
        assert outbox(s, services.REORDER_EVENT) == []
        services.reserve(p.id, w2, Decimal("2"))  # available 9: crosses
        services.issue(p.id, w1, Decimal("1"))  # 8: already below, no second event
        events = outbox(s, services.REORDER_EVENT)
        assert events == [
            {
                "product_id": str(p.id),
                "sku": "PKL-1",
                "name": "Mango pickle",
                "available": "9.000",
                "reorder_point": "10.000",
            }
        ]
        services.receive(p.id, w1, Decimal("20"))  # back above
        services.issue(p.id, w1, Decimal("19"))  # crosses again: a second event
        assert len(outbox(s, services.REORDER_EVENT)) == 2


def test_another_tenant_sees_none_of_the_stock(udyog_tenant, udyog_other_tenant):
    with udyog_tenant.scope() as scope:
        w = world(scope.session)
        p, w1 = w["product"].id, w["w1"].id
        services.receive(p, w1, Decimal("5"))
        scope.session.commit()
    with udyog_other_tenant.scope() as scope:
        assert refused(services.issue, p, w1, Decimal("1")).errors == {"product_id": ["no such product"]}
        assert services.available(p) == Decimal("0")
        assert scope.session.scalars(select(StockMove)).all() == []


def test_a_movement_writes_its_rows_once_and_leaves_the_session_consistent(udyog_tenant):
    """The locked rows are plain values written back by primary key: ORM instances read before see the result,
    returned moves are the session's persistent rows, and a refused batch writes nothing."""
    from udyog_inventory.models import Product, StockBalance

    with udyog_tenant.scope() as scope:
        s = scope.session
        w = world(s)
        first, w1 = w["product"], w["w1"].id
        second = Product(sku="PKL-2", name="Lime pickle", unit_id=w["unit"].id, price=Decimal("90"), cost=Decimal("1"))
        s.add(second)
        s.flush()
        services.receive(first.id, w1, Decimal("10"), unit_cost=Decimal("5"))
        services.receive(second.id, w1, Decimal("3"), unit_cost=Decimal("2"))
        held_stock = stock(s, first)  # ORM instances read before the movements
        held_balance = s.scalar(select(StockBalance).where(StockBalance.product_id == first.id))
        held_layer = s.scalar(select(CostLayer).where(CostLayer.product_id == first.id))
        assert (held_stock.on_hand, held_balance.on_hand, held_layer.remaining) == (10, 10, 10)
        writes: list[str] = []

        def count(statement):
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
                writes.append(statement.split("(")[0].split(" SET")[0].strip())

        with statements_seen(s.get_bind(), count):
            moves = services.issue_many(
                [services.MoveLine(first.id, w1, Decimal("4")), services.MoveLine(second.id, w1, Decimal("1"))]
            )
        # one statement per table, whatever the number of lines
        assert sorted(writes) == [
            "INSERT INTO inventory_move",
            "UPDATE inventory_balance",
            "UPDATE inventory_cost_layer",
            "UPDATE inventory_product_stock",
        ]
        assert (held_stock.on_hand, held_stock.value) == (Decimal("6"), Decimal("30.00"))
        assert (held_balance.on_hand, held_balance.available) == (Decimal("6"), Decimal("6"))
        assert held_layer.remaining == Decimal("6")
        for move in moves:  # persistent: the very object the session hands out for its key
            assert move in s and s.get(StockMove, (move.tenant_id, move.id)) is move
        assert [(m.kind, m.quantity, m.value) for m in moves] == [
            ("issue", Decimal("4.000"), Decimal("20.00")),
            ("issue", Decimal("1.000"), Decimal("2.00")),
        ]
        # a batch refused on its second line writes nothing of its first
        short = refused(
            services.issue_many,
            [services.MoveLine(first.id, w1, Decimal("1")), services.MoveLine(second.id, w1, Decimal("5"))],
        )
        assert short.status == 409 and short.errors["quantity"] == ["only 2.000 of PKL-2 in W1 is available"]
        assert ledger_agrees(s, first.id) == {(w1, None): (Decimal("6"), Decimal("0"))}
        assert s.scalar(select(ProductStock.on_hand).where(ProductStock.product_id == first.id)) == Decimal("6")
        assert len(list(s.scalars(select(StockMove).where(StockMove.kind == "issue")))) == 2
        s.commit()
