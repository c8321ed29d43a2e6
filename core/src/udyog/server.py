"""Serving the app with gunicorn, a production WSGI server."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class UdyogServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with an app built in the master and shared by forked workers."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply our options to gunicorn's configuration."""
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:  # unknown to older gunicorn: skipped
                self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        """The WSGI application (built before forking)."""
        return self.application


def _post_fork(server: Any, worker: Any) -> None:
    # Connections opened in the master must not be shared with workers.
    app = worker.app.application
    app.extensions["udyog"].db.dispose(close=False)


def serve(app: Flask, *, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve ``app`` until interrupted."""
    UdyogServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "preload_app": True,
            "post_fork": _post_fork,
            "accesslog": "-",
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            # One control socket per user would be shared by every server a
            # user starts (tests, several deployments on one host).
            "control_socket_disable": True,
        },
    ).run()
