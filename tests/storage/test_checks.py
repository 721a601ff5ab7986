"""store_checked_upload over both stores: good files in, a corpus of bad ones out."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from types import ModuleType

import pytest

from licheng.storage.blobstore import BlobStore
from licheng.storage.checks import CheckedUpload, store_checked_upload
from licheng.storage.errors import UploadRefused
from licheng.storage.keys import new_blob_key

MiB = 1024 * 1024
LIMITS = {"document": 4 * MiB, "media": 10 * MiB}  # national defaults from term 109-1


async def upload(
    store: BlobStore,
    samples: ModuleType,
    filename: str | bytes | None,
    data: bytes,
    **options: object,
) -> CheckedUpload:
    options.setdefault("category_limits", LIMITS)
    return await store_checked_upload(
        store,
        new_blob_key("001234"),
        samples.chunked(data, 8192),
        filename=filename,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("name", "build", "kind", "mime"),
    [
        ("成果報告.pdf", lambda s: s.pdf(pages=3), "pdf", "application/pdf"),
        ("photo.JPG", lambda s: s.jpeg(), "jpeg", "image/jpeg"),
        ("photo.jpeg", lambda s: s.jpeg(), "jpeg", "image/jpeg"),
        ("海報.png", lambda s: s.png(), "png", "image/png"),
        ("interlaced.png", lambda s: s.png_interlaced(), "png", "image/png"),
        ("朗讀.mp3", lambda s: s.mp3(), "mp3", "audio/mpeg"),
        ("no-tag.mp3", lambda s: s.mp3(id3=False), "mp3", "audio/mpeg"),
        ("實驗影片.mp4", lambda s: s.mp4(), "mp4", "video/mp4"),
        (
            "owner-password-only.pdf",
            lambda s: s.pdf_owner_password_only(),
            "pdf",
            "application/pdf",
        ),
        ("phone-trailer.jpg", lambda s: s.jpeg() + b"SEFH\x00\x01trailer", "jpeg", "image/jpeg"),
    ],
)
async def test_a_good_file_is_stored_with_its_type_size_and_checksum(
    store: BlobStore,
    samples: ModuleType,
    name: str,
    build: Callable[[ModuleType], bytes],
    kind: str,
    mime: str,
) -> None:
    data = build(samples)
    result = await upload(store, samples, name, data)
    assert (result.kind, result.mime, result.size) == (kind, mime, len(data))
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.display_filename == name
    assert result.flags == ()
    keys = await samples.all_keys(store)
    assert len(keys) == 1 and keys[0].startswith("001234/")
    assert b"".join([c async for c in store.open(keys[0])]) == data


def _over_by_one(s: ModuleType) -> tuple[str, bytes, dict[str, object]]:
    data = s.png()
    return "big.png", data, {"category_limits": {"document": len(data) - 1, "media": 10 * MiB}}


def _junk_between_frames(s: ModuleType) -> bytes:
    data = s.mp3()
    return data[:3000] + b"\x00junk" + data[3000:]


# (name, data, code, options): every one refused, nothing left in the store.
BAD: dict[str, Callable[[ModuleType], tuple[str | bytes | None, bytes, str, dict[str, object]]]] = {
    "zero bytes": lambda s: ("empty.pdf", b"", "UPLOAD_EMPTY", {}),
    "wrong magic": lambda s: ("random.png", bytes(range(256)) * 8, "UPLOAD_TYPE_UNKNOWN", {}),
    "text file": lambda s: ("notes.pdf", s.text(), "UPLOAD_TYPE_UNKNOWN", {}),
    "html renamed .pdf": lambda s: ("report.pdf", s.html(), "UPLOAD_TYPE_UNKNOWN", {}),
    "executable renamed .jpg": lambda s: ("cat.jpg", s.exe(), "UPLOAD_TYPE_NOT_ALLOWED", {}),
    "gif": lambda s: ("anim.gif", s.gif(), "UPLOAD_TYPE_NOT_ALLOWED", {}),
    "zip": lambda s: ("work.zip", s.zip_archive(), "UPLOAD_TYPE_NOT_ALLOWED", {}),
    "media where policy takes documents only": lambda s: (
        "voice.mp3",
        s.mp3(),
        "UPLOAD_TYPE_NOT_ALLOWED",
        {"category_limits": {"document": 2 * MiB}},
    ),
    "png named .jpg": lambda s: ("photo.jpg", s.png(), "UPLOAD_EXTENSION_MISMATCH", {}),
    "pdf named .png": lambda s: ("scan.png", s.pdf(), "UPLOAD_EXTENSION_MISMATCH", {}),
    "no extension": lambda s: ("report", s.pdf(), "UPLOAD_EXTENSION_MISMATCH", {}),
    "oversize by one byte": lambda s: (
        *_over_by_one(s)[:2],
        "UPLOAD_TOO_LARGE",
        _over_by_one(s)[2],
    ),
    "truncated png": lambda s: ("cut.png", s.truncated(s.png()), "UPLOAD_TRUNCATED", {}),
    "png with missing pixel rows": lambda s: (
        "rows.png",
        s.png_short_pixel_data(),
        "UPLOAD_CORRUPT",
        {},
    ),
    "truncated jpeg": lambda s: ("cut.jpg", s.truncated(s.jpeg()), "UPLOAD_TRUNCATED", {}),
    "truncated pdf": lambda s: ("cut.pdf", s.truncated(s.pdf()), "UPLOAD_TRUNCATED", {}),
    "truncated mp4": lambda s: ("cut.mp4", s.truncated(s.mp4(), 0.8), "UPLOAD_TRUNCATED", {}),
    "truncated mp3": lambda s: ("cut.mp3", s.truncated(s.mp3(), 0.51), "UPLOAD_TRUNCATED", {}),
    "mp4 without moov": lambda s: (
        "nomoov.mp4",
        s.mp4()[:28] + s.mp4()[-4104:],
        "UPLOAD_TRUNCATED",
        {},
    ),
    "mp3 with junk between frames": lambda s: (
        "junk.mp3",
        _junk_between_frames(s),
        "UPLOAD_CORRUPT",
        {},
    ),
    "pdf without pages": lambda s: ("blank.pdf", s.pdf_without_pages(), "UPLOAD_CORRUPT", {}),
    "pdf with javascript": lambda s: (
        "js.pdf",
        s.pdf_with_javascript(),
        "UPLOAD_PDF_ACTIVE_CONTENT",
        {},
    ),
    "pdf with javascript open action": lambda s: (
        "open.pdf",
        s.pdf_with_open_action_javascript(),
        "UPLOAD_PDF_ACTIVE_CONTENT",
        {},
    ),
    "pdf with launch action": lambda s: (
        "launch.pdf",
        s.pdf_with_launch_action(),
        "UPLOAD_PDF_ACTIVE_CONTENT",
        {},
    ),
    "pdf with embedded file": lambda s: (
        "attach.pdf",
        s.pdf_with_embedded_file(),
        "UPLOAD_PDF_ACTIVE_CONTENT",
        {},
    ),
    "pdf with a user password": lambda s: (
        "locked.pdf",
        s.pdf_encrypted(),
        "UPLOAD_PDF_ENCRYPTED",
        {},
    ),
    "png decompression bomb": lambda s: ("bomb.png", s.png_bomb(20_000), "UPLOAD_IMAGE_BOMB", {}),
    "png over our pixel limit": lambda s: ("huge.png", s.png_bomb(9_000), "UPLOAD_IMAGE_BOMB", {}),
    "polyglot: pdf header inside a png": lambda s: (
        "poly.png",
        s.png(text={"Comment": "%PDF-1.4 1 0 obj"}),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: html inside a png": lambda s: (
        "poly.png",
        s.png(text={"Comment": "<script>alert(1)</script>"}),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: zip appended to a png": lambda s: (
        "z.png",
        s.png() + s.zip_archive(),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: zip appended to a jpeg": lambda s: (
        "z.jpg",
        s.jpeg() + s.zip_archive(),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: zip appended to a pdf": lambda s: (
        "z.pdf",
        s.pdf() + s.zip_archive(),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: zip appended to an mp4": lambda s: (
        "z.mp4",
        s.mp4() + s.zip_archive(),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "polyglot: zip appended to an mp3": lambda s: (
        "z.mp3",
        s.mp3() + s.zip_archive(),
        "UPLOAD_POLYGLOT",
        {},
    ),
    "path-only name": lambda s: ("../../", s.pdf(), "UPLOAD_FILENAME_INVALID", {}),
    "control characters only": lambda s: (
        "\x00\x1b\u202e\r\n",
        s.pdf(),
        "UPLOAD_FILENAME_INVALID",
        {},
    ),
    "no name": lambda s: (None, s.pdf(), "UPLOAD_FILENAME_INVALID", {}),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_upload_is_refused_with_its_code_and_leaves_nothing(
    store: BlobStore, samples: ModuleType, case: str
) -> None:
    name, data, code, options = BAD[case](samples)
    with pytest.raises(UploadRefused) as refused:
        await upload(store, samples, name, data, **options)
    assert refused.value.code == code
    assert refused.value.message_zh and refused.value.message_en
    assert "?" not in refused.value.message_en, refused.value.message_en  # every placeholder filled
    await samples.assert_empty(store)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\student\\Desktop\\作業一.pdf", "作業一.pdf"),
        ("x" * 1000 + ".pdf", "x" * 116 + ".pdf"),
        ("報告".encode("cp950") + b".pdf", "報告.pdf"),  # Big5 bytes from an old Windows tool
        (b"r\xff\xfeport.pdf", "r\ufffd\ufffdport.pdf"),  # undecodable bytes
        ("report\udcff.pdf", "report\ufffd.pdf"),  # surrogate-escaped bytes
        ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),  # bidi override removed
        (unicodedata.normalize("NFD", "café.pdf"), "café.pdf"),  # NFC
    ],
)
async def test_a_hostile_name_is_neutralised_not_trusted(
    store: BlobStore, samples: ModuleType, name: str | bytes, shown: str
) -> None:
    result = await upload(store, samples, name, samples.pdf())
    assert result.display_filename == shown
    assert unicodedata.is_normalized("NFC", result.display_filename)
    keys = await samples.all_keys(store)
    assert len(keys) == 1 and "pdf" not in keys[0] and ".." not in keys[0]


async def test_pdf_active_content_can_be_flagged_instead_of_refused(
    store: BlobStore, samples: ModuleType
) -> None:
    data = samples.pdf_with_javascript()
    result = await upload(store, samples, "js.pdf", data, pdf_active_content="flag")
    assert result.flags == ("pdf_javascript",)
    assert len(await samples.all_keys(store)) == 1


async def test_each_category_has_its_own_limit(store: BlobStore, samples: ModuleType) -> None:
    video = samples.mp4(mdat_bytes=5 * MiB)  # over the document limit, under the media one
    result = await upload(store, samples, "clip.mp4", video)
    assert result.category == "media"
    limits = {"document": 4 * MiB, "media": 5 * MiB}
    with pytest.raises(UploadRefused) as refused:
        await upload(store, samples, "clip.mp4", video, category_limits=limits)
    assert refused.value.code == "UPLOAD_TOO_LARGE"
    assert refused.value.details["limit_bytes"] == 5 * MiB
    assert "5 MB" in refused.value.message_en
    assert len(await samples.all_keys(store)) == 1  # only the first one
