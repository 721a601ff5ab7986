"""The plugin's side: settings, the provider it describes, and tpeduSSO JSON mapped to an identity."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from taipei_coolcloud import sso
from taipei_coolcloud.plugin import TaipeiSettings

SECRET = "s" * 40


def _config(**values: object) -> TaipeiSettings:
    return TaipeiSettings(**{"sso_client_id": "12", "sso_client_secret": SECRET, "sso_school_codes": "tpsh=313302, TPMSH=313301", **values})


def test_no_provider_until_a_client_id_and_secret_are_set() -> None:
    assert sso.oauth_providers(TaipeiSettings()) == []
    assert sso.oauth_providers(TaipeiSettings(sso_client_id="12")) == []


def test_the_provider_uses_the_reference_paths_under_the_base_url_and_keeps_the_secret_out_of_its_repr() -> None:
    (provider,) = sso.oauth_providers(_config(sso_base_url="https://sso.example.tw/"))
    assert provider.authorize_url == "https://sso.example.tw/oauth/authorize"
    assert provider.token_url == "https://sso.example.tw/oauth/token"
    assert provider.userinfo_url == "https://sso.example.tw/api/v2/user"
    assert provider.profile_urls == ("https://sso.example.tw/api/v2/profile", "https://sso.example.tw/api/v2/idno")
    assert provider.logout_url == "https://sso.example.tw/api/v2/logout"
    assert provider.scopes == ("user", "profile", "idno") and provider.client_secret == SECRET
    assert SECRET not in repr(provider)


def test_without_the_idno_scope_the_national_id_is_not_asked_for() -> None:
    (provider,) = sso.oauth_providers(_config(sso_scopes="user profile"))
    assert provider.profile_urls == ("https://ldap.tp.edu.tw/api/v2/profile",)


@pytest.mark.parametrize("field, value", [
    ("sso_client_id", "abc"),  # the bureau registers integer ids
    ("sso_school_codes", "tpsh=31330"),  # our codes have 6 digits
    ("sso_school_codes", "tpsh"),
    ("sso_base_url", "ftp://x"),
    ("sso_scopes", "user;drop"),
])  # fmt: skip
def test_malformed_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        _config(**{field: value})


def _identity(data: dict) -> object:
    (provider,) = sso.oauth_providers(_config())
    assert provider.identity_of is not None
    return provider.identity_of(data)


def test_a_student_profile_is_mapped_with_the_school_code_translated() -> None:
    identity = _identity({"role": "學生", "uuid": "u-1", "name": "王小明", "o": "tpsh", "organization": {"tpsh": "某高中"},
                          "studentId": "112001", "class": "101", "seat": "7", "idno": "A123456789"})  # fmt: skip
    assert identity.subject == "u-1" and identity.roles == ("student",)
    assert identity.school_codes == ("313302",) and identity.student_number == "112001"
    assert (identity.class_code, identity.seat, identity.national_id) == ("101", 7, "A123456789")
    assert "A123456789" not in repr(identity)


def test_o_may_be_a_list_and_unknown_codes_are_dropped() -> None:
    identity = _identity({"role": "教師", "uuid": "u-2", "name": "李", "o": ["TPSH", "elsewhere", "tpmsh", "654321"],
                          "tutorClass": "101", "teacherId": "187"})  # fmt: skip
    assert identity.school_codes == ("313302", "313301")  # a six-digit code the bureau did not map names no school
    assert identity.roles == ("teacher",) and identity.tutor_class == "101" and identity.staff_number == "187"


def test_keys_appear_only_when_set_and_a_parent_lists_children() -> None:
    identity = _identity({"role": "家長", "uuid": "u-3", "name": "王大明", "child": ["c-1", "c-2"]})
    assert identity.roles == ("parent",) and identity.children == ("c-1", "c-2")
    assert identity.school_codes == () and identity.student_number is None and identity.seat is None
    bare = _identity({"uuid": "u-4"})
    assert bare.roles == () and bare.name == "" and bare.national_id is None


@pytest.mark.parametrize("role, ours", [("校長", "staff"), ("職工", "staff"), ("主官管", "staff"), ("學生", "student")])
def test_every_directory_role_is_mapped(role: str, ours: str) -> None:
    assert _identity({"role": role, "uuid": "u"}).roles == (ours,)
