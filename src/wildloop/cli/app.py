"""The one Typer app; errors become messages and exit codes here, in one place."""

from __future__ import annotations

import typer

from wildloop.cli import (
    analytics_cmds,
    audio_cmds,
    audio_model_cmds,
    camera_cmds,
    classifier_cmds,
    crop_cmds,
    dataset_cmds,
    demo_cmds,
    event_cmds,
    individual_cmds,
    ingest_cmds,
    job_cmds,
    label_issue_cmds,
    loop_cmds,
    model_cmds,
    prediction_cmds,
    process_cmds,
    project_cmds,
    queue_cmds,
    repeat_cmds,
    serve_cmds,
    settings_gate_cmds,
    shadow_cmds,
    split_cmds,
    threshold_cmds,
    user_cmds,
)
from wildloop.cli.output import errors
from wildloop.composition import register_job_kinds
from wildloop.errors import WildloopError

app = typer.Typer(
    name="wildloop",
    help="Review, retrain and reprocess wildlife detection models in one loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(project_cmds.init)
app.command()(project_cmds.status)
app.command()(ingest_cmds.ingest)
app.command("import-labels")(ingest_cmds.import_labels)
app.command()(demo_cmds.demo)
app.add_typer(camera_cmds.app, name="camera")
app.add_typer(analytics_cmds.app, name="analytics")
app.add_typer(split_cmds.app, name="splits")
app.add_typer(audio_cmds.app, name="audio")
audio_model_cmds.register(audio_cmds.app)
app.add_typer(model_cmds.app, name="model")
classifier_cmds.register(model_cmds.app)
settings_gate_cmds.register(model_cmds.app)
app.add_typer(job_cmds.app, name="jobs")
app.add_typer(prediction_cmds.app, name="predictions")
app.command()(job_cmds.worker)
app.command()(process_cmds.process)
app.command()(process_cmds.reprocess)
app.command()(process_cmds.prune)
app.command()(queue_cmds.queue)
app.add_typer(event_cmds.app, name="events")
app.add_typer(crop_cmds.app, name="crops")
app.add_typer(individual_cmds.app, name="individuals")
app.add_typer(threshold_cmds.app, name="thresholds")
app.add_typer(repeat_cmds.app, name="repeats")
app.add_typer(shadow_cmds.app, name="shadow")
app.add_typer(label_issue_cmds.app, name="label-issues")
app.add_typer(dataset_cmds.app, name="snapshot")
app.command()(dataset_cmds.export)
loop_cmds.register(app)
app.command()(serve_cmds.serve)
app.add_typer(user_cmds.user_app, name="user")
app.add_typer(user_cmds.token_app, name="token")


def main() -> None:
    register_job_kinds()  # this process may run jobs: a worker, `loop`, `serve`
    try:
        app()
    except WildloopError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise SystemExit(exc.exit_code) from None
