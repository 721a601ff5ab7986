"""Scopes in GraphQL: every root field is in FIELD_SCOPES, and tokens are held to them."""

from __future__ import annotations

from licheng.auth.oauth.scopes import FIRST_PARTY, SCOPES
from licheng.graphql.relay import to_global_id
from licheng.graphql.schema import build_schema
from licheng.graphql.scopes import FIELD_SCOPES
from licheng.tenants.models import Role
from tests.oauth.conftest import register_client

SET_TERM = 'mutation { setTerm(input: {academicYear: 115, term: 1, startsOn: "2026-08-31", ceremonyOn: "2027-01-20"}) { term } }'


def _root_fields() -> list[str]:
    schema = build_schema()._schema
    return sorted([f"Query.{n}" for n in schema.query_type.fields] + [f"Mutation.{n}" for n in schema.mutation_type.fields])


def test_every_root_field_has_a_scope_entry():
    """A new field fails here until it is classified; until then third-party tokens are refused on it."""
    missing = [field for field in _root_fields() if field not in FIELD_SCOPES]
    hint = "\n".join(f'    "{field}": "<scope>" | None | FIRST_PARTY,' for field in missing)
    assert not missing, f"add to FIELD_SCOPES in platform/graphql/scopes.py:\n{hint}\nscopes: {sorted(SCOPES)}"


def test_scope_entries_name_real_fields_and_real_scopes():
    stale = sorted(set(FIELD_SCOPES) - set(_root_fields()))
    assert not stale, f"FIELD_SCOPES entries for fields that no longer exist: {stale}"
    unknown = {field: scope for field, scope in FIELD_SCOPES.items() if scope not in (None, FIRST_PARTY, *SCOPES)}
    assert not unknown, f"unknown scopes: {unknown}"


async def _token(factory, browser, member, bureau, scopes: tuple[str, ...]) -> str:
    client = await register_client(factory, bureau, scopes=scopes)
    return (await browser.tokens_for(client, member, scope=" ".join(scopes)))["access_token"]


async def test_a_portfolio_read_token_cannot_call_a_mutation(factory, browser, gql):
    bureau = await factory.bureau()
    staff = await factory.member(await factory.school(bureau), Role.STAFF)
    gql.token = await _token(factory, browser, staff, bureau, ("portfolio:read",))
    result = await gql.execute(SET_TERM)
    assert result["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert result["errors"][0]["extensions"]["details"] == {"field": "Mutation.setTerm", "scope": "school:admin"}
    assert await gql.error_code("{ people { edges { node { name } } } }") == "INSUFFICIENT_SCOPE"


async def test_the_whole_operation_is_refused_even_through_fragments(factory, browser, gql):
    bureau = await factory.bureau()
    staff = await factory.member(await factory.school(bureau), Role.STAFF)
    gql.token = await _token(factory, browser, staff, bureau, ("profile",))
    query = "query { viewer { login } ...F } fragment F on Query { ... on Query { people { edges { node { name } } } } }"
    result = await gql.execute(query)
    assert result["data"] is None and result["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert (await gql.ok("{ __typename viewer { login } }"))["viewer"]["login"] == staff.login


async def test_first_party_fields_are_refused_to_any_token(factory, browser, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    staff = await factory.member(school, Role.STAFF)
    gql.token = await _token(factory, browser, staff, bureau, tuple(SCOPES))
    code = await gql.error_code("mutation($s: String!) { switchSchool(schoolCode: $s) { accessToken } }", {"s": school.code})
    assert code == "INSUFFICIENT_SCOPE"
    assert await gql.error_code("{ oauthClients { edges { node { name } } } }") == "INSUFFICIENT_SCOPE"


async def test_a_scope_never_adds_to_the_persons_roles(factory, browser, gql):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    gql.token = await _token(factory, browser, student, bureau, ("school:admin",))
    assert await gql.error_code(SET_TERM) == "FORBIDDEN"


async def test_a_token_for_school_a_cannot_read_school_b(factory, browser, gql):
    bureau = await factory.bureau()
    school_a, school_b = await factory.school(bureau), await factory.school(bureau)
    staff_a = await factory.member(school_a, Role.STAFF)
    student_b = await factory.member(school_b, Role.STUDENT, name=f"乙校學生{school_b.code}")
    gql.token = await _token(factory, browser, staff_a, bureau, ("profile", "school:read"))
    result = await gql.execute("query($id: ID!) { node(id: $id) { ... on Person { name } } }", {"id": to_global_id("Person", student_b.person.id)})
    assert student_b.person.name not in str(result)
    people = await gql.ok("{ people { edges { node { name } } } schools { edges { node { code } } } }")
    assert student_b.person.name not in str(people) and school_b.code not in str(people)


async def test_first_party_sessions_keep_every_scope(factory, gql):
    school = await factory.school()
    staff = await factory.member(school, Role.STAFF)
    await gql.sign_in_as(staff)
    assert (await gql.ok(SET_TERM))["setTerm"]["term"] == 1


async def test_http_routes_can_hold_tokens_to_a_scope_with_the_same_rule(factory, browser, settings):
    """For routes outside GraphQL (uploads, downloads): ``licheng.auth.oauth.guard.require_scopes``."""
    import pytest

    from licheng.auth.oauth.guard import require_scopes
    from licheng.auth.service import actor_for_token
    from licheng.errors import LichengError

    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    token = await _token(factory, browser, student, bureau, ("portfolio:read",))
    actor = await actor_for_token(settings, token)
    await require_scopes(actor, token, {"GET /files/{id}": "portfolio:read"})
    with pytest.raises(LichengError) as refused:
        await require_scopes(actor, token, {"POST /uploads": "portfolio:write"})
    assert refused.value.code == "INSUFFICIENT_SCOPE"
    await require_scopes(await student.actor(), None, {"POST /uploads": "portfolio:write"})  # first-party: all scopes
