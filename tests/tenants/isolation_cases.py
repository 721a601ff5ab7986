"""Isolation cases for tenant, auth and import operations (see tests/graphql/test_isolation.py)."""

from __future__ import annotations

import base64

from licheng.graphql.relay import to_global_id
from licheng.tenants.models import Person, School, SchoolTerm
from tests.graphql.isolation import Case, World


async def _school_b(w: World) -> dict:
    return {"id": to_global_id("School", w.school_b.id)}


async def _student_b(w: World) -> dict:
    return {"id": to_global_id("Person", w.student_b.person.id)}


async def _class_b(w: World) -> dict:
    return {"id": to_global_id("SchoolClass", w.class_b.id)}


async def _unchanged_people(w: World) -> None:
    assert await Person.filter(school_id=w.school_b.id).count() == 2


async def _no_term_in_b(w: World) -> None:
    assert not await SchoolTerm.filter(school_id=w.school_b.id).exists()


async def _no_new_school_in_b(w: World) -> None:
    assert not await School.filter(bureau_id=w.bureau_b.id).exclude(id=w.school_b.id).exists()


_CSV = base64.b64encode("code,name,grade\nX1,入侵班,10\n".encode()).decode()

CASES: dict[str, Case] = {
    "Query.viewer": Case("{ viewer { login school { name } schools { name } person { name } } }"),
    "Query.node": Case("query($id: ID!) { node(id: $id) { id ... on Person { name } } }", _student_b),
    "Query.bureaus": Case("{ bureaus { name code } }", secrets=lambda w: [w.bureau_b.code]),
    "Query.schools": Case("{ schools { edges { node { name code } } } }", secrets=lambda w: [w.school_b.name, w.school_b.code]),
    "Query.terms": Case("{ terms { academicYear } }"),
    "Query.classes": Case("{ classes { edges { node { name students { edges { node { name } } } } } } }", secrets=lambda w: [w.class_b.name, w.student_b.person.name]),
    "Query.people": Case(
        "query($c: ID) { people(classId: $c) { edges { node { name } } } }",
        _class_b,
    ),
    "Mutation.signIn": Case(
        'mutation($l: String!, $s: String) { signIn(login: $l, password: "Passw0rdOK", schoolCode: $s) { accessToken } }',
        lambda w: _async({"l": w.intruder.login, "s": w.school_b.code}),
    ),
    "Mutation.refreshTokens": Case('mutation { refreshTokens(refreshToken: "forged") { accessToken } }'),
    "Mutation.signOut": Case('mutation { signOut(refreshToken: "forged") }', check=_unchanged_people),
    "Mutation.changePassword": Case(
        'mutation { changePassword(currentPassword: "wrong", newPassword: "NewPassw0rd") { accessToken } }'
    ),
    "Mutation.switchSchool": Case(
        "mutation($s: String!) { switchSchool(schoolCode: $s) { accessToken } }", lambda w: _async({"s": w.school_b.code})
    ),
    "Mutation.createBureau": Case('mutation { createBureau(code: "intruded", name: "x") { id } }'),
    "Mutation.addBureauAdmin": Case(
        "mutation($b: ID!, $l: String!) { addBureauAdmin(bureauId: $b, login: $l) { id } }",
        lambda w: _async({"b": to_global_id("Bureau", w.bureau_b.id), "l": w.intruder.login}),
    ),
    "Mutation.createSchool": Case(
        'mutation($b: ID!) { createSchool(input: {bureauId: $b, code: "ZZ9999", name: "入侵學校"}) { id } }',
        lambda w: _async({"b": to_global_id("Bureau", w.bureau_b.id)}),
        check=_no_new_school_in_b,
    ),
    "Mutation.inviteStaff": Case(
        'mutation($s: ID!) { inviteStaff(schoolId: $s, login: "intruder-staff", name: "x") { login } }',
        _school_b,
        check=_unchanged_people,
    ),
    "Mutation.setTerm": Case(
        'mutation { setTerm(input: {academicYear: 115, term: 1, startsOn: "2026-08-31", ceremonyOn: "2027-01-20"}) { term } }',
        check=_no_term_in_b,
    ),
    "Mutation.importPeople": Case(
        "mutation($f: String!) { importPeople(kind: CLASSES, fileBase64: $f) { created } }",
        lambda w: _async({"f": _CSV}),
        check=lambda w: _no_class_in_b(w),
    ),
}


async def _async(value: dict) -> dict:
    return value


async def _no_class_in_b(w: World) -> None:
    from licheng.tenants.models import SchoolClass

    assert await SchoolClass.filter(school_id=w.school_b.id).count() == 1
