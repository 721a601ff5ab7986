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
