"""The values plugins hand to the core through hooks: plain dataclasses and protocols.

Why a module of its own: the hook specs name these types, plugins build them,
and the core consumes them; none of the three should import the others' code.
Everything here is data or a narrow protocol, no database and no framework.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

# Keys a ``licheng_policy_rules`` implementation may return, with what they mean. They are
# the fields of the portfolio's ``Policy`` that a bureau layer may change
# (``licheng.portfolio.policy.RULES`` has the bounds; out-of-bounds values are dropped there).
POLICY_KEYS: Mapping[str, str] = {
    "outcomes_per_term": "course outcomes a student may send for certification per term (每學期提交認證件數); None: no cap",
    "outcomes_per_subject_per_term": "of those, at most this many per subject (每科上限); None: no cap",
    "performances_per_year": "diverse performances a student may upload per academic year; None: unlimited",
    "document_max_bytes": "size limit of a document file (pdf, jpg, png); at most the national limit",
    "media_max_bytes": "size limit of a media file (mp3, mp4); at most the national limit",
    "counseling_max_bytes": "size limit of a course-counseling record file",
    "quota_bytes": "storage per student over three years (150 MB in Taipei)",
    "pdf_active_content": "'refuse' or 'flag' a PDF with scripts",
    "upload_opens_days_after_start": "days after the term starts that uploads open",
    "upload_days_after_ceremony": "days after the end-of-term ceremony (休業式) that uploads close (14 at least)",
    "upload_days_after_ceremony_grade12_term2": "the same for grade 12, term 2",
    "certification_days_after_upload": "days teachers have to certify after the student deadline",
    "records_days_after_ceremony": "days after 休業式 that school records (basic data, course records) close",
    "records_opens_days_before_start": "days before the term starts that school records open",
    "performance_deadline": "yearly deadline of diverse performances, 'MM-DD'",
    "selection_opens": "selection (勾選) opens, 'MM-DD' of the next academic year",
    "selection_closes": "selection closes, 'MM-DD'",
    "submission_opens": "school submission (提交) opens, 'MM-DD'",
    "submission_closes": "school submission closes, 'MM-DD'",
    "receipt_review_days": "days students have to confirm the receipt list (收訖, at least 3)",
    "locked_for_schools": "list of the keys above that schools may not override",
}


# --- identity providers ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalIdentity:
    """Who a directory or an OAuth2 provider says the user is; the core maps it to a Person."""

    subject: str  # stable id at the provider
    login: str
    name: str
    email: str | None = None
    school_code: str | None = None  # 6-character 學校代碼, when the provider knows it
    roles: tuple[str, ...] = ()  # provider roles, mapped to Role by the core
    # What a city directory or single sign-on adds (Taipei's LDAP and profile); every field optional,
    # the core links with them. (tpedu: o, employeeNumber, tpClass, tpSeat, tpTutorClass, child)
    school_codes: tuple[str, ...] = ()  # our 6-character codes of every school the provider names
    student_number: str | None = None  # 學號, to link a student on first sign-in
    staff_number: str | None = None  # the provider's teacher number, informative only
    class_code: str | None = None  # e.g. "101"
    seat: int | None = None
    tutor_class: str | None = None  # 導師班, a class code in the person's school
    children: tuple[str, ...] = ()  # provider subjects of a parent's children
    # Raw national ID when the provider released it (Taipei's idno scope). The core hashes
    # it at once with its lookup key and never stores, logs or returns it.
    national_id: str | None = field(default=None, repr=False, compare=False)

    def all_school_codes(self) -> tuple[str, ...]:
        """``school_codes`` plus ``school_code``, without repeats, in the provider's order."""
        codes = [*self.school_codes, *([self.school_code] if self.school_code else [])]
        return tuple(dict.fromkeys(c for c in codes if c))


@dataclass(frozen=True)
class OAuthProvider:
    """An OAuth2/OIDC redirect login (e.g. 臺北市單一身分驗證)."""

    id: str
    label_zh: str
    label_en: str
    authorize_url: str
    token_url: str
    userinfo_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    # Turns the userinfo/profile JSON into an identity.
    identity_of: Callable[[Mapping[str, Any]], ExternalIdentity] | None = None
    kind: Literal["oauth2"] = "oauth2"
    # More JSON endpoints read with the same token after userinfo (e.g. a profile, a national ID);
    # their objects are merged over the userinfo object, in order, before ``identity_of``.
    profile_urls: tuple[str, ...] = ()
    logout_url: str | None = None  # where to send the browser to end the provider's session
    token_auth_method: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class DirectoryProvider:
    """Username and password checked against a directory (e.g. LDAP)."""

    id: str
    label_zh: str
    label_en: str
    # Returns the identity, or None for a wrong password; raises only when the directory fails.
    authenticate: Callable[[str, str], Awaitable[ExternalIdentity | None]]
    kind: Literal["directory"] = "directory"


IdentityProvider = OAuthProvider | DirectoryProvider


# --- submission to the central database --------------------------------------------------------


class SubmissionAdapter(Protocol):
    """Delivers a frozen batch to the central database and reads its receipts back.

    The shape of the portfolio's port (``licheng.portfolio.submission_port``),
    stated structurally so the SDK does not import the portfolio: ``snapshot``
    is a ``BatchSnapshot``, ``submit`` returns a ``SubmissionTicket``, ``poll`` a
    ``SubmissionStatus`` (whose ``receipts`` are the receipt list, 收訖明細).
    Raise a ``LichengError`` to refuse with a clear message.
    """

    name: str

    async def submit(self, snapshot: Any) -> Any: ...

    async def poll(self, ticket: Any) -> Any: ...


# --- importers, notifiers, jobs, health --------------------------------------------------------


@dataclass(frozen=True)
class Importer:
    """Pulls people, classes or course records from a school administration system."""

    kind: Literal["classes", "students", "teachers", "parents", "course_records"]
    label_zh: str
    label_en: str
    # school code -> rows with the columns of the CSV import of the same kind.
    fetch: Callable[[str], Awaitable[Sequence[Mapping[str, str]]]]


@dataclass(frozen=True)
class Notification:
    kind: str  # e.g. "outcomes_not_sent", "uncertified_outcomes"
    person_id: int
    email: str | None
    subject_zh: str
    body_zh: str
    subject_en: str = ""
    body_en: str = ""


@dataclass(frozen=True)
class Notifier:
    channel: Literal["email", "in_app"]
    send: Callable[[Notification], Awaitable[None]]


@dataclass(frozen=True)
class ScheduledJob:
    """Work the job runner starts every ``every`` for each school where the plugin is enabled."""

    name: str
    every: timedelta
    run: Callable[[int], Awaitable[None]]  # school_id -> None


@dataclass(frozen=True)
class HealthReport:
    """The answer of a health check, e.g. "can reach the directory"."""

    ok: bool
    detail_zh: str = ""
    detail_en: str = ""
