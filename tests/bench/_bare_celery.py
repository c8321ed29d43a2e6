"""The baseline of the jobs benchmark: a bare Celery app, nothing of Udyog's around its task.

Configured with exactly the Celery settings Udyog uses (same broker, result
store, late acknowledgement, prefetch) from the environment the benchmark
sets, so the only difference to ours is what Udyog does per task.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

from udyog.config import Settings
from udyog.worker import celery_config

settings = Settings.from_env()
app = Celery("bare")
app.config_from_object(celery_config(settings))
_redis = redis.Redis.from_url(os.environ["UDYOG_REDIS_URL"])


@app.task(name="bare.trivial", bind=True)
def trivial(self: object, n: int = 0, mark: str | None = None) -> int:
    """Does nothing but note the first start (and, when asked, its own start time)."""
    now = time.time()
    _redis.setnx("bench:bare:first", now)
    if mark:
        _redis.set(mark, now)
    return n
