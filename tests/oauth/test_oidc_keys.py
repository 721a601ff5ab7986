"""The id_token keys: RS256 by default, one generated key shared through data_dir, rotation, no key in errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet

from licheng.auth.oauth import keys, oidc
from licheng.settings import Settings
from licheng.tenants.models import Role
from tests.oauth.conftest import register_client

OIDC_SCOPES = ("openid", "profile")


def _pem_file(path: Path, bits: int = 2048) -> Path:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def _settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def test_an_id_token_verifies_against_the_jwks_with_rs256(factory, browser, settings):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, scopes=OIDC_SCOPES)
    id_token = (await browser.tokens_for(client, student, scope="openid profile"))["id_token"]
    jwks = (await browser.http.get("/oauth/jwks")).json()
    assert {key["kty"] for key in jwks["keys"]} == {"RSA", "EC"} and all(key["kid"] for key in jwks["keys"])
    assert not any("d" in key or "p" in key for key in jwks["keys"]), "a private part is published"
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.header["kid"] == keys.key_ring(settings).rsa.kid
    assert token.claims["sub"] == str(student.account.id)


def test_the_generated_key_is_private_to_its_owner_and_reused(tmp_path, settings):
    first = keys.key_ring(_settings(settings, data_dir=tmp_path))
    path = tmp_path / keys.GENERATED_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys._load.cache_clear()  # as after a restart, or in another process on the machine
    again = keys.key_ring(_settings(settings, data_dir=tmp_path))
    assert again.rsa.kid == first.rsa.kid and again.rsa.is_private
    assert list(tmp_path.iterdir()) == [path], "a temporary file was left behind"


def test_a_configured_file_signs_and_the_rotated_out_key_is_still_published(tmp_path, settings):
    current, previous = _pem_file(tmp_path / "current.pem"), _pem_file(tmp_path / "previous.pem")
    ring = keys.key_ring(_settings(settings, oidc_private_key_file=current, oidc_previous_key_file=previous))
    published = {key["kid"]: key for key in ring.public_jwks()["keys"]}
    assert ring.previous is not None and ring.previous.kid in published and ring.rsa.kid in published
    assert ring.rsa.kid != ring.previous.kid and ring.signing_key("RS256") is ring.rsa
    assert not (tmp_path / keys.GENERATED_NAME).exists()
    # A token the old key signed before the rotation still verifies against the new JWKS.
    old = keys.key_ring(_settings(settings, oidc_private_key_file=previous))
    signed = jwt.encode({"alg": "RS256", "kid": old.rsa.kid}, {"sub": "1"}, old.rsa, algorithms=["RS256"])
    assert jwt.decode(signed, KeySet.import_key_set(ring.public_jwks()), algorithms=["RS256"]).claims["sub"] == "1"


def test_es256_can_still_be_chosen(tmp_path, settings):
    chosen = _settings(settings, data_dir=tmp_path, oidc_id_token_alg="ES256")
    code = oidc.LichengOpenIDCode(chosen)
    assert code.get_client_algorithm(None) == "ES256"  # type: ignore[arg-type]
    assert code.get_encode_header(None)["kid"] == keys.key_ring(chosen).ec.kid  # type: ignore[arg-type]


@pytest.mark.parametrize("content", [b"not a key", None, "small"])
def test_a_bad_key_file_fails_without_showing_the_key(tmp_path, settings, content):
    path = tmp_path / "key.pem"
    if content == "small":
        _pem_file(path, bits=1024)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(keys.KeyFileError) as refused:
        keys.key_ring(_settings(settings, oidc_private_key_file=path))
    message = str(refused.value)
    assert str(path) in message and "PRIVATE KEY" not in message and "not a key" not in message
    assert refused.value.__cause__ is None and (refused.value.__context__ is None or refused.value.__suppress_context__)


def test_the_settings_read_the_key_files_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LICHENG_OIDC_PRIVATE_KEY_FILE", str(tmp_path / "k.pem"))
    monkeypatch.setenv("LICHENG_OIDC_PREVIOUS_KEY_FILE", "")
    loaded = Settings()
    assert loaded.oidc_private_key_file == tmp_path / "k.pem" and loaded.oidc_previous_key_file is None
    assert loaded.oidc_id_token_alg == "RS256"
