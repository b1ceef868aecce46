"""File paths as database text: lossless for any name the filesystem allows, readable to people.

POSIX file names are bytes. Python decodes bytes that are not UTF-8 (Latin-1 names from old
cards, Samba copies) to lone surrogates, which no database driver, JSON file or terminal
accepts. A path whose bytes are UTF-8 is stored as it is (every existing row stays valid);
any other path is stored as ``MARKER`` followed by the name with each undecodable byte
written ``%XX`` and ``%`` itself written ``%25``. A UTF-8 path that happens to start with
the marker is escaped the same way, so the mapping is one-to-one and ``path_from_text``
gives back the exact bytes to open. ``readable_path`` is for people: undecodable bytes
shown as ``\\xNN``, never meant to be opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote_to_bytes

MARKER = "bytes:"
_SURROGATE = re.compile("[\udc80-\udcff%]")


def path_to_text(path: str | os.PathLike[str]) -> str:
    """The stored form of ``path``; ``UnicodeEncodeError`` if no filesystem could hold it."""
    raw = os.fsencode(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    else:
        if not text.startswith(MARKER):
            return text
    decoded = raw.decode("utf-8", "surrogateescape")
    return MARKER + _SURROGATE.sub(_escape, decoded)


def path_from_text(text: str) -> Path:
    """The path to open for a stored ``text`` (the inverse of ``path_to_text``)."""
    if not text.startswith(MARKER):
        return Path(text)
    return Path(os.fsdecode(unquote_to_bytes(text[len(MARKER) :])))


def readable_path(path: str | os.PathLike[str]) -> str:
    """A filesystem path as printable text: undecodable bytes become ``\\xNN``.

    Total on purpose (it names files in error messages): a string no filesystem could hold
    shows its offending characters as ``\\uNNNN``.
    """
    text = os.fspath(path)
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def readable_text(text: str) -> str:
    """A stored path as people should see it (CLI, web pages, exported file references)."""
    return readable_path(path_from_text(text))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "%25" if char == "%" else f"%{ord(char) - 0xDC00:02X}"


def map_root(path: Path, roots: Mapping[str, str]) -> Path:
    """``path`` seen from another machine: the longest ``roots`` prefix (whole path parts,
    so ``/mnt/card`` never matches ``/mnt/cards``) replaced by what it maps to."""
    best: tuple[int, Path] | None = None
    for source, target in roots.items():
        prefix = Path(source)
        inside = path == prefix or prefix in path.parents
        if inside and (best is None or len(prefix.parts) > best[0]):
            best = (len(prefix.parts), Path(target) / path.relative_to(prefix))
    return path if best is None else best[1]
