"""First sign-in: who is linked, where, and who is refused (through the real redirect flow)."""

from __future__ import annotations

import itertools
import random
import re

from licheng.auth.models import Account, ExternalLogin
from licheng.demo import fake_national_id
from licheng.settings import Settings
from licheng.tenants import nationalid
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Guardianship, Membership, Person, Role
from tests.plugins.taipei.sso.conftest import Flow, Taipei, unique_login

VIEWER = "{ viewer { roles school { code } person { name } } }"
_rng = random.Random(20261123)
_seen: set[str] = set()


def new_national_id() -> str:
    for _ in itertools.count():
        value = fake_national_id(_rng, _rng.choice((1, 2)))
        if value not in _seen:
            _seen.add(value)
            return value
    raise AssertionError


def protected(settings: Settings, value: str) -> dict[str, object]:
    return nationalid.protect(value, data_key=settings.data_key_bytes, lookup_key=settings.lookup_key_bytes)


async def test_a_teacher_is_linked_by_national_id_hash_on_first_sign_in(taipei: Taipei, factory, flow: Flow, settings, gql) -> None:
    idno = new_national_id()
    teacher = await factory.member(taipei.schools[0], Role.TEACHER, name="李大同", **protected(settings, idno))
    login = unique_login("tea")
    user = taipei.sim.state.add_user("教師", "李大同", login, "pw", idno=idno, o=taipei.codes[0], teacherId="187")
    response = await flow.sign_in(taipei.schools[0], login, "pw")
    assert response.status_code == 200, response.text
    link = await ExternalLogin.get(subject=user.uuid)
    assert (link.person_id, link.linked_by) == (teacher.person.id, "national_id")
    gql.token = response.json()["access_token"]
    assert (await gql.ok(VIEWER))["viewer"]["roles"] == ["TEACHER"]
    entries = await AuditEntry.filter(school_id=taipei.schools[0].id, action__in=["external_login_linked", "sign_in_external"])
    assert {e.action for e in entries} == {"external_login_linked", "sign_in_external"}
    assert idno not in str([e.changes for e in entries])


async def test_an_unknown_person_is_refused_with_a_message_to_ask_the_school(taipei: Taipei, flow: Flow) -> None:
    login = unique_login("nobody")
    user = taipei.sim.state.add_user("學生", "無名氏", login, "pw", idno=new_national_id(), o=taipei.codes[0], studentId="999999")
    response = await flow.sign_in(taipei.schools[0], login, "pw")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "EXTERNAL_ACCOUNT_UNKNOWN" and "請洽學校" in body["message_zh"] and "ask your school" in body["message_en"]
    assert not await ExternalLogin.exists(subject=user.uuid)
    assert not await Person.exists(school_id=taipei.schools[0].id, student_number="999999")  # nobody created
    assert await AuditEntry.exists(action="sign_in_external_refused", school_id=taipei.schools[0].id)
    page = await flow.sign_in(taipei.schools[0], login, "pw", next_path="/console/", accept="text/html")
    assert page.status_code == 403 and "請洽學校" in page.text and "<html" in page.text


async def test_a_student_number_in_another_school_is_never_linked(taipei: Taipei, factory, flow: Flow) -> None:
    # The provider says school 0; a person with the same student number exists only in school 1.
    other = await factory.member(taipei.schools[1], Role.STUDENT)
    login = unique_login("stu")
    user = taipei.sim.state.add_user("學生", "王小華", login, "pw", o=taipei.codes[0], studentId=other.person.student_number)
    response = await flow.sign_in(taipei.schools[1], login, "pw")  # even when starting at school 1
    assert response.json()["code"] == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert not await ExternalLogin.exists(subject=user.uuid)


async def test_a_school_outside_the_bureau_or_without_the_plugin_is_the_wrong_school(taipei: Taipei, factory, flow: Flow) -> None:
    elsewhere = await factory.school()  # another bureau
    person = await factory.member(elsewhere, Role.STUDENT)
    login = unique_login("stu")
    user = taipei.sim.state.add_user("學生", "王小華", login, "pw", o=[elsewhere.code, "unmapped"], studentId=person.person.student_number)
    response = await flow.sign_in(taipei.schools[0], login, "pw")
    assert response.status_code == 403 and response.json()["code"] == "EXTERNAL_WRONG_SCHOOL"
    assert not await ExternalLogin.exists(subject=user.uuid)


