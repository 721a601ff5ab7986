"""Metrics: route templates as labels, streaming untouched, helpers, the exposition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from licheng import observability
from licheng.observability.metrics import OTHER, BoundedLabel


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests(method: str, route: str, status: int) -> float:
    return sample("licheng_http_requests_total", method=method, route=route, status=str(status))


async def test_requests_are_labelled_by_route_template_not_raw_path(client: httpx.AsyncClient) -> None:
    before = requests("GET", "/items/{item_id}", 200)
    await client.get("/items/1")
    await client.get("/items/2")
    assert requests("GET", "/items/{item_id}", 200) == before + 2
    assert sample("licheng_http_requests_total", method="GET", route="/items/1", status="200") == 0


async def test_latency_histogram_counts_each_request(client: httpx.AsyncClient) -> None:
    before = sample("licheng_http_request_duration_seconds_count", method="GET", route="/items/{item_id}")
    await client.get("/items/7")
    after = sample("licheng_http_request_duration_seconds_count", method="GET", route="/items/{item_id}")
    assert after == before + 1


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = requests("GET", "<unmatched>", 404)
    await client.get("/no/such/path/123")
    await client.get("/another/unknown")
    assert requests("GET", "<unmatched>", 404) == before + 2


async def test_mounted_routes_keep_their_prefix(client: httpx.AsyncClient) -> None:
    before_api = requests("GET", "/api/things/{item_id}", 200)
    before_graphql = requests("POST", "/graphql", 200)
    await client.get("/api/things/5")
    await client.post("/graphql/", json={"query": "{ __typename }"})
    assert requests("GET", "/api/things/{item_id}", 200) == before_api + 1
    assert requests("POST", "/graphql", 200) == before_graphql + 1


async def test_wrong_method_is_counted_under_its_route(client: httpx.AsyncClient) -> None:
    before = requests("POST", "/items/{item_id}", 405)
    response = await client.post("/items/1")
    assert response.status_code == 405
    assert requests("POST", "/items/{item_id}", 405) == before + 1


async def test_unusual_methods_share_one_label(client: httpx.AsyncClient) -> None:
    before = requests(OTHER, "/items/{item_id}", 405)
    await client.request("BREW", "/items/1")
    assert requests(OTHER, "/items/{item_id}", 405) == before + 1


async def test_an_unhandled_error_counts_as_500(client: httpx.AsyncClient) -> None:
    before = requests("GET", "/boom", 500)
    response = await client.get("/boom")
    assert response.status_code == 500
    assert requests("GET", "/boom", 500) == before + 1
    assert sample("licheng_http_requests_in_progress") == 0


async def test_uploads_stream_through_the_middlewares(app: Starlette, client: httpx.AsyncClient) -> None:
    probe = app.state.upload_probe
    uploaded_before = sample("licheng_upload_bytes_total")

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 65536
        # A middleware that buffered the body would never let the endpoint see this first chunk.
        await asyncio.wait_for(probe.first_chunk.wait(), timeout=5)
        yield b"y" * 65536

    response = await client.post("/upload", content=body())
    assert response.json() == {"bytes": 131072}
    assert sample("licheng_upload_bytes_total") == uploaded_before + 131072


async def test_metrics_endpoint_serves_the_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.get("/items/1")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "licheng_http_requests_total",
        "licheng_http_request_duration_seconds_bucket",
        "licheng_upload_bytes_total",
        "licheng_job_queue_depth",
        "licheng_job_failures_total",
        "licheng_plugin_hook_errors_total",
        "licheng_graphql_operations_total",
    ):
        assert name in response.text


def test_graphql_operations_are_counted_by_name_and_status() -> None:
    before = sample("licheng_graphql_operations_total", operation="MyPortfolio", status="ok")
    observability.observe_graphql_operation("MyPortfolio", "ok", duration=0.02)
    observability.observe_graphql_operation(None, "OUTCOME_CAP_REACHED")
    assert sample("licheng_graphql_operations_total", operation="MyPortfolio", status="ok") == before + 1
    assert sample("licheng_graphql_operations_total", operation="anonymous", status="OUTCOME_CAP_REACHED") >= 1
    assert sample("licheng_graphql_operation_duration_seconds_count", operation="MyPortfolio") >= 1


def test_client_supplied_names_are_cleaned_and_capped() -> None:
    label = BoundedLabel(limit=2, empty="anonymous")
    assert label("Query{evil}\n") == "Query_evil__"
    assert label("") == "anonymous"
    assert label("third") == OTHER
    assert label("Query{evil}\n") == "Query_evil__"  # already seen: still its own series


def test_job_and_plugin_helpers_update_their_metrics() -> None:
    failures = sample("licheng_job_failures_total", kind="submission")
    hook_errors = sample("licheng_plugin_hook_errors_total", plugin="taipei_coolcloud", hook="resolve_policy")
    observability.set_job_queue_depth(12)
    observability.count_job_failure("submission")
    observability.count_plugin_hook_error("taipei_coolcloud", "resolve_policy")
    assert sample("licheng_job_queue_depth") == 12
    assert sample("licheng_job_failures_total", kind="submission") == failures + 1
    hook_errors_after = sample("licheng_plugin_hook_errors_total", plugin="taipei_coolcloud", hook="resolve_policy")
    assert hook_errors_after == hook_errors + 1
