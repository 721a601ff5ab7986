"""OAuth2 clients, authorization codes, third-party refresh tokens and remembered consent.

``oauth_client`` is global like ``account`` (a vendor serves many schools) but
carries a nullable ``school_id`` for a school's own integration (client
credentials act in that school). Codes, tokens and consents carry the school
the person acted in, the distribution column.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class ClientKind(str, Enum):
    BUREAU = "bureau"  # the city portal of an education bureau
    SCHOOL = "school"  # a school's own integration (may use client credentials)
    VENDOR = "vendor"  # a vendor's UI or mobile app


class ClientStatus(str, Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class OAuthClient(Model):
    """An application of a developer, approved or rejected by a bureau for the bureau's schools."""

    id = fields.IntField(primary_key=True)
    client_id = fields.CharField(max_length=48, unique=True, null=True)  # issued on approval
    secret_hash = fields.CharField(max_length=64, null=True)  # sha256 of the secret, confidential clients
    organisation = fields.CharField(max_length=100)
    name = fields.CharField(max_length=100)
    purpose = fields.TextField()
    redirect_uris: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    scopes: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    kind = fields.CharEnumField(ClientKind, max_length=16)
    public = fields.BooleanField(default=False)
    status = fields.CharEnumField(ClientStatus, max_length=16, default=ClientStatus.PENDING)
    bureau: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tenants.Bureau", related_name="oauth_clients", on_delete=fields.CASCADE
    )
    school_id = fields.IntField(null=True, db_index=True)  # a school-kind client's own school
    applicant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.Account", related_name="oauth_clients", on_delete=fields.CASCADE
    )
    decided_by_id = fields.IntField(null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    bureau_id: int
    applicant_id: int

    class Meta:
        table = "oauth_client"


class OAuthCode(Model):
    """An authorization code: single use, short-lived, bound to client, redirect URI and PKCE challenge."""

    id = fields.IntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    client: fields.ForeignKeyRelation[OAuthClient] = fields.ForeignKeyField(
        "oauth.OAuthClient", related_name="codes", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.Account", related_name="oauth_codes", on_delete=fields.CASCADE
    )
    school_id = fields.IntField(null=True)
    redirect_uri = fields.CharField(max_length=500)
    scope = fields.CharField(max_length=200)
    code_challenge = fields.CharField(max_length=128)
    code_challenge_method = fields.CharField(max_length=8)
    nonce = fields.CharField(max_length=255, null=True)  # OpenID Connect, echoed in the id_token
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    client_id: int
    account_id: int

    class Meta:
        table = "oauth_code"


class OAuthToken(Model):
    """A third party's refresh token. Rotated on use, and a reused one revokes its family."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[OAuthClient] = fields.ForeignKeyField(
        "oauth.OAuthClient", related_name="tokens", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.Account", related_name="oauth_tokens", on_delete=fields.CASCADE
    )
    school_id = fields.IntField(null=True, db_index=True)
    scope = fields.CharField(max_length=200)
    family = fields.CharField(max_length=32, db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    access_jti = fields.CharField(max_length=32, null=True, db_index=True)  # the access token issued with it
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    client_id: int
    account_id: int

    class Meta:
        table = "oauth_token"


class OAuthConsent(Model):
    """Scopes a person granted a client in a school, remembered so the page is not shown again."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[OAuthClient] = fields.ForeignKeyField(
        "oauth.OAuthClient", related_name="consents", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.Account", related_name="oauth_consents", on_delete=fields.CASCADE
    )
    school_id = fields.IntField(null=True)
    scope = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    client_id: int
    account_id: int

    class Meta:
        table = "oauth_consent"