async def test_a_student_number_that_belongs_to_someone_else_by_national_id_is_not_linked(taipei: Taipei, factory, flow: Flow, settings) -> None:
    student = await factory.member(taipei.schools[0], Role.STUDENT, **protected(settings, new_national_id()))
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "冒名", login, "pw", idno=new_national_id(), o=taipei.codes[0], studentId=student.person.student_number)
    response = await flow.sign_in(taipei.schools[0], login, "pw")
    assert response.json()["code"] == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert not await ExternalLogin.exists(person_id=student.person.id)


async def test_a_person_imported_without_an_account_gets_a_sign_on_only_account(taipei: Taipei, factory, flow: Flow) -> None:
    school = taipei.schools[0]
    person = await Person.create(school=school, name="新生", student_number=unique_login("n")[:12])
    await Membership.create(school=school, person=person, role=Role.STUDENT)
    login = unique_login("stu")
    user = taipei.sim.state.add_user("學生", "新生", login, "pw", o=taipei.codes[0], studentId=person.student_number)
    await factory.account(login=f"tpedu:{user.uuid}"[:64])  # pre-created (with a password) under the old scheme's login
    response = await flow.sign_in(school, login, "pw")
    assert response.status_code == 200, response.text
    account = await Account.get(id=(await Person.get(id=person.id)).account_id)
    assert account.login.startswith("sso:") and user.uuid not in account.login and account.password_hash is None
    assert (await Account.filter(login=f"tpedu:{user.uuid}"[:64]).first()).id != account.id


async def test_a_teacher_in_two_schools_chooses_where_to_sign_in_and_the_choice_works_once(taipei: Taipei, factory, flow: Flow, settings, gql) -> None:
    idno = new_national_id()
    first = await factory.member(taipei.schools[0], Role.TEACHER, name="兩校老師", **protected(settings, idno))
    second = await factory.member(taipei.schools[1], Role.TEACHER, name="兩校老師", **protected(settings, idno))
    login = unique_login("tea")
    taipei.sim.state.add_user("教師", "兩校老師", login, "pw", idno=idno, o=[taipei.codes[0], taipei.codes[1]])
    response = await flow.sign_in(taipei.schools[0], login, "pw")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "access_token" not in body
    assert sorted(c["school_code"] for c in body["choices"]) == sorted([taipei.schools[0].code, taipei.schools[1].code])
    chosen = await flow.app.post("/auth/sso/choose", json={"choice_token": body["choice_token"], "school": taipei.schools[1].code})
    assert chosen.status_code == 200, chosen.text
    gql.token = chosen.json()["access_token"]
    viewer = (await gql.ok(VIEWER))["viewer"]
    assert viewer["school"]["code"] == taipei.schools[1].code and viewer["roles"] == ["TEACHER"]
    assert await ExternalLogin.filter(person_id__in=[first.person.id, second.person.id], pending_choice=None).count() == 2
    again = await flow.app.post("/auth/sso/choose", json={"choice_token": body["choice_token"], "school": taipei.schools[0].code})
    assert again.status_code == 400 and again.json()["code"] == "EXTERNAL_CHOICE_INVALID"
    # A browser gets the choice as a page of buttons.
    page = await flow.sign_in(taipei.schools[0], login, "pw", next_path="/console/", accept="text/html")
    assert page.status_code == 200 and taipei.schools[1].name in page.text and 'action=/auth/sso/choose' in page.text


async def test_a_parent_signs_in_and_is_linked_to_the_children_the_directory_names(taipei: Taipei, factory, flow: Flow, settings, gql) -> None:
    school = taipei.schools[0]
    child = await factory.member(school, Role.STUDENT, name="王小明")
    child_login = unique_login("kid")
    kid = taipei.sim.state.add_user("學生", "王小明", child_login, "pw", o=taipei.codes[0], studentId=child.person.student_number)
    assert (await flow.sign_in(school, child_login, "pw")).status_code == 200
    idno = new_national_id()
    parent = await factory.member(school, Role.PARENT, name="王大明", **protected(settings, idno))
    login = unique_login("par")
    # As in the reference, a parent's profile names no school (`o`): the children's schools are searched.
    taipei.sim.state.add_user("家長", "王大明", login, "pw", idno=idno, child=[kid.uuid])
    response = await flow.sign_in(school, login, "pw")
    assert response.status_code == 200, response.text
    assert await Guardianship.exists(parent_id=parent.person.id, student_id=child.person.id, school_id=school.id)
    gql.token = response.json()["access_token"]
    assert (await gql.ok(VIEWER))["viewer"]["roles"] == ["PARENT"]


