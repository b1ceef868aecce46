"""`wildloop jobs list|show|cancel|retry` and `wildloop worker`."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from wildloop.cli.options import (
    DeviceOption,
    JsonOption,
    ProjectOption,
    RuntimeOption,
    open_project,
    override_inference,
)
from wildloop.cli.output import console, print_json, progress_bar
from wildloop.jobs import records
from wildloop.jobs.celery_executor import run_celery_worker
from wildloop.jobs.executor import run_job
from wildloop.jobs.worker import WorkerSettings, run_worker, settings_for
from wildloop.project import Project

app = typer.Typer(help="Persistent jobs: list, watch, cancel, retry.")


@app.callback(invoke_without_command=True)
def overview(ctx: typer.Context, project: ProjectOption = None) -> None:
    """Without a subcommand: the recent jobs (same as `wildloop jobs list`)."""
    if ctx.invoked_subcommand is None:
        list_(limit=20, active=False, project=project, as_json=False)


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(help="How many recent jobs.")] = 20,
    active: Annotated[bool, typer.Option(help="Only queued or running jobs.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recent jobs with state, progress, rate and ETA."""
    with open_project(project) as proj, proj.db.session() as session:
        jobs = records.list_jobs(session, limit=limit, states=records.ACTIVE if active else None)
        held = records.held_chunks(session, [j["id"] for j in jobs])
    if as_json:
        print_json(jobs)
        return
    table = Table("id", "kind", "state", "progress", "rate/s", "ETA", "message")
    for job in jobs:
        table.add_row(
            str(job["id"]),
            job["kind"],
            job["state"],
            _progress_text(job),
            f"{job['rate_per_s']:.1f}" if job["rate_per_s"] else "",
            _eta(job["eta_seconds"]) if job["state"] == "running" else "",
            (job["error"] or job["message"] or "")[:60],
        )
    console.print(table)
    print_held(held)


@app.command()
def show(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow it live.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """One job in full (its result included); --watch follows it with a progress bar."""
    with open_project(project) as proj:
        if watch:
            status = _watch(proj, job_id)
        else:
            with proj.db.session() as session:
                status = records.job_status(session, job_id)
        with proj.db.session() as session:
            held = records.held_chunks(session, [job_id])
    if as_json:
        print_json({**status, "held_chunks": held})
        return
    print_status(status)
    print_held(held)


@app.command()
def cancel(
    job_id: Annotated[int, typer.Argument(help="Job id.")], project: ProjectOption = None
) -> None:
    """Cancel a queued or running job (running chunks stop at their next batch)."""
    with open_project(project) as proj, proj.db.session() as session:
        changed = records.cancel_job(session, job_id)
    console.print(f"job {job_id} " + ("cancelled" if changed else "had already finished"))


@app.command()
def retry(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    run: Annotated[bool, typer.Option(help="Run it here now (else leave it to workers).")] = True,
    project: ProjectOption = None,
) -> None:
    """Queue a failed or cancelled job again; finished chunks are not redone."""
    with open_project(project) as proj:
        with proj.db.session() as session:
            records.retry_job(session, job_id)
        if run:
            print_status(run_with_progress(proj, job_id, "retry"))


def worker(
    celery: Annotated[
        bool, typer.Option("--celery", help="Serve Celery queues (jobs.broker_url).")
    ] = False,
    queues: Annotated[
        str, typer.Option(help="With --celery: comma-separated queues to serve.")
    ] = "infer-cpu,eval",
    concurrency: Annotated[
        int, typer.Option(help="With --celery: chunks run at once (pool processes).")
    ] = 1,
    pool: Annotated[
        str,
        typer.Option(
            help="With --celery: prefork or threads (solo stalls seconds between chunks on "
            "RabbitMQ with late acks)."
        ),
    ] = "prefork",
    job: Annotated[int | None, typer.Option(help="Only take chunks of this job.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these job kinds.")] = None,
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Stop when no chunk is left.")
    ] = False,
    heartbeat: Annotated[float | None, typer.Option(help="Heartbeat seconds.")] = None,
    stale_after: Annotated[
        float | None, typer.Option(help="Reclaim chunks silent this long.")
    ] = None,
    runtime: RuntimeOption = None,
    device: DeviceOption = None,
    project: ProjectOption = None,
) -> None:
    """Run job chunks in this process until stopped (Ctrl-C hands the chunk back).

    With --celery, serve the broker's queues instead of polling the job rows (queues:
    infer-cpu, infer-gpu, train, eval; see jobs.routes)."""
    if celery:
        with open_project(project) as proj:
            override_inference(proj, runtime, device)
            names = [q.strip() for q in queues.split(",") if q.strip()]
            console.print(f"celery worker for {proj.root} on {', '.join(names)}", highlight=False)
            run_celery_worker(proj, names, concurrency=concurrency, pool=pool)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open_project(project) as proj:
        override_inference(proj, runtime, device)
        base = settings_for(proj)
        settings = WorkerSettings(
            heartbeat_seconds=heartbeat or base.heartbeat_seconds,
            stale_after_seconds=stale_after or base.stale_after_seconds,
            max_attempts=base.max_attempts,
        )
        console.print(f"worker started on {proj.root}", highlight=False)
        try:
            stats = run_worker(
                proj,
                job_id=job,
                kinds=kind,
                settings=settings,
                stop=stop,
                exit_when_idle=exit_when_idle,
            )
        except KeyboardInterrupt:
            stop.set()
            return
    console.print(
        f"worker stopped: {stats.chunks_done} chunks done, {stats.chunks_failed} failed, "
        f"jobs finished: {stats.jobs_finished or 'none'}"
    )


def run_with_progress(project: Project, job_id: int, label: str) -> dict[str, Any]:
    """Run a job in this process behind a Rich progress bar; returns its final status."""
    workers = project.config.jobs.local_workers
    with progress_bar(label) as update:

        def show_progress(status: dict[str, Any]) -> None:
            update(status["progress"]["done"], status["progress"]["total"])

        return run_job(project, job_id, workers=workers, progress=show_progress)


def print_held(held: list[dict[str, Any]]) -> None:
    """Which worker holds which running chunk."""
    if not held:
        return
    table = Table("job", "chunk", "worker", "done", "attempt", "heartbeat", title="running chunks")
    for chunk in held:
        table.add_row(
            str(chunk["job_id"]),
            str(chunk["seq"]),
            chunk["worker"] or "",
            str(chunk["done"]),
            str(chunk["attempts"]),
            (chunk["heartbeat_at"] or "")[11:19],
        )
    console.print(table)


def print_status(status: dict[str, Any]) -> None:
    console.print(
        f"job {status['id']} ({status['kind']}): [bold]{status['state']}[/] "
        f"{_progress_text(status)}"
        + (f", {status['rate_per_s']:.1f}/s" if status["rate_per_s"] else "")
    )
    if status["message"]:
        console.print(f"  {status['message']}", highlight=False)
    if status["error"]:
        console.print(f"  [red]error:[/] {status['error']}", highlight=False)


def _watch(project: Project, job_id: int) -> dict[str, Any]:
    with progress_bar(f"job {job_id}") as update:
        while True:
            with project.db.session() as session:
                status = records.job_status(session, job_id)
            update(status["progress"]["done"], status["progress"]["total"])
            if status["state"] in records.TERMINAL:
                return status
            time.sleep(0.5)


def _progress_text(job: dict[str, Any]) -> str:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return f"{done}/{total}" if total is not None else str(done)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
