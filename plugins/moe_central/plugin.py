"""MOE central database (學習歷程中央資料庫): submission adapter — PLACEHOLDER, NOT IMPLEMENTED.

The exchange specification is not public (see DOMAIN.md, "Central database").
This plugin declares its settings and offers a submission adapter whose every
call refuses with ``NOT_IMPLEMENTED``, so that a school sees a clear refusal
instead of a silent success. The real adapter (and its simulator) replace the
``PlaceholderAdapter`` below.
"""

from __future__ import annotations

from typing import Any

from licheng.plugins import LichengError, Plugin, PluginSettings, SecretStr, hookimpl, secret_setting, setting


class NotImplementedYet(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "NOT_IMPLEMENTED",
            "中央資料庫提交功能尚未完成",
            "Submission to the central database is not implemented yet",
            plugin="moe_central",
        )


class MoeSettings(PluginSettings):
    endpoint_url: str = setting(
        "https://example.invalid/central", max_length=300, pattern=r"^https://",
        label_zh="中央資料庫端點", label_en="Central database endpoint", help_en="https:// only",
    )  # fmt: skip
    api_key: SecretStr | None = secret_setting(label_zh="API 金鑰", label_en="API key")


class PlaceholderAdapter:
    """NOT IMPLEMENTED: the portfolio's submission port, refusing every call with ``NOT_IMPLEMENTED``."""

    name = "moe_central"

    async def submit(self, snapshot: Any) -> Any:
        raise NotImplementedYet()

    async def poll(self, ticket: Any) -> Any:
        raise NotImplementedYet()


class MoeCentral(Plugin):
    id = "moe_central"
    name = "教育部學習歷程中央資料庫 MOE central database"
    version = "0.0.1"
    description = "提交與收訖（尚未實作）/ Submission and receipts (placeholder, not implemented)"
    settings_model = MoeSettings

    @hookimpl
    def licheng_submission_adapter(self, config: MoeSettings) -> PlaceholderAdapter:
        return PlaceholderAdapter()


plugin = MoeCentral()
