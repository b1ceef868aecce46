"""The one Typer app; errors become messages and exit codes here, in one place."""

from __future__ import annotations

import typer

from wildloop.cli import ingest_cmds, project_cmds, serve_cmds, user_cmds
from wildloop.cli.output import errors
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
app.command()(serve_cmds.serve)
app.add_typer(user_cmds.user_app, name="user")
app.add_typer(user_cmds.token_app, name="token")


def main() -> None:
    try:
        app()
    except WildloopError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise SystemExit(exc.exit_code) from None
