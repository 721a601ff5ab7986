"""Where upload limits come from: the school's policy for the current academic year if the
portfolio's policy module is installed, else the national defaults. One small function."""

from __future__ import annotations

import importlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

from licheng.storage.limits import LimitsProvider, UploadLimits, national_defaults, national_limits

TAIPEI = ZoneInfo("Asia/Taipei")


def academic_year(today: date) -> int:
    """The ROC academic year (學年度) of a date: 115 runs from August 2026 to July 2027."""
    roc = today.year - 1911
    return roc if today.month >= 8 else roc - 1


def limits_provider() -> LimitsProvider:
    """The provider `create_app` installs as `app.state.upload_limits_provider`."""
    try:
        policy_for = importlib.import_module("licheng.portfolio.policy").policy_for
    except (ImportError, AttributeError):
        return national_limits
    national = national_defaults()

    async def from_policy(school_id: int, student_id: int | None) -> UploadLimits:
        policy = await policy_for(school_id, academic_year(datetime.now(TAIPEI).date()))
        active = getattr(policy, "pdf_active_content", national.pdf_active_content)
        return UploadLimits(
            document_max_bytes=getattr(policy, "document_max_bytes", national.document_max_bytes),
            media_max_bytes=getattr(policy, "media_max_bytes", national.media_max_bytes),
            counseling_max_bytes=getattr(policy, "counseling_max_bytes", national.counseling_max_bytes),
            quota_bytes=getattr(policy, "quota_bytes", national.quota_bytes),
            pdf_active_content="flag" if active == "flag" else "refuse",
        )

    return from_policy
