"""Comparisons are jobs: kept as the job's result, recomputed only when stale or asked, and
run in their own lane so they never wait behind a long training or reprocess."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from tests.support.models_page import ModelsSetup
from wildloop.evaluation.compare_job import KIND, ComparisonRun, comparison_run
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, register_kind
from wildloop.jobs.records import cancel_job, job_status, submit_job
from wildloop.store.tables import Job

_release = threading.Event()


def _hold_the_worker(ctx: ChunkContext) -> ChunkOutcome:
    """Stands for a training that keeps the general worker busy for hours."""
    while not _release.wait(0.05):
        ctx.check_cancelled()
    return ChunkOutcome(done=1)


register_kind(JobKind("test.hold", _hold_the_worker))


def wait_done(setup: ModelsSetup, timeout: float = 60) -> ComparisonRun:
    deadline = time.monotonic() + timeout
    while True:
        run = comparison_run(setup.project, setup.challenger, setup.champion)
        if run.state != "computing":
            return run
        assert time.monotonic() < deadline, "the comparison did not finish"
        time.sleep(0.1)


def test_a_comparison_runs_beside_a_long_job_and_is_kept_as_its_result(
    better_challenger: ModelsSetup, start_executor
) -> None:
    setup = better_challenger
    _release.clear()
    with setup.project.db.session() as session:
        holder = submit_job(session, "test.hold", {}, [{}], total=1)
    start_executor(setup.project, workers=1, lanes=(KIND,))
    try:
        first = comparison_run(setup.project, setup.challenger, setup.champion)
        assert first.state == "computing"
        done = wait_done(setup)
        with setup.project.db.session() as session:
            assert job_status(session, holder)["state"] == "running"  # still busy
        assert done.job_id == first.job_id and done.state == "done"
        assert done.result is not None and done.result["decision"]["promote"]
        assert done.result["challenger"]["model_version_id"] == setup.challenger
        # Asking again reuses the job's result; refresh computes it again in a new job.
        again = comparison_run(setup.project, setup.challenger, setup.champion)
        assert again.job_id == first.job_id
        fresh = comparison_run(setup.project, setup.challenger, setup.champion, refresh=True)
        assert fresh.job_id != first.job_id
        assert wait_done(setup).job_id == fresh.job_id
    finally:
        _release.set()
    with setup.project.db.session() as session:
        kinds = session.scalars(select(Job.kind).order_by(Job.id)).all()
        states = session.scalars(select(Job.state).where(Job.kind == KIND)).all()
    assert kinds == ["test.hold", KIND, KIND] and set(states) == {"succeeded"}


def test_a_cancelled_comparison_says_so_and_try_again_submits_a_new_one(
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    queued = comparison_run(setup.project, setup.challenger, setup.champion)  # no worker yet
    with setup.project.db.session() as session:
        cancel_job(session, queued.job_id, None)
    shown = comparison_run(setup.project, setup.challenger, setup.champion)
    assert shown.job_id == queued.job_id and shown.state == "failed"
    assert shown.error == "the comparison job was cancelled"
    retried = comparison_run(setup.project, setup.challenger, setup.champion, refresh=True)
    assert retried.job_id != queued.job_id and retried.state == "computing"
