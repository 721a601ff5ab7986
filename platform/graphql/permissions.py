"""Permission classes: who may reach a field at all. Services still decide on the record.

A token issued for a first sign-in with an initial password may only change
the password; every field behind ``SignedIn`` refuses it with a clear code.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from licheng.auth.service import PASSWORD_CHANGE_SCOPE
from licheng.errors import Forbidden, LichengError, Unauthenticated
from licheng.graphql.context import Info


class PasswordChangeRequired(LichengError):
    def __init__(self) -> None:
        super().__init__("PASSWORD_CHANGE_REQUIRED", "首次登入請先變更密碼", "Change your initial password first")


class SignedIn(BasePermission):
    message = "Sign in first"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        if not actor.is_authenticated:
            raise Unauthenticated()
        if actor.scopes is not None and PASSWORD_CHANGE_SCOPE in actor.scopes:
            raise PasswordChangeRequired()
        return True


class PlatformAdmin(SignedIn):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        super().has_permission(source, info, **kwargs)
        if not info.context.actor.is_platform_admin:
            raise Forbidden("administer the platform", "管理平臺")
        return True


class InSchool(SignedIn):
    """The actor acts in a school (has chosen one)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        super().has_permission(source, info, **kwargs)
        info.context.actor.require_school()
        return True
