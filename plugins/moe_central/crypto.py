"""The package's cryptography: RSA keys, AES-256 key wrapping, chunked AES-256-GCM, RSA-PSS signatures.

The scheme follows what is known of the central database's transport (AES-256,
the key wrapped with the central database's RSA public key, SHA-256 signed),
with choices made explicit so another implementation can interoperate:

- key wrap: RSA-OAEP, MGF1-SHA-256, SHA-256, no label;
- payload: AES-256-GCM over fixed-size chunks in the STREAM construction
  (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the 12-byte nonce is a random
  7-byte prefix, the chunk counter (4 bytes, big-endian) and a last-chunk flag
  (1 byte), so reordered, dropped or truncated chunks fail authentication;
  every chunk authenticates the package header as associated data;
- signature: RSA-PSS, MGF1-SHA-256, salt length 32, over the SHA-256 of every
  byte before the signature (header and ciphertext), by the school's key.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["InvalidSignature", "InvalidTag", "generate_rsa_keypair"]

TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def generate_rsa_keypair(bits: int = 3072) -> tuple[bytes, bytes]:
    """A new RSA key pair as (private PEM, public PEM): PKCS#8 unencrypted and SubjectPublicKeyInfo."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValueError("an RSA private key of 2048 bits or more is required")
    return key


