"""docker/: the compose file, the Dockerfile and nginx's configuration, checked without a Docker engine.

tests/test_topology.py runs the same processes on 127.0.0.1; this file checks
that the compose file wires them as documented (health checks, start order,
one beat, shared volume, no secret in the files) and that every ``udyog``
command it runs is one the CLI accepts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from udyog.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _defaults(text: str) -> str:
    """Compose's interpolation with the defaults: ``${NAME:-value}`` → value (``$$`` → ``$``)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text).replace("$$", "$")


def _parse_udyog(argv: list[str]) -> click.Context:
    """Parse ``udyog <argv>`` as the CLI would, down to the leaf command (fails on an unknown command or option)."""
    command: click.Command = main
    args = [_defaults(a) for a in argv]
    parent = click.Context(main, info_name="udyog")
    while isinstance(command, click.Group):
        name, *args = args
        found = command.commands.get(name)
        assert found is not None, f"udyog has no command {name!r} ({' '.join(argv)})"
        parent = click.Context(command, info_name=name, parent=parent)
        command = found
    return command.make_context(command.name, list(args), parent=parent)


def test_every_service_has_a_health_check(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "proxy"} <= set(services)
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_start_order_migration_first_then_the_app(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_and_workers_scale_and_beat_is_exactly_one(compose):
    services = compose["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["web"]["deploy"]["replicas"] >= 2 and services["worker"]["deploy"]["replicas"] >= 2
    for name in ("web", "worker", "beat"):
        assert "ports" not in services[name], f"{name} publishes a host port: it could not be scaled"
        assert "container_name" not in services[name]
    assert "--no-jobs" in services["web"]["command"]  # web processes never run jobs themselves
    assert "--beat" not in services["worker"]["command"]  # the only beat is the beat service


def test_the_app_shares_one_data_volume_and_one_secret(compose):
    services = compose["services"]
    env = services["web"]["environment"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == env, f"{name} is configured differently"
        assert "udyog-data:/var/lib/udyog" in services[name]["volumes"], name
    assert env["UDYOG_DATA_DIR"] == "/var/lib/udyog"
    assert env["UDYOG_REDIS_URL"].startswith("redis://redis:")  # Redis, not the embedded SQLite queue
    assert env["UDYOG_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["UDYOG_DATABASE_URL"]
    # Secrets are required from the environment, never written here.
    assert re.fullmatch(r"\$\{UDYOG_SECRET_KEY:\?[^}]+\}", env["UDYOG_SECRET_KEY"])
    assert "${POSTGRES_PASSWORD:?" in env["UDYOG_DATABASE_URL"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert "udyog-data" in compose["volumes"]


def test_every_variable_is_one_udyog_reads(compose):
    read = (ROOT / "core/src/udyog/config.py").read_text() + (ROOT / "core/src/udyog/cli.py").read_text()
    env = compose["services"]["web"]["environment"]
    for name in env:
        assert f'"{name}"' in read, f"{name} is not read by udyog"


def test_every_udyog_command_parses(compose):
    services = compose["services"]
    for name in ("migrate", *APP_SERVICES):
        _parse_udyog(services[name]["command"])
    for name in ("migrate", "worker", "beat"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == "udyog", name
        _parse_udyog(test[2:])
    backup = services["backup"]["command"][0]
    assert "udyog backup /backups/" in backup
    _parse_udyog(["backup", "/backups/x.dump"])
    web = _parse_udyog(services["web"]["command"])
    assert web.params["port"] == 8000 and web.params["host"] == "0.0.0.0" and web.params["with_jobs"] is False
    assert "8000" in [str(p) for p in services["web"]["expose"]]
    assert "/api/v1/ready" in " ".join(services["web"]["healthcheck"]["test"])
    beat = _parse_udyog(services["beat"]["healthcheck"]["test"][2:])
    assert beat.params["beat"] is True


def test_nginx_routes_to_the_scaled_web_service(compose):
    conf = (DOCKER / "nginx.conf").read_text()
    services = compose["services"]
    assert re.search(r"upstream udyog_web \{[^}]*server web:8000 resolve;", conf)
    assert "resolver 127.0.0.11" in conf  # Docker's DNS: every replica of `web`
    assert "proxy_pass http://udyog_web;" in conf
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"]["volumes"]
    health = services["proxy"]["healthcheck"]["test"][-1]
    path = health.removeprefix("http://127.0.0.1")
    assert f"location = {path} " in conf
    # X-Forwarded-For is set, as UDYOG_PROXY_HOPS=1 expects of exactly one proxy.
    assert services["web"]["environment"]["UDYOG_PROXY_HOPS"] == "1" and "X-Forwarded-For" in conf
    size = re.search(r"client_max_body_size (\d+)m;", conf)
    assert size and int(size.group(1)) * 1024 * 1024 >= 25 * 1024 * 1024  # the default attachment limit


def test_dockerfile_installs_the_repo_and_runs_as_a_user():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert "pip install ./sdk ./core" in text and "for p in plugins/*/" in text
    assert "; true" not in text  # a failing plugin install fails the build
    assert "postgresql-client" in text  # udyog backup / restore use pg_dump and pg_restore
    user = text.index("\nUSER udyog")
    assert user < text.index("ENTRYPOINT") and 'ENTRYPOINT ["udyog"]' in text
    assert "/api/v1/ready" in text
    assert not re.search(r"(SECRET|PASSWORD)[A-Z_]*\s*=", text), "a secret is baked into the image"
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert "**/.venv" in ignore and "**/.git" in ignore and "docker/.env" in ignore
