"""Accounts (global: one login may reach persons in several schools) and refresh tokens."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Account(Model):
    id = fields.IntField(primary_key=True)
    login = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=255, null=True)  # argon2id; null: SSO only
    must_change_password = fields.BooleanField(default=False)
    is_platform_admin = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    failed_sign_ins = fields.SmallIntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    password_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "account"


class RefreshToken(Model):
    """One refresh token of a sign-in session. Rotated on use, and a reused one revokes its family."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "auth.Account", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    school_id = fields.IntField(null=True)
    family = fields.CharField(max_length=32, db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int

    class Meta:
        table = "refresh_token"


class ExternalLogin(Model):
    """A person's identity at an external provider (single sign-on, directory), linked in one school.

    One row per provider subject and school: a teacher in two schools has two rows
    with the same subject. ``pending_choice`` holds the hash of a one-time nonce
    while the person picks a school, so a choice can be completed only once.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tenants.School", related_name="external_logins", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tenants.Person", related_name="external_logins", on_delete=fields.CASCADE
    )
    provider_id = fields.CharField(max_length=64)
    subject = fields.CharField(max_length=128)
    linked_by = fields.CharField(max_length=32)  # existing, student_number, national_id
    pending_choice = fields.CharField(max_length=64, null=True)
    # The class whose homeroom membership this link granted (from the provider's tutor class), so that
    # a later sign-in naming another class moves it instead of piling roles up.
    homeroom_class_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)

    school_id: int
    person_id: int

    class Meta:
        table = "external_login"
        unique_together = (("provider_id", "subject", "school"), ("provider_id", "person"))


class ExternalSession(Model):
    """The schools an external sign-in vouched for, per refresh-token family.

    A session that began with single sign-on or a directory may act only in these
    schools: switching school and refreshing keep it there (a provider configured
    by one bureau must never open another bureau's school).
    """

    id = fields.IntField(primary_key=True)
    family = fields.CharField(max_length=32, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "auth.Account", related_name="external_sessions", on_delete=fields.CASCADE
    )
    school_ids = fields.CharField(max_length=200)  # comma-separated ids
    created_at = fields.DatetimeField(auto_now_add=True)

    account_id: int

    class Meta:
        table = "external_session"


class DirectoryThrottle(Model):
    """Failed directory sign-ins per key (a keyed hash of bureau, provider and login, or of an address).

    In the database so that every web pod counts the same attempts, and updated with
    conditional statements so that concurrent attempts cannot pass the limit.
    """

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    failures = fields.IntField(default=0)
    window_start = fields.DatetimeField(db_index=True)

    class Meta:
        table = "directory_throttle"
