"""Short-lived sealed values: the single sign-on state cookie and the school-choice token.

Why sealed (encrypted and authenticated, AES-GCM) rather than only signed: the
choice token travels through the browser and names the provider's subject and
the person's name; nobody but this app should read them. Each purpose has its
own key, derived with HMAC from the app's secret, so a value made for one
purpose never opens as another. Expiry is inside the sealed payload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from licheng.settings import Settings

_NONCE = 12


def _key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(settings.secret_key.encode(), f"licheng-sealed:{purpose}".encode(), hashlib.sha256).digest()


def seal(settings: Settings, purpose: str, payload: dict[str, Any], seconds: int) -> str:
    """An opaque, tamper-proof value that expires after ``seconds``."""
    nonce = os.urandom(_NONCE)
    plain = json.dumps({**payload, "exp": int(time.time()) + seconds}, separators=(",", ":")).encode()
    box = AESGCM(_key(settings, purpose)).encrypt(nonce, plain, purpose.encode())
    return base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")


def unseal(settings: Settings, purpose: str, value: str | None) -> dict[str, Any] | None:
    """The payload of a value ``seal`` made for this purpose, unexpired; None for anything else."""
    if not value or len(value) > 8192:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = AESGCM(_key(settings, purpose)).decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode())
        payload = json.loads(plain)
    except (ValueError, InvalidTag):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
        return None
    return payload
