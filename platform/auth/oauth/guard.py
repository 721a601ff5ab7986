"""The scope rule for third-party tokens, shared by GraphQL (``ScopeGuard``) and plain HTTP routes.

A first-party session (``Actor.scopes`` is None) and the first-login
password-change token pass: the permission classes handle the latter. A
third-party token needs the scope, and its authorization must still be live
(family not revoked, client not suspended), checked in the database because
our access tokens are stateless JWTs.
"""

from __future__ import annotations

from licheng.auth.oauth.scopes import FIRST_PARTY
from licheng.auth.oauth.store import token_is_live
from licheng.auth.service import PASSWORD_CHANGE_SCOPE
from licheng.errors import LichengError
from licheng.tenants.actor import Actor


class InsufficientScope(LichengError):
    def __init__(self, what: str, scope: str) -> None:
        if scope == FIRST_PARTY:
            super().__init__(
                "INSUFFICIENT_SCOPE", "第三方應用程式不能使用此功能", "Third-party applications cannot use this", field=what
            )
        else:
            super().__init__(
                "INSUFFICIENT_SCOPE", f"此授權未包含 {scope} 範圍", f"The token lacks the scope {scope}",
                field=what, scope=scope,
            )  # fmt: skip


class TokenRevoked(LichengError):
    def __init__(self) -> None:
        super().__init__("TOKEN_REVOKED", "此授權已被撤銷，請重新授權", "This authorization was revoked: authorize again")


def is_third_party(actor: Actor) -> bool:
    return actor.scopes is not None and PASSWORD_CHANGE_SCOPE not in actor.scopes


async def require_scopes(actor: Actor, bearer: str | None, needed: dict[str, str | None]) -> None:
    """``needed`` maps what is reached ("Mutation.setTerm", "POST /uploads") to its scope (None: public)."""
    if not is_third_party(actor) or actor.scopes is None:
        return
    for what, scope in needed.items():
        if scope is not None and scope not in actor.scopes:
            raise InsufficientScope(what, scope)
    if not await token_is_live(bearer or ""):
        raise TokenRevoked()
