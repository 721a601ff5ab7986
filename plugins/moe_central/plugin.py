"""MOE central database (學習歷程中央資料庫): the submission adapter and its settings.

The exchange specification is not public (DOMAIN.md, "Central database"): the
format is ours, versioned (``moe_central.format``), and the endpoint is a
setting, so the simulator (``licheng central-sim``) and a real endpoint are
interchangeable. See docs/central.md ("Transport", "Exactly once").
"""

from __future__ import annotations

from typing import Any

from licheng.plugins import Plugin, PluginSettings, SecretStr, hookimpl, secret_setting, setting
from moe_central.adapter import CentralAdapter
from moe_central.format import LATEST_VERSION

# https anywhere; plain http only to this machine (the simulator in tests and the demo).
ENDPOINT = r"^(https://[^\s]+|http://(127\.0\.0\.1|localhost)(:\d{1,5})?(/[^\s]*)?)$"
PUBLIC_KEY_PEM = r"^\s*-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$"


class MoeSettings(PluginSettings):
    endpoint_url: str = setting(
        "https://example.invalid/central", max_length=300, pattern=ENDPOINT,
        label_zh="中央資料庫端點", label_en="Central database endpoint",
        help_zh="https://；僅本機可用 http://", help_en="https:// (http:// only to 127.0.0.1 or localhost)",
    )  # fmt: skip
    api_key: SecretStr | None = secret_setting(label_zh="API 金鑰", label_en="API key")
    central_public_key: str = setting(
        "", max_length=4000, pattern=r"^$|" + PUBLIC_KEY_PEM,
        label_zh="中央資料庫公鑰（PEM）", label_en="Central database public key (PEM)",
        help_en="RSA public key that wraps each package's AES-256 key",
    )  # fmt: skip
    school_private_key: SecretStr | None = secret_setting(
        label_zh="學校簽章私鑰（PEM）", label_en="School signing key (PEM)",
        help_en="RSA private key that signs each package; its public half is registered at the central side",
    )  # fmt: skip
    format_version: str = setting(
        LATEST_VERSION, max_length=40, pattern=r"^licheng-central/\d{1,3}$",
        label_zh="交換格式版本", label_en="Exchange-format version",
        help_en="licheng-central/2 names and checksums every roster row (item-by-item receipts); /1 does not",
    )  # fmt: skip
    connect_timeout: float = setting(5.0, ge=0.1, le=60.0, label_zh="連線逾時（秒）", label_en="Connect timeout (s)")
    request_timeout: float = setting(60.0, ge=0.1, le=600.0, label_zh="請求逾時（秒）", label_en="Request timeout (s)")


class MoeCentral(Plugin):
    id = "moe_central"
    name = "教育部學習歷程中央資料庫 MOE central database"
    version = "1.0.0"
    description = "提交、狀態查詢與收訖明細 / Submission, status polling and receipts"
    settings_model = MoeSettings

    @hookimpl
    def licheng_demo(self, settings: Any, school_codes: list[str]) -> str:
        from moe_central.demo import start_for_demo

        return start_for_demo(settings, list(school_codes))

    @hookimpl
    def licheng_submission_adapter(self, config: MoeSettings) -> CentralAdapter:
        return CentralAdapter(config)


plugin = MoeCentral()
