"""JSON logs: request and school ids, the request-id header, redaction of personal data."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from licheng import observability
from licheng.observability.logs import redact

log = logging.getLogger("licheng.tests.observability")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def only(records: list[dict[str, Any]], message: str) -> dict[str, Any]:
    found = [r for r in records if r["message"] == message]
    assert len(found) == 1, records
    return found[0]


@pytest.mark.usefixtures("json_logs")
async def test_request_id_is_taken_echoed_and_logged(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/items/9", headers={"X-Request-ID": "req-abc.123"})
    assert response.headers["x-request-id"] == "req-abc.123"
    records = lines(capsys)
    line = only(records, "item 9 requested")
    assert line["request_id"] == "req-abc.123"
    assert line["level"] == "INFO" and line["logger"] == "licheng.tests.observability"
    assert line["timestamp"].endswith("+00:00")
    access = only(records, "GET /items/{item_id} 200")
    assert access["request_id"] == "req-abc.123"
    assert access["route"] == "/items/{item_id}" and access["status"] == 200
    assert isinstance(access["duration_ms"], float)


@pytest.mark.usefixtures("json_logs")
async def test_a_missing_or_malformed_request_id_is_replaced(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    generated = (await client.get("/items/1")).headers["x-request-id"]
    replaced = (await client.get("/items/1", headers={"X-Request-ID": "bad id\twith spaces"})).headers["x-request-id"]
    assert len(generated) == 32 and len(replaced) == 32 and generated != replaced
    assert {r["request_id"] for r in lines(capsys) if r["message"] == "item 1 requested"} == {generated, replaced}


@pytest.mark.usefixtures("json_logs")
async def test_bound_school_tags_later_lines_of_that_request_only(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await client.get("/schools/42/items")
    await client.get("/items/3")
    records = lines(capsys)
    assert only(records, "inside school")["school_id"] == 42
    assert only(records, "GET /schools/{school_id}/items 200")["school_id"] == 42
    assert only(records, "item 3 requested")["school_id"] is None


@pytest.mark.usefixtures("json_logs")
async def test_an_unhandled_error_is_logged_with_the_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    error = only(lines(capsys), "unhandled error")
    assert error["request_id"] == "r-500" and error["route"] == "/boom"
    assert "RuntimeError: boom" in error["exception"]


@pytest.mark.usefixtures("json_logs")
async def test_probes_are_logged_at_debug_only(client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]) -> None:
    await client.get("/metrics")
    assert only(lines(capsys), "GET /metrics 200")["level"] == "DEBUG"


@pytest.mark.usefixtures("json_logs")
def test_log_context_gives_a_job_its_ids(capsys: pytest.CaptureFixture[str]) -> None:
    with observability.log_context(request_id="job-17", school_id=5):
        log.info("job ran")
    log.info("after the job")
    records = lines(capsys)
    assert (only(records, "job ran")["request_id"], only(records, "job ran")["school_id"]) == ("job-17", 5)
    assert only(records, "after the job")["request_id"] is None


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("student A123456789 uploaded", "A123456789"),
        ("lookup id=b234567890", "b234567890"),
        ("resident F812345678 and FA12345678", "812345678"),
        ("old resident card AB12345678", "AB12345678"),
        ("Authorization: Bearer eyJhbGciOi.J9.abc-_x=", "eyJhbGciOi"),
        ("password=hunter2&next=/", "hunter2"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("LICHENG_SECRET_KEY=abcdefabcdefabcdef", "abcdefabcdefabcdef"),
        ("connect postgres://licheng:pg-pass@db:5432/licheng", "pg-pass"),
        ("store s3://AKIA123:wJalr%2FK7@minio:9000/licheng", "wJalr"),
    ],
)
def test_redaction_masks_personal_data_and_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "sha256 9f86d081a123456789b0f00a08",  # an ID-shaped run inside a hex digest
        "uploaded 3 files for school 1234567890",
        "request 4fa1b2c3d4e5f60718293a4b5c6d7e8f finished",
    ],
)
def test_redaction_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.usefixtures("json_logs")
def test_extras_and_tracebacks_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    log.info("signed in", extra={"password": "hunter2", "note": "for A123456789", "count": 3})
    try:
        raise ValueError("no student with id A223456789")
    except ValueError:
        log.exception("lookup failed")
    records = lines(capsys)
    signed_in = only(records, "signed in")
    assert signed_in["password"] == "[REDACTED]" and signed_in["count"] == 3
    assert "A123456789" not in signed_in["note"]
    failed = only(records, "lookup failed")
    assert "ValueError" in failed["exception"] and "A223456789" not in failed["exception"]
