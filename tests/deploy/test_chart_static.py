"""The chart without helm: values against the schema, YAML well-formed, templates well-formed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy import gotemplate
from tests.deploy.conftest import CHART, EXAMPLES, load_yaml, merged

STATIC_YAML = [CHART / "Chart.yaml", CHART / "values.yaml", *EXAMPLES]
TEMPLATES = sorted((CHART / "templates").rglob("*.yaml")) + sorted((CHART / "templates").glob("*.tpl"))


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_values_yaml_matches_its_schema(values_schema: dict[str, Any], default_values: dict[str, Any]) -> None:
    errors = [e.message for e in validator(values_schema).iter_errors(default_values)]
    assert errors == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_values_match_the_schema(
    example: Path, values_schema: dict[str, Any], default_values: dict[str, Any]
) -> None:
    values = merged(default_values, load_yaml(example))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator(values_schema).iter_errors(values)]
    assert errors == []


@pytest.mark.parametrize(
    "typo",
    [{"replicas": 3}, {"web": {"replicas": 3}}, {"storage": {"s3": {"endpoint": "https://minio:9000"}}}],
    ids=["top-level", "nested", "bad-endpoint"],
)
def test_the_schema_refuses_unknown_keys_and_bad_values(
    typo: dict[str, Any], values_schema: dict[str, Any], default_values: dict[str, Any]
) -> None:
    assert list(validator(values_schema).iter_errors(merged(default_values, typo)))


def test_every_object_of_our_own_refuses_unknown_keys(values_schema: dict[str, Any]) -> None:
    def walk(node: dict[str, Any], where: str) -> list[str]:
        loose = []
        if "properties" in node and node.get("additionalProperties") is not False:
            loose.append(where)
        for name, child in node.get("properties", {}).items():
            loose += walk(child, f"{where}.{name}")
        return loose

    assert walk(values_schema, "values") == []


def test_no_default_depends_on_a_third_party_subchart() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2" and chart["type"] == "application"
    assert not chart.get("dependencies")
    assert not (CHART / "charts").exists()


@pytest.mark.parametrize("path", STATIC_YAML, ids=lambda p: p.name)
def test_static_yaml_parses_without_duplicate_keys_or_tabs(path: Path) -> None:
    assert "\t" not in path.read_text()
    assert isinstance(load_yaml(path), dict)


def test_default_values_leave_every_external_service_unset(default_values: dict[str, Any]) -> None:
    # The chart refuses to render these defaults (licheng.validate), rather than fall back to SQLite.
    assert default_values["database"]["url"] == "" and default_values["existingSecret"] == ""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'fail "set database.url' in helpers
    assert 'include "licheng.validate"' in (CHART / "templates" / "secret.yaml").read_text()


def all_actions() -> tuple[list[gotemplate.Action], list[str]]:
    found: list[gotemplate.Action] = []
    errors: list[str] = []
    for path in [*TEMPLATES, CHART / "templates" / "NOTES.txt"]:
        actions, bad = gotemplate.actions(path)
        found += actions
        errors += bad
    return found, errors


@pytest.mark.parametrize("path", [*TEMPLATES, CHART / "templates" / "NOTES.txt"], ids=lambda p: p.name)
def test_template_actions_and_blocks_are_balanced(path: Path) -> None:
    actions, errors = gotemplate.actions(path)
    assert errors + gotemplate.check_blocks(actions) == []


def test_templates_call_known_functions_and_defined_helpers() -> None:
    found, _ = all_actions()
    helpers = gotemplate.defined_helpers(found)
    assert {"licheng.fullname", "licheng.labels", "licheng.selectorLabels", "licheng.validate"} <= helpers
    assert gotemplate.check_names(found, helpers) == []


def test_templates_read_only_values_that_exist(default_values: dict[str, Any]) -> None:
    found, _ = all_actions()
    assert gotemplate.check_values_paths(found, default_values) == []


def test_the_checker_catches_what_it_claims(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text('{{- if .Values.x }}\n{{ include "nope" . }}\n{{ tpyo .Values.y }}\n{{ .Values.z\n')
    actions, errors = gotemplate.actions(broken)
    assert errors  # the unclosed last action
    assert gotemplate.check_blocks(actions)  # the if without end
    names = gotemplate.check_names(actions, helpers=set())
    assert any("nope" in e for e in names) and any("tpyo" in e for e in names)
    assert gotemplate.check_values_paths(actions, {"x": 1})


def test_web_budget_and_service_select_web_pods_only() -> None:
    templates = CHART / "templates"
    web_selector = '(dict "ctx" $ "component" "web")'
    assert web_selector in (templates / "pdb.yaml").read_text()
    assert '"component" "web")' in (templates / "service.yaml").read_text()
    assert '"component" "migrate")' in (templates / "job-migrate.yaml").read_text()
    assert '"component" "worker")' in (templates / "deployment-worker.yaml").read_text()


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    job = (CHART / "templates" / "job-migrate.yaml").read_text()
    assert job.count("helm.sh/hook: pre-install,pre-upgrade") == 3  # ConfigMap, Secret, Job
    assert 'args: ["migrate"]' in job
