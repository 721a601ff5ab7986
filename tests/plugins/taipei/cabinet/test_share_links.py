"""Read-only portfolio share links: a token that works until expiry or revocation, shows nothing private."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from licheng.graphql.relay import to_global_id
from licheng.plugins import service
from licheng.plugins.manager import get_manager
from licheng.portfolio.models import CourseOutcome, CourseRecord, DiversePerformance, OutcomeStatus, PerformanceKind
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Person, Role
from taipei_coolcloud.models.cabinet import ShareLink, ShareLinkView

CREATE = """mutation($d: Int!, $l: String! = "", $st: Boolean! = false) {
  createShareLink(days: $d, label: $l, includeStatements: $st) { token link { id expiresAt revokedAt viewedAt } } }"""
SHARED = """query($t: String!) { sharedPortfolio(token: $t) {
  studentName schoolName expiresAt autobiography studyPlan
  years { academicYear outcomes { title brief term } performances { title kind brief } } } }"""
REVOKE = "mutation($id: ID!) { revokeShareLink(id: $id) { revokedAt } }"
NATIONAL_ID_MASKED = "A12345****"


async def fill_portfolio(cab, factory) -> None:
    school, student = cab.school, cab.student.person
    await Person.filter(id=student.id).update(national_id_masked=NATIONAL_ID_MASKED, email="chen@example.tw")
    record = await CourseRecord.create(school=school, student=student, teacher_id=cab.teacher.person.id, academic_year=115, term=1,
                                       course_code=f"115{school.code}ABCDEFGHIJKL01", subject_name="物理", grade=10, credits=2)  # fmt: skip
    common = {"school": school, "student": student, "course_record": record, "academic_year": 115, "term": 1}
    await CourseOutcome.create(**common, brief="單擺實驗報告", status=OutcomeStatus.PASSED, published_at=datetime.now(UTC))
    await CourseOutcome.create(**common, brief="未認證的草稿", status=OutcomeStatus.DRAFT)
    await CourseOutcome.create(**common, brief="未通過的成果", status=OutcomeStatus.FAILED, reason="非本人作品")
    await DiversePerformance.create(school=school, student=student, academic_year=116, kind=PerformanceKind.CERTIFICATE,
                                    title="全民英檢中級", brief="通過初試複試",
                                    details={"certificate_code": "GEPT", "certificate_number": "CERT-SECRET-123",
                                             "obtained_on": "2027-10-01"})  # fmt: skip


async def create(gql, cab, days: int = 7, **extra) -> dict:
    await gql.sign_in_as(cab.student)
    return (await gql.ok(CREATE, {"d": days, **extra}))["createShareLink"]


async def test_anyone_with_the_token_reads_the_summary_by_year(gql, cab, factory):
    await fill_portfolio(cab, factory)
    created = await create(gql, cab, label="給教授")
    shared = (await gql.anonymous().ok(SHARED, {"t": created["token"]}))["sharedPortfolio"]
    assert shared["studentName"] == "陳同學" and shared["schoolName"] == cab.school.name
    assert shared["years"] == [
        {"academicYear": 115, "outcomes": [{"title": "物理", "brief": "單擺實驗報告", "term": 1}], "performances": []},
        {"academicYear": 116, "outcomes": [], "performances": [{"title": "全民英檢中級", "kind": "certificate", "brief": "通過初試複試"}]},
    ]  # fmt: skip
    assert shared["autobiography"] is None  # statements only when the student chose to include them


async def test_the_shared_view_holds_nothing_private(gql, cab, factory):
    await fill_portfolio(cab, factory)
    created = await create(gql, cab)
    text = json.dumps(await gql.anonymous().execute(SHARED, {"t": created["token"]}), ensure_ascii=False)
    student = await Person.get(id=cab.student.person.id)
    for private in (NATIONAL_ID_MASKED, "A12345", student.student_number, "chen@example.tw", "CERT-SECRET-123",
                    "未認證的草稿", "未通過的成果", "非本人作品", cab.teacher.person.name):  # fmt: skip
        assert private not in text, private


async def test_the_token_is_stored_hashed_and_views_are_counted(gql, cab, frozen_clock):
    start = datetime(2026, 10, 1, 2, 0, 30, tzinfo=UTC)
    frozen_clock(start)
    created = await create(gql, cab)
    token = created["token"]
    row = await ShareLink.get(student_id=cab.student.person.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = json.dumps(await ShareLink.filter(id=row.id).values(), default=str)
    assert token not in stored  # in no column of the link
    anonymous = gql.anonymous()
    for _ in range(3):  # three reads in one 10-minute window: one row, one audit entry
        await anonymous.ok(SHARED, {"t": token})
    assert await ShareLinkView.filter(link_id=row.id).values_list("views", flat=True) == [3]
    frozen_clock(start + timedelta(minutes=10))  # the next window
    await anonymous.ok(SHARED, {"t": token})
    assert sorted(await ShareLinkView.filter(link_id=row.id).values_list("views", flat=True)) == [1, 3]
    audit = await AuditEntry.filter(action="view_shared_portfolio", record_id=str(row.id))
    assert len(audit) == 2 and all(e.account_id is None and e.student_id == cab.student.person.id for e in audit)
    everything = json.dumps([await AuditEntry.all().values(), await ShareLinkView.all().values()], default=str, ensure_ascii=False)
    assert token not in everything  # nor in the audit trail or the view counts
    await gql.sign_in_as(cab.student)
    links = (await gql.ok("{ myShareLinks { id viewedAt viewCount } }"))["myShareLinks"]
    assert links[0]["id"] == created["link"]["id"] and len(links[0]["viewedAt"]) == 2 and links[0]["viewCount"] == 4
    assert token not in json.dumps(links)


async def test_the_link_expires(gql, cab, frozen_clock):
    start = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    frozen_clock(start)
    created = await create(gql, cab, days=7)
    assert (await gql.anonymous().ok(SHARED, {"t": created["token"]}))["sharedPortfolio"]["studentName"]
    frozen_clock(start + timedelta(days=7, seconds=1))
    assert await gql.anonymous().error_code(SHARED, {"t": created["token"]}) == "SHARE_LINK_EXPIRED"


async def test_a_revoked_link_stops_at_once(gql, cab):
    created = await create(gql, cab)
    await gql.ok(REVOKE, {"id": created["link"]["id"]})
    assert await gql.anonymous().error_code(SHARED, {"t": created["token"]}) == "SHARE_LINK_REVOKED"
    assert not await ShareLinkView.exists(link_id=(await ShareLink.get(student_id=cab.student.person.id)).id)


async def test_expiry_is_between_one_and_thirty_days(gql, cab):
    await gql.sign_in_as(cab.student)
    for days in (0, 31):
        assert await gql.error_code(CREATE, {"d": days}) == "INVALID_INPUT"
    assert (await gql.ok(CREATE, {"d": 30}))["createShareLink"]["token"]


async def test_statements_are_shown_only_when_included(gql, cab):
    await gql.sign_in_as(cab.student)
    await gql.ok('mutation { saveCabinetStatement(kind: AUTOBIOGRAPHY, text: "我的自傳") { version } }')
    created = await create(gql, cab, st=True)
    assert (await gql.anonymous().ok(SHARED, {"t": created["token"]}))["sharedPortfolio"]["autobiography"] == "我的自傳"


async def test_unknown_tokens_and_other_students_links_reveal_nothing(gql, cab, factory):
    await fill_portfolio(cab, factory)
    created = await create(gql, cab)
    assert await gql.anonymous().error_code(SHARED, {"t": created["token"][:-2] + "xx"}) == "NOT_FOUND"
    assert await gql.anonymous().error_code(SHARED, {"t": "x" * 500}) == "NOT_FOUND"
    # Another school's student (same bureau) shares his own portfolio: his link shows only his.
    other = await factory.member(cab.district.schools[1], Role.STUDENT, name="別校學生")
    await gql.sign_in_as(other)
    theirs = (await gql.ok(CREATE, {"d": 7}))["createShareLink"]
    text = json.dumps(await gql.anonymous().ok(SHARED, {"t": theirs["token"]}), ensure_ascii=False)
    assert "別校學生" in text and "陳同學" not in text and "單擺實驗報告" not in text
    # ...and cannot revoke, nor list, the first student's link.
    assert await gql.error_code(REVOKE, {"id": created["link"]["id"]}) == "NOT_FOUND"
    assert created["link"]["id"] not in json.dumps(await gql.ok("{ myShareLinks { id } }"))
    assert (await ShareLink.get(student_id=cab.student.person.id)).revoked_at is None


async def test_only_students_make_links(gql, cab):
    for member in (cab.parent, cab.homeroom):
        await gql.sign_in_as(member)
        assert await gql.error_code(CREATE, {"d": 7}) == "FORBIDDEN"


async def test_a_link_stops_working_when_the_bureau_turns_the_plugin_off(gql, cab):
    created = await create(gql, cab)
    admin = await cab.district.admin_actor()
    await service.set_enabled(admin, get_manager(), cab.district.bureau.id, "taipei_coolcloud", enabled=False)
    assert await gql.anonymous().error_code(SHARED, {"t": created["token"]}) == "NOT_FOUND"


async def test_share_links_are_first_party_only(gql, cab):
    from licheng.graphql.scopes import FIELD_SCOPES

    assert FIELD_SCOPES["Mutation.createShareLink"] == "first-party" and FIELD_SCOPES["Query.sharedPortfolio"] is None


async def test_views_arriving_together_are_all_counted_on_one_row(gql, cab):
    """Concurrent first views of a window: one INSERT wins, the others fall back to the counter (IntegrityError path)."""
    import asyncio

    from taipei_coolcloud import cabinet_sharing

    created = await create(gql, cab)
    await asyncio.gather(*(cabinet_sharing.shared_portfolio(created["token"]) for _ in range(5)))
    row = await ShareLink.get(student_id=cab.student.person.id)
    assert await ShareLinkView.filter(link_id=row.id).values_list("views", flat=True) == [5]
    assert await AuditEntry.filter(action="view_shared_portfolio", record_id=str(row.id)).count() == 1
