"""Run by the start-up benchmark in a fresh interpreter: time each phase of serving a first request.

Mirrors ``udyog run`` in one process (CLI import, kernel, migration check,
app, then a first request through Flask's test client instead of gunicorn)
and prints the phase timings as JSON on standard output. Configuration comes
from the environment (``UDYOG_DATABASE_URL``, ``UDYOG_PLUGINS_FILE``).
"""

from __future__ import annotations

import json
import time

START = time.perf_counter()


def main() -> None:
    """Time the phases and print them as JSON (seconds)."""
    marks: list[tuple[str, float]] = [("start", START)]

    def mark(label: str) -> None:
        marks.append((label, time.perf_counter()))

    import udyog.cli

    mark("import udyog.cli (click)")
    from udyog.app import create_app
    from udyog.config import Settings
    from udyog.kernel import Kernel
    from udyog.migrate import branches_behind

    mark("import app, kernel, migrate (flask, sqlalchemy, pluggy)")
    import udyog.server  # noqa: F401 - gunicorn, imported by `udyog run`

    mark("import udyog.server (gunicorn)")
    kernel = Kernel(Settings.from_env())
    mark("Kernel(): discover and load plugins, engine")
    pending = branches_behind(kernel)
    mark("branches_behind() (migration fingerprint, one query)")
    app = create_app(kernel=kernel)
    mark("create_app() (blueprints, OpenAPI, pending events)")
    response = app.test_client().get("/api/v1/health")
    mark("first request via the test client")
    phases = {label: t - marks[i][1] for i, (label, t) in enumerate(marks[1:])}
    print(json.dumps({"phases": phases, "status": response.status_code, "pending": pending}))


if __name__ == "__main__":
    main()
