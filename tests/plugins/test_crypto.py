"""Secrets at rest: AES-GCM bound to plugin, scope and field; only a hint is ever shown."""

from __future__ import annotations

from licheng.plugins import crypto

KEY = bytes(range(32))


def test_a_sealed_secret_opens_with_the_same_key_plugin_scope_and_field() -> None:
    token = crypto.seal("s3cret-value", KEY, plugin_id="p", scope="bureau:1", field="api_key")
    assert "s3cret" not in token and token.startswith("v1:")
    assert crypto.open_sealed(token, KEY, plugin_id="p", scope="bureau:1", field="api_key") == "s3cret-value"


def test_a_sealed_secret_moved_to_another_scope_or_field_does_not_open() -> None:
    token = crypto.seal("s3cret-value", KEY, plugin_id="p", scope="bureau:1", field="api_key")
    assert crypto.open_sealed(token, KEY, plugin_id="p", scope="bureau:2", field="api_key") is None
    assert crypto.open_sealed(token, KEY, plugin_id="p", scope="bureau:1", field="other") is None
    assert crypto.open_sealed(token, bytes(32), plugin_id="p", scope="bureau:1", field="api_key") is None
    assert crypto.open_sealed("garbage", KEY, plugin_id="p", scope="bureau:1", field="api_key") is None


def test_the_hint_shows_the_last_four_characters_of_long_secrets_only() -> None:
    assert crypto.hint("abcdefghijkl1234") == "••••1234"
    assert crypto.hint("short") == "set"
    assert crypto.hint(None) == ""
