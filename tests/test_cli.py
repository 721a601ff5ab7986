"""The `licheng` command as an operator runs it: real processes, a fresh data directory each."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

LICHENG = [sys.executable, "-m", "licheng.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    env.update(LICHENG_DATA_DIR=str(tmp_path / "data"), LICHENG_SECRET_KEY="cli-test-secret-0123456789abcdef", **extra)
    return env


def licheng(tmp_path: Path, *args: str, input: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LICHENG, *args], env=_env(tmp_path, **extra), capture_output=True, text=True, timeout=120, input=input
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_migrate_is_idempotent(tmp_path):
    first = licheng(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    second = licheng(tmp_path, "migrate")
    assert second.returncode == 0 and "up to date" in second.stdout


def test_operator_onboards_a_school_and_imports_a_big5_file(tmp_path):
    assert licheng(tmp_path, "migrate").returncode == 0
    assert licheng(tmp_path, "bureau", "create", "taipei", "臺北市政府教育局").returncode == 0
    created = licheng(tmp_path, "school", "create", "--bureau", "taipei", "--code", "353301", "--name", "某某高中", "--staff-login", "registry")
    assert created.returncode == 0, created.stderr
    assert "initial password" in created.stdout
    classes = tmp_path / "classes.csv"
    classes.write_bytes("code,name,grade\n101,1年1班,10\n102,1年2班,10\n".encode("cp950"))
    dry = licheng(tmp_path, "import", "classes", str(classes), "--school", "353301", "--dry-run")
    assert dry.returncode == 0 and "dry run: 2 rows (big5): 2 created" in dry.stdout
    done = licheng(tmp_path, "import", "classes", str(classes), "--school", "353301")
    assert "2 created" in done.stdout
    again = licheng(tmp_path, "import", "classes", str(classes), "--school", "353301")
    assert "0 created, 0 updated, 2 unchanged" in again.stdout
    bad = tmp_path / "students.csv"
    bad.write_text("student_number,name,class_code\n1,王,999\n", encoding="utf-8")
    refused = licheng(tmp_path, "import", "students", str(bad), "--school", "353301")
    assert refused.returncode == 1
    assert "row 2, class_code: UNKNOWN_CLASS" in refused.stderr


def test_unknown_school_is_a_clear_error_in_both_languages(tmp_path):
    assert licheng(tmp_path, "migrate").returncode == 0
    file = tmp_path / "c.csv"
    file.write_text("code,name,grade\n", encoding="utf-8")
    result = licheng(tmp_path, "import", "classes", str(file), "--school", "999999")
    assert result.returncode == 2
    assert "NOT_FOUND" in result.stderr and "找不到學校" in result.stderr and "school not found" in result.stderr


def test_serve_refuses_the_development_secret(tmp_path):
    env = _env(tmp_path)
    del env["LICHENG_SECRET_KEY"]
    result = subprocess.run([*LICHENG, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "LICHENG_SECRET_KEY" in result.stderr


def _a_term_batch_reaches_receipts_through_the_demo_simulator(base: str) -> None:
    """The demo starts the central-database simulator and its in-process jobs deliver to it."""
    sign_in = 'mutation { signIn(login: "registry", password: "Demo2026pass") { accessToken } }'
    token = httpx.post(f"{base}/graphql", json={"query": sign_in}).json()["data"]["signIn"]["accessToken"]

    def ask(query: str, variables: dict | None = None) -> dict:
        answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}},
                            headers={"authorization": f"Bearer {token}"}, timeout=30).json()  # fmt: skip
        assert "errors" not in answer, answer
        return answer["data"]

    batch = ask("mutation { createSubmissionBatch(academicYear: 115, term: 1) { id itemCount } }")["createSubmissionBatch"]
    assert batch["itemCount"] > 0
    assert ask("mutation($id: ID!) { submitBatch(id: $id) { status } }", {"id": batch["id"]})["submitBatch"]["status"] == "QUEUED"
    status_query = "query($id: ID!) { node(id: $id) { ... on SubmissionBatch { status adapterMessage } } }"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        node = ask(status_query, {"id": batch["id"]})["node"]
        if node["status"] in ("RECEIPTS", "FAILED"):
            break
        time.sleep(0.5)
    assert node["status"] == "RECEIPTS", node


def test_demo_serves_and_the_printed_account_signs_in_over_http(tmp_path):
    """The README's first command: `licheng demo`, then sign in with a printed account and ask for the viewer."""
    port = _free_port()
    process = subprocess.Popen(
        [*LICHENG, "demo", "--port", str(port)], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("demo did not come up")
        mutation = 'mutation { signIn(login: "s10101", password: "Demo2026pass") { accessToken } }'
        token = httpx.post(f"{base}/graphql", json={"query": mutation}).json()["data"]["signIn"]["accessToken"]
        viewer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { login roles school { code } } }"},
            headers={"authorization": f"Bearer {token}"},
        ).json()["data"]["viewer"]
        assert viewer == {"login": "s10101", "roles": ["STUDENT"], "school": {"code": "353301"}}
        assert httpx.get(f"{base}/readyz").status_code == 200
        _a_term_batch_reaches_receipts_through_the_demo_simulator(base)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "s10101" in output and "Demo2026pass" in output
    assert "Central DB simulator" in output
