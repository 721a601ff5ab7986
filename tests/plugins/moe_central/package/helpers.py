"""Re-sealing a package as an insider with the school's key would: to prove the layers under the signature."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from moe_central import crypto


def split(path: Path) -> tuple[bytes, bytes, bytes, int]:
    """(envelope prefix, ciphertext, header JSON, chunk size) of a package file."""
    with path.open("rb") as raw:
        prefix, header, start, end, _ = crypto.read_layout(raw, path.stat().st_size)
        raw.seek(start)
        ciphertext = raw.read(end - start)
    return prefix, ciphertext, header, int(json.loads(header)["chunk_size"])


def resign(path: Path, prefix: bytes, ciphertext: bytes, school_private: bytes) -> None:
    """Write ``prefix + ciphertext`` with a valid signature of the school over it."""
    import hashlib

    signature = crypto.sign_digest(hashlib.sha256(prefix + ciphertext).digest(), school_private)
    path.write_bytes(prefix + ciphertext + crypto.signature_trailer(signature))


def reseal(path: Path, archive: bytes, central_private: bytes, school_private: bytes) -> None:
    """Replace the encrypted archive with ``archive``, same header and key, properly chunked and signed."""
    import io

    prefix, _, header, chunk_size = split(path)
    fields = json.loads(header)
    key = crypto.unwrap_key(base64.b64decode(fields["wrapped_key"]), central_private)
    out = io.BytesIO()
    writer = crypto.SealingWriter(out, prefix, crypto.ChunkCipher(key, base64.b64decode(fields["nonce_prefix"]), prefix), chunk_size)
    writer.write(archive)
    signature = crypto.sign_digest(writer.finish(), school_private)
    path.write_bytes(out.getvalue() + crypto.signature_trailer(signature))
