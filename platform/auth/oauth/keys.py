"""The keys that sign id_tokens: an RSA key (RS256, the default), the derived EC key (ES256), a rotated-out key.

The RSA key comes from ``LICHENG_OIDC_PRIVATE_KEY_FILE`` (a PEM, in production
mounted from a Kubernetes secret). Unset, one 2048-bit key is generated once
into ``data_dir/oidc-rsa.pem`` (mode 0600) and shared by restarts and by every
process on the machine: the first writer wins, the others read its file.
``LICHENG_OIDC_PREVIOUS_KEY_FILE`` (a private or public PEM) is published in
the JWKS but never signs, so id_tokens issued before a rotation still verify.
No message here ever carries key material, only paths.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, KeySetSerialization, RSAKey

from licheng.settings import Settings

log = logging.getLogger(__name__)

GENERATED_NAME = "oidc-rsa.pem"
RSA_BITS = 2048
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not a usable PEM (the message names the path only)."""


@dataclass(frozen=True)
class KeyRing:
    rsa: RSAKey
    ec: ECKey
    previous: RSAKey | ECKey | None

    def signing_key(self, alg: str) -> RSAKey | ECKey:
        return self.rsa if alg == "RS256" else self.ec

    def public_jwks(self) -> KeySetSerialization:
        keys: list[Any] = []
        seen = set()
        for key in (self.rsa, self.ec, self.previous):
            if key is not None and key.kid not in seen:
                seen.add(key.kid)
                keys.append(key.as_dict(private=False))
        return {"keys": keys}


def _with_kid(key: RSAKey | ECKey, alg: str) -> RSAKey | ECKey:
    """The same key with ``kid`` (its RFC 7638 thumbprint), ``use`` and ``alg`` set."""
    data: dict[str, Any] = dict(key.as_dict(private=key.is_private))
    data |= {"kid": key.thumbprint(), "use": "sig", "alg": alg}
    return type(key).import_key(data)


def derived_ec_key(secret_key: str) -> ECKey:
    """The same P-256 key on every pod, from the secret key (HKDF, a separate label from other uses)."""
    material = HKDF(algorithm=hashes.SHA256(), length=40, salt=b"licheng-oidc", info=b"id-token-signing-key")
    scalar = int.from_bytes(material.derive(secret_key.encode()), "big") % (_P256_ORDER - 1) + 1
    return _with_kid(ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1())), "ES256")  # type: ignore[return-value]


def _read_pem(path: Path) -> RSAKey | ECKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read the OIDC key file {path}: {error.strerror}") from None
    key: Any
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            key = None
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < RSA_BITS:
            raise KeyFileError(f"the OIDC key in {path} is RSA {key.key_size}: 2048 bits or more are required")
        return _with_kid(RSAKey.import_key(key), "RS256")
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and isinstance(key.curve, ec.SECP256R1):
        return _with_kid(ECKey.import_key(key), "ES256")
    raise KeyFileError(f"{path} is not an unencrypted PEM RSA (2048+ bits) or P-256 key")


def _generated(data_dir: Path) -> Path:
    """data_dir/oidc-rsa.pem, created once: written to a private temporary file, then linked in place."""
    path = data_dir / GENERATED_NAME
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    temporary = data_dir / f".{GENERATED_NAME}.{secrets.token_hex(6)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # atomic and never overwrites: another process may have won
            log.info("generated the OIDC RSA signing key %s", path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a rename, unless another process won meanwhile
            if not path.exists():
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


@lru_cache(maxsize=8)
def _load(key_file: str | None, previous_file: str | None, data_dir: str, secret_key: str) -> KeyRing:
    rsa_path = Path(key_file) if key_file else _generated(Path(data_dir))
    signing = _read_pem(rsa_path)
    if not isinstance(signing, RSAKey) or not signing.is_private:
        raise KeyFileError(f"the OIDC signing key {rsa_path} must be an RSA private key")
    previous = _read_pem(Path(previous_file)) if previous_file else None
    return KeyRing(rsa=signing, ec=derived_ec_key(secret_key), previous=previous)


def key_ring(settings: Settings) -> KeyRing:
    """Loaded once per configuration; a bad file fails here (at start-up: see ``routes.mount``)."""
    return _load(
        str(settings.oidc_private_key_file) if settings.oidc_private_key_file else None,
        str(settings.oidc_previous_key_file) if settings.oidc_previous_key_file else None,
        str(settings.data_dir.resolve()), settings.secret_key,
    )  # fmt: skip
