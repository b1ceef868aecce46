"""Dashboard figures, cached for a few seconds per app.

Counting a million-item archive by status, split, camera and class takes about a second on
SQLite; a dashboard open in several tabs, or reloaded, should not pay that each time. Job
progress is never cached (it is read live by its own endpoint).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import Request

from wildloop.media.summary import media_summary
from wildloop.project import Project
from wildloop.review.dashboard import review_overview

TTL_SECONDS = 15.0
_lock = threading.Lock()


def dashboard_figures(request: Request) -> dict[str, Any]:
    """Media summary and review overview, at most ``TTL_SECONDS`` old."""
    state = request.app.state
    fresh = _fresh(state)
    if fresh is not None:
        return fresh
    with _lock:
        fresh = _fresh(state)  # requests that waited here use the figures just computed
        if fresh is not None:
            return fresh
        project: Project = state.project
        summary = media_summary(project)
        with project.db.session() as session:
            overview = review_overview(session, project.classes)
        figures = {**summary, **overview, "as_of": time.strftime("%H:%M:%S")}
        state.figures = (time.monotonic(), figures)
        return figures


def _fresh(state: Any) -> dict[str, Any] | None:
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "figures", None)
    if cached is not None and time.monotonic() - cached[0] < TTL_SECONDS:
        return cached[1]
    return None
