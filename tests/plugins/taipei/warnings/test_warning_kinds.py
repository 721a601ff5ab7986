"""Each of the four Taipei early warnings (預警), with data made through the portfolio services.

DOMAIN.md, "Taipei CoolCloud specifics": warnings in the system and by e-mail for
students who have not sent outcomes, who have not selected, teachers with
uncertified outcomes; homeroom view "32 students sent 1 outcome, 6 sent none".
"""

from __future__ import annotations

from licheng.portfolio import certification
from licheng.tenants.models import Role
from taipei_coolcloud.models.early_warnings import EmailState, WarningKind
from tests.plugins.taipei.warnings.conftest import (
    BEFORE_REMINDERS,
    FROM,
    NEAR_CERTIFICATION_DEADLINE,
    NEAR_SELECTION_CLOSE,
    NEAR_UPLOAD_DEADLINE,
)
from tests.plugins.taipei.warnings.helpers import passed_outcome, performance, run, sent_outcome, warnings_of
from tests.portfolio.conftest import IN_TERM_2, YEAR


async def test_students_with_nothing_sent_are_warned_as_the_upload_deadline_nears(taipei, inbox, clock):
    scene = taipei.scene
    active = await scene.add_student("陳同學")
    await scene.course_record(active, "11")
    no_courses = await scene.add_student("沒有修課")  # nothing to send: no warning
    await sent_outcome(taipei, active, await scene.course_record(active, "12", subject="英語文"))

    clock.set(BEFORE_REMINDERS)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert report.found == 0 and not inbox.messages

    clock.set(NEAR_UPLOAD_DEADLINE)
    report = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    [warning] = await warnings_of(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert warning.recipient_id == scene.student.person.id != no_courses.person.id
    assert warning.period == f"{YEAR}-1@2027-02-03"
    assert report.created == 1 and report.delivery.sent == 1
    [mail] = inbox.messages
    assert mail.rcpt_tos == [taipei.emails["student"]] and mail.mail_from == FROM
    assert mail.message["Subject"] == f"【預警】{YEAR} 學年度第 1 學期課程學習成果尚未提交認證 / [Warning] No course outcome sent for certification in {YEAR}-1"
    body = mail.body
    assert "王小明 同學您好" in body and "2027-02-03 截止" in body and "尚未提交任何一件" in body
    assert body.index("尚未提交") < body.index("Dear 王小明") and "You have not sent any course outcome" in body
    assert warning.emailed_at is not None and warning.email_state == EmailState.SENT


async def test_a_second_run_creates_nothing_and_sends_nothing(taipei, inbox, clock):
    clock.set(NEAR_UPLOAD_DEADLINE)
    first = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    second = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    clock.set(NEAR_UPLOAD_DEADLINE.replace(day=31))
    third = await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    assert (first.created, second.created, third.created) == (1, 0, 0)
    assert (second.found, second.delivery.sent, third.delivery.sent) == (1, 0, 0)
    assert len(await warnings_of(taipei)) == 1 and len(inbox.messages) == 1


async def test_homeroom_teacher_gets_a_class_summary(taipei, inbox, clock):
    scene = taipei.scene
    one, two = await scene.add_student("一件生"), await scene.add_student("兩件生")
    await sent_outcome(taipei, one, await scene.course_record(one, "21"))
    await sent_outcome(taipei, two, await scene.course_record(two, "22"))
    await sent_outcome(taipei, two, await scene.course_record(two, "23", subject="物理"))
    clock.set(IN_TERM_2)
    await sent_outcome(taipei, one, await scene.course_record(one, "24", term=2, subject="化學"))  # term 2: not counted
    await taipei.give_email(two, "two")
    empty = await scene.factory.school_class(scene.school, code="102")
    await scene.factory.member(scene.school, Role.TEACHER, Role.HOMEROOM, homeroom_of=empty, name="空班導師")

    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, WarningKind.CLASS_SUMMARY)
    [summary] = await warnings_of(taipei, WarningKind.CLASS_SUMMARY)
    assert summary.recipient_id == scene.homeroom.person.id and summary.period == f"{YEAR}-1@2027-02-03#101"
    assert "共 3 位學生" in summary.body_zh
    assert "1 位學生已提交 1 件，1 位學生已提交 2 件，1 位學生尚未提交" in summary.body_zh
    assert "尚未提交：1 號 王小明" in summary.body_zh
    assert "1 student sent 1 outcome, 1 student sent 2 outcomes, 1 sent none." in summary.body_en
    [mail] = inbox.messages
    assert mail.rcpt_tos == [taipei.emails["homeroom"]] and "1 位學生尚未提交" in mail.body
    assert not inbox.to(taipei.emails["two"])  # a summary goes to the homeroom teacher only


