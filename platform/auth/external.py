"""Signing in with an external identity (single sign-on, a directory): find the person, issue our tokens.

Why here and not in a plugin: a plugin only says who the provider believes the
user is (an ``ExternalIdentity``); which of *our* people that is, in which school,
is the core's decision, made the same way for every provider:

1. an existing link (``ExternalLogin``: provider, subject, school -> person);
2. else, on first sign-in, the keyed hash of the national ID, or a student by
   student number (學號) when the identity names exactly one school and the
   national ID (or, without one, the name) agrees;
3. else refuse with ``EXTERNAL_ACCOUNT_UNKNOWN``: we never create a person.

Only schools the provider itself names, in the bureau of the school where the
sign-in started, and where the same provider is enabled, are searched. A person
matched in several schools chooses (``complete_choice`` with a one-time sealed
token). The tokens issued are pinned to the schools the provider vouched for, and
administrator accounts are refused: a provider is configured by one bureau and
must never open more than that bureau's schools. The raw national ID is hashed at
once and never stored, logged, or put in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from licheng.auth.external_facts import apply_facts, facts_of, has_role
from licheng.auth.models import Account, ExternalLogin
from licheng.auth.sealed import seal, unseal
from licheng.auth.service import TokenPair, issue_tokens
from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.plugins import runtime
from licheng.plugins.contracts import ExternalIdentity, IdentityProvider
from licheng.plugins.health import Scope, record_failure, record_success
from licheng.settings import Settings
from licheng.tenants import audit, nationalid
from licheng.tenants.actor import Actor
from licheng.tenants.models import BureauAdmin, Membership, Person, Role, School

CHOICE_SECONDS = 300
CHOICE_PURPOSE = "sso-choice"


@dataclass(frozen=True)
class SchoolChoice:
    school_id: int
    code: str
    name: str


@dataclass(frozen=True)
class ExternalSignIn:
    """Either tokens, or the schools to choose from and the one-time token that picks one."""

    tokens: TokenPair | None
    choices: tuple[SchoolChoice, ...] = ()
    choice_token: str | None = None
    # The hash of the choice's nonce: the browser route keeps it in a SameSite=Strict cookie.
    choice_nonce_hash: str | None = None


@dataclass(frozen=True)
class ProviderAt:
    """A provider as one school's configuration offers it, and the plugin that offers it."""

    school: School
    plugin_id: str
    provider: IdentityProvider


def unknown_account() -> LichengError:
    return LichengError(
        "EXTERNAL_ACCOUNT_UNKNOWN",
        "您的帳號尚未與本系統的學生或教職員資料連結，請洽學校註冊組或資訊組協助。",
        "Your account is not linked to a student or staff member here yet: please ask your school's registry or IT office.",
    )


def wrong_school() -> LichengError:
    return LichengError(
        "EXTERNAL_WRONG_SCHOOL",
        "登入服務回報的學校未使用此登入方式，請由您的學校登入或洽學校協助。",
        "The school your sign-in service names does not offer this sign-in here: sign in through your own school or ask it.",
    )


def provider_unavailable() -> LichengError:
    return LichengError(
        "EXTERNAL_PROVIDER_UNAVAILABLE",
        "登入服務暫時無法使用，請稍後再試。",
        "The sign-in service is unavailable right now: try again later.",
    )


def admin_refused() -> LichengError:
    return LichengError(
        "EXTERNAL_ADMIN_REFUSED",
        "平臺或教育局管理者帳號不可透過單一身分驗證或目錄登入，請以帳號密碼登入。",
        "Platform and bureau administrator accounts cannot sign in through single sign-on or a directory: use the password sign-in.",
    )


def choice_invalid() -> LichengError:
    return LichengError("EXTERNAL_CHOICE_INVALID", "選擇學校的連結已失效，請重新登入。",
                        "The school choice has expired or was already used: sign in again.")  # fmt: skip


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


# --- providers -----------------------------------------------------------------------------------


async def providers_at(school: School) -> list[ProviderAt]:
    """Every identity provider the plugins enabled for this school offer, in the plugins' order."""
    results = await runtime.call_for_school(school.id, "licheng_identity_providers")
    return [ProviderAt(school, r.plugin_id, p) for r in results for p in (r.value or ())]


