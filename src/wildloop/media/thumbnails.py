"""Cached JPEG renditions of images: small thumbnails for the grid, previews for review.

Made on first request and kept under ``thumbnails/`` named by the image's sha256 and size, so
they never go stale and can be served with immutable cache headers. Pillow's draft mode lets
the JPEG decoder scale by 1/2..1/8 while decoding, which makes a thumbnail of a 12-megapixel
photo several times cheaper than a full decode.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from wildloop.atomic import write_bytes_atomic
from wildloop.domain.paths import readable_path
from wildloop.errors import IntegrityError, NotFound

SIZES = {"thumb": 320, "preview": 1600}
QUALITY = 82


def rendition_path(folder: Path, sha256: str, size: int) -> Path:
    return folder / sha256[:2] / f"{sha256}-{size}.jpg"


def rendition(folder: Path, source: Path, sha256: str, size: int) -> Path:
    """The cached rendition of ``source`` at most ``size`` pixels on its long side."""
    target = rendition_path(folder, sha256, size)
    if target.is_file():
        return target
    if not source.is_file():
        raise NotFound(
            f"the image file {readable_path(source)} is missing; was it moved or deleted?"
        )
    write_bytes_atomic(target, _render(source, size))
    return target


def _render(source: Path, size: int) -> bytes:
    try:
        with Image.open(source) as image:
            image.draft("RGB", (size, size))
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise IntegrityError(
            f"cannot decode {readable_path(source)} for a thumbnail: {exc}"
        ) from exc
    rgb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()
