"""The floor: a member signs in over GraphQL and reads the viewer."""

from __future__ import annotations

from licheng.tenants.models import Role


async def test_student_signs_in_and_sees_own_viewer(factory, gql):
    school = await factory.school()
    member = await factory.member(school, Role.STUDENT, name="王小明")
    data = await gql.ok(
        'mutation($l: String!) { signIn(login: $l, password: "Passw0rdOK") { accessToken } }', {"l": member.login}
    )
    gql.token = data["signIn"]["accessToken"]
    viewer = (await gql.ok("{ viewer { login roles school { code } person { name } } }"))["viewer"]
    assert viewer == {"login": member.login, "roles": ["STUDENT"], "school": {"code": school.code}, "person": {"name": "王小明"}}
