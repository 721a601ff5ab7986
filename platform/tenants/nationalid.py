"""National ID numbers (身分證字號 / 居留證號): validate, encrypt, hash, mask.

Stored only encrypted (AES-256-GCM) with a keyed hash (HMAC-SHA256) for
lookups, and a masked copy (A123456****) for display. The clear value is
never logged and never put into an error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from licheng.errors import InvalidInput

# Letter values of the first character (the issuing place), shared by national
# IDs and the new-style resident certificates (居留證, second char 8 or 9).
_LETTER_VALUES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
    "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
    "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip
_NEW_FORMAT = re.compile(r"^[A-Z][1289]\d{8}$")
_OLD_RESIDENT = re.compile(r"^[A-Z][A-D]\d{8}$")  # 舊式居留證: second char a letter
_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


def _checksum_ok(value: str) -> bool:
    first = _LETTER_VALUES[value[0]]
    second = value[1]
    digits = [first // 10, first % 10]
    digits.append(int(second) if second.isdigit() else _LETTER_VALUES[second] % 10)
    digits.extend(int(ch) for ch in value[2:])
    return sum(d * w for d, w in zip(digits, _WEIGHTS)) % 10 == 0


def normalise(value: str) -> str:
    """Upper-case and validate; raises ``InvalidInput`` without echoing the value."""
    cleaned = value.strip().upper()
    if not (_NEW_FORMAT.match(cleaned) or _OLD_RESIDENT.match(cleaned)) or not _checksum_ok(cleaned):
        raise InvalidInput(
            "national_id",
            "身分證字號或居留證號格式或檢查碼錯誤",
            "The national ID or resident certificate number is malformed or fails its check digit",
        )
    return cleaned


def mask(value: str) -> str:
    """Hide the last four characters, as MOE guidance asks: A123456****."""
    return value[:-4] + "****"


def lookup_hash(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def encrypt(value: str, key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, value.encode(), b"national-id")


def decrypt(blob: bytes, key: bytes) -> str:
    return AESGCM(key).decrypt(blob[:12], blob[12:], b"national-id").decode()


def protect(value: str, *, data_key: bytes, lookup_key: bytes) -> dict[str, object]:
    """Fields to store on a ``Person`` for a raw national ID."""
    clean = normalise(value)
    return {
        "national_id_encrypted": encrypt(clean, data_key),
        "national_id_hash": lookup_hash(clean, lookup_key),
        "national_id_masked": mask(clean),
    }
