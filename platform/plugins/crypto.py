"""Secrets of plugin settings at rest: AES-256-GCM with ``Settings.data_key_bytes``.

Each ciphertext is bound (as associated data) to the plugin, the scope and the
field it belongs to, so a value copied into another row or field fails to
decrypt instead of leaking there. Stored as ``v1:`` + base64(nonce + ciphertext),
which leaves room for key rotation (``v2`` with another key id).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"


def _aad(plugin_id: str, scope: str, field: str) -> bytes:
    return f"licheng-plugin-secret|{plugin_id}|{scope}|{field}".encode()


def seal(value: str, key: bytes, *, plugin_id: str, scope: str, field: str) -> str:
    """Encrypt ``value``; ``scope`` is e.g. ``bureau:3`` or ``school:12``."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(plugin_id, scope, field))
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def open_sealed(token: str, key: bytes, *, plugin_id: str, scope: str, field: str) -> str | None:
    """The clear value, or ``None`` when it cannot be decrypted (wrong key, moved, tampered)."""
    if not token.startswith(PREFIX):
        return None
    try:
        blob = base64.b64decode(token[len(PREFIX) :], validate=True)
        return AESGCM(key).decrypt(blob[:12], blob[12:], _aad(plugin_id, scope, field)).decode()
    except (InvalidTag, ValueError):
        return None


def hint(value: str | None) -> str:
    """What the admin may see of a secret: its last four characters when long enough, else only 'set'."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) >= 12 else "set"
