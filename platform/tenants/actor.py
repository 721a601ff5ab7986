"""The ``Actor``: who is acting, in which school, with which roles.

Resolved once per request from the access token and passed explicitly to
every service function (never read from a global). Services decide with it;
edges only carry it.
"""

from __future__ import annotations

from dataclasses import dataclass

from licheng.errors import Forbidden, Unauthenticated
from licheng.tenants.models import Role


@dataclass(frozen=True)
class Actor:
    account_id: int | None
    school_id: int | None = None
    person_id: int | None = None
    roles: frozenset[Role] = frozenset()
    homeroom_class_ids: frozenset[int] = frozenset()
    bureau_ids: frozenset[int] = frozenset()
    is_platform_admin: bool = False
    # OAuth scopes of a third-party token; None means a first-party session (all scopes).
    scopes: frozenset[str] | None = None
    display_name: str = ""
    # An operator's CLI command or a background job: acts without an account.
    is_system: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None or self.is_system

    @property
    def acting_role(self) -> str:
        """The most privileged hat, for the audit trail."""
        if self.is_system:
            return "system"
        if self.is_platform_admin:
            return "platform_admin"
        if self.bureau_ids and not self.roles:
            return "bureau_admin"
        for role in (Role.STAFF, Role.COUNSELOR, Role.HOMEROOM, Role.TEACHER, Role.STUDENT, Role.PARENT):
            if role in self.roles:
                return role.value
        return "account"

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    def require_signed_in(self) -> None:
        if not self.is_authenticated:
            raise Unauthenticated()

    def require_school(self) -> int:
        """The actor's school; a platform-level actor has none and is refused here."""
        self.require_signed_in()
        if self.school_id is None:
            raise Forbidden("act in a school without choosing one", "在未選擇學校時執行此操作")
        return self.school_id

    def require_role(self, *roles: Role) -> int:
        school_id = self.require_school()
        if not self.has(*roles):
            raise Forbidden()
        return school_id

    def require_platform_admin(self) -> None:
        self.require_signed_in()
        if not self.is_platform_admin:
            raise Forbidden("administer the platform", "管理平臺")

    def can_admin_bureau(self, bureau_id: int) -> bool:
        return self.is_platform_admin or bureau_id in self.bureau_ids


ANONYMOUS = Actor(account_id=None)


def system_actor(school_id: int | None = None) -> Actor:
    """For jobs and the CLI run by an operator: acts with staff rights in one school."""
    return Actor(
        account_id=None,
        school_id=school_id,
        roles=frozenset({Role.STAFF}) if school_id else frozenset(),
        is_platform_admin=school_id is None,
        display_name="system",
        is_system=True,
    )
