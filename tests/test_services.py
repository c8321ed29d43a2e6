"""The real services CI provides are reachable (CI fails loudly when they are not)."""

from __future__ import annotations

import os

import pytest

from udyog.testing import postgres_admin_url, redis_test_url

IN_CI = os.environ.get("CI", "").lower() == "true"


def _url(value: str | None, name: str) -> str:
    if value is None:
        if IN_CI:
            pytest.fail(f"CI=true but {name} is not set")
        pytest.skip(f"{name} not set")
    return value


def test_postgresql_is_reachable_and_recent():
    from sqlalchemy import create_engine

    from udyog.config import normalize_database_url

    engine = create_engine(normalize_database_url(_url(postgres_admin_url(), "UDYOG_TEST_DATABASE_URL")))
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version_num").scalar()
    engine.dispose()
    assert int(version) >= 130000


def test_redis_is_reachable():
    import redis

    client = redis.Redis.from_url(_url(redis_test_url(), "UDYOG_TEST_REDIS_URL"))
    key = f"udyog-test-{os.getpid()}"
    client.set(key, "ok", ex=10)
    assert client.get(key) == b"ok"
    client.delete(key)
