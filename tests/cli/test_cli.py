"""The real `wildloop` command, run as a subprocess: exit codes, JSON output, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wildloop

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


@pytest.mark.parametrize(
    "command",
    [
        *("", "init", "ingest", "import-labels", "status", "demo", "camera", "splits"),
        *("snapshot", "export", "train", "evaluate", "compare", "promote", "retrain-log"),
        *("triggers", "loop", "serve", "user", "token"),
    ],
)
def test_help_text_matches_the_snapshot(command: str) -> None:
    """Catches accidental changes to the CLI; regenerate with WILDLOOP_UPDATE_SNAPSHOTS=1."""
    args = [command, "--help"] if command else ["--help"]
    text = run(*args).stdout
    snapshot = Path(__file__).with_name("help") / f"{command or 'wildloop'}.txt"
    if os.environ.get("WILDLOOP_UPDATE_SNAPSHOTS") or not snapshot.exists():
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(text)
    assert text == snapshot.read_text()


def test_readme_commands_are_the_makefile_targets_ci_runs() -> None:
    root = SRC.parent
    readme = (root / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    makefile = (root / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert "make test" in (root / ".ci" / "run").read_text()
