"""Taipei's portfolio rules (DOMAIN.md, "Limits": Taipei CoolCloud column; "Calendar and windows") as policy settings.

Every number is a bureau setting with Taipei's value as its default, so the
bureau edits it in the plugin admin and previews its effect before saving
(``previewPluginSettings``); the portfolio's policy keeps each within its bounds.
"""

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
    document_mb: int = setting(
        4, ge=1, le=4, label_zh="文件檔大小上限（MB）", label_en="Document size limit (MB)",
        help_zh="PDF、JPG、PNG；中央資料庫上限 4 MB", help_en="pdf, jpg, png; the central database takes 4 MB at most",
    )  # fmt: skip
    media_mb: int = setting(
        10, ge=1, le=10, label_zh="影音檔大小上限（MB）", label_en="Media size limit (MB)",
        help_zh="MP3、MP4；中央資料庫上限 10 MB", help_en="mp3, mp4; the central database takes 10 MB at most",
    )  # fmt: skip
    upload_days_after_ceremony: int = setting(
        14, ge=14, le=60, label_zh="休業式後幾天截止上傳", label_en="Upload closes this many days after the end-of-term ceremony",
        help_zh="臺北市：休業式後 2 週", help_en="Taipei: 2 weeks after the ceremony (休業式)",
    )  # fmt: skip
    certification_days_after_upload: int = setting(
        7, ge=3, le=28, label_zh="上傳截止後幾天完成認證", label_en="Teachers certify within this many days after the upload deadline",
        help_zh="臺北市：上傳截止後 7 天", help_en="Taipei: 7 days after the students' deadline",
    )  # fmt: skip


def policy_rules(config: RulesSettings) -> dict[str, Any]:
    return {
        "outcomes_per_term": config.outcomes_per_term,
        "outcomes_per_subject_per_term": config.outcomes_per_subject_per_term,
        "quota_bytes": config.quota_mb * MB,
        "document_max_bytes": config.document_mb * MB,
        "media_max_bytes": config.media_mb * MB,
        "upload_days_after_ceremony": config.upload_days_after_ceremony,
        "certification_days_after_upload": config.certification_days_after_upload,
    }
