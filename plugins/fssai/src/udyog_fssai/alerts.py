"""The FSSAI plugin's vigilance rules (contributed through ``vigilance_rules`` when vigilance is installed).

This module never imports vigilance: the hook hands over the ``rule``
factory, and each ``evaluate(ctx)`` below reads fssai's own tables through
its services. See docs/fssai.md, "Vigilance rules".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from udyog_sdk.i18n import lazy_gettext as _l

from . import services

NEAR_EXPIRY = "fssai.batch_near_expiry"
REFUSED_USE = "fssai.expired_or_held_despatch"
#: Words for the kinds of block in an alert's title.
KIND_WORDS = {"held": "on hold", "qc_failed": "failed QC", "expired": "expired"}
OPERATION_WORDS = {"despatch": "Despatch", "invoice": "Invoicing", "allocate": "Allocation"}


def clear_the_rest(ctx: Any, current: set[str]) -> None:
    """Resolve the rule's live alerts whose subject is not in ``current`` (a full scan found them healthy)."""
    for subject in sorted(ctx.live_subjects() - current):
        ctx.clear(subject)


def check_near_expiry(ctx: Any) -> None:
    """Batches with stock on hand that expire within ``days`` (or expired): one alert per batch.

    One query (the expiry watch's); an expired batch's alert is ``critical``.
    Batches out of the window (or without stock any more) are cleared.
    """
    days = int(ctx.thresholds["days"])
    day = services.today()  # fssai's clock: the tenant's today (tests fix it)
    current = set()
    for row in services.expiry_watch(window_days=days, on=day):
        subject = f"batch:{row.batch_id}"
        current.add(subject)
        where = ", ".join(row.warehouses)
        if row.status == "expired":
            title = f"Batch {row.number} of {row.sku} expired on {row.expires_on:%d-%m-%Y} with stock on hand"
        else:
            title = f"Batch {row.number} of {row.sku} expires in {row.days_left} days ({row.expires_on:%d-%m-%Y})"
        ctx.raise_alert(
            subject,
            title,
            detail=f"{row.product_name}: {row.on_hand} on hand in {where}" + (" (on hold)" if row.on_hold else ""),
            link=f"/fssai/batches/{row.batch_id}",
            severity="critical" if row.status == "expired" else None,
            data={
                "batch_id": str(row.batch_id),
                "number": row.number,
                "expires_on": row.expires_on.isoformat(),
                "days_left": row.days_left,
                "on_hand": str(row.on_hand),
            },
        )
    clear_the_rest(ctx, current)


def check_refused_use(ctx: Any) -> None:
    """An attempt to despatch, invoice or allocate held, failed or expired batches (event ``fssai.batch.use_refused``).

    One alert per order and operation: repeated attempts count on it. No
    query: the event carries what was refused.
    """
    if ctx.event is None:
        return
    payload = ctx.event.payload
    batches = payload.get("batches") or []
    if not batches:
        return
    operation = str(payload.get("operation") or "despatch")
    what = "; ".join(f"batch {b['number']} {KIND_WORDS.get(b.get('kind', ''), b.get('kind', ''))}" for b in batches)
    ctx.raise_alert(
        f"{operation}:{payload['order_id']}",
        f"{OPERATION_WORDS.get(operation, operation)} of order {payload.get('order_number')} refused: {what}",
        detail="\n".join(str(b.get("problem", "")) for b in batches),
        link=f"/sales/orders/{payload['order_id']}",
        data=dict(payload),
    )


def rules(rule: Callable[..., Any]) -> list[Any]:
    """fssai's rules, built with vigilance's ``rule`` factory."""
    return [
        rule(
            key=NEAR_EXPIRY,
            title=_l("Batch near expiry"),
            description=(
                "A batch with stock on hand expires within the threshold's days, or has expired (critical). "
                "Checked every day; cleared when the stock is gone."
            ),
            cron="15 1 * * *",
            evaluate=check_near_expiry,
            severity="warning",
            thresholds={"days": 30},
            roles=("Food Safety Officer", "Store Keeper"),
        ),
        rule(
            key=REFUSED_USE,
            title=_l("Expired or held stock despatch attempted"),
            description=(
                "Someone tried to despatch, invoice or allocate a batch that is on hold, failed QC or expired; "
                "the operation was refused and the attempt recorded."
            ),
            events=(services.REFUSED_EVENT,),
            evaluate=check_refused_use,
            severity="critical",
            roles=("Food Safety Officer", "Owner"),
        ),
    ]