async def find_provider(school_code: str, provider_id: str) -> ProviderAt:
    """The provider offered at a school, or ``NotFound`` (an unknown school reads the same)."""
    school = await School.get_or_none(code=(school_code or "").strip()[:6])
    if school is not None:
        for found in await providers_at(school):
            if found.provider.id == provider_id:
                return found
    raise NotFound("identity_provider", "登入方式")


async def provider_failed(at: ProviderAt, error: BaseException, secrets_: list[str]) -> None:
    """Keep a provider failure in the plugin's health (secrets scrubbed), for the bureau to see."""
    scope = Scope(school_id=at.school.id, bureau_id=at.school.bureau_id)
    await record_failure(at.plugin_id, f"identity_provider:{at.provider.id}", scope, error, secrets_)


async def provider_ok(at: ProviderAt) -> None:
    await record_success(at.plugin_id, f"identity_provider:{at.provider.id}", Scope(at.school.id, at.school.bureau_id))


# --- linking -------------------------------------------------------------------------------------


def _national_hash(settings: Settings, identity: ExternalIdentity) -> str | None:
    if not identity.national_id:
        return None
    try:
        return nationalid.lookup_hash(nationalid.normalise(identity.national_id), settings.lookup_key_bytes)
    except InvalidInput:
        return None  # a malformed ID links nothing; never echoed


def _same_name(a: str | None, b: str | None) -> bool:
    left, right = "".join((a or "").split()), "".join((b or "").split())
    return bool(left) and left == right


async def _eligible_schools(at: ProviderAt, identity: ExternalIdentity) -> list[School]:
    """Schools the identity names, in the entry school's bureau, where the same provider is enabled."""
    bureau_id = at.school.bureau_id
    codes = [c.strip() for c in identity.all_school_codes() if c and c.strip()]
    if not codes and identity.children:  # a parent's profile names no school: the children's schools
        school_ids = await ExternalLogin.filter(
            provider_id=at.provider.id, subject__in=list(identity.children), school__bureau_id=bureau_id
        ).values_list("school_id", flat=True)
        codes = [s.code for s in await School.filter(id__in=list(school_ids), bureau_id=bureau_id)]
    if not codes:
        return []
    rows = {s.code: s for s in await School.filter(code__in=codes, bureau_id=bureau_id)}
    out: list[School] = []
    for code in dict.fromkeys(codes):
        school = rows.get(code)
        if school is None:
            continue
        offered = [p.provider.id for p in await providers_at(school)] if school.id != at.school.id else [at.provider.id]
        if at.provider.id in offered:
            out.append(school)
    return out


async def _by_student_number(school: School, identity: ExternalIdentity, national_hash: str | None) -> Person | None:
    """The student with this number, only when the identity names this one school and nothing disagrees.

    A student number is unique only within a school: an identity naming several
    schools would reach another school's student with the same number. When both
    sides know a national-ID hash they must be equal; otherwise the names must be.
    """
    if not identity.student_number or Role.STUDENT.value not in identity.roles or len(identity.all_school_codes()) != 1:
        return None
    found = await Person.get_or_none(school_id=school.id, student_number=identity.student_number.strip(), active=True)
    if found is None or not await has_role(found, Role.STUDENT):
        return None
    if national_hash and found.national_id_hash:
        return found if hmac.compare_digest(national_hash, found.national_id_hash) else None
    return found if _same_name(identity.name, found.name) else None


async def _first_link(provider_id: str, school: School, identity: ExternalIdentity, national_hash: str | None) -> Person | None:
    """Link on first sign-in by national ID hash or student number; None when nobody matches."""
    person: Person | None = None
    linked_by = ""
    if national_hash:
        person = await Person.get_or_none(school_id=school.id, national_id_hash=national_hash, active=True)
        linked_by = "national_id"
    if person is None:
        person = await _by_student_number(school, identity, national_hash)
        linked_by = "student_number"
    if person is None:
        return None
    existing = await ExternalLogin.get_or_none(provider_id=provider_id, person_id=person.id)
    if existing is not None:  # a concurrent first sign-in of the same subject linked it: use it
        same = existing.subject == identity.subject and existing.school_id == school.id
        return person if same else None  # linked to another subject of this provider: never taken over
    try:
        await ExternalLogin.create(
            school_id=school.id, person_id=person.id, provider_id=provider_id, subject=identity.subject, linked_by=linked_by
        )
    except IntegrityError:  # a concurrent first sign-in linked it: use that link
        row = await ExternalLogin.get_or_none(provider_id=provider_id, subject=identity.subject, school_id=school.id)
        return await Person.get_or_none(id=row.person_id, school_id=school.id, active=True) if row else None
    await audit.record(None, "external_login_linked", "person", person.id, school_id=school.id,
                       changes={"provider": provider_id, "linked_by": linked_by})  # fmt: skip
    return person


