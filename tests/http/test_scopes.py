"""Third-party tokens reach files only with the scope the route needs (as in GraphQL)."""

from __future__ import annotations

import httpx

from licheng.auth.tokens import issue_access_token
from licheng.tenants.models import Role


async def _client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_profile_only_token_cannot_upload(app, factory, settings):
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    token, _ = issue_access_token(settings, student.account.id, school.id, frozenset({"profile"}))
    async with await _client(app) as http:
        response = await http.post(
            "/uploads?category=document&filename=a.pdf", content=b"%PDF-1.4\n", headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_SCOPE"


async def test_a_profile_only_token_cannot_download(app, factory, settings):
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    token, _ = issue_access_token(settings, student.account.id, school.id, frozenset({"profile"}))
    async with await _client(app) as http:
        response = await http.get("/files/1", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_SCOPE"
