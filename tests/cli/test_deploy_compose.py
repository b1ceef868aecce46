"""deploy/compose.yaml cannot run here (no Docker), so check what can rot silently: the YAML
parses, every wildloop command in it parses with this version's CLI (subcommand and every
option, as Click would at start-up), and the project settings it mounts are valid."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from wildloop.cli.app import app as cli_app
from wildloop.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _services() -> dict[str, dict]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return compose["services"]


def _wildloop_commands() -> dict[str, list[str]]:
    return {
        name: service["command"][1:]
        for name, service in _services().items()
        if service.get("command", [None])[0] == "wildloop"
    }


def test_compose_runs_a_server_postgres_redis_and_gpu_workers() -> None:
    services = _services()
    assert {"postgres", "redis", "server", "gpu-worker"} <= set(services)
    commands = _wildloop_commands()
    assert commands["server"][0] == "serve"
    assert commands["gpu-worker"][:4] == ["worker", "--celery", "--queues", "infer-gpu"]
    for name in commands:
        env = services[name]["environment"]
        assert {"WILDLOOP_DATABASE_URL", "WILDLOOP_BROKER_URL"} <= set(env)
        mounts = [v.removesuffix(":ro").rsplit(":", 1)[1] for v in services[name]["volumes"]]
        assert {"/srv/artifacts", "/mnt/cards", "/srv/wildloop/wildloop.toml"} <= set(mounts)


def test_every_wildloop_command_in_compose_is_a_valid_invocation() -> None:
    root = typer.main.get_command(cli_app)
    runner = CliRunner()
    commands = _wildloop_commands()
    assert commands
    for name, argv in commands.items():
        help_run = runner.invoke(cli_app, [argv[0], "--help"])
        assert help_run.exit_code == 0, (name, help_run.output)
        # Parses every option and value the way the container's start would, without running.
        parent = root.make_context("wildloop", [argv[0]])
        command = root.get_command(parent, argv[0])
        assert command is not None, f"{name}: no `wildloop {argv[0]}`"
        command.make_context(argv[0], list(argv[1:]), parent=parent)


def test_the_mounted_project_settings_are_valid(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "wildloop.toml", tmp_path / "wildloop.toml")
    config = load_config(tmp_path)
    assert config.jobs.executor == "celery"
    assert config.storage.artifacts_url == "file:///srv/artifacts"
