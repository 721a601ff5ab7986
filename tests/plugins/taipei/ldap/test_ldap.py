"""Sign-in against a real slapd laid out like Taipei's directory (issue 7, item 2)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from licheng.errors import LichengError
from licheng.plugins import DirectoryProvider
from taipei_coolcloud import ldap
from taipei_coolcloud.plugin import plugin
from tests.plugins.taipei.ldap import slapd
from tests.plugins.taipei.ldap.conftest import Directory


def provider(config: object) -> DirectoryProvider:
    providers = [p for p in plugin.licheng_identity_providers(config) if isinstance(p, DirectoryProvider)]
    assert [p.id for p in providers] == ["taipei_ldap"]
    return providers[0]


async def test_student_signs_in_and_the_directory_says_who_they_are(directory: Directory) -> None:
    who = directory.people["student"]
    identity = await provider(directory.config()).authenticate(who.login, who.password)
    assert identity is not None
    # Roles in our words and Taipei's "tpsh" as our Ministry code, the way the single sign-on maps them.
    assert (identity.login, identity.name, identity.roles, identity.school_codes) == ("stu1001", "王小明", ("student",), ("313302",))
    assert (identity.student_number, identity.class_code, identity.seat, identity.email) == ("112001", "101", 7, "ming@example.tw")
    assert len(identity.subject) == 36  # slapd's entryUUID: the same uuid the single sign-on's API gives
    assert identity.national_id == who.national_id
    assert who.national_id not in repr(identity)


async def test_teacher_signs_in_with_the_tutor_class(directory: Directory) -> None:
    who = directory.people["teacher"]
    identity = await provider(directory.config()).authenticate(who.login, who.password)
    assert identity is not None and identity.roles == ("teacher",) and identity.tutor_class == "101"
    assert identity.student_number is None and identity.seat is None


async def test_login_names_are_case_insensitive_like_the_directory(directory: Directory) -> None:
    who = directory.people["student"]
    identity = await provider(directory.config()).authenticate(who.login.upper(), who.password)
    assert identity is not None and identity.name == "王小明"


async def test_wrong_password_is_none(directory: Directory) -> None:
    who = directory.people["student"]
    assert await provider(directory.config()).authenticate(who.login, who.password + "x") is None


async def test_empty_password_is_never_an_anonymous_sign_in(directory: Directory) -> None:
    assert await provider(directory.config()).authenticate(directory.people["student"].login, "") is None


async def test_unknown_login_is_none(directory: Directory) -> None:
    assert await provider(directory.config()).authenticate("nobody99", "whatever-password") is None


@pytest.mark.parametrize("kind", ["inactive", "deleted", "no_school"])
async def test_inactive_deleted_or_schoolless_people_are_refused(directory: Directory, kind: str) -> None:
    who = directory.people[kind]
    with pytest.raises(LichengError) as refused:
        await provider(directory.config()).authenticate(who.login, who.password)
    assert refused.value.code == "DIRECTORY_ACCOUNT_REFUSED"
    assert "請洽學校" in refused.value.message_zh and "ask your school" in refused.value.message_en
    assert who.national_id not in str(refused.value)


@pytest.mark.parametrize(
    "login", ["*", "stu*", "*)(uid=*", "stu1001)(uid=*", "stu1001\x00", "stu1001)(|(uid=*", "(uid=stu1001)", "stu1001,ou=account"],
)
async def test_injection_attempts_find_nobody(directory: Directory, login: str) -> None:
    # The student's real password: a filter that matched their entry would sign them in.
    assert await provider(directory.config()).authenticate(login, directory.people["student"].password) is None


def test_the_account_filter_escapes_every_special_character() -> None:
    assert ldap.account_filter("a*)(uid=*\\\x00") == r"(&(objectClass=*)(uid=a\2a\29\28uid=\2a\5c\00))"


async def test_wrong_service_password_is_the_directory_failing_and_health_says_so(directory: Directory) -> None:
    config = directory.config(ldap_bind_password="not-the-reader-password")
    who = directory.people["student"]
    with pytest.raises(LichengError) as failed:
        await provider(config).authenticate(who.login, who.password)
    assert failed.value.code == "DIRECTORY_UNAVAILABLE"
    report = await plugin.licheng_health_check(config)
    assert not report.ok and "service account" in report.detail_en


async def test_health_is_ok_when_the_directory_answers(directory: Directory) -> None:
    report = await ldap.ldap_health(directory.config())
    assert report is not None and report.ok
    assert (await plugin.licheng_health_check(directory.config())).ok


async def test_no_directory_configured_offers_no_provider_and_no_health_check() -> None:
    config = plugin.settings_model()
    assert ldap.directory_providers(config) == []
    assert await ldap.ldap_health(config) is None


async def test_closed_port_is_unavailable_quickly_and_health_fails(directory: Directory) -> None:
    config = directory.config(ldap_servers=f"ldap://127.0.0.1:{slapd.free_port()}")
    started = time.monotonic()
    with pytest.raises(LichengError) as failed:
        await provider(config).authenticate("stu1001", "password")
    assert failed.value.code == "DIRECTORY_UNAVAILABLE" and time.monotonic() - started < 2
    assert "請稍後再試" in failed.value.message_zh
    report = await plugin.licheng_health_check(config)
    assert not report.ok and "cannot be reached" in report.detail_en


async def test_a_stopped_slapd_is_unavailable(tmp_path: Path, directory: Directory) -> None:
    who = directory.people["student"]
    entries = [slapd.person(who.national_id, name="王小明", role="學生", school="tpsh"), slapd.account(who.login, who.national_id, who.password)]
    server = slapd.Slapd(tmp_path, slapd.free_port(), directory.reader_password).start(entries)
    try:
        config = directory.config(ldap_servers=server.uri)
        assert await provider(config).authenticate(who.login, who.password) is not None
    finally:
        server.stop()
    with pytest.raises(LichengError) as failed:
        await provider(config).authenticate(who.login, who.password)
    assert failed.value.code == "DIRECTORY_UNAVAILABLE"
    assert not (await ldap.ldap_health(config)).ok  # type: ignore[union-attr]


async def test_the_next_server_is_tried_when_the_first_is_down(directory: Directory) -> None:
    config = directory.config(ldap_servers=f"ldap://127.0.0.1:{slapd.free_port()} {directory.server.uri}")
    who = directory.people["teacher"]
    assert await provider(config).authenticate(who.login, who.password) is not None


async def test_a_hung_server_times_out_within_the_configured_bound(directory: Directory, hung_server: str) -> None:
    config = directory.config(ldap_servers=hung_server, ldap_receive_timeout=1, ldap_connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(LichengError) as failed:
        await provider(config).authenticate("stu1001", "password")
    elapsed = time.monotonic() - started
    assert failed.value.code == "DIRECTORY_UNAVAILABLE"
    assert elapsed < ldap.Directory.of(config).bound  # type: ignore[union-attr]
    started = time.monotonic()
    report = await ldap.ldap_health(config)
    assert report is not None and not report.ok and time.monotonic() - started < 3


async def test_neither_passwords_nor_national_ids_reach_the_logs(directory: Directory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    who = directory.people["student"]
    await provider(directory.config()).authenticate(who.login, who.password)
    with pytest.raises(LichengError):
        await provider(directory.config(ldap_bind_password="wrong-reader")).authenticate(who.login, who.password)
    for secret in (who.password, who.national_id, directory.reader_password):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("key", "value"),
    [("ldap_servers", "http://example.tw"), ("ldap_servers", "ldap://a b;c"), ("ldap_base_dn", "not a dn"),
     ("ldap_bind_dn", "cn=x,dc=tp)(x=y"), ("ldap_connect_timeout", 0), ("ldap_receive_timeout", 600), ("ldap_receive_timeout", 0), ("ldap_ca_file", "relative.pem")],
)  # fmt: skip
def test_bad_settings_are_refused(key: str, value: object) -> None:
    with pytest.raises(ValueError):
        plugin.settings_model(**{key: value})


async def test_a_missing_ca_file_is_a_clear_failure(directory: Directory, tmp_path: Path) -> None:
    config = directory.config(ldap_starttls=True, ldap_ca_file=str(tmp_path / "missing.pem"))
    report = await ldap.ldap_health(config)
    assert report is not None and not report.ok and "CA file" in report.detail_en


@pytest.mark.parametrize("login", ["*", "stu*", "*)(uid=*", "stu1001)(|(uid=*"])
def test_escaping_alone_stops_injection_even_past_the_login_alphabet(directory: Directory, login: str) -> None:
    # The alphabet check in front refuses these already; the query must be safe without it.
    config = ldap.Directory.of(directory.config())
    assert config is not None
    assert ldap.authenticate_sync(config, login, directory.people["student"].password) is None


async def test_ldaps_with_the_schools_ca_file_signs_in(directory: Directory) -> None:
    config = directory.config(ldap_servers=directory.server.tls_uri, ldap_ca_file=str(directory.server.ca_file))
    who = directory.people["teacher"]
    assert await provider(config).authenticate(who.login, who.password) is not None


async def test_starttls_with_the_schools_ca_file_signs_in(directory: Directory) -> None:
    config = directory.config(ldap_starttls=True, ldap_ca_file=str(directory.server.ca_file))
    who = directory.people["student"]
    assert await provider(config).authenticate(who.login, who.password) is not None
    assert (await ldap.ldap_health(config)).ok  # type: ignore[union-attr]


@pytest.mark.parametrize("starttls", [False, True])
async def test_a_certificate_the_ca_file_does_not_vouch_for_is_refused(directory: Directory, tmp_path: Path, starttls: bool) -> None:
    other_ca, _, _ = slapd.make_tls(tmp_path)
    uri = directory.server.uri if starttls else directory.server.tls_uri
    config = directory.config(ldap_servers=uri, ldap_starttls=starttls, ldap_ca_file=str(other_ca))
    with pytest.raises(LichengError) as failed:
        await provider(config).authenticate("stu1001", "password")
    assert failed.value.code == "DIRECTORY_UNAVAILABLE"
