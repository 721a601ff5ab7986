"""Token -> actor: one statement per request, never cached, so every change to who someone is
takes effect on the very next request (roles, homeroom classes, bureaus, deactivation)."""

from __future__ import annotations


from licheng.auth import service, tokens
from licheng.auth.models import Account
from licheng.tenants.models import BureauAdmin, Membership, Person, Role
from tests.statements import counting

MY_PORTFOLIO = "query { myPortfolio(academicYear: 115) { academicYear student { name } } }"


def _token(settings, member) -> str:  # noqa: ANN001
    return tokens.issue_access_token(settings, member.account.id, member.school.id if member.school else None)[0]


async def test_the_actor_of_a_token_is_read_in_one_statement(factory, settings):
    school = await factory.school()
    homeroom_class = await factory.school_class(school)
    teacher = await factory.member(school, Role.TEACHER, Role.HOMEROOM, homeroom_of=homeroom_class)
    await BureauAdmin.create(bureau_id=school.bureau_id, account=teacher.account)
    token = _token(settings, teacher)
    with counting() as seen:
        actor = await service.actor_for_token(settings, token)
    assert len(seen.seen) == 1, seen.seen
    assert actor.school_id == school.id and actor.person_id == teacher.person.id
    assert actor.roles == {Role.TEACHER, Role.HOMEROOM}
    assert actor.homeroom_class_ids == {homeroom_class.id}
    assert actor.bureau_ids == {school.bureau_id}
    assert not actor.is_platform_admin and actor.display_name == teacher.account.display_name


async def test_a_removed_role_stops_working_on_the_next_request(factory, gql):
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    await gql.sign_in_as(student)
    assert (await gql.ok(MY_PORTFOLIO))["myPortfolio"]["academicYear"] == 115
    await Membership.filter(person_id=student.person.id, role=Role.STUDENT).delete()
    assert await gql.error_code(MY_PORTFOLIO) == "FORBIDDEN"


async def test_a_deactivated_account_is_anonymous_on_the_next_request(factory, gql):
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    await gql.sign_in_as(student)
    await gql.ok(MY_PORTFOLIO)
    await Account.filter(id=student.account.id).update(active=False)
    assert await gql.error_code(MY_PORTFOLIO) == "UNAUTHENTICATED"


async def test_a_deactivated_person_no_longer_acts_in_the_school(factory, settings):
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    token = _token(settings, student)
    assert (await service.actor_for_token(settings, token)).school_id == school.id
    await Person.filter(id=student.person.id).update(active=False)
    actor = await service.actor_for_token(settings, token)
    assert actor.is_authenticated and actor.school_id is None and actor.person_id is None and not actor.roles


async def test_a_token_for_another_school_gives_no_roles_there(factory, settings):
    school, other = await factory.school(), await factory.school()
    staff = await factory.member(school, Role.STAFF)
    token = tokens.issue_access_token(settings, staff.account.id, other.id)[0]
    actor = await service.actor_for_token(settings, token)
    assert actor.school_id is None and not actor.roles


async def test_a_bureau_admin_without_a_school_keeps_his_bureaus(factory, settings):
    bureau = await factory.bureau()
    admin = await factory.bureau_admin(bureau)
    actor = await service.actor_for_token(settings, tokens.issue_access_token(settings, admin.account.id, None)[0])
    assert actor.bureau_ids == {bureau.id} and actor.school_id is None and actor.acting_role == "bureau_admin"


async def test_an_unknown_account_or_a_bad_token_is_anonymous(settings):
    assert not (await service.actor_for_token(settings, tokens.issue_access_token(settings, 987654321, None)[0])).is_authenticated
    assert not (await service.actor_for_token(settings, "not-a-token")).is_authenticated


async def test_the_actor_statement_finds_the_person_and_the_bureaus_by_index(factory):
    """Migration 0009: the statement every request runs must not scan a school's people or every
    bureau's admins (the plan names the two indexes; without them it names none or scans)."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    school = await factory.school()
    member = await factory.member(school, Role.STUDENT)
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ("$1", "$2", "$3") if postgres else ("?", "?", "?")
    sql = service._ACTOR_SQL.format(school=marks[0], true=marks[1], account=marks[2], active="")  # noqa: SLF001
    values = [school.id, True, member.account.id] if postgres else [school.id, True, member.account.id, member.account.id]
    async with in_transaction() as tx:
        if postgres:  # a tiny table is cheaper to scan: ask which index the planner would take at scale
            await tx.execute_query("SET LOCAL enable_seqscan = off")
            _, rows = await tx.execute_query(f"EXPLAIN {sql}", values)
        else:
            _, rows = await tx.execute_query(f"EXPLAIN QUERY PLAN {sql}", values)
    plan = "\n".join(str(value) for row in rows for value in dict(row).values())
    assert "idx_person_account_school" in plan, plan
    assert "idx_bureau_admin_account" in plan, plan
