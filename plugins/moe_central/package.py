"""The package a school sends to the central database: rosters, manifest and files, encrypted and signed.

Inside: a ZIP written front to back (data descriptors, no seeking) holding
``manifest.json`` first, then one CSV per roster, then the portfolio files
under ``files/{sha256}``. Around it: the envelope of ``crypto`` (AES-256-GCM in
chunks, the key wrapped for the central database, an RSA-PSS signature by the
school). Nothing is ever whole in memory: rows are generated, CSV and file
bytes flow through one chunk-sized buffer to disk, and the opener decrypts to
a file and reads members as streams. The byte layout is in docs/central.md.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import os
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from licheng.portfolio.submission_port import BatchSnapshot
from moe_central import crypto
from moe_central.format import (
    BY_NAME,
    FORMAT_VERSION,
    SHA256_HEX,
    SUPPORTED_VERSIONS,
    PackageRejected,
    RosterSpec,
    columns,
    rejected,
    roster_filename,
    rosters_for,
)
from moe_central.rosters import check_roster, check_row, csv_chunks, member_rows, roster_rows, stream_sha256

__all__ = [
    "FORMAT_VERSION", "BuiltPackage", "FileSource", "OpenedPackage", "PackageRejected",
    "build_package", "open_package", "package_id_for", "validate_caps",
]  # fmt: skip

TAIPEI = ZoneInfo("Asia/Taipei")
CHUNK_SIZE = 64 * 1024
MANIFEST = "manifest.json"
MAX_MANIFEST = 64 * 1024 * 1024


class FileSource(Protocol):
    """Streams a portfolio file's bytes by checksum (the core's blob store, behind the plugin)."""

    def open(self, sha256: str) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True)
class BuiltPackage:
    path: Path
    package_id: str
    manifest: dict[str, Any]
    sha256: str
    size: int


def package_id_for(snapshot: BatchSnapshot, version: str = FORMAT_VERSION) -> str:
    """The idempotency key: the same batch content in the same format always gives the same id."""
    key = "|".join((snapshot.school_code, str(snapshot.batch_id), snapshot.content_sha256, version))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _roster_bytes(spec: RosterSpec, snapshot: BatchSnapshot, national_ids: Mapping[int, str], *,
                  check: bool, version: str = FORMAT_VERSION) -> tuple[Iterator[bytes], list[int]]:  # fmt: skip
    """The roster's CSV chunks and a counter of its rows; ``check`` runs the row checks (first pass only)."""
    header = columns(spec, version)
    counter = [0]

    def rows() -> Iterator[list[str]]:
        for row in roster_rows(spec, snapshot, national_ids, version):
            counter[0] += 1
            if check:
                check_row(spec, dict(zip(header, row)), line=counter[0], year=snapshot.academic_year, term=snapshot.term,
                          school_code=snapshot.school_code, version=version)  # fmt: skip
            yield row

    return csv_chunks(header, rows()), counter


def _file_entries(snapshot: BatchSnapshot) -> list[dict[str, Any]]:
    """Every attached file once, by checksum, with its size and kind from the frozen content."""
    seen: dict[str, dict[str, Any]] = {}
    for item in snapshot.items:
        described = {f.get("sha256"): f for f in item.content.get("files") or () if isinstance(f, dict)}
        for sha in item.file_checksums:
            if sha not in seen:
                info = described.get(sha, {})
                seen[sha] = {"sha256": sha, "size": int(info.get("size") or 0), "kind": str(info.get("kind") or "")}
    return [seen[sha] for sha in sorted(seen)]


async def _manifest(snapshot: BatchSnapshot, national_ids: Mapping[int, str], package_id: str, now: datetime,
                    with_files: bool, version: str) -> dict[str, Any]:  # fmt: skip
    """First pass: count and hash every roster (rows checked) without keeping it."""
    timestamp = now.astimezone(TAIPEI).strftime("%Y%m%d%H%M%S")
    rosters = []
    for spec in rosters_for(snapshot.term):
        chunks, counter = _roster_bytes(spec, snapshot, national_ids, check=True, version=version)
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        filename = roster_filename(snapshot.school_code, snapshot.academic_year, snapshot.term, spec.name, timestamp)
        rosters.append({"name": spec.name, "filename": filename, "rows": counter[0], "sha256": digest.hexdigest(),
                        "columns": list(columns(spec, version))})  # fmt: skip
        await asyncio.sleep(0)
    return {
        "format": version, "package_id": package_id, "school_code": snapshot.school_code,
        "academic_year": snapshot.academic_year, "term": snapshot.term, "batch_id": snapshot.batch_id,
        "resubmission_of": snapshot.resubmission_of, "content_sha256": snapshot.content_sha256,
        "created_at": now.isoformat(), "items": len(snapshot.items), "rosters": rosters,
        "files_included": with_files, "files": _file_entries(snapshot),
    }  # fmt: skip


