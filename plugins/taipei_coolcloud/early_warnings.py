"""Early warnings (預警): scheduled reminders, in the app and by e-mail (SMTP settings per bureau).

Four scheduled jobs, one per kind (``early_warnings_detect`` decides who needs
one). Each run stores what it found under the key (school, recipient, kind,
period), so a rerun creates nothing new, then e-mails the warnings of its kind
not yet sent. A failing SMTP server loses nothing: ``emailed_at`` stays empty
and the next run (or the job's retry) sends it. A claim with a lease stops two
concurrent runs from sending the same warning twice. Opting out stops e-mail
only; the warning still shows in the app.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationInfo, field_validator

from licheng.plugins import LichengError, Notification, Notifier, PluginSettings, ScheduledJob, SecretStr, secret_setting, setting
from licheng.portfolio import clock
from taipei_coolcloud import early_warnings_detect as detect
from taipei_coolcloud.early_warnings_email import Delivery, deliver
from taipei_coolcloud.mail import INVALID_ADDRESS, OutgoingMail, SmtpConfig, TlsMode, address_ok, send_one
from taipei_coolcloud.models.early_warnings import EarlyWarning, WarningKind

log = logging.getLogger("taipei_coolcloud.warnings")

__all__ = ["Delivery", "RunReport", "WarningSettings", "notifiers", "run_kind", "scheduled_jobs", "smtp_config", "store"]

EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"


class WarningSettings(PluginSettings):
    reminder_days_before_deadline: int = setting(
        7, ge=0, le=60, school_overridable=True,
        label_zh="截止前幾天提醒學生", label_en="Remind students this many days before a deadline",
        help_zh="課程學習成果上傳截止前提醒未提交的學生，並寄班級概況給導師；0 表示不提醒",
        help_en="Students with nothing sent, and homeroom teachers' class summaries; 0 switches them off",
    )  # fmt: skip
    teacher_reminder_days_before_deadline: int = setting(
        3, ge=0, le=30, school_overridable=True,
        label_zh="認證截止前幾天提醒教師", label_en="Remind teachers this many days before certification closes",
        help_zh="尚有未認證或未公布成果的教師；0 表示不提醒", help_en="Teachers with outcomes not yet certified or published; 0: off",
    )  # fmt: skip
    selection_reminder_days_before_close: int = setting(
        7, ge=0, le=60, school_overridable=True,
        label_zh="勾選截止前幾天提醒學生", label_en="Remind students this many days before selection closes",
        help_zh="尚未勾選課程學習成果或多元表現的學生；0 表示不提醒", help_en="Students who selected nothing; 0: off",
    )  # fmt: skip
    warning_check_hours: int = setting(
        1, ge=1, le=24,
        label_zh="預警檢查間隔（小時）", label_en="Check for warnings every this many hours",
        help_zh="未寄出的郵件也在下次檢查時重寄", help_en="Unsent e-mail is retried at the next check too",
    )  # fmt: skip
    smtp_enabled: bool = setting(False, label_zh="以電子郵件寄送預警", label_en="Send warnings by e-mail")
    smtp_host: str = setting("", max_length=253, label_zh="SMTP 主機", label_en="SMTP host")
    smtp_port: int = setting(587, ge=1, le=65535, label_zh="SMTP 連接埠", label_en="SMTP port")
    smtp_tls: str = setting(
        TlsMode.STARTTLS.value, pattern=r"^(starttls|implicit|none)$",
        label_zh="加密方式", label_en="Encryption",
        help_zh="starttls（587 埠）、implicit（SMTPS，465 埠）或 none（不加密，不可登入）",
        help_en="starttls (port 587), implicit (SMTPS, port 465) or none (no encryption, no login allowed)",
    )  # fmt: skip
    smtp_username: str = setting("", max_length=254, label_zh="SMTP 帳號", label_en="SMTP user name", help_en="Empty: no login")
    smtp_password: SecretStr | None = secret_setting(label_zh="SMTP 密碼", label_en="SMTP password")
    smtp_from: str = setting(
        "", max_length=254, pattern=EMAIL_PATTERN,
        label_zh="寄件者地址", label_en="From address", help_en="e.g. portfolio@example.edu.tw",
    )  # fmt: skip

    @field_validator("smtp_username")
    @classmethod
    def _no_login_in_cleartext(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("smtp_tls", TlsMode.STARTTLS.value) == TlsMode.NONE.value:
            raise ValueError("SMTP login needs TLS (starttls or implicit): a password is never sent in cleartext")
        return value


def smtp_config(config: WarningSettings) -> SmtpConfig | None:
    """The SMTP server to use, or None when the bureau has not switched e-mail on (or not completely)."""
    if not (config.smtp_enabled and config.smtp_host and config.smtp_from):
        return None
    password = config.smtp_password.get_secret_value() if config.smtp_password else None
    tls = TlsMode(config.smtp_tls)
    return SmtpConfig(config.smtp_host, config.smtp_port, tls, config.smtp_from, config.smtp_username, password)


# --- storing -----------------------------------------------------------------------------------


async def store(school_id: int, drafts: Sequence[detect.WarningDraft]) -> int:
    """Create the warnings not stored yet; returns how many were new. Safe under concurrent runs."""
    if not drafts:
        return 0
    kinds = sorted({d.kind for d in drafts})
    recipients = sorted({d.recipient_id for d in drafts})
    existing = set(
        await EarlyWarning.filter(school_id=school_id, kind__in=kinds, recipient_id__in=recipients).values_list(
            "recipient_id", "kind", "period"
        )
    )
    token = uuid.uuid4().hex  # marks the rows this run stored, to count them: ignore_conflicts drops a concurrent run's
    seen: set[tuple[int, str, str]] = set()
    new: list[EarlyWarning] = []
    for d in drafts:
        key = (d.recipient_id, d.kind.value, d.period)
        if key in seen or (d.recipient_id, d.kind, d.period) in existing or key in existing:
            continue
        seen.add(key)
        new.append(EarlyWarning(
            school_id=school_id, recipient_id=d.recipient_id, kind=d.kind, period=d.period, deadline_at=d.deadline_at,
            subject_zh=d.subject_zh, body_zh=d.body_zh, subject_en=d.subject_en, body_en=d.body_en, stored_by=token,
        ))  # fmt: skip
    if not new:
        return 0
    await EarlyWarning.bulk_create(new, ignore_conflicts=True)  # a concurrent run's rows win, ours drop
    return await EarlyWarning.filter(school_id=school_id, kind__in=kinds, stored_by=token).count()


# --- the jobs ----------------------------------------------------------------------------------

Detector = Callable[[int, int, datetime], Awaitable[list[detect.WarningDraft]]]


def _detector(kind: WarningKind, config: WarningSettings) -> tuple[Detector, int]:
    return {
        WarningKind.OUTCOMES_NOT_SENT: (detect.outcomes_not_sent, config.reminder_days_before_deadline),
        WarningKind.NOT_SELECTED: (detect.not_selected, config.selection_reminder_days_before_close),
        WarningKind.UNCERTIFIED_OUTCOMES: (detect.uncertified_outcomes, config.teacher_reminder_days_before_deadline),
        WarningKind.CLASS_SUMMARY: (detect.class_summary, config.reminder_days_before_deadline),
    }[kind]


@dataclass(frozen=True)
class RunReport:
    kind: WarningKind
    found: int
    created: int
    delivery: Delivery


class EmailNotSent(LichengError):
    def __init__(self, kind: WarningKind, pending: int) -> None:
        super().__init__(
            "WARNING_EMAIL_FAILED", f"預警郵件寄送失敗，{pending} 封將於下次重寄", f"{pending} warning e-mails failed and will be retried",
            kind=kind.value, pending=pending,
        )  # fmt: skip


async def run_kind(kind: WarningKind, school_id: int, config: WarningSettings) -> RunReport:
    """Find, store and e-mail one kind of warning in one school. Idempotent."""
    find, days = _detector(kind, config)
    drafts = await find(school_id, days, clock.now())
    created = await store(school_id, drafts)
    delivery = await deliver(school_id, smtp_config(config), [kind])
    log.info(
        "early warnings run",
        extra={"school_id": school_id, "kind": kind.value, "found": len(drafts), "new": created,
               "sent": delivery.sent, "skipped": delivery.skipped, "failed": delivery.failed},
    )  # fmt: skip
    return RunReport(kind, len(drafts), created, delivery)


def _job(kind: WarningKind, config: WarningSettings) -> ScheduledJob:
    async def run(school_id: int) -> None:
        report = await run_kind(kind, school_id, config)
        if report.delivery.failed:
            raise EmailNotSent(kind, report.delivery.failed)  # visible in the school's job list; retried

    return ScheduledJob(f"warnings_{kind.value}", timedelta(hours=config.warning_check_hours), run)


def scheduled_jobs(config: WarningSettings) -> list[ScheduledJob]:
    return [_job(kind, config) for kind in WarningKind]


def notifiers(config: WarningSettings) -> list[Notifier]:
    """An e-mail channel through the bureau's SMTP server, when the bureau switched it on."""
    smtp = smtp_config(config)
    if smtp is None:
        return []

    async def send(notification: Notification) -> None:
        if not notification.email:
            return
        if not address_ok(notification.email.strip()):
            raise LichengError("EMAIL_FAILED", "收件者電子郵件地址無效", "The recipient's e-mail address is not valid", error=INVALID_ADDRESS)
        body = notification.body_zh + (f"\n\n---\n\n{notification.body_en}" if notification.body_en else "")
        subject = notification.subject_zh + (f" / {notification.subject_en}" if notification.subject_en else "")
        message_id = f"<notice-{notification.kind}-{notification.person_id}-{clock.now().timestamp():.0f}@licheng>"
        mail = OutgoingMail(notification.email.strip(), subject, body, message_id)
        error = await send_one(smtp, mail)
        if error is not None:
            raise LichengError("EMAIL_FAILED", "郵件寄送失敗", "The e-mail could not be sent", error=error)

    return [Notifier(channel="email", send=send)]