async def test_a_teacher_with_a_tutor_class_becomes_its_homeroom_teacher(taipei: Taipei, factory, flow: Flow, settings, gql) -> None:
    school = taipei.schools[0]
    klass = await factory.school_class(school, code="101")
    idno = new_national_id()
    teacher = await factory.member(school, Role.TEACHER, **protected(settings, idno))
    login = unique_login("tea")
    taipei.sim.state.add_user("教師", "導師", login, "pw", idno=idno, o=taipei.codes[0], tutorClass="101",
                              teachClass={taipei.codes[0]: [{"key": f"{taipei.codes[0]},101,subj16", "name": "1年1班國語文"}]})  # fmt: skip
    response = await flow.sign_in(school, login, "pw")
    assert response.status_code == 200, response.text
    assert await Membership.exists(person_id=teacher.person.id, role=Role.HOMEROOM, school_class_id=klass.id)
    gql.token = response.json()["access_token"]
    assert (await gql.ok(VIEWER))["viewer"]["roles"] == ["HOMEROOM", "TEACHER"]


async def _choice_page(taipei: Taipei, factory, flow: Flow, settings):
    idno = new_national_id()
    for school in taipei.schools[:2]:
        await factory.member(school, Role.TEACHER, name="兩校老師", **protected(settings, idno))
    login = unique_login("tea")
    taipei.sim.state.add_user("教師", "兩校老師", login, "pw", idno=idno, o=[taipei.codes[0], taipei.codes[1]])
    page = await flow.sign_in(taipei.schools[0], login, "pw", next_path="/console/", accept="text/html")
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', page.text))
    return page, {**fields, "school": taipei.schools[1].code}


async def test_the_choice_page_sets_a_strict_cookie_that_the_form_post_needs(taipei: Taipei, factory, flow: Flow, settings) -> None:
    page, form = await _choice_page(taipei, factory, flow, settings)
    cookie = next(v for k, v in page.headers.multi_items() if k == "set-cookie" and v.startswith("licheng_sso_choice="))
    assert "SameSite=strict" in cookie.replace("samesite", "SameSite") and "HttpOnly" in cookie and "Path=/auth/sso/" in cookie
    ours = "/".join(settings.base_url.split("/")[:3])  # the browser's Origin on our own page
    chosen = await flow.app.post("/auth/sso/choose", data=form, headers={"origin": ours, "sec-fetch-site": "same-origin"})
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"].startswith("/console/#access_token=")


async def test_a_choice_form_posted_without_the_cookie_is_refused_login_csrf(taipei: Taipei, factory, flow: Flow, settings) -> None:
    _, form = await _choice_page(taipei, factory, flow, settings)
    flow.app.cookies.clear()  # the victim's browser: the attacker's own token, but not his cookie
    forged = await flow.app.post("/auth/sso/choose", data=form)
    assert forged.status_code == 400 and "EXTERNAL_STATE_MISMATCH" in forged.text and "access_token" not in forged.text


async def test_a_choice_posted_from_another_site_is_refused_even_with_the_cookie(taipei: Taipei, factory, flow: Flow, settings) -> None:
    _, form = await _choice_page(taipei, factory, flow, settings)
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        forged = await flow.app.post("/auth/sso/choose", data=form, headers=headers)
        assert forged.status_code == 400 and "access_token" not in forged.text
    as_json = await flow.app.post("/auth/sso/choose", json={"choice_token": form["choice_token"], "school": form["school"]},
                                  headers={"origin": "https://evil.example"})  # fmt: skip
    assert as_json.status_code == 400 and as_json.json()["code"] == "EXTERNAL_STATE_MISMATCH"
