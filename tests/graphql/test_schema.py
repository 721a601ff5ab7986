"""The GraphQL edge: the checked-in SDL, limits, typed and masked errors."""

from __future__ import annotations

from pathlib import Path

from licheng.graphql.schema import MAX_DEPTH, export_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_up_to_date():
    """Regenerate with `licheng schema` when this fails."""
    assert (ROOT / "schema.graphql").read_text(encoding="utf-8") == export_sdl()


async def test_deep_queries_are_refused(gql):
    query = "{ viewer { person { " + "class { students { edges { node { " * MAX_DEPTH + "name" + " } } } }" * MAX_DEPTH + " } } }"
    result = await gql.execute(query)
    assert result["errors"] and "exceeds maximum operation depth" in result["errors"][0]["message"]


async def test_too_many_aliases_are_refused(gql):
    query = "{ " + " ".join(f"a{i}: viewer {{ login }}" for i in range(40)) + " }"
    result = await gql.execute(query)
    assert result["errors"] and "aliases" in result["errors"][0]["message"].lower()


async def test_domain_errors_carry_a_code_and_both_languages(gql):
    result = await gql.execute("{ schools { edges { node { name } } } }")
    ext = result["errors"][0]["extensions"]
    assert ext == {"code": "UNAUTHENTICATED", "message_zh": "請先登入", "message_en": "Sign in first"}


async def test_unexpected_errors_are_masked(gql, factory, monkeypatch):
    from licheng.tenants import service

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals A123456789")

    monkeypatch.setattr(service, "list_bureaus", broken)
    member = await factory.platform_admin()
    await gql.sign_in_as(member)
    result = await gql.execute("{ bureaus { name } }")
    error = result["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL"
    assert "A123456789" not in str(result)


async def test_invalid_global_ids_are_input_errors(gql, factory):
    school = await factory.school()
    await gql.sign_in_as(await factory.member(school, __import__("licheng.tenants.models", fromlist=["Role"]).Role.STAFF))
    assert await gql.error_code('{ node(id: "not-base64!") { id } }') == "INVALID_INPUT"


async def test_operations_are_counted_by_name_and_error_code(gql):
    from prometheus_client import REGISTRY

    def count(status: str) -> float:
        value = REGISTRY.get_sample_value(
            "licheng_graphql_operations_total", {"operation": "CountedOp", "status": status}
        )
        return value or 0.0

    before_ok, before_denied = count("ok"), count("UNAUTHENTICATED")
    await gql.execute("query CountedOp { viewer { login } }")
    await gql.execute("query CountedOp { schools { edges { node { name } } } }")
    assert count("ok") == before_ok + 1
    assert count("UNAUTHENTICATED") == before_denied + 1
