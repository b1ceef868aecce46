"""Champion-versus-challenger comparisons computed in the background for the web app.

A comparison scores both models on the test snapshot (running the inference pipeline first
for items a model has not seen), bootstraps the difference and draws figures: seconds when
predictions are stored, minutes when they are not. A page must not hang on that, so the
first request starts it in a thread and answers "computing"; later requests get the result,
kept per (challenger, champion) until a newer test snapshot exists or a refresh is asked
for. The computation is the same service as `wildloop compare` and ``GET /comparison``.
One comparison runs at a time per app: they compete for the same CPU and rows.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from wildloop.errors import WildloopError
from wildloop.evaluation.comparison import compare_models
from wildloop.project import Project
from wildloop.store.tables import Snapshot

log = logging.getLogger(__name__)

Key = tuple[int, int | None]  # (challenger id, champion id or None)
RETRY_FAILED_AFTER_SECONDS = 30.0  # a failure is shown, not recomputed on every poll


def compute_comparison(
    project: Project, challenger_id: int, champion_id: int | None
) -> dict[str, Any]:
    return compare_models(project, challenger_id, champion_id, figures=True).as_dict()


@dataclass
class ComparisonRun:
    key: Key
    state: str = "computing"  # computing | done | failed
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_status: int | None = None

    @property
    def seconds(self) -> float:
        end = self.finished_at.timestamp() if self.finished_at else time.time()
        return max(0.0, end - self.started_at.timestamp())

    @property
    def seconds_since_finished(self) -> float:
        if self.finished_at is None:
            return 0.0
        return time.time() - self.finished_at.timestamp()

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "challenger_id": self.key[0],
            "champion_id": self.key[1],
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": round(self.seconds, 1),
            "comparison": self.result,
            "error": self.error,
        }


class ComparisonRuns:
    """The app's comparisons, by (challenger id, champion id)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._runs: dict[Key, ComparisonRun] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # guards _runs and _threads
        self._one_at_a_time = threading.Lock()

    def get(
        self, challenger_id: int, champion_id: int | None, refresh: bool = False
    ) -> ComparisonRun:
        """The run for this pair, started now if there is none, if it is stale (a newer test
        snapshot exists, or it failed a while ago) or if ``refresh`` asks for a new one."""
        key = (challenger_id, champion_id)
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.state == "computing":
                return run
            if run is not None and not refresh and not self._stale(run):
                return run
            run = ComparisonRun(key)
            self._runs[key] = run
            thread = threading.Thread(
                target=self._run, args=(run,), name="wildloop-comparison", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running comparisons (the app's shutdown; tests)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _stale(self, run: ComparisonRun) -> bool:
        if run.state == "failed":
            return run.seconds_since_finished > RETRY_FAILED_AFTER_SECONDS
        done_on = (run.result or {}).get("snapshot_id")
        with self.project.db.session() as session:
            latest = session.scalar(select(func.max(Snapshot.id)).where(Snapshot.purpose == "test"))
        return latest is not None and done_on is not None and latest > done_on

    def _run(self, run: ComparisonRun) -> None:
        state = "failed"
        with self._one_at_a_time:
            try:
                run.result = compute_comparison(self.project, *run.key)
                state = "done"
            except WildloopError as exc:
                run.error, run.error_status = str(exc), exc.http_status
            except Exception as exc:  # shown on the page and logged with its traceback
                log.exception("comparing models %s failed", run.key)
                run.error, run.error_status = f"{type(exc).__name__}: {exc}", 500
            finally:
                # The state goes last: a reader that sees it finished sees everything else.
                run.finished_at = datetime.now(UTC)
                run.state = state
