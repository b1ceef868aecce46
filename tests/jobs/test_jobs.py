"""Persistent jobs: atomic claims, progress, cancel, retries, stale reclaim, finalisers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from wildloop.errors import Conflict
from wildloop.jobs import claims
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, register_kind
from wildloop.jobs.local import run_job
from wildloop.jobs.records import TERMINAL, cancel_job, job_status, list_jobs, retry_job, submit_job
from wildloop.jobs.worker import WorkerSettings, run_worker
from wildloop.project import Project
from wildloop.store.tables import Job, JobChunk
from wildloop.store.types import utcnow

FAST = WorkerSettings(heartbeat_seconds=0.1, stale_after_seconds=0.5, poll_seconds=0.05)
seen: list[tuple[int, int]] = []
attempts: dict[int, int] = {}
gate = threading.Event()


def _count(ctx: ChunkContext) -> ChunkOutcome:
    items = ctx.payload["items"]
    for i, _ in enumerate(items, start=1):
        ctx.progress(i, message=f"item {i}")
    seen.append((ctx.job_id, ctx.seq))
    return ChunkOutcome(done=len(items))


def _total(project: Project, job_id: int) -> dict[str, Any]:
    return {"chunks_seen": sum(1 for j, _ in seen if j == job_id)}


def _flaky(ctx: ChunkContext) -> ChunkOutcome:
    attempts[ctx.chunk_id] = attempts.get(ctx.chunk_id, 0) + 1
    if ctx.payload.get("fail_times", 0) >= attempts[ctx.chunk_id]:
        raise ValueError(f"boom on attempt {attempts[ctx.chunk_id]}")
    return ChunkOutcome(done=1)


def _slow(ctx: ChunkContext) -> ChunkOutcome:
    gate.set()
    for i in range(200):
        time.sleep(0.02)
        ctx.progress(i)
    return ChunkOutcome(done=200)


register_kind(JobKind("test.count", _count, finalize=_total))
register_kind(JobKind("test.flaky", _flaky, max_attempts=2))


def _bad_finish(project: Project, job_id: int) -> dict[str, Any]:
    raise RuntimeError("the result could not be stored")


def _parent(ctx: ChunkContext) -> ChunkOutcome:
    """Submits one child (a count job) and one grandchild-free sibling, then waits."""
    children = [
        ctx.child(key, lambda key=key: _submit(ctx.project, "test.count", [{"items": [key]}], 1))
        for key in ("a", "b")
    ]
    done = ctx.wait_for(children)
    ctx.progress(1, message="children: " + ", ".join(done[c].state for c in children))
    return ChunkOutcome(done=1)


register_kind(JobKind("test.slow", _slow))
register_kind(JobKind("test.parent", _parent, max_attempts=1))
register_kind(JobKind("test.bad_finish", _count, finalize=_bad_finish))


def _submit(project: Project, kind: str, chunks: list[dict[str, Any]], total: int | None) -> int:
    with project.db.session() as session:
        return submit_job(session, kind, {"x": 1}, chunks, total=total)


def test_job_runs_to_success_with_progress_and_result(project: Project) -> None:
    job_id = _submit(project, "test.count", [{"items": [1, 2, 3]}, {"items": [4, 5]}], 5)
    updates: list[dict[str, Any]] = []
    status = run_job(project, job_id, progress=updates.append, settings=FAST, poll_seconds=0.01)
    assert status["state"] == "succeeded"
    assert status["progress"] == {"done": 5, "total": 5, "percent": 100.0}
    assert status["result"] == {"chunks_seen": 2}
    assert status["chunks"] == {"queued": 0, "running": 0, "done": 2, "failed": 0}
    assert status["started_at"] and status["finished_at"] and status["attempts"] == 1
    assert updates[-1]["state"] == "succeeded"
    with project.db.session() as session:
        assert list_jobs(session)[0]["id"] == job_id


def test_job_without_chunks_succeeds_at_once(project: Project) -> None:
    job_id = _submit(project, "test.count", [], 0)
    with project.db.session() as session:
        assert job_status(session, job_id)["state"] == "succeeded"


def test_two_workers_never_take_the_same_chunk(project: Project) -> None:
    job_id = _submit(project, "test.count", [{"items": [i]} for i in range(40)], 40)
    claimed: list[int] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        while True:
            with project.db.session() as session:
                claim = claims.claim_chunk(session, name, job_id=job_id)
            if claim is None:
                return
            with lock:
                claimed.append(claim.chunk_id)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 40


def test_failing_chunk_is_retried_then_fails_the_job(project: Project) -> None:
    ok = _submit(project, "test.flaky", [{"fail_times": 1}], 1)
    assert run_job(project, ok, settings=FAST)["state"] == "succeeded"
    bad = _submit(project, "test.flaky", [{"fail_times": 5}, {"fail_times": 0}], 2)
    status = run_job(project, bad, settings=FAST)
    assert status["state"] == "failed"
    assert "failed after 2 attempts" in status["error"] and "boom" in status["error"]
    with project.db.session() as session:
        retry_job(session, bad)
        with pytest.raises(Conflict):
            retry_job(session, ok)
    with project.db.session() as session:
        session.execute(update(JobChunk).values(payload={"fail_times": 0}))
    assert run_job(project, bad, settings=FAST)["state"] == "succeeded"


def test_cancel_stops_a_running_chunk(project: Project) -> None:
    gate.clear()
    job_id = _submit(project, "test.slow", [{}, {}], 400)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(run_job(project, job_id, settings=FAST, poll_seconds=0.05))
    )
    runner.start()
    assert gate.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with project.db.session() as session:
            live = job_status(session, job_id)
        if live["rate_per_s"] and live["eta_seconds"]:
            break
        time.sleep(0.05)
    # A running job shows a rate and an ETA consistent with what is left.
    assert live["state"] == "running" and live["rate_per_s"] > 0
    left = live["progress"]["total"] - live["progress"]["done"]
    assert abs(live["eta_seconds"] - left / live["rate_per_s"]) < 0.2 * live["eta_seconds"] + 1
    with project.db.session() as session:
        assert cancel_job(session, job_id)
    runner.join(20)
    assert result["state"] == "cancelled"
    with project.db.session() as session:
        states = session.scalars(select(JobChunk.state).where(JobChunk.job_id == job_id)).all()
        assert not cancel_job(session, job_id)
    assert "done" not in states and "running" not in states


def test_stale_chunk_of_a_dead_worker_is_reclaimed(project: Project) -> None:
    job_id = _submit(project, "test.count", [{"items": [1]}], 1)
    with project.db.session() as session:
        claim = claims.claim_chunk(session, "elsewhere:1:gone", job_id=job_id)
        assert claim is not None
    # The other worker vanished; its heartbeat stops.
    time.sleep(0.6)
    stats = run_worker(project, job_id=job_id, settings=FAST)
    assert stats.chunks_done == 1 and stats.jobs_finished == [job_id]
    with project.db.session() as session:
        status = job_status(session, job_id)
        chunk = session.scalar(select(JobChunk).where(JobChunk.job_id == job_id))
    assert status["state"] == "succeeded" and status["attempts"] == 2
    assert chunk is not None and chunk.attempts == 2


def test_a_fresh_heartbeat_is_not_reclaimed(project: Project) -> None:
    job_id = _submit(project, "test.count", [{"items": [1]}], 1)
    with project.db.session() as session:
        claims.claim_chunk(session, "elsewhere:1:alive", job_id=job_id)
        assert claims.reclaim_stale(session, 60, 3) == 0
        session.execute(update(Job).values(heartbeat_at=utcnow()))
        assert session.scalar(select(JobChunk.state)) == "running"


def _wait_finished(project: Project, ids: list[int], timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        with project.db.session() as session:
            states = [job_status(session, i)["state"] for i in ids]
        if all(s in TERMINAL for s in states) or time.monotonic() > deadline:
            return states
        time.sleep(0.05)


def test_local_executor_runs_jobs_in_the_background(project: Project, start_executor) -> None:
    start_executor(project, workers=2)
    ids = [_submit(project, "test.count", [{"items": [1, 2]}] * 3, 6) for _ in range(2)]
    assert _wait_finished(project, ids) == ["succeeded", "succeeded"]


def _kinds_and_states(project: Project) -> list[tuple[str, str]]:
    with project.db.session() as session:
        return [(j.kind, j.state) for j in session.scalars(select(Job).order_by(Job.id))]


def test_a_parent_job_runs_its_children_through_run_job_with_one_worker(
    project: Project,
) -> None:
    parent = _submit(project, "test.parent", [{}], 1)
    status = run_job(project, parent, workers=1, settings=FAST, poll_seconds=0.01)
    assert status["state"] == "succeeded", status
    assert status["message"] == "done"
    assert _kinds_and_states(project) == [
        ("test.parent", "succeeded"),
        ("test.count", "succeeded"),
        ("test.count", "succeeded"),
    ]
    assert set(status["params"]["children"]) == {"a", "b"}


def test_a_parent_never_starves_its_children_of_the_only_worker(
    project: Project, start_executor
) -> None:
    start_executor(project, workers=1)  # one general lane: the parent must not hold it
    parent = _submit(project, "test.parent", [{}], 1)
    assert _wait_finished(project, [parent]) == ["succeeded"]
    assert [state for _, state in _kinds_and_states(project)] == ["succeeded"] * 3


def test_a_resumed_parent_finds_its_children_instead_of_submitting_again(
    project: Project,
) -> None:
    parent = _submit(project, "test.parent", [{}], 1)
    with project.db.session() as session:
        claim = claims.claim_chunk(session, "elsewhere:1:dies", job_id=parent)
    assert claim is not None
    ctx = ChunkContext(
        project,
        parent,
        claim.chunk_id,
        0,
        claim.params,
        {},
        "elsewhere:1:dies",
        None,  # type: ignore[arg-type]
    )
    first = ctx.child("a", lambda: _submit(project, "test.count", [{"items": [1]}], 1))
    # ... and the worker dies here, before waiting; another worker takes the chunk over.
    time.sleep(0.6)
    status = run_job(project, parent, settings=FAST, poll_seconds=0.01)
    assert status["state"] == "succeeded" and status["params"]["children"]["a"] == first
    assert [kind for kind, _ in _kinds_and_states(project)].count("test.count") == 2  # a, b


def _message(project: Project, job_id: int) -> str:
    with project.db.session() as session:
        return str(job_status(session, job_id)["message"])


def test_cancelling_a_parent_cancels_its_children(project: Project) -> None:
    parent = _submit(project, "test.parent", [{}], 1)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    # A worker for parents only: the parent submits its children, then waits for them.
    stats = run_worker(project, kinds=["test.parent"], settings=FAST, stop=stop)
    assert stats.chunks_released >= 1
    assert _message(project, parent) == "waiting for job 2, 3"
    with project.db.session() as session:
        cancel_job(session, parent)
    assert [state for _, state in _kinds_and_states(project)] == ["cancelled"] * 3


def test_a_job_of_an_unknown_kind_fails_with_the_reason_and_the_worker_goes_on(
    project: Project,
) -> None:
    unknown = _submit(project, "gone.plugin", [{}], 1)
    known = _submit(project, "test.count", [{"items": [1]}], 1)
    with project.db.session() as session:  # a row an older version left mid-way
        left = Job(kind="reprocess", state="running", progress_done=2, progress_total=9)
        session.add(left)
        session.flush()
        left_id = left.id
    stats = run_worker(project, settings=FAST)
    with project.db.session() as session:
        first, second, third = (job_status(session, i) for i in (unknown, known, left_id))
    assert first["state"] == "failed" and "cannot run it" in first["error"]
    assert "unknown job kind 'gone.plugin'" in first["error"]
    assert second["state"] == "succeeded" and stats.jobs_finished == [known]
    assert third["state"] == "failed" and "unknown job kind 'reprocess'" in third["error"]


def test_a_failing_finaliser_fails_its_job_and_the_executor_goes_on(
    project: Project, start_executor
) -> None:
    executor = start_executor(project, workers=1)
    bad = _submit(project, "test.bad_finish", [{"items": [1]}], 1)
    good = _submit(project, "test.count", [{"items": [1, 2]}], 2)
    assert _wait_finished(project, [bad, good]) == ["failed", "succeeded"]
    with project.db.session() as session:
        error = job_status(session, bad)["error"]
    assert error == "finishing failed: RuntimeError: the result could not be stored"
    assert all(thread.is_alive() for thread in executor._threads)
