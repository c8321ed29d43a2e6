"""Benchmark 3: start-up to the first served request, and memory per web worker.

Targets: process start to first served request with the core and every
plugin present <= 1.0 s; memory per web worker <= 120 MB PSS.

A migrated SQLite database with the ``notes`` and ``tags`` test plugins
enabled for the demo tenant is prepared with the real CLI. Each run launches
``udyog run --workers 2`` in its own process group, polls
``GET /api/v1/health`` every 5 ms until it answers 200, reads the PSS of the
gunicorn master and its workers from ``/proc/<pid>/smaps_rollup``, and stops
the group. Baselines measured in the same run: ``python -c "pass"`` and
``python -c "import flask"``. A fresh interpreter running
``_startup_probe.py`` breaks the time down by phase; ``-X importtime`` lists
the slowest imports.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.bench import (
    Outcome,
    absolute_outcome,
    fmt_mb,
    fmt_time,
    print_heading,
    print_table,
    ratio_text,
)

RUNS = 5
WORKERS = 2
POLL_INTERVAL = 0.005
START_TIMEOUT = 30.0
TARGET_SECONDS = 1.0
TARGET_PSS_MB = 120.0
PLUGINS = ("notes", "tags")
TRYTON = "Tryton 8.2 with 15 modules: 0.89-1.05 s to ready, not serving (docs: /work/shared/peers/tryton/README.md)"

PYTHON = sys.executable
BIN = Path(sys.executable).parent
PROBE = Path(__file__).with_name("_startup_probe.py")


@dataclass(frozen=True)
class Memory:
    """Figures of one process from ``smaps_rollup``, in MB."""

    pss: float
    uss: float
    rss: float


@dataclass(frozen=True)
class ServerRun:
    """One launch of the server."""

    seconds: float
    master: Memory
    workers: list[Memory]


def smaps_rollup(pid: int) -> Memory:
    """PSS, USS (private) and RSS of ``pid`` in MB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1])
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(pss=fields["Pss"] / 1024, uss=private / 1024, rss=fields["Rss"] / 1024)


def _environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_")}
    plugins_file = tmp / "plugins.toml"
    plugins_file.write_text(
        "[deployment]\nenabled = [" + ", ".join(f'"{p}"' for p in PLUGINS) + "]\n", encoding="utf-8"
    )
    env.update(
        UDYOG_PLUGINS_FILE=str(plugins_file),
        UDYOG_DATABASE_URL=f"sqlite:///{tmp / 'udyog.db'}",
        UDYOG_DATA_DIR=str(tmp),
        # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared by
        # every server of the user; keep ours apart from tests running alongside.
        XDG_RUNTIME_DIR=str(tmp),
    )
    return env


def _prepare(tmp: Path, env: Mapping[str, str]) -> None:
    for args in (["db", "upgrade"], ["demo"]):
        subprocess.run([str(BIN / "udyog"), *args], cwd=tmp, env=env, check=True, capture_output=True)


def _wall(cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, timeout: float = 10.0) -> int | None:
    """The status of ``GET path``; None while nothing listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (ours: it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _serve_once(tmp: Path, env: Mapping[str, str]) -> ServerRun:
    port = _free_port()
    log_path = tmp / "server.log"
    cmd = [str(BIN / "udyog"), "run", "--port", str(port), "--workers", str(WORKERS)]
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                if _get(port, "/api/v1/health") == 200:
                    seconds = time.perf_counter() - start
                    break
                if proc.poll() is not None or time.perf_counter() - start > START_TIMEOUT:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the server did not answer (exit {proc.returncode}):\n{tail}")
                time.sleep(POLL_INTERVAL)
            return ServerRun(seconds, *_memory(proc.pid, port))
        finally:
            _stop(proc)


def _memory(master_pid: int, port: int) -> tuple[Memory, list[Memory]]:
    """Memory of the master and of each worker once all workers serve."""
    master = psutil.Process(master_pid)
    deadline = time.perf_counter() + 10
    while len(master.children()) < WORKERS and time.perf_counter() < deadline:
        time.sleep(0.01)
    for _ in range(20):  # reach every worker with a few requests
        _get(port, "/api/v1/health")
    time.sleep(0.2)
    workers = sorted(master.children(), key=lambda p: p.pid)
    return smaps_rollup(master_pid), [smaps_rollup(w.pid) for w in workers]


def _idle_flask_memory(env: Mapping[str, str]) -> Memory:
    """A bare interpreter that imported flask, for scale."""
    code = "import sys, flask; print('ready', flush=True); sys.stdin.read()"
    proc = subprocess.Popen([PYTHON, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        return smaps_rollup(proc.pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def _probe(tmp: Path, env: Mapping[str, str]) -> tuple[float, float, dict[str, float]]:
    """Seconds until the probe answered, seconds it then took to exit, and its phases."""
    start = time.perf_counter()
    proc = subprocess.Popen([PYTHON, str(PROBE)], cwd=tmp, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    answered = time.perf_counter()
    proc.stdout.read()
    if proc.wait(timeout=30) != 0:
        raise RuntimeError(f"the start-up probe failed (exit {proc.returncode})")
    exited = time.perf_counter()
    data = json.loads(line)
    if data["status"] != 200:
        raise RuntimeError(f"in-process first request answered {data['status']}")
    return answered - start, exited - answered, data["phases"]


def _import_times(tmp: Path, env: Mapping[str, str]) -> list[tuple[int, int, int, str]]:
    """``-X importtime`` of the probe: (depth, self us, cumulative us, module)."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", str(PROBE)], cwd=tmp, env=env, check=True, capture_output=True, text=True
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_field, cumulative_field, name_field = line.removeprefix("import time:").split("|")
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        rows.append((depth, int(self_field), int(cumulative_field), name_field.strip()))
    return rows


