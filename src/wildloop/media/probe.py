"""Checking one image file: content hash, size, capture time, camera, and that it decodes.

Every way a file can be bad ends in ``MediaRejected`` with a reason a person can act on;
nothing here raises anything else for a bad file.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from wildloop.domain.capture_time import TimeSource, parse_exif_datetime, parse_filename_time

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "MPO"})

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_MAKE = 0x010F
_MODEL = 0x0110


class MediaRejected(Exception):
    """A file that cannot be ingested; ``reason`` says why and what to do."""

    def __init__(self, reason: str, *, sha256: str | None = None, size: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.sha256 = sha256
        self.size = size


@dataclass(frozen=True)
class ProbedImage:
    sha256: str
    size: int
    width: int
    height: int
    captured_at: datetime
    time_source: TimeSource
    exif_make: str | None
    exif_model: str | None


@dataclass(frozen=True)
class ProbeRules:
    max_pixels: int
    exif_errors_fail: bool


def probe_image(path: Path, rules: ProbeRules) -> ProbedImage:
    """Read, hash and fully check one image file."""
    data = _read(path)
    digest = hashlib.sha256(data).hexdigest()
    try:
        return _inspect(path, data, digest, rules)
    except MediaRejected as exc:
        raise MediaRejected(exc.reason, sha256=digest, size=len(data)) from None


def _inspect(path: Path, data: bytes, digest: str, rules: ProbeRules) -> ProbedImage:
    if not data:
        raise MediaRejected("empty file (0 bytes): the copy from the camera card may have failed")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaRejected("not an image: the content is not a format Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise MediaRejected(f"decompression bomb guard: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaRejected(f"unreadable image header: {exc}") from None
    if image.format not in ACCEPTED_FORMATS:
        raise MediaRejected(
            f"unsupported image format {image.format}; wildloop ingests JPEG and PNG"
        )
    width, height = image.size
    if width * height > rules.max_pixels:
        raise MediaRejected(
            f"decompression bomb guard: {width}x{height} = {width * height / 1e6:.0f} MP "
            f"exceeds the limit of {rules.max_pixels / 1e6:.0f} MP "
            "(raise ingest.max_image_pixels if this image is genuine)"
        )
    make, model, exif_time = _read_exif(image, rules)
    _check_decodes(image)
    captured_at, source = _capture_time(path, exif_time)
    return ProbedImage(digest, len(data), width, height, captured_at, source, make, model)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise MediaRejected(
            "permission denied: wildloop cannot read this file; give the user running "
            "wildloop read access (e.g. chmod a+r) and ingest again"
        ) from None
    except IsADirectoryError:
        raise MediaRejected("is a directory, not a file") from None
    except OSError as exc:
        raise MediaRejected(f"cannot read file: {exc.strerror or exc}") from None


def _read_exif(
    image: Image.Image, rules: ProbeRules
) -> tuple[str | None, str | None, datetime | None]:
    """Camera make, model and DateTimeOriginal; a corrupt EXIF block fails or is skipped.

    Pillow only warns on corrupt EXIF and returns nothing, so the block's structure is
    checked here first: a file that carries EXIF we cannot read must not pass silently.
    """
    raw = image.info.get("exif")
    problem = _exif_structure_error(raw) if isinstance(raw, bytes) and raw else None
    if problem is None:
        try:
            exif = image.getexif()
            make = _clean_text(exif.get(_MAKE))
            model = _clean_text(exif.get(_MODEL))
            raw_time = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
            when = parse_exif_datetime(raw_time) if isinstance(raw_time, str) else None
            return make, model, when
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for corrupt EXIF
            problem = f"{type(exc).__name__}: {exc}"
    if rules.exif_errors_fail:
        raise MediaRejected(
            f"unreadable EXIF metadata ({problem}); repair or strip the EXIF block, or set "
            'ingest.on_bad_exif = "fallback" to use file names or times instead'
        )
    return None, None, None


def _exif_structure_error(raw: bytes) -> str | None:
    """Describe what is wrong with a raw EXIF block's TIFF header and first IFD, or None."""
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    if len(tiff) < 8:
        return "EXIF block shorter than a TIFF header"
    order = tiff[:2]
    if order not in (b"II", b"MM"):
        return f"EXIF byte order marker {order!r} is neither II nor MM"
    endian: Literal["little", "big"] = "little" if order == b"II" else "big"
    if int.from_bytes(tiff[2:4], endian) != 42:
        return "EXIF TIFF magic number is not 42"
    offset = int.from_bytes(tiff[4:8], endian)
    if offset + 2 > len(tiff):
        return f"EXIF first directory offset {offset} lies beyond the {len(tiff)}-byte block"
    entries = int.from_bytes(tiff[offset : offset + 2], endian)
    if offset + 2 + 12 * entries > len(tiff):
        return f"EXIF directory claims {entries} entries but the block ends before them"
    return None


def _check_decodes(image: Image.Image) -> None:
    """Decode the whole image; JPEG at 1/8 scale (DCT scaling) still reads every byte."""
    try:
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaRejected(
            f"truncated or corrupt image data ({exc}); re-copy the file from the card"
        ) from None


def _capture_time(path: Path, exif_time: datetime | None) -> tuple[datetime, TimeSource]:
    if exif_time is not None:
        return exif_time, TimeSource.EXIF
    from_name = parse_filename_time(path.name)
    if from_name is not None:
        return from_name, TimeSource.FILENAME
    try:
        stamp = path.stat().st_mtime
    except OSError as exc:
        raise MediaRejected(
            f"the file changed while it was read ({exc.strerror or exc}): it has no time in "
            "EXIF or its name, and its modification time is gone; ingest again once it is back"
        ) from None
    mtime = datetime.fromtimestamp(stamp).replace(microsecond=0)
    return mtime, TimeSource.MTIME


def _clean_text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None