async def test_teachers_with_uncertified_outcomes_are_warned_near_the_certification_deadline(taipei, inbox, clock):
    scene = taipei.scene
    await passed_outcome(taipei, scene.student, scene.records["math"])  # done: not counted
    await sent_outcome(taipei, scene.student, scene.records["math"], "第二件")
    await sent_outcome(taipei, scene.student, scene.records["chinese"], "國文作品")
    staff = await scene.staff.actor()
    await certification.assign_substitute(staff, scene.teacher.person.id, scene.other_teacher.person.id, YEAR, 1)

    clock.set(NEAR_UPLOAD_DEADLINE)  # certification closes in 12 days: not yet
    assert (await run(taipei, WarningKind.UNCERTIFIED_OUTCOMES)).found == 0

    clock.set(NEAR_CERTIFICATION_DEADLINE)
    await run(taipei, WarningKind.UNCERTIFIED_OUTCOMES)
    teacher, substitute = await warnings_of(taipei, WarningKind.UNCERTIFIED_OUTCOMES)
    assert teacher.recipient_id == scene.teacher.person.id and teacher.period == f"{YEAR}-1@2027-02-10"
    assert "尚有 2 件" in teacher.body_zh and "2027-02-10 截止" in teacher.body_zh and "2 course outcomes" in teacher.body_en
    assert substitute.recipient_id == scene.other_teacher.person.id and "代理 林老師 老師" in substitute.body_zh
    assert sorted(r for m in inbox.messages for r in m.rcpt_tos) == sorted([taipei.emails["teacher"], taipei.emails["other_teacher"]])


async def test_the_substitute_is_warned_when_the_absent_teacher_is_inactive(taipei, inbox, clock):
    """The absent teacher left (inactive): he is not warned, but his substitute must certify his outcomes and is."""
    from licheng.tenants.models import Person

    scene = taipei.scene
    await sent_outcome(taipei, scene.student, scene.records["math"])
    await certification.assign_substitute(await scene.staff.actor(), scene.teacher.person.id, scene.other_teacher.person.id, YEAR, 1)
    await Person.filter(id=scene.teacher.person.id).update(active=False)
    clock.set(NEAR_CERTIFICATION_DEADLINE)
    await run(taipei, WarningKind.UNCERTIFIED_OUTCOMES)
    [substitute] = await warnings_of(taipei, WarningKind.UNCERTIFIED_OUTCOMES)
    assert substitute.recipient_id == scene.other_teacher.person.id and "代理 林老師 老師" in substitute.body_zh
    assert [m.rcpt_tos for m in inbox.messages] == [[taipei.emails["other_teacher"]]]


async def test_students_who_have_not_selected_are_warned_in_the_selection_window(taipei, inbox, clock):
    scene = taipei.scene
    await passed_outcome(taipei, scene.student, scene.records["math"])
    await performance(scene.student)
    chose = await scene.add_student("已勾選")
    chosen_outcome = await passed_outcome(taipei, chose, await scene.course_record(chose, "31"))
    chosen_performance = await performance(chose)
    only_performance = await scene.add_student("只有表現")
    await performance(only_performance)
    await scene.add_student("什麼都沒有")

    clock.set(NEAR_SELECTION_CLOSE.replace(day=10))
    from licheng.portfolio import selection

    await selection.select_items(await chose.actor(), YEAR, outcome_ids=[chosen_outcome.id], performance_ids=[chosen_performance.id])
    assert (await run(taipei, WarningKind.NOT_SELECTED)).found == 0  # the window closes in 20 days

    clock.set(NEAR_SELECTION_CLOSE)
    await run(taipei, WarningKind.NOT_SELECTED)
    warned = {w.recipient_id: w for w in await warnings_of(taipei, WarningKind.NOT_SELECTED)}
    assert set(warned) == {scene.student.person.id, only_performance.person.id}
    mine = warned[scene.student.person.id]
    assert mine.period == f"{YEAR}-selection@2027-09-30"
    assert "課程學習成果（已通過認證 1 件，最多可勾選 6 件）" in mine.body_zh and "多元表現（已上傳 1 件，最多可勾選 10 件）" in mine.body_zh
    assert "課程學習成果" not in warned[only_performance.person.id].body_zh.split("您尚未勾選")[1]
    assert [m.rcpt_tos for m in inbox.messages] == [[taipei.emails["student"]]]  # the other has no address


async def test_a_kind_set_to_zero_days_is_switched_off(taipei, inbox, clock):
    await taipei.configure({"reminder_days_before_deadline": 0})
    clock.set(NEAR_UPLOAD_DEADLINE)
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).found == 0
    assert (await run(taipei, WarningKind.CLASS_SUMMARY)).found == 0
    assert not await warnings_of(taipei) and not inbox.messages


async def test_a_person_without_an_address_gets_the_warning_but_no_email(taipei, inbox, clock):
    from licheng.tenants.models import Person

    await Person.filter(id=taipei.scene.student.person.id).update(email=None)
    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    [warning] = await warnings_of(taipei)
    assert warning.email_state == EmailState.NO_ADDRESS and warning.emailed_at is None and not inbox.messages


async def test_inactive_students_are_not_warned(taipei, inbox, clock):
    from licheng.tenants.models import Person

    await Person.filter(id=taipei.scene.student.person.id).update(active=False)
    clock.set(NEAR_UPLOAD_DEADLINE)
    assert (await run(taipei, WarningKind.OUTCOMES_NOT_SENT)).found == 0
    assert not inbox.messages
