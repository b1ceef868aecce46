"""Bad image files of every kind ingest must survive."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image


def _jpeg(size: tuple[int, int] = (320, 240), seed: int = 0) -> bytes:
    image = Image.effect_noise(size, 40 + seed).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size but carries almost no data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _corrupt_exif_jpeg() -> bytes:
    data = _jpeg(seed=3)
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x09\x01\x0f\x00\x02\x00\x00\x00\x10\x00"
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + segment + data[2:]


BAD_FILES = {
    "zero.jpg": (b"", "empty file"),
    "truncated.jpg": (None, "truncated"),
    "notes.JPG": (b"these are my field notes, not a photo\n" * 20, "not an image"),
    "bomb.png": (_png_header_only(40_000, 40_000), "decompression bomb"),
    "badexif.jpeg": (_corrupt_exif_jpeg(), "unreadable EXIF"),
}


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    """A folder with three good photos and one file of each bad kind (permissions aside)."""
    folder = tmp_path / "card"
    folder.mkdir()
    for i in range(3):
        (folder / f"good_{i}.jpg").write_bytes(_jpeg(seed=i))
    for name, (content, _) in BAD_FILES.items():
        if content is None:
            content = _jpeg((640, 480), seed=9)[:4000]
        (folder / name).write_bytes(content)
    return folder
