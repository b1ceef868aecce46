"""Thumbnails: made once from real photos with draft-mode decoding, named by content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from wildloop.errors import IntegrityError, NotFound
from wildloop.media.thumbnails import rendition, rendition_path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_thumbnail_of_a_large_real_photo(shared_data: Path, tmp_path: Path):
    source = shared_data / "camtrap-samples" / "sample-arc-01.jpg"
    with Image.open(source) as original:
        big = max(original.size)
    digest = sha(source)
    made = rendition(tmp_path, source, digest, 320)
    assert made == rendition_path(tmp_path, digest, 320) and made.parent.name == digest[:2]
    with Image.open(made) as thumb:
        assert max(thumb.size) == 320 and thumb.format == "JPEG"
        assert big > 320
    stamp = made.stat().st_mtime_ns
    assert rendition(tmp_path, source, digest, 320).stat().st_mtime_ns == stamp  # cached
    assert not list(tmp_path.rglob("*.tmp"))


def test_missing_and_broken_files_say_so(tmp_path: Path):
    with pytest.raises(NotFound, match="missing"):
        rendition(tmp_path / "cache", tmp_path / "gone.jpg", "ab" * 32, 320)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(IntegrityError, match="cannot decode"):
        rendition(tmp_path / "cache", broken, "cd" * 32, 320)
