"""Display names: what the student called the file, safe to show and to serve."""

from __future__ import annotations

import pytest

from licheng.storage.errors import UploadRefused
from licheng.storage.filenames import (
    MAX_DISPLAY_CHARS,
    content_disposition,
    extension_of,
    normalise_filename,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("成果.pdf", "成果.pdf"),
        ("/tmp/../../x.png", "x.png"),
        ("a\\b\\c.jpg", "c.jpg"),
        ("  spaced   out  name .pdf ", "spaced out name.pdf"),
        ("tab\tand\nnewline.pdf", "tabandnewline.pdf"),
        ("what?<is>:this|*.pdf", "what__is__this__.pdf"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ("trailing dots...", "trailing dots"),
        ("...hidden.pdf", "hidden.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("全形\u3000空白.pdf", "全形 空白.pdf"),
    ],
)
def test_names_are_cleaned(raw: str, shown: str) -> None:
    assert normalise_filename(raw) == shown


def test_a_long_name_is_capped_keeping_its_extension() -> None:
    shown = normalise_filename("學" * 500 + ".jpeg")
    assert len(shown) == MAX_DISPLAY_CHARS
    assert shown.endswith("學.jpeg")


def test_an_overlong_extension_is_not_kept_as_one() -> None:
    raw = "x." + "y" * 300
    assert normalise_filename(raw) == raw[:MAX_DISPLAY_CHARS]


@pytest.mark.parametrize(
    "raw", ["", "   ", "..", ".", "/", "a/", "\\", "\x00\x01", "\u202e", "___", None]
)
def test_nothing_left_is_refused(raw: str | None) -> None:
    with pytest.raises(UploadRefused) as refused:
        normalise_filename(raw)
    assert refused.value.code == "UPLOAD_FILENAME_INVALID"


def test_extension_is_lower_case_without_dot() -> None:
    assert extension_of("A.PDF") == "pdf"
    assert extension_of("archive.tar.gz") == "gz"
    assert extension_of("README") == ""


def test_content_disposition_keeps_unicode_and_an_ascii_fallback() -> None:
    header = content_disposition('成果 "報告".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E6%88%90%E6%9E%9C%20%22" in header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and '"' not in fallback and fallback.endswith(".pdf")