def _median_memory(values: Sequence[Memory]) -> Memory:
    return Memory(
        pss=statistics.median(m.pss for m in values),
        uss=statistics.median(m.uss for m in values),
        rss=statistics.median(m.rss for m in values),
    )


def run() -> list[Outcome]:
    """Run the benchmark, print its tables, return its targets."""
    with tempfile.TemporaryDirectory(prefix="udyog-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = _environment(tmp)
        _prepare(tmp, env)
        bare = statistics.median(_wall([PYTHON, "-c", "pass"], env) for _ in range(RUNS))
        flask = statistics.median(_wall([PYTHON, "-c", "import flask"], env) for _ in range(RUNS))
        _serve_once(tmp, env)  # warm-up: page cache, bytecode
        runs = [_serve_once(tmp, env) for _ in range(RUNS)]
        probes = [_probe(tmp, env) for _ in range(RUNS)]
        imports = _import_times(tmp, env)
        idle_flask = _idle_flask_memory(env)

    served = statistics.median(r.seconds for r in runs)
    print_heading(
        f"3. Start-up and memory: `udyog run --workers {WORKERS}` with core + {', '.join(PLUGINS)}, "
        f"SQLite, median of {RUNS} runs"
    )
    print_table(
        ["case", "wall", "ratio to pass", "ratio to import flask"],
        [
            ['python -c "pass" (baseline)', fmt_time(bare), "1.00", ratio_text(bare, flask)],
            ['python -c "import flask" (baseline)', fmt_time(flask), ratio_text(flask, bare), "1.00"],
            [
                "udyog run: launch to first HTTP 200 on /api/v1/health",
                fmt_time(served),
                ratio_text(served, bare),
                ratio_text(served, flask),
            ],
            [
                "  fastest / slowest of the runs",
                f"{fmt_time(min(r.seconds for r in runs))} / {fmt_time(max(r.seconds for r in runs))}",
                "",
                "",
            ],
        ],
    )
    print(f"peer, for context: {TRYTON}")

    print()
    print(f"-- in-process breakdown (fresh interpreter running {PROBE.name}, median of {RUNS})")
    answered = statistics.median(a for a, _, _ in probes)
    exiting = statistics.median(e for _, e, _ in probes)
    labels = list(probes[0][2])
    medians = {label: statistics.median(p[label] for _, _, p in probes) for label in labels}
    interpreter = answered - sum(medians.values())
    print_table(
        ["phase", "time", "share"],
        [
            [
                "interpreter start-up (and the probe's own imports)",
                fmt_time(interpreter),
                f"{interpreter / answered:.0%}",
            ],
            *[[label, fmt_time(value), f"{value / answered:.0%}"] for label, value in medians.items()],
            ["total: launch to the in-process answer", fmt_time(answered), "100%"],
            ["after that, interpreter exit (finalisation; not in the total)", fmt_time(exiting), ""],
        ],
    )

    print()
    print("-- slowest imports (python -X importtime, one run of the probe)")
    top_level = sorted((r for r in imports if r[0] == 0), key=lambda r: -r[2])[:10]
    by_self = sorted(imports, key=lambda r: -r[1])[:10]
    total = sum(r[2] for r in imports if r[0] == 0)
    print_table(
        ["top-level import", "cumulative", "", "module", "self"],
        [
            [a[3], fmt_time(a[2] / 1e6), "", b[3], fmt_time(b[1] / 1e6)]
            for a, b in zip(top_level, by_self, strict=False)
        ],
    )
    print(f"all imports: {fmt_time(total / 1e6)} cumulative over {len(imports)} modules")

    master = _median_memory([r.master for r in runs])
    worker_count = min(len(r.workers) for r in runs)
    workers = [_median_memory([r.workers[i] for r in runs]) for i in range(worker_count)]
    print()
    print(f"-- memory (smaps_rollup, median of {RUNS} runs, after {WORKERS} workers served requests)")
    print_table(
        ["process", "PSS", "USS (private)", "RSS", "PSS ratio to idle flask"],
        [
            [
                "idle python that imported flask (baseline)",
                fmt_mb(idle_flask.pss),
                fmt_mb(idle_flask.uss),
                fmt_mb(idle_flask.rss),
                "1.00",
            ],
            [
                "gunicorn master (app preloaded)",
                fmt_mb(master.pss),
                fmt_mb(master.uss),
                fmt_mb(master.rss),
                ratio_text(master.pss, idle_flask.pss),
            ],
            *[
                [f"worker {i + 1}", fmt_mb(w.pss), fmt_mb(w.uss), fmt_mb(w.rss), ratio_text(w.pss, idle_flask.pss)]
                for i, w in enumerate(workers)
            ],
        ],
    )
    worst = max(w.pss for w in workers) if workers else float("nan")
    return [
        absolute_outcome(
            "start-up to first request",
            "launch to first 200",
            served,
            TARGET_SECONDS,
            fmt_time,
            context=f"{served / bare:.1f}x python -c pass, {served / flask:.1f}x import flask",
        ),
        absolute_outcome("memory per web worker", "largest worker PSS", worst, TARGET_PSS_MB, fmt_mb),
    ]


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
