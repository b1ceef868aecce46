"""`wildloop serve`: the web UI and JSON API of one project, with Uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from wildloop.cli.options import ProjectOption, open_project
from wildloop.cli.output import console
from wildloop.evaluation.compare_job import KIND as COMPARE
from wildloop.jobs.executor import executor_for
from wildloop.project import Project
from wildloop.review.queue import QUEUE_KIND_NAME
from wildloop.training.ticker import Tick, TriggerTicker


def serve(
    project: ProjectOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Send the session cookie over HTTPS only (behind TLS).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="In-process job workers (default: jobs.local_workers); 0 when separate "
            "`wildloop worker` processes run the jobs."
        ),
    ] = None,
) -> None:
    """Serve the review UI at http://HOST:PORT/ and the JSON API at /api/v1 (docs /api/docs).

    Jobs run in-process, and the automatic training triggers are checked every
    triggers.check_seconds (60 by default) in wildloop.toml."""
    import uvicorn

    # Lazy on purpose: the web stack (FastAPI, Starlette, Jinja) is heavy and only `serve`
    # needs it, so every other command starts without loading it.
    from wildloop.web.app import create_app

    proj = open_project(project)
    app = create_app(proj, secure_cookies=secure_cookies)
    console.print(
        f"wildloop [bold]{proj.config.name}[/] on http://{host}:{port}/ "
        f"(API docs http://{host}:{port}/api/docs); Ctrl+C stops"
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not secure_cookies:
        console.print("[yellow]warning:[/] serving beyond this machine without --secure-cookies")
    executor = executor_for(  # jobs.executor: threads here, or a dispatcher to Celery
        proj,
        workers=workers,
        # The Models page waits for comparisons and the review screen for its order: never
        # behind a training.
        lanes=(COMPARE, QUEUE_KIND_NAME),
    )
    executor.start()
    ticker = start_trigger_ticker(proj)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if ticker is not None:
            ticker.stop()
        executor.stop()
        proj.close()


def start_trigger_ticker(proj: Project) -> TriggerTicker | None:
    """Check the automatic training triggers every ``triggers.check_seconds`` while serving."""

    interval = proj.config.triggers.check_seconds
    if not interval:
        return None

    def report(outcome: Tick) -> None:
        if outcome.job_id is not None and outcome.check is not None:
            console.print(f"{outcome.check.reason}: training job {outcome.job_id} queued")
        elif outcome.error:
            console.print(f"[yellow]training triggers:[/] {outcome.error}")

    ticker = TriggerTicker(proj, interval, report)
    ticker.start()
    return ticker
