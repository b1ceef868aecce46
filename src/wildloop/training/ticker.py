"""Automatic training while the server runs: a thread that checks the triggers on a timer.

``wildloop serve`` runs its jobs in-process, but the triggers ("after N reviewed items", a
cron schedule) only fire when something checks them. Rather than asking users to add a cron
line next to the server, the server checks every ``triggers.check_seconds`` with the same
stateless check as ``wildloop triggers check --run``; the training it starts is an ordinary
queued job that the server's workers (or ``wildloop worker`` processes) pick up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from wildloop.errors import WildloopError
from wildloop.project import Project
from wildloop.training.triggers import (
    TriggerCheck,
    after_reviewed,
    classifier_after_reviewed,
    run_triggers,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    """What one check did: started a training (``job_id``), found nothing due, or failed."""

    check: TriggerCheck | None
    job_id: int | None = None
    error: str | None = None


Report = Callable[[Tick], None]


def triggers_enabled(project: Project) -> bool:
    return bool(
        after_reviewed(project)
        or classifier_after_reviewed(project)
        or project.config.triggers.schedule
    )


def tick(project: Project, now: datetime | None = None) -> Tick:
    """Check the triggers once and start a training if one is due.

    A bad setting or a refused start (no train items yet) comes back as ``error`` instead of
    an exception: the server keeps running and the next check tries again.
    """
    if not triggers_enabled(project):
        return Tick(None)
    try:
        check, started = run_triggers(project, now)
    except WildloopError as exc:
        return Tick(None, error=str(exc))
    return Tick(check, started.job_id if started else None)


class TriggerTicker:
    """A daemon thread calling :func:`tick` every ``interval`` seconds until stopped."""

    def __init__(self, project: Project, interval: float, report: Report | None = None) -> None:
        if interval <= 0:
            raise ValueError("the trigger check interval must be positive")
        self.project = project
        self.interval = interval
        self.report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wildloop-triggers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                outcome = tick(self.project)
            except Exception as exc:  # e.g. the database is unreachable for a moment
                log.exception("checking the training triggers failed")
                outcome = Tick(None, error=f"{type(exc).__name__}: {exc}")
            self._deliver(outcome)

    def _deliver(self, outcome: Tick) -> None:
        """Report starts always, an error only when it changes (not once a minute)."""
        if outcome.error is not None and outcome.error == self._last_error:
            return
        self._last_error = outcome.error
        if self.report and (outcome.job_id is not None or outcome.error is not None):
            self.report(outcome)