async def _person_in(provider_id: str, school: School, identity: ExternalIdentity, national_hash: str | None) -> Person | None:
    row = await ExternalLogin.get_or_none(provider_id=provider_id, subject=identity.subject, school_id=school.id)
    if row is not None:
        return await Person.get_or_none(id=row.person_id, school_id=school.id, active=True)
    return await _first_link(provider_id, school, identity, national_hash)


def _sso_login(settings: Settings, provider_id: str, bureau_id: int, subject: str) -> str:
    """A login nobody can import or invite (``:`` is outside the login alphabet), unique per bureau and subject."""
    digest = hmac.new(settings.secret_key.encode(), f"sso-login|{provider_id}|{bureau_id}|{subject}".encode(), hashlib.sha256)
    return "sso:" + digest.hexdigest()[:40]


class _Raced(Exception):
    """Another sign-in gave the person an account first."""


async def _new_account(settings: Settings, provider_id: str, subject: str, bureau_id: int, person: Person, name: str) -> None:
    """Give a person imported without an account one (no password), unless a concurrent sign-in did."""
    # The same subject already reaches an SSO-only account through a link in another school: one account.
    linked = await ExternalLogin.filter(provider_id=provider_id, subject=subject, school__bureau_id=bureau_id).exclude(
        person_id=person.id).values_list("person_id", flat=True)  # fmt: skip
    accounts = await Person.filter(id__in=list(linked), account_id__isnull=False).values_list("account_id", flat=True)
    shared = await Account.filter(id__in=list(accounts), password_hash=None, is_platform_admin=False).first()
    login = _sso_login(settings, provider_id, bureau_id, subject)
    for attempt in range(2):
        try:
            async with in_transaction():
                account = shared or await Account.create(
                    login=login if attempt == 0 else f"{login[:50]}.{secrets.token_hex(4)}", display_name=name[:100], password_hash=None
                )
                if not await Person.filter(id=person.id, account_id=None).update(account_id=account.id):
                    raise _Raced
            return
        except _Raced:
            return
        except IntegrityError:  # the login exists: a concurrent first sign-in (attached) or a stale account
            if await Person.filter(id=person.id, account_id__isnull=False).exists():
                return


async def _account_of(settings: Settings, provider_id: str, subject: str, school: School, person: Person, name: str) -> Account:
    """The person's account; a person imported without one gets an SSO-only account (no password).

    Never looked up by login: a login can be chosen by whoever imports people.
    """
    if person.account_id is None:
        await _new_account(settings, provider_id, subject, school.bureau_id, person, name or person.name)
        person = await Person.get(id=person.id)
        if person.account_id is None:
            raise unknown_account()
    account = await Account.get(id=person.account_id)
    others = await Person.filter(account_id=account.id, school_id=person.school_id, active=True).exclude(id=person.id).exists()
    if not account.active or others:
        raise unknown_account()
    if account.is_platform_admin or await BureauAdmin.exists(account_id=account.id):
        raise admin_refused()
    return account


async def _refuse(at: ProviderAt, error: LichengError) -> LichengError:
    await audit.record(None, "sign_in_external_refused", "school", at.school.id, school_id=at.school.id,
                       changes={"provider": at.provider.id, "reason": error.code})  # fmt: skip
    return error


