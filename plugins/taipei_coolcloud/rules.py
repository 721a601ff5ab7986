"""Taipei's portfolio rules (DOMAIN.md, "Limits": Taipei CoolCloud column) as policy settings."""

from __future__ import annotations

from typing import Any

from licheng.plugins import PluginSettings, setting

MB = 1024 * 1024


class RulesSettings(PluginSettings):
    outcomes_per_term: int = setting(
        12, ge=1, le=60, label_zh="每學期提交認證件數上限", label_en="Outcomes sent for certification per term",
        help_zh="臺北市規定每學期至多 12 件", help_en="Taipei: at most 12 per term",
    )  # fmt: skip
    outcomes_per_subject_per_term: int = setting(
        3, ge=1, le=60, label_zh="每科每學期上限", label_en="Per subject per term",
        help_zh="同一科目每學期至多 3 件", help_en="Taipei: at most 3 per subject",
    )  # fmt: skip
    quota_mb: int = setting(150, ge=10, le=2048, label_zh="每位學生儲存空間（MB）", label_en="Storage per student (MB)")


def policy_rules(config: RulesSettings) -> dict[str, Any]:
    return {
        "outcomes_per_term": config.outcomes_per_term,
        "outcomes_per_subject_per_term": config.outcomes_per_subject_per_term,
        "quota_bytes": config.quota_mb * MB,
    }
