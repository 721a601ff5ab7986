"""examples/third_party_client.py end to end: a real server, the real authlib client, a person consenting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from licheng.tenants.models import Role
from tests.conftest import PASSWORD
from tests.oauth.conftest import free_port, register_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_client.py"


def _consent_in_a_browser(authorize_url: str, login: str) -> str:
    """What the person does: open the URL, sign in, allow. Returns where the server redirects."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf_token": csrf.group(1), "decision": "allow", "login": login, "password": PASSWORD}
        answer = browser.post(authorize_url, data=form)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        browser.get(location)  # the redirect lands on the example's loopback listener
        return location


async def test_the_example_client_signs_in_with_pkce_and_reads_the_viewer_and_students(factory, live_server):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    klass = await factory.school_class(school)
    staff = await factory.member(school, Role.STAFF, name="註冊組長林老師")
    await factory.member(school, Role.STUDENT, school_class=klass, name="陳同學")
    port = free_port()
    client = await register_client(factory, bureau, public=True, redirect_uris=(f"http://127.0.0.1:{port}/callback",))
    command = [sys.executable, "-u", str(EXAMPLE), "--server", live_server, "--client-id", client.client_id,
               "--port", str(port), "--no-browser", "--timeout", "60"]  # fmt: skip
    example = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert example.stdout is not None
        first = example.stdout.readline()
        assert first.startswith("AUTHORIZE "), first + (example.stderr.read() if example.stderr else "")
        url = first.removeprefix("AUTHORIZE ").strip()
        assert "code_challenge_method=S256" in url
        location = _consent_in_a_browser(url, staff.login)
        assert location.startswith(f"http://127.0.0.1:{port}/callback?code=")
        output, errors = example.communicate(timeout=60)
    finally:
        if example.poll() is None:
            example.kill()
            example.wait()
    assert example.returncode == 0, output + errors
    assert "註冊組長林老師" in output and school.code in output
    assert "陳同學" in output
    assert "REFRESHED rotated=True" in output
