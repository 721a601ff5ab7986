"""Shared fixtures: one database per test session, on SQLite or PostgreSQL.

The backend comes from ``LICHENG_TEST_DATABASE_URL``: empty runs on a fresh
SQLite file; a postgres:// URL names a server on which a fresh database is
created for the session and dropped at the end. Tortoise keeps per-process
state, so each backend runs in its own pytest process (see ``scripts/test``).

Tests stay independent by creating their own school through ``factory``
rather than by truncating tables between tests.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio

from licheng import db
from licheng.auth import passwords
from licheng.auth.models import Account
from licheng.auth.service import build_actor, sign_in
from licheng.settings import Settings
from licheng.tenants.actor import Actor
from licheng.tenants.models import Bureau, BureauAdmin, Membership, Person, Role, School, SchoolClass

PASSWORD = "Passw0rdOK"
# One hash for every test account: argon2 is slow on purpose.
_PASSWORD_HASH = passwords.hash_password(PASSWORD)


def _pg_admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.replace("postgres", "postgresql", 1) if parts.scheme == "postgres" else parts.scheme, parts.netloc, "/postgres", "", ""))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("LICHENG_TEST_DATABASE_URL", "")
    if not base:
        yield f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    import asyncio

    import asyncpg

    name = f"licheng_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_url(base)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(base)
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        storage_url=f"file://{data_dir / 'blobs'}",
        secret_key="test-secret-key-0123456789abcdef",
        debug=False,
        rate_limit_per_minute=0,  # the session shares one app; tests/http/test_ratelimit.py covers limits
        jobs_in_process=False,  # tests run jobs when they choose (licheng.jobs.run_pending)
    )


@pytest_asyncio.fixture(scope="session", autouse=True)
async def database(settings: Settings) -> AsyncIterator[None]:
    await db.migrate(settings)
    await db.init_db(settings)
    yield
    await db.close_db()


_counter = itertools.count(1)


@dataclass
class Member:
    """A test person with an account, ready to act or to sign in."""

    account: Account
    person: Person | None
    school: School | None
    login: str

    async def actor(self) -> Actor:
        return await build_actor(self.account, self.school.id if self.school else None)


class Factory:
    """Builds tenants and people for one test; every name is unique across the session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(_counter)}"

    async def bureau(self) -> Bureau:
        return await Bureau.create(code=self.unique("b"), name="臺北市政府教育局")

    async def school(self, bureau: Bureau | None = None) -> School:
        bureau = bureau or await self.bureau()
        code = f"{next(_counter) % 1_000_000:06d}"
        while await School.exists(code=code):
            code = f"{next(_counter) % 1_000_000:06d}"
        return await School.create(bureau=bureau, code=code, name=f"測試高中{code}")

    async def school_class(self, school: School, code: str | None = None, grade: int = 10) -> SchoolClass:
        code = code or self.unique("c")[-6:]
        return await SchoolClass.create(school=school, code=code, name=f"{code}班", grade=grade)

    async def account(self, login: str | None = None, **extra: Any) -> Account:
        return await Account.create(
            login=login or self.unique("user"), display_name="測試", password_hash=_PASSWORD_HASH, **extra
        )

    async def member(
        self,
        school: School,
        *roles: Role,
        school_class: SchoolClass | None = None,
        homeroom_of: SchoolClass | None = None,
        **person_fields: Any,
    ) -> Member:
        account = await self.account()
        if Role.STUDENT in roles:
            person_fields.setdefault("student_number", self.unique("s")[-12:])
        person = await Person.create(
            school=school, account=account, name=person_fields.pop("name", "測試人員"),
            school_class=school_class, **person_fields,
        )  # fmt: skip
        for role in roles:
            await Membership.create(
                school=school, person=person, role=role, school_class=homeroom_of if role == Role.HOMEROOM else None
            )
        return Member(account=account, person=person, school=school, login=account.login)

    async def platform_admin(self) -> Member:
        return Member(account=await self.account(is_platform_admin=True), person=None, school=None, login="")

    async def bureau_admin(self, bureau: Bureau) -> Member:
        account = await self.account()
        await BureauAdmin.create(bureau=bureau, account=account)
        return Member(account=account, person=None, school=None, login=account.login)


@pytest.fixture
def factory(settings: Settings) -> Factory:
    return Factory(settings)


class GraphQLClient:
    """Speaks to the real app over in-process HTTP, as a third-party client would."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.token: str | None = None

    async def sign_in_as(self, member: Member, school_code: str | None = None) -> GraphQLClient:
        self.token = (await sign_in(self.settings, member.account.login, PASSWORD, school_code)).access_token
        return self

    def anonymous(self) -> GraphQLClient:
        return GraphQLClient(self.http, self.settings)

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must succeed."""
        result = await self.execute(query, variables)
        assert not result.get("errors"), result["errors"]
        return result["data"]

    async def error_code(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """The code of the first error of a query that must fail."""
        result = await self.execute(query, variables)
        assert result.get("errors"), f"expected an error, got {result}"
        return result["errors"][0]["extensions"]["code"]


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    from licheng.app import create_app

    return create_app(settings, manage_db=False)


@pytest_asyncio.fixture
async def gql(app: Any, settings: Settings) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http, settings)


# Tests that never touch the session's database (they start their own processes on
# their own SQLite file, or test pure code): the PostgreSQL pass of scripts/test
# deselects them, since running them twice proves nothing new.
BACKEND_INDEPENDENT = (
    "tests/deploy/",
    "tests/observability/",
    "tests/console/test_browser.py",
    "tests/test_cli.py",
    "tests/test_layout.py",
    "tests/storage/test_blobstore.py",
    "tests/storage/test_checks.py",
    "tests/storage/test_filenames.py",
    "tests/storage/test_streams_and_keys.py",
    "tests/tenants/test_nationalid.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent.parent
    for item in items:
        relative = Path(str(item.fspath)).resolve().relative_to(root).as_posix()
        if relative.startswith(BACKEND_INDEPENDENT):
            item.add_marker(pytest.mark.backend_independent)
