"""The package layout contract: `platform/` is imported as `licheng` and never shadows the stdlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_folder_has_no_init_so_it_cannot_shadow_the_stdlib():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_licheng_and_stdlib_platform_import_side_by_side_from_the_repository_root():
    result = subprocess.run(
        [sys.executable, "-c", "import licheng, platform; print(platform.system())"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"Linux", "Darwin", "Windows"}


def test_plugins_are_registered_as_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="licheng.plugins")}
    assert {"taipei_coolcloud", "moe_central"} <= names