async def _tokens(settings: Settings, provider_id: str, subject: str, school: School, person: Person, name: str,
                  facts: dict[str, Any], vouched: list[int]) -> TokenPair:  # fmt: skip
    """Our tokens for the person, pinned to the vouched schools where the same account is linked."""
    account = await _account_of(settings, provider_id, subject, school, person, name)
    await apply_facts(provider_id, school, person, facts)
    now = datetime.now(timezone.utc)
    await ExternalLogin.filter(provider_id=provider_id, person_id=person.id, school_id=school.id).update(last_sign_in_at=now)
    linked = await ExternalLogin.filter(provider_id=provider_id, subject=subject, school_id__in=vouched).values_list("person_id", flat=True)
    same_account = await Person.filter(id__in=list(linked), account_id=account.id, active=True).values_list("school_id", flat=True)
    pinned = frozenset({school.id, *(int(s) for s in same_account)})  # type: ignore[call-overload]
    await audit.record(Actor(account_id=account.id, school_id=school.id), "sign_in_external", "account", account.id,
                       school_id=school.id, changes={"provider": provider_id})  # fmt: skip
    # The provider proved who this is: an imported initial password need not be changed first.
    return await issue_tokens(settings, account, school.id, password_change_only=False, pinned=pinned)


async def sign_in_external(settings: Settings, at: ProviderAt, identity: ExternalIdentity) -> ExternalSignIn:
    """Link the identity to our people and answer with tokens, or with the schools to choose from."""
    if not identity.subject:
        raise await _refuse(at, unknown_account())
    national_hash = _national_hash(settings, identity)
    schools = await _eligible_schools(at, identity)
    if not schools:
        raise await _refuse(at, wrong_school())
    matches: list[tuple[School, Person]] = []
    for school in schools:
        person = await _person_in(at.provider.id, school, identity, national_hash)
        if person is not None:
            matches.append((school, person))
    if not matches:
        raise await _refuse(at, unknown_account())
    vouched = [s.id for s, _ in matches]
    if len(matches) == 1:
        school, person = matches[0]
        try:
            return ExternalSignIn(await _tokens(settings, at.provider.id, identity.subject, school, person, identity.name, facts_of(identity), vouched))
        except LichengError as error:
            raise await _refuse(at, error) from None
    nonce = secrets.token_urlsafe(16)
    await ExternalLogin.filter(provider_id=at.provider.id, subject=identity.subject, school_id__in=vouched).update(
        pending_choice=nonce_hash(nonce)
    )
    token = seal(settings, CHOICE_PURPOSE, {"p": at.provider.id, "s": identity.subject, "n": nonce, "b": at.school.bureau_id,
                                            "c": vouched, "name": identity.name, "f": facts_of(identity)}, CHOICE_SECONDS)  # fmt: skip
    choices = tuple(SchoolChoice(s.id, s.code, s.name) for s, _ in matches)
    return ExternalSignIn(None, choices, token, nonce_hash(nonce))


def choice_nonce_hash(settings: Settings, choice_token: str) -> str | None:
    """The nonce hash inside a choice token (the browser route compares it with its cookie)."""
    payload = unseal(settings, CHOICE_PURPOSE, choice_token)
    return nonce_hash(str(payload["n"])) if payload else None


async def complete_choice(settings: Settings, choice_token: str, school_code: str) -> TokenPair:
    """Second step for a person in several schools: sign in at the chosen one. The token works once."""
    payload = unseal(settings, CHOICE_PURPOSE, choice_token)
    if payload is None:
        raise choice_invalid()
    vouched = [int(i) for i in payload["c"]]
    school = await School.get_or_none(code=(school_code or "").strip()[:6], bureau_id=int(payload["b"]))
    if school is None or school.id not in vouched:
        raise choice_invalid()
    provider_id, subject = str(payload["p"]), str(payload["s"])
    used = await ExternalLogin.filter(
        provider_id=provider_id, subject=subject, school_id__in=vouched, pending_choice=nonce_hash(str(payload["n"]))
    ).update(pending_choice=None)
    if not used:
        raise choice_invalid()
    row = await ExternalLogin.get_or_none(provider_id=provider_id, subject=subject, school_id=school.id)
    person = await Person.get_or_none(id=row.person_id, school_id=school.id, active=True) if row else None
    if person is None or provider_id not in [p.provider.id for p in await providers_at(school)]:
        raise choice_invalid()  # unlinked, deactivated, or the school stopped offering the provider meanwhile
    return await _tokens(settings, provider_id, subject, school, person, str(payload.get("name") or ""), dict(payload.get("f") or {}), vouched)
