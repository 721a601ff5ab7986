"""Early warnings (預警): one row per warning, and the people who want no e-mail.

A warning is keyed by (school, recipient, kind, period): the jobs run again and
again, and the key is what makes a rerun create nothing new and send nothing twice.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class WarningKind(str, Enum):
    OUTCOMES_NOT_SENT = "outcomes_not_sent"  # 學生：尚未提交課程學習成果認證
    NOT_SELECTED = "not_selected"  # 學生：尚未勾選
    UNCERTIFIED_OUTCOMES = "uncertified_outcomes"  # 教師：尚有未認證成果
    CLASS_SUMMARY = "class_summary"  # 導師：班級提交概況


class EmailState(str, Enum):
    PENDING = "pending"  # to be sent (retried while the SMTP server fails)
    SENT = "sent"
    OPTED_OUT = "opted_out"  # the recipient asked for no e-mail
    NO_ADDRESS = "no_address"  # no e-mail address on the person record
    DISABLED = "disabled"  # the bureau has not switched e-mail on
    EXPIRED = "expired"  # the deadline passed before the e-mail could go
    FAILED = "failed"  # refused too many times
    INVALID_ADDRESS = "invalid_address"  # the address cannot be sent to (malformed, or non-ASCII and the server lacks SMTPUTF8)


class EarlyWarning(Model):
    """A warning shown in the app and, unless opted out, sent by e-mail once.

    ``period`` names what it is about, e.g. ``115-1@2027-02-03`` (year, term and
    deadline). ``emailed_at`` stays empty until the SMTP server accepted the message.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    recipient: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharEnumField(WarningKind, max_length=24)
    period = fields.CharField(max_length=40)
    subject_zh = fields.CharField(max_length=200)
    body_zh = fields.TextField()
    subject_en = fields.CharField(max_length=200)
    body_en = fields.TextField()
    deadline_at = fields.DatetimeField(null=True)  # after this instant the e-mail is no longer worth sending
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    email_state = fields.CharEnumField(EmailState, max_length=16, default=EmailState.PENDING)
    emailed_at = fields.DatetimeField(null=True)
    email_attempts = fields.SmallIntField(default=0)
    email_claimed_at = fields.DatetimeField(null=True)  # a job is sending it (a lease against double sends)
    email_claim = fields.CharField(max_length=32, null=True)  # which run holds the lease
    email_error = fields.CharField(max_length=60, null=True)  # the error's class, never its text
    stored_by = fields.CharField(max_length=32, null=True)  # the run that stored it: counts what a run created

    school_id: int
    recipient_id: int

    class Meta:
        table = "taipei_early_warning"
        unique_together = (("school", "recipient", "kind", "period"),)
        indexes = (("school", "recipient", "read_at"), ("school", "kind"), ("school", "email_state"))


class WarningEmailOptOut(Model):
    """A person who wants no warning e-mail: of one kind, or of every kind (``kind`` empty)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=24, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    person_id: int

    class Meta:
        table = "taipei_warning_opt_out"
        unique_together = (("school", "person", "kind"),)