def _public(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise ValueError("an RSA public key of 2048 bits or more is required")
    return key


def key_id(public_pem: bytes) -> str:
    """SHA-256 of the public key's DER (SubjectPublicKeyInfo), hex: names a key without revealing anything."""
    der = _public(public_pem).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_of(private_pem: bytes) -> bytes:
    return _private(private_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def wrap_key(aes_key: bytes, central_public_pem: bytes) -> bytes:
    return _public(central_public_pem).encrypt(aes_key, _OAEP)


def unwrap_key(wrapped: bytes, central_private_pem: bytes) -> bytes:
    """Raises ``ValueError`` when the key was wrapped for another recipient."""
    key = _private(central_private_pem).decrypt(wrapped, _OAEP)
    if len(key) != 32:
        raise ValueError("not an AES-256 key")
    return key


def sign_digest(digest: bytes, school_private_pem: bytes) -> bytes:
    return _private(school_private_pem).sign(digest, _PSS, Prehashed(hashes.SHA256()))


def verify_digest(signature: bytes, digest: bytes, school_public_pem: bytes) -> bool:
    try:
        _public(school_public_pem).verify(signature, digest, _PSS, Prehashed(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def chunk_nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 2**32:
        raise ValueError("too many chunks")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class ChunkCipher:
    """AES-256-GCM for chunk ``counter`` of one package, bound to its header."""

    def __init__(self, key: bytes, prefix: bytes, header: bytes) -> None:
        if len(key) != 32 or len(prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("bad key or nonce prefix")
        self._aead = AESGCM(key)
        self._prefix = prefix
        self._aad = header

    def seal(self, counter: int, plaintext: bytes, last: bool) -> bytes:
        return self._aead.encrypt(chunk_nonce(self._prefix, counter, last), plaintext, self._aad)

    def open(self, counter: int, ciphertext: bytes, last: bool) -> bytes:
        """Raises ``InvalidTag`` on a flipped, moved, dropped or truncated chunk."""
        return self._aead.decrypt(chunk_nonce(self._prefix, counter, last), ciphertext, self._aad)


# --- The envelope: the byte layout of a package file (docs/central.md, "Package format") ---

MAGIC = b"LCHGPKG1"
END_MAGIC = b"LCHGEND1"
MAX_HEADER = 64 * 1024
_LEN = struct.Struct(">I")


def envelope_prefix(header: bytes) -> bytes:
    """MAGIC, the header's length (u32 big-endian) and the header: the bytes every chunk authenticates."""
    if len(header) > MAX_HEADER:
        raise ValueError("header too long")
    return MAGIC + _LEN.pack(len(header)) + header


class SealingWriter:
    """A write-only file object that encrypts what it is given into chunks on disk.

    Holds at most one chunk of plaintext: the memory a package needs is bounded
    by ``chunk_size``, not by the package. ``finish`` seals the last chunk and
    returns the SHA-256 to sign (of every byte written so far).
    """

    def __init__(self, raw: BinaryIO, prefix: bytes, cipher: ChunkCipher, chunk_size: int) -> None:
        self._raw = raw
        self._cipher = cipher
        self._size = chunk_size
        self._buffer = bytearray()
        self._counter = 0
        self._digest = hashlib.sha256(prefix)
        self.written = len(prefix)
        raw.write(prefix)

    def _emit(self, data: bytes, last: bool) -> None:
        sealed = self._cipher.seal(self._counter, data, last)
        self._counter += 1
        self._raw.write(sealed)
        self._digest.update(sealed)
        self.written += len(sealed)

    def write(self, data: bytes) -> int:
        self._buffer += data
        # Strictly more than a chunk: the last chunk is sealed by ``finish`` with its flag set.
        while len(self._buffer) > self._size:
            self._emit(bytes(self._buffer[: self._size]), last=False)
            del self._buffer[: self._size]
        return len(data)

    def flush(self) -> None:
        """Buffered plaintext stays until a whole chunk is ready (zipfile calls this)."""

    def close(self) -> None:
        """The caller seals with ``finish`` and closes the file it gave."""

    def finish(self) -> bytes:
        self._emit(bytes(self._buffer), last=True)
        self._buffer = bytearray()
        return self._digest.digest()


def signature_trailer(signature: bytes) -> bytes:
    return signature + _LEN.pack(len(signature)) + END_MAGIC


class EnvelopeError(Exception):
    """What is wrong with a package file, as a code the package layer turns into a refusal."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def read_layout(raw: BinaryIO, size: int) -> tuple[bytes, bytes, int, int, bytes]:
    """(prefix, header, ciphertext start, ciphertext end, signature); raises ``EnvelopeError``."""
    raw.seek(0)
    head = raw.read(len(MAGIC) + 4)
    if len(head) < len(MAGIC) + 4 or head[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("PACKAGE_MALFORMED")
    (header_len,) = _LEN.unpack(head[len(MAGIC) :])
    start = len(head) + header_len
    if header_len > MAX_HEADER or size < start + TAG_SIZE + 4 + len(END_MAGIC):
        raise EnvelopeError("PACKAGE_TRUNCATED")
    header = raw.read(header_len)
    raw.seek(size - 4 - len(END_MAGIC))
    tail = raw.read(4 + len(END_MAGIC))
    if tail[4:] != END_MAGIC:
        raise EnvelopeError("PACKAGE_TRUNCATED")
    (sig_len,) = _LEN.unpack(tail[:4])
    end = size - len(tail) - sig_len
    if sig_len > 2048 or end < start + TAG_SIZE:
        raise EnvelopeError("PACKAGE_TRUNCATED")
    raw.seek(end)
    signature = raw.read(sig_len)
    return head + header, header, start, end, signature


def digest_of(raw: BinaryIO, end: int, block: int = 1 << 18) -> bytes:
    """SHA-256 of the first ``end`` bytes, read a block at a time."""
    raw.seek(0)
    digest = hashlib.sha256()
    left = end
    while left:
        data = raw.read(min(block, left))
        if not data:
            raise EnvelopeError("PACKAGE_TRUNCATED")
        digest.update(data)
        left -= len(data)
    return digest.digest()


def open_chunks(raw: BinaryIO, cipher: ChunkCipher, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
    """Decrypted chunks in order; raises ``EnvelopeError`` on any flipped, moved or missing chunk."""
    raw.seek(start)
    sealed = chunk_size + TAG_SIZE
    position, counter = start, 0
    while position < end:
        length = min(sealed, end - position)
        data = raw.read(length)
        last = position + length >= end
        if len(data) != length or length < TAG_SIZE:
            raise EnvelopeError("PACKAGE_TRUNCATED")
        try:
            yield cipher.open(counter, data, last)
        except InvalidTag:
            raise EnvelopeError(_why(cipher, counter, data, last)) from None
        position += length
        counter += 1


def _why(cipher: ChunkCipher, counter: int, data: bytes, last: bool) -> str:
    """A chunk that opens as a middle chunk where the last was expected: the file was cut after it."""
    if last:
        try:
            cipher.open(counter, data, False)
        except InvalidTag:
            return "PACKAGE_DECRYPTION_FAILED"
        return "PACKAGE_TRUNCATED"
    return "PACKAGE_DECRYPTION_FAILED"
