"""School-system sync (校務行政系統同步) through the single sign-on's school data API.

Taipei's school systems feed the directory; the single sign-on serves it back as
``/api/v2/school/{dc}/...`` (reference: ../shared/reference/taipei-sso.md, "School
data"). This adapter reads it with a client-credentials token (authlib's httpx
client) and hands the core rows with the columns of the CSV import, so the sync
shares the import's checks (``licheng.tenants.sync``). Quirks handled here:

- an empty list is a 404 with ``{"error": ...}``: it is read as empty, while any
  other failure (401/403, 5xx, a 404 for the school itself, the network) is a
  clear ``SYNC_SOURCE_FAILED`` / ``SYNC_AUTH_FAILED`` error and nothing is applied;
- ``o``, ``tpTeachClass`` and ``tutor`` are a string or a list;
- the school's code there (``dc``, e.g. "tpsh") is not our Ministry code: the
  ``sso_school_codes`` table of the single sign-on settings maps them;
- grades are 1 to 3 in a senior high school; ours are 10 to 12.
"""

from __future__ import annotations

import warnings

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
with warnings.catch_warnings():
    # authlib 1.9 announces a future switch to "httpx2" on import; httpx is what we use and test.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.base_client.errors import OAuthError

from licheng.plugins import HealthReport, Importer, LichengError, PluginSettings, ScheduledJob, SecretStr, secret_setting, setting
from taipei_coolcloud.sso import SsoSettings, school_code_map

IMPORTER_LABELS = {
    "classes": ("臺北市校務系統：班級", "Taipei school system: classes"),
    "teachers": ("臺北市校務系統：教師", "Taipei school system: teachers"),
    "students": ("臺北市校務系統：學生", "Taipei school system: students"),
}
SNAPSHOT_SECONDS = 120.0  # the three importers of one run share one read of the API


class SyncSettings(PluginSettings):
    sync_enabled: bool = setting(
        False, label_zh="啟用校務系統同步", label_en="Sync people from the school system",
        help_zh="由單一身分驗證的學校資料 API 同步班級、教師與學生", help_en="Classes, teachers and students from the SSO's school data API",
    )  # fmt: skip
    sync_base_url: str = setting(
        "", max_length=200, pattern=r"^(https?://[^\s/]+(:\d+)?(/[^\s]*)?)?$",
        label_zh="學校資料 API 網址", label_en="School data API base URL",
        help_zh="留空則與單一身分驗證網址相同", help_en="Empty: the single sign-on's base URL",
    )  # fmt: skip
    sync_client_id: str = setting(
        "", max_length=200, pattern=r"^\d*$", label_zh="同步用 Client ID", label_en="Sync client ID",
        help_zh="需有 school 授權範圍；留空則用單一身分驗證的 Client ID", help_en="Needs the school scope; empty: the SSO client ID",
    )  # fmt: skip
    sync_client_secret: SecretStr | None = secret_setting(
        label_zh="同步用 Client Secret", label_en="Sync client secret",
        help_zh="留空則用單一身分驗證的 Client Secret", help_en="Empty: the SSO client secret",
    )  # fmt: skip
    sync_timeout_seconds: int = setting(15, ge=1, le=120, label_zh="同步逾時秒數", label_en="Sync timeout (seconds)")
    sync_concurrency: int = setting(4, ge=1, le=16, label_zh="同時請求數", label_en="Parallel requests")
    sync_nightly: bool = setting(False, label_zh="每日自動同步", label_en="Sync every night")


def source_failed(what_zh: str, what_en: str, **details: Any) -> LichengError:
    return LichengError("SYNC_SOURCE_FAILED", f"無法讀取校務系統資料：{what_zh}", f"Cannot read the school system: {what_en}", **details)


