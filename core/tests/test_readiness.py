"""Readiness (``GET /api/v1/ready``): the database and the jobs broker, 503 naming the one that fails."""

from __future__ import annotations

import pytest

from udyog.app import create_app
from udyog.testing import redis_test_url


def _ready(app):
    response = app.test_client().get("/api/v1/ready")
    return response.status_code, response.get_json()


def test_ready_when_database_and_embedded_queue_answer(kernel_factory, backend):
    kernel = kernel_factory([], backend=backend)
    status, body = _ready(create_app(kernel=kernel))
    assert status == 200, body
    assert body["data"]["status"] == "ready"
    assert body["data"]["database"] == "ok" and body["data"]["broker"] == "ok"


def test_ready_checks_redis_when_configured(kernel_factory):
    url = redis_test_url()
    if url is None:
        pytest.skip("Redis not configured (set UDYOG_TEST_REDIS_URL)")
    status, body = _ready(create_app(kernel=kernel_factory([], redis_url=url)))
    assert status == 200 and body["data"]["broker"] == "ok", body


def test_not_ready_names_an_unreachable_broker(kernel_factory):
    from udyog.testing import free_port

    kernel = kernel_factory([], redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    status, body = _ready(create_app(kernel=kernel))
    assert status == 503, body
    assert body["success"] is False
    assert set(body["errors"]) == {"broker"} and body["errors"]["broker"][0].startswith("unreachable")


def test_not_ready_names_an_unreachable_database(kernel_factory, tmp_path, monkeypatch):
    from sqlalchemy import create_engine

    kernel = kernel_factory([])
    app = create_app(kernel=kernel)
    # A database SQLite cannot open (its directory does not exist), as a lost server would be.
    monkeypatch.setattr(kernel.db, "engine", create_engine(f"sqlite:///{tmp_path}/missing/dir/udyog.db"))
    status, body = _ready(app)
    assert status == 503, body
    assert set(body["errors"]) == {"database"}


def test_not_ready_when_the_embedded_queue_directory_is_missing(kernel_factory, tmp_path, monkeypatch):
    from dataclasses import replace

    kernel = kernel_factory([])
    app = create_app(kernel=kernel)
    monkeypatch.setattr(kernel, "settings", replace(kernel.settings, data_dir=str(tmp_path / "gone")))
    status, body = _ready(app)
    assert status == 503 and set(body["errors"]) == {"broker"}, body


def test_ready_is_public_and_documented(kernel_factory):
    app = create_app(kernel=kernel_factory([]))
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["paths"]["/api/v1/ready"]["get"]["security"] == []


def test_the_database_probe_gives_up_on_a_server_that_never_answers():
    """A server that accepts the TCP connection and never says a word (a hung host, a black-holing proxy).

    Without libpq's connect timeout the probe, and with it every health check
    of the orchestrator, would wait for ever; it must come back naming the
    database as unreachable. (The thread only guards the test run from hanging.)
    """
    import socket
    import threading

    from udyog.db import Database

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        db = Database(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/test")
        answer: list[str | None] = []
        probe = threading.Thread(target=lambda: answer.append(db.probe(timeout=1)), daemon=True)
        probe.start()
        probe.join(60)
        db.dispose()
    assert not probe.is_alive(), "the probe hung on a silent server"
    assert answer and answer[0] is not None and answer[0].startswith("unreachable"), answer


def test_the_database_probe_answers_on_the_test_database(kernel_factory, backend):
    kernel = kernel_factory([], backend=backend)
    assert kernel.db.probe(timeout=2) is None
