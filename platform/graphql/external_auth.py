"""GraphQL for signing in through identity-provider plugins: which methods a school offers,
directory sign-in, and the school choice of a person in several schools.

Public fields (no token needed, like ``signIn``). The OAuth2 redirect itself is
HTTP (``/auth/sso/{provider}/start``): ``signInMethods`` gives its URL.
"""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlencode

import strawberry

from licheng.auth import directory, external
from licheng.graphql.auth import TokenPair
from licheng.graphql.context import Info
from licheng.plugins.contracts import OAuthProvider
from licheng.tenants.models import School as SchoolRow


@strawberry.enum(description="How a sign-in method works: a redirect (oauth2) or a login form (directory).")
class SignInKind(Enum):
    OAUTH2 = "oauth2"
    DIRECTORY = "directory"


@strawberry.type(description="A way to sign in that a school offers.")
class SignInMethod:
    provider_id: str
    label_zh: str
    label_en: str
    kind: SignInKind
    start_url: str | None = strawberry.field(description="For oauth2: open this URL (add &next=/path for a browser sign-in).")


@strawberry.type(description="A school where the signed-in person may act.")
class SchoolChoice:
    code: str
    name: str


@strawberry.type(description="Tokens, or the schools to choose from (then completeExternalSignIn with choiceToken).")
class ExternalSignInResult:
    tokens: TokenPair | None
    choices: list[SchoolChoice]
    choice_token: str | None

    @staticmethod
    def of(result: external.ExternalSignIn) -> ExternalSignInResult:
        return ExternalSignInResult(
            tokens=TokenPair.of(result.tokens) if result.tokens else None,
            choices=[SchoolChoice(code=c.code, name=c.name) for c in result.choices],
            choice_token=result.choice_token,
        )


@strawberry.type
class ExternalAuthQuery:
    @strawberry.field(description="The sign-in methods a school offers through its plugins (public); empty for an unknown school.")
    async def sign_in_methods(self, info: Info, school_code: str) -> list[SignInMethod]:
        school = await SchoolRow.get_or_none(code=school_code.strip()[:6])
        if school is None:
            return []
        base = info.context.settings.base_url.rstrip("/")
        out: list[SignInMethod] = []
        for at in await external.providers_at(school):
            p = at.provider
            start = f"{base}/auth/sso/{p.id}/start?{urlencode({'school': school.code})}" if isinstance(p, OAuthProvider) else None
            out.append(SignInMethod(provider_id=p.id, label_zh=p.label_zh, label_en=p.label_en, kind=SignInKind(p.kind), start_url=start))
        return out


@strawberry.type
class ExternalAuthMutation:
    @strawberry.mutation(description="Sign in with a login name and password checked by the school's directory (e.g. LDAP).")
    async def sign_in_with_directory(
        self, info: Info, school_code: str, provider_id: str, login: str, password: str
    ) -> ExternalSignInResult:
        request = info.context.request
        address = request.client.host if request is not None and request.client is not None else None
        result = await directory.sign_in_with_directory(info.context.settings, school_code, provider_id, login, password, address=address)
        return ExternalSignInResult.of(result)

    @strawberry.mutation(description="Pick the school after an external sign-in that matched several (the choice token works once).")
    async def complete_external_sign_in(self, info: Info, choice_token: str, school_code: str) -> TokenPair:
        return TokenPair.of(await external.complete_choice(info.context.settings, choice_token, school_code))