def _header(manifest: dict[str, Any], wrapped: bytes, prefix: bytes, central_pem: bytes, school_pem: bytes) -> bytes:
    """The envelope's clear header: routing facts and key material, never personal data."""
    header = {
        **{k: manifest[k] for k in ("format", "package_id", "school_code", "academic_year", "term", "batch_id", "created_at")},
        "cipher": "AES-256-GCM-STREAM", "chunk_size": CHUNK_SIZE, "nonce_prefix": base64.b64encode(prefix).decode(),
        "key_wrap": "RSA-OAEP-SHA256", "wrapped_key": base64.b64encode(wrapped).decode(),
        "recipient_key_id": crypto.key_id(central_pem), "signature": "RSA-PSS-SHA256",
        "signer_key_id": crypto.key_id(crypto.public_of(school_pem)),
    }  # fmt: skip
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _zinfo(name: str, now: datetime, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=now.astimezone(TAIPEI).timetuple()[:6])
    info.compress_type = compress
    return info


async def _write_file(zf: zipfile.ZipFile, source: FileSource, entry: dict[str, Any], now: datetime) -> None:
    """Copy one portfolio file in, refusing bytes that do not match the frozen checksum."""
    stream: Any = source.open(entry["sha256"])
    if inspect.isawaitable(stream):
        stream = await stream
    digest, size = hashlib.sha256(), 0
    with zf.open(_zinfo("files/" + entry["sha256"], now, zipfile.ZIP_STORED), "w") as member:
        async for chunk in stream:
            member.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if digest.hexdigest() != entry["sha256"] or (entry["size"] and size != entry["size"]):
        raise PackageRejected(
            "PACKAGE_FILE_MISMATCH", "檔案內容與凍結時的檢查碼不符", "A file's bytes differ from its frozen checksum",
            sha256=entry["sha256"],
        )  # fmt: skip