@dataclass(frozen=True)
class Source:
    """Where and as whom the adapter reads; the secret never prints."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout: float
    concurrency: int
    codes: Mapping[str, str]  # our Ministry code -> Taipei's dc

    @staticmethod
    def of(config: SyncSettings) -> Source | None:
        sso = config if isinstance(config, SsoSettings) else None
        base = config.sync_base_url or (sso.sso_base_url if sso else "")
        client_id = config.sync_client_id or (sso.sso_client_id if sso else "")
        secret = config.sync_client_secret or (sso.sso_client_secret if sso else None)
        if not (config.sync_enabled and base and client_id and secret):
            return None
        token_path = sso.sso_token_path if sso else "/oauth/token"
        codes = {ours: dc for dc, ours in (school_code_map(sso) if sso else {}).items()}
        return Source(
            base.rstrip("/"), base.rstrip("/") + "/" + token_path.lstrip("/"), client_id, secret.get_secret_value(),
            float(config.sync_timeout_seconds), config.sync_concurrency, codes,
        )  # fmt: skip

    def dc_of(self, school_code: str) -> str:
        dc = self.codes.get(school_code)
        if dc is None:
            raise LichengError(
                "SYNC_SCHOOL_UNMAPPED", "此學校未設定單一身分驗證的學校代碼對照（sso_school_codes）",
                "This school has no entry in the SSO school code mapping (sso_school_codes)",
            )  # fmt: skip
        return dc


class SchoolApi:
    """One authenticated session against ``/api/v2/school/{dc}``."""

    def __init__(self, source: Source, dc: str) -> None:
        self.source, self.dc = source, dc
        self.client = AsyncOAuth2Client(
            source.client_id, source.client_secret, scope="school", timeout=source.timeout,
            token_endpoint=source.token_url, grant_type="client_credentials", token_endpoint_auth_method="client_secret_post",
            headers={"Accept": "application/json"},
        )  # fmt: skip
        self.limit = asyncio.Semaphore(source.concurrency)

    async def __aenter__(self) -> SchoolApi:
        try:
            await self.client.fetch_token(self.source.token_url, grant_type="client_credentials")
        except OAuthError as error:
            await self.client.aclose()
            raise LichengError(
                "SYNC_AUTH_FAILED", "單一身分驗證拒絕同步用的用戶端（請檢查 Client ID、Secret 與 school 授權範圍）",
                "The single sign-on refused the sync client (check the client id, secret and the school scope)",
                error=error.error,
            ) from None  # fmt: skip
        except httpx.HTTPError as error:
            await self.client.aclose()
            raise source_failed("無法取得存取權杖", f"no access token ({type(error).__name__})") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, path: str, *, empty_ok: bool = True, **params: str) -> Any:
        """JSON of ``/api/v2/school/{dc}{path}``; a 404 list is ``[]`` (the API's way of saying empty)."""
        url = f"{self.source.base_url}/api/v2/school/{self.dc}{path}"
        async with self.limit:
            try:
                response = await self.client.get(url, params=params or None)
            except httpx.HTTPError as error:
                raise source_failed("連線失敗或逾時", f"the request failed ({type(error).__name__})", path=path) from None
        if response.status_code == 404 and empty_ok and _is_error_body(response):
            return []
        if response.status_code in (401, 403):
            raise LichengError(
                "SYNC_AUTH_FAILED", "單一身分驗證拒絕讀取學校資料（權杖無效或缺少 school 授權範圍）",
                "The single sign-on refused to read school data (bad token or no school scope)", status=response.status_code,
            )  # fmt: skip
        if response.status_code != 200:
            raise source_failed(f"HTTP {response.status_code}", f"HTTP {response.status_code}", path=path)
        try:
            return response.json()
        except ValueError:
            raise source_failed("回應不是 JSON", "the answer is not JSON", path=path) from None


def _is_error_body(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v).strip() for v in value if str(v).strip()] if isinstance(value, list) else [str(value).strip()]


def _one(entry: Mapping[str, Any], key: str) -> str:
    values = _list(entry.get(key))
    return values[0] if values else ""


def grade_of(value: Any) -> str:
    """Taipei's grade 1 to 3 of a senior high school is our 10 to 12; other values pass as they are."""
    text = str(value or "").strip()
    return str(int(text) + 9) if text.isdigit() and 1 <= int(text) <= 3 else text


def staff_number_of(entry: Mapping[str, Any]) -> str:
    """The teacher number, or a stable key from the uuid when the school system gave none."""
    return _one(entry, "employeeNumber") or "U" + str(entry.get("entryUUID", "")).replace("-", "")[:19]


@dataclass
class Snapshot:
    """Everything one run read, as CSV-import rows by kind."""

    rows: dict[str, list[dict[str, str]]]
    at: float = field(default_factory=time.monotonic)


