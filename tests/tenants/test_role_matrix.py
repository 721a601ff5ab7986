"""The role matrix: each role can do what it should and nothing more.

Rows are roles; each test is one operation, with the roles allowed and the
outcome for everyone else spelled out.
"""

from __future__ import annotations

import pytest

from licheng.graphql.relay import to_global_id
from licheng.tenants import nationalid
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Guardianship, Role

ROLES = ["staff", "teacher", "homeroom", "counselor", "student", "parent", "bureau_admin", "platform_admin"]


@pytest.fixture
async def school_world(factory, settings):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    class_a = await factory.school_class(school)
    class_b = await factory.school_class(school)
    ids = nationalid.protect("A123456789", data_key=settings.data_key_bytes, lookup_key=settings.lookup_key_bytes)
    child = await factory.member(school, Role.STUDENT, school_class=class_a, name="孩子", **ids)
    other = await factory.member(school, Role.STUDENT, school_class=class_b, name="別班學生")
    parent = await factory.member(school, Role.PARENT, name="家長")
    await Guardianship.create(school=school, parent=parent.person, student=child.person)
    members = {
        "staff": await factory.member(school, Role.STAFF),
        "teacher": await factory.member(school, Role.TEACHER),
        "homeroom": await factory.member(school, Role.HOMEROOM, homeroom_of=class_a),
        "counselor": await factory.member(school, Role.COUNSELOR),
        "student": child,
        "parent": parent,
        "bureau_admin": await factory.bureau_admin(bureau),
        "platform_admin": await factory.platform_admin(),
    }
    return {"school": school, "bureau": bureau, "child": child, "other": other, "members": members, "class_a": class_a}


async def as_role(gql, world, role):
    await gql.sign_in_as(world["members"][role])
    return gql


STUDENT_NAMES = "{ people(role: STUDENT) { edges { node { name } } } }"


@pytest.mark.parametrize(
    "role, expected",
    [
        ("staff", {"孩子", "別班學生"}),
        ("teacher", {"孩子", "別班學生"}),
        ("counselor", {"孩子", "別班學生"}),
        ("homeroom", {"孩子", "別班學生"}),
        ("student", {"孩子"}),
        ("parent", {"孩子"}),
    ],
)
async def test_who_sees_which_students(role, expected, school_world, gql):
    await as_role(gql, school_world, role)
    data = await gql.ok(STUDENT_NAMES)
    assert {e["node"]["name"] for e in data["people"]["edges"]} == expected


@pytest.mark.parametrize("role", ["bureau_admin", "platform_admin"])
async def test_admins_outside_a_school_do_not_list_its_people(role, school_world, gql):
    await as_role(gql, school_world, role)
    assert await gql.error_code(STUDENT_NAMES) == "FORBIDDEN"


@pytest.mark.parametrize("role", ["staff", "teacher", "homeroom", "counselor", "student", "parent"])
async def test_only_registry_staff_see_national_ids_unmasked(role, school_world, gql):
    await as_role(gql, school_world, role)
    node = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on Person { nationalId } } }",
        {"id": to_global_id("Person", school_world["child"].person.id)},
    )
    shown = node["node"]["nationalId"]
    if role == "staff":
        assert shown == "A123456789"
        assert await AuditEntry.filter(action="read_national_id", student_id=school_world["child"].person.id).exists()
    else:
        assert shown == "A12345****"


async def test_reading_another_persons_record_is_audited(school_world, gql):
    await as_role(gql, school_world, "teacher")
    child_id = school_world["child"].person.id
    await gql.ok("query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("Person", child_id)})
    entry = await AuditEntry.filter(action="read_person", student_id=child_id).order_by("-id").first()
    assert entry is not None and entry.acting_role == "teacher"


@pytest.mark.parametrize("role", ROLES)
async def test_only_platform_admins_create_bureaus(role, school_world, gql):
    await as_role(gql, school_world, role)
    result = await gql.execute('mutation($c: String!) { createBureau(code: $c, name: "新北市") { code } }', {"c": f"nb-{role}"[:30].replace("_", "-")})
    if role == "platform_admin":
        assert not result.get("errors"), result
    else:
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ROLES)
async def test_schools_are_created_by_platform_and_own_bureau_admins(role, school_world, gql):
    await as_role(gql, school_world, role)
    code = f"{abs(hash(role)) % 900000 + 100000}"
    result = await gql.execute(
        'mutation($b: ID!, $c: String!) { createSchool(input: {bureauId: $b, code: $c, name: "新學校"}) { code } }',
        {"b": to_global_id("Bureau", school_world["bureau"].id), "c": code},
    )
    if role in ("platform_admin", "bureau_admin"):
        assert result["data"]["createSchool"]["code"] == code
    else:
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ROLES)
async def test_staff_invitations(role, school_world, gql):
    await as_role(gql, school_world, role)
    result = await gql.execute(
        'mutation($s: ID!, $l: String!) { inviteStaff(schoolId: $s, login: $l, name: "新同仁") { login initialPassword } }',
        {"s": to_global_id("School", school_world["school"].id), "l": f"new-{role}-{school_world['school'].code}"},
    )
    if role in ("staff", "bureau_admin", "platform_admin"):
        assert result["data"]["inviteStaff"]["initialPassword"]
    else:
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("role", ROLES)
async def test_only_staff_set_the_calendar(role, school_world, gql):
    await as_role(gql, school_world, role)
    result = await gql.execute(
        'mutation { setTerm(input: {academicYear: 115, term: 1, startsOn: "2026-08-31", ceremonyOn: "2027-01-20"}) { term } }'
    )
    if role == "staff":
        assert result["data"]["setTerm"]["term"] == 1
    else:
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ["homeroom", "student", "parent"])
async def test_homeroom_sees_own_class_only_and_students_see_no_class_list(role, school_world, gql):
    await as_role(gql, school_world, role)
    data = await gql.ok("{ classes { edges { node { code } } } }")
    codes = {e["node"]["code"] for e in data["classes"]["edges"]}
    assert codes == ({school_world["class_a"].code} if role == "homeroom" else set())


async def test_email_is_private_to_the_person_and_staff(school_world, gql, factory):
    await as_role(gql, school_world, "teacher")
    child_id = to_global_id("Person", school_world["child"].person.id)
    from licheng.tenants.models import Person

    await Person.filter(id=school_world["child"].person.id).update(email="kid@example.tw")
    query = "query($id: ID!) { node(id: $id) { ... on Person { email } } }"
    assert (await gql.ok(query, {"id": child_id}))["node"]["email"] is None
    await as_role(gql, school_world, "staff")
    assert (await gql.ok(query, {"id": child_id}))["node"]["email"] == "kid@example.tw"
