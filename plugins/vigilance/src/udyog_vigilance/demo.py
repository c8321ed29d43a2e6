"""Demo data of vigilance (``udyog demo``, ``make run``): the scheduled rules evaluated once at once.

Vigilance keeps no business data of its own: its demo alerts come from the
other plugins' demo data. Their events (orders confirmed, stock moved) are
evaluated in the background when the demo's transaction commits, like any
other; the scheduled rules (batches near expiry, stock below the reorder
point) would wait for their cron, so this queues one evaluation of each
schedule, which runs after the commit, when every plugin's demo data exists.
"""

from __future__ import annotations

from typing import Any

from udyog_sdk import enqueue

from .engine import tenant_rules
from .hooks import SCHEDULE_TASK


def load_demo(progress: Any) -> int:
    """Queue one evaluation of every schedule of the tenant's rules; how many were queued."""
    crons = tenant_rules().crons
    for cron in crons:
        enqueue(SCHEDULE_TASK, {"cron": cron}, key=f"vigilance-demo:{cron}")
    progress(f"vigilance: {len(crons)} scheduled rule evaluations queued")
    return len(crons)