async def read_school(source: Source, school_code: str) -> Snapshot:
    """Classes, then each class's students and teachers, then every person's record; all or an error."""
    dc = source.dc_of(school_code)
    async with SchoolApi(source, dc) as api:
        school = await api.get("", empty_ok=False)
        if not isinstance(school, dict):
            raise source_failed("學校資料格式不符", "unexpected school record")
        classes = [c for c in await api.get("/class") if isinstance(c, dict) and c.get("ou")]
        codes = [str(c["ou"]) for c in classes]
        students = await asyncio.gather(*(api.get(f"/class/{code}/students") for code in codes))
        teachers = await asyncio.gather(*(api.get(f"/class/{code}/teachers") for code in codes))
        tutors = {t: str(c["ou"]) for c in classes for t in _list(c.get("tutor"))}
        teacher_ids = dict.fromkeys([*(u for us in teachers for u in _list(us)), *tutors, *_list(await api.get("/people", role="教師"))])
        student_ids = dict.fromkeys(u for us in students for u in _list(us))
        people = await asyncio.gather(*(api.get(f"/people/{uuid}") for uuid in [*student_ids, *teacher_ids]))
    entries = {str(p.get("entryUUID")): p for p in people if isinstance(p, dict) and p.get("entryUUID")}
    rows: dict[str, list[dict[str, str]]] = {"classes": [], "teachers": [], "students": []}
    for uuid in teacher_ids:
        entry = entries.get(uuid)
        if entry is None:
            continue
        teach = [k.split(",") for k in _list(entry.get("tpTeachClass"))]
        rows["teachers"].append({
            "staff_number": staff_number_of(entry), "name": _one(entry, "displayName"), "email": _one(entry, "mail"),
            "national_id": _one(entry, "cn"), "external_id": uuid,
            "tutor_class": tutors.get(uuid) or _one(entry, "tpTutorClass"),
            "teach_classes": ";".join(f"{p[1]}:{p[2]}" for p in teach if len(p) == 3 and p[0] == dc),
        })  # fmt: skip
    numbers = {r["external_id"]: r["staff_number"] for r in rows["teachers"]}
    for c in classes:
        tutor = next((numbers[t] for t in _list(c.get("tutor")) if t in numbers), "")
        rows["classes"].append({"code": str(c["ou"]), "name": str(c.get("description") or c["ou"]),
                                "grade": grade_of(c.get("grade")), "homeroom_staff_number": tutor})  # fmt: skip
    for code, uuids in zip(codes, students):
        for uuid in _list(uuids):
            entry = entries.get(uuid)
            if entry is None:
                continue
            rows["students"].append({
                "student_number": _one(entry, "employeeNumber"), "name": _one(entry, "displayName"),
                "class_code": _one(entry, "tpClass") or code, "seat": _one(entry, "tpSeat"), "email": _one(entry, "mail"),
                "national_id": _one(entry, "cn"), "external_id": uuid,
            })  # fmt: skip
    return Snapshot(rows)


class _Reader:
    """The three importers of one configuration share one read per school for a short while."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.cache: dict[str, Snapshot] = {}
        self.lock = asyncio.Lock()

    async def rows(self, kind: str, school_code: str) -> Sequence[Mapping[str, str]]:
        async with self.lock:
            snapshot = self.cache.get(school_code)
            if snapshot is None or time.monotonic() - snapshot.at > SNAPSHOT_SECONDS or kind == "classes":
                snapshot = self.cache[school_code] = await read_school(self.source, school_code)
        return snapshot.rows[kind]


def importers(config: SyncSettings) -> list[Importer]:
    """Classes, teachers and students, in that order (the order they must be applied)."""
    source = Source.of(config)
    if source is None:
        return []
    reader = _Reader(source)

    def fetch(kind: str) -> Any:
        async def run(school_code: str) -> Sequence[Mapping[str, str]]:
            return await reader.rows(kind, school_code)

        return run

    return [Importer(kind, *IMPORTER_LABELS[kind], fetch=fetch(kind)) for kind in ("classes", "teachers", "students")]  # type: ignore[arg-type]


def scheduled_jobs(config: SyncSettings) -> list[ScheduledJob]:
    """The nightly sync, when the bureau asked for it (runs as the school's system actor)."""
    if not config.sync_nightly or Source.of(config) is None:
        return []

    async def run(school_id: int) -> None:
        from licheng.tenants.sync import scheduled_sync

        await scheduled_sync(school_id)

    return [ScheduledJob("taipei_school_sync", timedelta(days=1), run)]


async def sync_health(config: SyncSettings) -> HealthReport | None:
    """Does the single sign-on give the sync client a ``school`` token? None when the sync is off."""
    source = Source.of(config)
    if source is None:
        return None
    api = SchoolApi(source, "")
    try:
        async with api:
            pass
    except LichengError as error:
        return HealthReport(ok=False, detail_zh=error.message_zh, detail_en=error.message_en)
    return HealthReport(ok=True, detail_zh="校務系統同步可取得權杖", detail_en="The sync client gets a token")
