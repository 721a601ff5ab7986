"""Passwords: argon2id hashes and the one rule people are told when they break it."""

from __future__ import annotations

import re
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from licheng.errors import InvalidInput

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

RULE_ZH = "密碼須為 8 到 64 個字元，且至少包含一個數字、一個小寫英文字母和一個大寫英文字母"
RULE_EN = "A password must be 8 to 64 characters with at least one digit, one lower-case and one upper-case letter"


def check_rule(password: str) -> None:
    ok = (
        8 <= len(password) <= 64
        and re.search(r"\d", password)
        and re.search(r"[a-z]", password)
        and re.search(r"[A-Z]", password)
    )
    if not ok:
        raise InvalidInput("password", RULE_ZH, RULE_EN, code_detail="PASSWORD_RULE")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A verification against a throwaway hash keeps the timing of "no such account" like a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-Aa1")


def burn_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def initial_password() -> str:
    """A random password that satisfies the rule, for imported accounts (changed at first sign-in)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(12))
        try:
            check_rule(candidate)
            return candidate
        except InvalidInput:
            continue
