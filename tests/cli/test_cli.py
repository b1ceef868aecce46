"""The real `wildloop` command, run as a subprocess: exit codes, JSON output, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import wildloop
from wildloop.cli.app import app as cli_app

SRC = Path(wildloop.__file__).parents[1]


def run(*args: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("WILDLOOP_PROJECT", None)
    result = subprocess.run(
        [sys.executable, "-m", "wildloop", *args], capture_output=True, text=True, env=env, cwd=cwd
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_init_ingest_status_and_import_end_to_end(tmp_path: Path, scenes, db_url: str) -> None:
    frames = scenes(bursts=4)
    project = tmp_path / "proj"
    run(
        "init",
        str(project),
        "--name",
        "Deer",
        "--classes",
        "buck,doe,fawn,cattle,pig,raccoon",
        "--database-url",
        db_url,
    )
    report = json.loads(
        run("ingest", str(tmp_path / "scenes"), "-p", str(project), "--json").stdout
    )
    assert report["added"] == len(frames) and report["failed"] == 0
    status = json.loads(run("status", "--json", "-p", str(project)).stdout)
    assert status["by_status"]["ok"] == len(frames)
    assert sum(status["by_split"].values()) == len(frames)
    assert set(status["by_camera"]) == {"cam01", "cam02", "cam03"}


def test_errors_exit_nonzero_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run("status", "-p", str(tmp_path / "nowhere"), ok=False)
    assert result.returncode == 2
    assert "not a wildloop project" in result.stderr
    assert "Traceback" not in result.stderr
    run("init", str(tmp_path / "p"), "--name", "x", "--classes", "a")
    again = run("init", str(tmp_path / "p"), "--name", "x", "--classes", "a", ok=False)
    assert again.returncode == 4 and "already a wildloop project" in again.stderr
    dup = run("init", str(tmp_path / "q"), "--name", "x", "--classes", "a,a", ok=False)
    assert dup.returncode == 2 and "unique" in dup.stderr


def test_project_can_come_from_the_environment(tmp_path: Path) -> None:
    run("init", str(tmp_path / "p"), "--name", "env", "--classes", "a")
    env = {**os.environ, "PYTHONPATH": str(SRC), "WILDLOOP_PROJECT": str(tmp_path / "p")}
    out = subprocess.run(
        [sys.executable, "-m", "wildloop", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(out.stdout)["project"] == "env"


def command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command of the one Typer app, so a new command needs a snapshot."""
    paths: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(cli_app), ())
    return paths


HELP_DIR = Path(__file__).with_name("help")


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "wildloop")
def test_help_text_matches_the_snapshot(path: tuple[str, ...]) -> None:
    """Catches accidental changes to the CLI; regenerate with WILDLOOP_UPDATE_SNAPSHOTS=1.

    A missing snapshot fails (it is written only when asked), so a new command is reviewed.
    """
    result = CliRunner().invoke(
        cli_app,
        [*path, "--help"],
        prog_name="python -m wildloop",
        env={"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert result.exit_code == 0, result.output
    snapshot = HELP_DIR / f"{'-'.join(path) or 'wildloop'}.txt"
    if os.environ.get("WILDLOOP_UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(result.output)
    assert snapshot.exists(), f"no snapshot {snapshot.name}: run with WILDLOOP_UPDATE_SNAPSHOTS=1"
    assert result.output == snapshot.read_text()


def test_every_help_snapshot_belongs_to_a_command() -> None:
    """A snapshot left behind by a removed or renamed command is stale: delete it."""
    expected = {f"{'-'.join(path) or 'wildloop'}.txt" for path in command_paths()}
    assert {p.name for p in HELP_DIR.glob("*.txt")} <= expected


def test_readme_commands_are_the_makefile_targets_ci_runs() -> None:
    root = SRC.parent
    readme = (root / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    makefile = (root / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert "make test" in (root / ".ci" / "run").read_text()


def test_camera_priors_set_list_and_refuse_unknown_classes(project, scenes, tmp_path: Path) -> None:
    """In-process (CliRunner): the subprocess path is covered above and costs seconds a call."""
    from wildloop.media.ingest import ingest_paths

    scenes(bursts=1)
    ingest_paths(project, [tmp_path / "scenes"])
    where = ["-p", str(project.root)]

    def cli(*args: str) -> Any:
        return CliRunner().invoke(cli_app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})

    stored = cli("camera", "priors", "set", "cam01", "buck", "--rollup", "doe", "--json", *where)
    assert json.loads(stored.stdout) == {"camera": "cam01", "allowed": ["buck"], "rollup": "doe"}
    bad = cli("camera", "priors", "set", "cam01", "buck,moose", *where)
    assert bad.exit_code != 0 and "unknown classes 'moose'" in str(bad.exception)
    listed = json.loads(cli("camera", "priors", "list", "--json", *where).stdout)
    assert {"camera": "cam01", "allowed": ["buck"], "rollup": "doe"} in listed
    assert cli("camera", "priors", "set", "cam01", "", *where).exit_code == 0
    listed = json.loads(cli("camera", "priors", "list", "--json", *where).stdout)
    assert {"camera": "cam01", "allowed": None, "rollup": None} in listed
