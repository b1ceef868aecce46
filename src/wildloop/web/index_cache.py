"""Vector indexes kept loaded by the web app between requests: a query is milliseconds,
loading an index is not. An index is reloaded when its embedder or its file changes (a
rebuild replaces the file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")


def loaded_index(request: Request, name: str, key: str, path: Path, load: Callable[[], T]) -> T:
    """The index cached on the app under ``name``, or ``load()`` when it is missing or stale."""
    stamp = (key, path.stat().st_mtime_ns if path.is_file() else 0)
    cached: tuple[tuple[str, int], Any] | None = getattr(request.app.state, name, None)
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    index = load()
    setattr(request.app.state, name, (stamp, index))
    return index
