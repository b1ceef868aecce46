"""Walking folders for media files, lazily and in a stable order.

A generator over ``os.scandir`` keeps memory flat for 100k-file trees; sorting each folder's
entries makes ingest order (and so ids) reproducible. Folders that cannot be listed are
reported through ``on_error``, never skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ErrorSink = Callable[[Path, str], None]


def _ignore(_path: Path, _reason: str) -> None:
    return None


def iter_files(
    sources: Iterable[Path], suffixes: frozenset[str], on_error: ErrorSink = _ignore
) -> Iterator[Path]:
    """Yield files under each source (a file or a folder) whose suffix matches, any case."""
    for source in sources:
        if source.is_file():
            if source.suffix.lower() in suffixes:
                yield source.resolve()
            continue
        yield from _walk(source.resolve(), suffixes, on_error)


def _walk(folder: Path, suffixes: frozenset[str], on_error: ErrorSink) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        on_error(folder, f"cannot list folder: {exc.strerror or exc}")
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError as exc:
            on_error(Path(entry.path), f"cannot tell what this is: {exc.strerror or exc}")
            continue
        if is_folder:
            subfolders.append(Path(entry.path))
        elif Path(entry.name).suffix.lower() in suffixes:
            yield Path(entry.path)
    for sub in subfolders:
        yield from _walk(sub, suffixes, on_error)


def count_files(sources: Iterable[Path], suffixes: frozenset[str]) -> int:
    """Count matching files without holding their paths (for a determinate progress bar)."""
    return sum(1 for _ in iter_files(sources, suffixes))