async def build_package(
    snapshot: BatchSnapshot, *, national_ids: Mapping[int, str], file_source: FileSource | None,
    central_public_key_pem: bytes, school_private_key_pem: bytes, out_dir: Path, now: datetime,
    version: str = FORMAT_VERSION,
) -> BuiltPackage:  # fmt: skip
    """Write the encrypted, signed package of a frozen batch to ``out_dir`` (atomically: a crash leaves no file),
    in the exchange-format ``version`` (one of ``SUPPORTED_VERSIONS``)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported format version {version!r}")
    package_id = package_id_for(snapshot, version)
    manifest = await _manifest(snapshot, national_ids, package_id, now, file_source is not None, version)
    aes_key, prefix = os.urandom(32), os.urandom(crypto.NONCE_PREFIX_SIZE)
    wrapped = crypto.wrap_key(aes_key, central_public_key_pem)
    header = _header(manifest, wrapped, prefix, central_public_key_pem, school_private_key_pem)
    envelope = crypto.envelope_prefix(header)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{package_id}.lcpkg"
    part = out_dir / f".{package_id}.{uuid.uuid4().hex}.part"
    try:
        with part.open("wb") as raw:
            sealing = crypto.SealingWriter(raw, envelope, crypto.ChunkCipher(aes_key, prefix, envelope), CHUNK_SIZE)
            with zipfile.ZipFile(sealing, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(_zinfo(MANIFEST, now, zipfile.ZIP_DEFLATED), json.dumps(manifest, ensure_ascii=False))
                for entry, spec in zip(manifest["rosters"], rosters_for(snapshot.term)):
                    chunks, _ = _roster_bytes(spec, snapshot, national_ids, check=False, version=version)
                    digest = hashlib.sha256()
                    with zf.open(_zinfo(entry["filename"], now, zipfile.ZIP_DEFLATED), "w") as member:
                        for chunk in chunks:
                            member.write(chunk)
                            digest.update(chunk)
                    if digest.hexdigest() != entry["sha256"]:
                        raise RuntimeError("a roster changed between its two passes")  # rows must be deterministic
                    await asyncio.sleep(0)
                if file_source is not None:
                    for file_entry in manifest["files"]:
                        await _write_file(zf, file_source, file_entry, now)
            signed = sealing.finish()
            raw.write(crypto.signature_trailer(crypto.sign_digest(signed, school_private_key_pem)))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    digest, size = hashlib.sha256(), 0
    with final.open("rb") as done:
        while block := done.read(1 << 18):
            digest.update(block)
            size += len(block)
    return BuiltPackage(final, package_id, manifest, digest.hexdigest(), size)


# --- Opening (the central side, and the simulator) ---


@dataclass
class OpenedPackage:
    """A verified package: its manifest, and its rosters' rows read as streams from the decrypted archive.

    The archive is opened once (its directory parsed once) and shared by every
    ``rows`` and ``file_bytes`` stream; ``close`` (or ``with``) releases it and
    deletes the decrypted archive (it holds national IDs in the clear).
    """

    manifest: dict[str, Any]
    archive: Path
    _zip: zipfile.ZipFile | None = field(default=None, repr=False, compare=False)

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.archive)
        return self._zip

    def rosters(self) -> Iterator[str]:
        return (entry["name"] for entry in self.manifest["rosters"])

    def rows(self, roster: str) -> Iterator[dict[str, str]]:
        entry = next((e for e in self.manifest["rosters"] if e["name"] == roster), None)
        if entry is None:
            raise KeyError(roster)
        return member_rows(self._zipfile(), entry["filename"])

    def file_bytes(self, sha256: str) -> Iterator[bytes]:
        """A portfolio file's bytes, streamed (only when the manifest says files are included)."""
        with self._zipfile().open("files/" + sha256) as member:
            while block := member.read(1 << 16):
                yield block

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        self.archive.unlink(missing_ok=True)

    def __enter__(self) -> OpenedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decrypt(path: Path, central_pem: bytes, school_pem: bytes, work_dir: Path) -> tuple[dict[str, Any], Path]:
    """Verify the signature over the whole file first, then decrypt chunk by chunk to ``work_dir``."""
    try:
        with path.open("rb") as raw:
            prefix, header_bytes, start, end, signature = crypto.read_layout(raw, path.stat().st_size)
            try:
                header = json.loads(header_bytes)
                chunk_size = int(header["chunk_size"])
                package_id = str(header["package_id"])
                nonce_prefix = base64.b64decode(header["nonce_prefix"], validate=True)
                wrapped = base64.b64decode(header["wrapped_key"], validate=True)
            except (ValueError, KeyError, TypeError):
                raise rejected("PACKAGE_MALFORMED") from None
            if not (1024 <= chunk_size <= 1 << 24) or not package_id.isalnum() or len(nonce_prefix) != crypto.NONCE_PREFIX_SIZE:
                raise rejected("PACKAGE_MALFORMED")
            if not crypto.verify_digest(signature, crypto.digest_of(raw, end), school_pem):
                raise rejected("PACKAGE_SIGNATURE_INVALID")
            if header.get("format") not in SUPPORTED_VERSIONS:
                raise rejected("PACKAGE_FORMAT_UNSUPPORTED", format=str(header.get("format"))[:40])
            try:
                key = crypto.unwrap_key(wrapped, central_pem)
            except ValueError:
                raise rejected("PACKAGE_KEY_INVALID") from None
            work_dir.mkdir(parents=True, exist_ok=True)
            archive = work_dir / f"{package_id}.zip"
            try:
                with archive.open("wb") as out:
                    for block in crypto.open_chunks(raw, crypto.ChunkCipher(key, nonce_prefix, prefix), start, end, chunk_size):
                        out.write(block)
            except BaseException:
                archive.unlink(missing_ok=True)  # a partly decrypted archive still holds clear national IDs
                raise
    except crypto.EnvelopeError as exc:
        raise rejected(exc.code) from None
    return header, archive


