"""GraphQL for signing in and for the viewer (the person behind the token)."""

from __future__ import annotations

import strawberry

from licheng.auth import service
from licheng.graphql.context import Info
from licheng.graphql.tenants import Person, Role, School
from licheng.tenants import service as tenants
from licheng.tenants.models import Person as PersonRow
from licheng.tenants.models import School as SchoolRow


@strawberry.type
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_at: int
    must_change_password: bool

    @staticmethod
    def of(pair: service.TokenPair) -> TokenPair:
        return TokenPair(
            access_token=pair.access_token, refresh_token=pair.refresh_token, token_type="Bearer",
            expires_at=pair.expires_at, must_change_password=pair.must_change_password,
        )  # fmt: skip


@strawberry.type
class Viewer:
    login: str
    display_name: str
    is_platform_admin: bool
    must_change_password: bool
    roles: list[Role]  # type: ignore[valid-type]
    school_pk: strawberry.Private[int | None]
    person_pk: strawberry.Private[int | None]
    school_ids: strawberry.Private[list[int]]

    @strawberry.field(description="The school the viewer acts in now.")
    async def school(self) -> School | None:
        if self.school_pk is None:
            return None
        return School.of(await SchoolRow.get(id=self.school_pk))

    @strawberry.field(description="Every school where the viewer may act (choose with switchSchool).")
    async def schools(self) -> list[School]:
        return [School.of(row) for row in await SchoolRow.filter(id__in=self.school_ids).order_by("id")]

    @strawberry.field
    async def person(self) -> Person | None:
        if self.person_pk is None:
            return None
        return Person.of(await PersonRow.get(id=self.person_pk))


@strawberry.type
class AuthQuery:
    @strawberry.field(description="The signed-in account; null when anonymous.")
    async def viewer(self, info: Info) -> Viewer | None:
        actor = info.context.actor
        if not actor.is_authenticated:
            return None
        from licheng.auth.models import Account

        account = await Account.get(id=actor.account_id)
        return Viewer(
            login=account.login,
            display_name=account.display_name,
            is_platform_admin=account.is_platform_admin,
            must_change_password=account.must_change_password,
            roles=sorted(actor.roles, key=lambda r: r.value),  # type: ignore[attr-defined]
            school_pk=actor.school_id,
            person_pk=actor.person_id,
            school_ids=await service.schools_of(account.id),
        )


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Sign in with an account name and password. schoolCode picks a school when you have several.")
    async def sign_in(self, info: Info, login: str, password: str, school_code: str | None = None) -> TokenPair:
        return TokenPair.of(await service.sign_in(info.context.settings, login, password, school_code))

    @strawberry.mutation(description="Exchange a refresh token for new tokens (the old one is used up).")
    async def refresh_tokens(self, info: Info, refresh_token: str) -> TokenPair:
        return TokenPair.of(await service.refresh(info.context.settings, refresh_token))

    @strawberry.mutation(description="End the session of this refresh token.")
    async def sign_out(self, info: Info, refresh_token: str) -> bool:
        await service.sign_out(refresh_token)
        return True

    @strawberry.mutation(description="Change the password; required after the first sign-in with an initial password.")
    async def change_password(self, info: Info, current_password: str, new_password: str) -> TokenPair:
        return TokenPair.of(
            await service.change_password(info.context.settings, info.context.actor, current_password, new_password)
        )

    @strawberry.mutation(description="Act in another of your schools.")
    async def switch_school(self, info: Info, school_code: str) -> TokenPair:
        header = info.context.request.headers.get("authorization", "") if info.context.request is not None else ""
        bearer = header[7:].strip() or None if header[:7].lower() == "bearer " else None  # an SSO token is pinned
        return TokenPair.of(await service.switch_school(info.context.settings, info.context.actor, school_code, access_token=bearer))


__all__ = ["AuthMutation", "AuthQuery", "tenants"]
