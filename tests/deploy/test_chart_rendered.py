"""The chart rendered by Helm's own engine, where one is installed.

Uses the Helm v4 Go SDK through the `helm-python-sdk` package when it is
importable (it bundles the engine as a native library: no helm binary), and
`kubernetes-validate` when installed. Neither is a project dependency: without
them these tests skip and say why; helm/check.sh does the same with a helm binary.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, EXAMPLES, load_yaml

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed: chart not rendered here")


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name="check", namespace="licheng", is_install=True)
    return [
        doc for path, text in sorted(out.items()) if not path.endswith("NOTES.txt") for doc in yaml.safe_load_all(text) if doc
    ]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_default_values_refuse_to_render_without_a_database() -> None:
    with pytest.raises(helm.HelmRenderError, match="set database.url"):
        render({})


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_lint_clean(example: Path) -> None:
    report = helm.lint(str(CHART), load_yaml(example), strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_rendered_examples_are_valid_kubernetes_objects(example: Path, tmp_path: Path) -> None:
    validate = shutil.which("kubernetes-validate")
    if validate is None:
        pytest.skip("kubernetes-validate not installed")
    core = [d for d in render(load_yaml(example)) if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    manifest = tmp_path / "out.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    result = subprocess.run([validate, "-k", "1.30.0", "--strict", "--quiet", str(manifest)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_web_budget_matches_web_pods_and_nothing_else(example: Path) -> None:
    docs = render(load_yaml(example))
    (budget,) = by_kind(docs, "PodDisruptionBudget")
    selector = budget["spec"]["selector"]["matchLabels"].items()
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in by_kind(docs, "Deployment") + by_kind(docs, "Job")
    }
    matched = {name for name, labels in pods.items() if selector <= labels.items()}
    assert matched == {"check-licheng-web"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_pods_are_locked_down_and_roll_on_config_changes(example: Path) -> None:
    docs = render(load_yaml(example))
    for workload in by_kind(docs, "Deployment") + by_kind(docs, "Job"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/data"}
    for deployment in by_kind(docs, "Deployment"):
        assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_web_probes_use_healthz_and_readyz() -> None:
    docs = render(load_yaml(EXAMPLES[0]))
    (web,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-web")]
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][0] == "serve"


def test_storage_credentials_are_url_escaped_into_the_secret() -> None:
    import base64

    values = load_yaml(next(p for p in EXAMPLES if p.name == "minio.yaml"))
    secret = next(d for d in render(values) if d["kind"] == "Secret" and d["metadata"]["name"] == "check-licheng")
    url = base64.b64decode(secret["data"]["LICHENG_STORAGE_URL"]).decode()
    assert url.startswith("s3://licheng:change-me%2Fwith%2Bchars@minio.storage.svc:80/licheng?secure=false")
