"""The container's commands, run as local processes: migrate, serve, worker, SIGTERM.

Each runs the installed console script (`licheng` beside this Python, or
LICHENG_TEST_CLI) with nothing but environment variables, on a fresh SQLite
file and blob folder, as the image would with LICHENG_DEBUG=true.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CLI = os.environ.get("LICHENG_TEST_CLI") or str(Path(sys.executable).with_name("licheng"))
STOP_WITHIN = 30.0  # seconds: well inside the chart's terminationGracePeriodSeconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    return {
        **clean,
        "LICHENG_DATA_DIR": str(tmp_path / "data"),
        "LICHENG_DEBUG": "true",
        "LICHENG_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate_and_wait(self) -> tuple[int, float]:
        start = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"still running {STOP_WITHIN}s after SIGTERM:\n{self.output()[-3000:]}")
        return code, time.monotonic() - start


def start(env: dict[str, str], tmp_path: Path, *args: str) -> Process:
    log = tmp_path / f"{args[0]}.log"
    popen = subprocess.Popen([CLI, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return Process(popen, log)


def wait_for(url: str, process: Process, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"exited with {process.popen.returncode}:\n{process.output()[-3000:]}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not 200 within {timeout}s:\n{process.output()[-3000:]}")


@pytest.fixture
def migrated(env: dict[str, str]) -> dict[str, str]:
    result = run(env, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    return env


@pytest.fixture
def server(migrated: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Process]]:
    port = free_port()
    process = start(migrated, tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz", process)
    yield base, process
    if process.popen.poll() is None:
        process.popen.kill()
        process.popen.wait()


def test_migrate_runs_twice_without_changes(env: dict[str, str]) -> None:
    first, second = run(env, "migrate"), run(env, "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr


def test_serve_is_ready_with_database_and_storage(server: tuple[str, Process]) -> None:
    base, process = server
    assert wait_for(f"{base}/readyz", process).status_code == 200


def test_serve_exposes_prometheus_metrics(server: tuple[str, Process]) -> None:
    base, _ = server
    httpx.get(f"{base}/healthz")
    response = httpx.get(f"{base}/metrics")
    assert response.status_code == 200
    assert 'licheng_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


def test_serve_echoes_the_request_id(server: tuple[str, Process]) -> None:
    base, _ = server
    assert httpx.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"}).headers["x-request-id"] == "probe-1"


def test_serve_stops_cleanly_on_sigterm_and_logged_json_lines(server: tuple[str, Process]) -> None:
    base, process = server
    httpx.get(f"{base}/readyz")
    code, took = process.terminate_and_wait()
    assert code == 0 and took < STOP_WITHIN
    lines = [line for line in process.output().splitlines() if line.strip()]
    assert lines, "serve wrote no log lines"
    for line in lines:
        record = json.loads(line)
        assert {"timestamp", "level", "logger", "message", "request_id", "school_id"} <= record.keys()


def test_worker_runs_until_sigterm_then_exits_zero(migrated: dict[str, str], tmp_path: Path) -> None:
    process = start(migrated, tmp_path, "worker")
    time.sleep(3)
    assert process.popen.poll() is None, f"worker exited early:\n{process.output()[-3000:]}"
    code, took = process.terminate_and_wait()
    assert code == 0 and took < STOP_WITHIN


def test_worker_serves_metrics_on_the_port_it_is_given(migrated: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    process = start({**migrated, "LICHENG_METRICS_PORT": str(port)}, tmp_path, "worker")
    try:
        response = wait_for(f"http://127.0.0.1:{port}/metrics", process, timeout=30)
        assert "licheng_job_queue_depth" in response.text
    finally:
        assert process.terminate_and_wait()[0] == 0