def _check_manifest(manifest: Any, header: dict[str, Any]) -> None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("rosters"), list) or not isinstance(manifest.get("files"), list):
        raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest")
    for key in ("format", "package_id", "school_code", "academic_year", "term", "batch_id"):
        if manifest.get(key) != header.get(key):
            raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest", field=key)
    expected = {spec.name for spec in rosters_for(int(manifest["term"]))}
    rosters = manifest["rosters"]
    if not all(isinstance(e, dict) for e in rosters) or sorted(str(e.get("name")) for e in rosters) != sorted(expected):
        raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest", field="rosters")
    for entry in manifest["files"]:
        if not isinstance(entry, dict) or not SHA256_HEX.match(str(entry.get("sha256"))) or not isinstance(entry.get("size"), int):
            raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest", field="files")


def _verify_archive(zf: zipfile.ZipFile, header: dict[str, Any]) -> dict[str, Any]:
    """The manifest, once it, every roster and every included file check out."""
    info = zf.NameToInfo.get(MANIFEST)
    if info is None or info.file_size > MAX_MANIFEST:
        raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest")
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except ValueError:
        raise rejected("PACKAGE_SCHEMA_INVALID", part="manifest") from None
    _check_manifest(manifest, header)
    for entry in manifest["rosters"]:
        check_roster(zf, entry, manifest)
    if manifest.get("files_included"):
        for file_entry in manifest["files"]:
            sha, limit = file_entry["sha256"], file_entry["size"]
            if "files/" + sha not in zf.NameToInfo:
                raise rejected("PACKAGE_CHECKSUM_MISMATCH", file=sha, field="missing")
            got, size = stream_sha256(zf, "files/" + sha, limit or None)
            if got != sha or (limit and size != limit):
                raise rejected("PACKAGE_CHECKSUM_MISMATCH", file=sha)
    return manifest


def open_package(path: Path, *, central_private_key_pem: bytes, school_public_key_pem: bytes, work_dir: Path) -> OpenedPackage:
    """Verify, decrypt and check a package; raises ``PackageRejected`` with the reason.

    Order: the signature over the whole file, the key unwrap, every chunk's tag,
    then the manifest, every roster (checksum, row count, header, rows) and
    every included file (checksum, size). The decrypted archive stays in
    ``work_dir`` until ``OpenedPackage.close``; a refused package leaves nothing there.
    """
    header, archive = _decrypt(path, central_private_key_pem, school_public_key_pem, work_dir)
    zf: zipfile.ZipFile | None = None
    try:
        zf = zipfile.ZipFile(archive)
        manifest = _verify_archive(zf, header)
    except BaseException as error:
        if zf is not None:
            zf.close()
        archive.unlink(missing_ok=True)  # it holds national IDs in the clear
        if isinstance(error, zipfile.BadZipFile):
            raise rejected("PACKAGE_MALFORMED") from None
        raise
    return OpenedPackage(manifest, archive, zf)


def validate_caps(opened: OpenedPackage, *, max_outcomes: int = 6, max_performances: int = 10) -> None:
    """≤ 6 outcomes and ≤ 10 performances per student per year; school-registered cadre records do not count."""
    counts: dict[tuple[str, str, str], int] = {}
    numbers: dict[str, str] = {}
    for roster in opened.rosters():
        item_type = BY_NAME[roster].item_type
        if item_type not in ("outcome", "performance"):
            continue
        for row in opened.rows(roster):
            key = (item_type, row["year"], row["national_id"])
            counts[key] = counts.get(key, 0) + 1
            numbers[row["national_id"]] = row.get("student_number", "")
    for (item_type, year, national_id), count in counts.items():
        cap = max_outcomes if item_type == "outcome" else max_performances
        if count > cap:
            number = numbers[national_id]
            what_zh, what_en = ("課程學習成果", "course outcomes") if item_type == "outcome" else ("多元表現", "performances")
            raise PackageRejected(
                "PACKAGE_CAP_EXCEEDED",
                f"學號 {number} 於 {year} 學年度提交 {count} 件{what_zh}，超過上限 {cap} 件",
                f"Student {number} has {count} {what_en} in year {year}, more than the cap of {cap}",
                student_number=number, year=int(year), item_type=item_type, count=count, cap=cap,
            )  # fmt: skip
