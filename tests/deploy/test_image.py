"""The Dockerfile and .dockerignore, read as text (no Docker daemon here), and helm/check.sh."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from tests.deploy.conftest import ROOT


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [args for word, args in final_stage() if word == "USER"]
    assert users, "the final stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000


def test_one_image_runs_every_command_through_the_licheng_entrypoint() -> None:
    stage = dict(final_stage())
    assert stage["ENTRYPOINT"] == '["licheng"]'
    assert stage["CMD"].startswith('["serve"')
    assert "8000" in stage["EXPOSE"]


def test_nothing_needs_writing_outside_tmp_and_data() -> None:
    env = " ".join(args for word, args in final_stage() if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "LICHENG_DATA_DIR=/data" in env and "TMPDIR=/tmp" in env


def test_no_secret_is_baked_into_the_image() -> None:
    secret_words = re.compile(r"(SECRET|PASSWORD|TOKEN|DATA_KEY|DATABASE_URL|STORAGE_URL)\w*\s*=", re.I)
    for word, args in instructions():
        if word in {"ENV", "ARG", "LABEL"}:
            assert not secret_words.search(args), f"{word} {args}"
    assert not any(word == "ADD" for word, _ in instructions())  # COPY only: no remote fetches


def test_base_images_are_pinned_to_a_version() -> None:
    args = dict(instructions())["ARG"]
    assert re.search(r"PYTHON_IMAGE=python:3\.11[\w.-]*slim", args)


def test_the_build_context_is_an_allow_list() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "setup.py", "README.md", "platform", "plugins"}


def test_check_script_is_valid_bash_and_skips_without_helm() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "helm" / "check.sh")], check=True)
    if shutil.which("helm"):
        return  # with helm it really runs: that is CI's job, not this test's
    result = subprocess.run(
        ["bash", str(ROOT / "helm" / "check.sh")], capture_output=True, text=True, env={**os.environ}, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("SKIP: helm is not installed")
