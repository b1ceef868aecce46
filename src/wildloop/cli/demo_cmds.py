"""`wildloop demo`: a ready project built from generated camera-trap scenes, offline
(``--audio``: from generated sounds, see demo_audio).

Generates scenes, creates a project, ingests them, registers the small ONNX detector shipped
with wildloop (trained on generated scenes by scripts/build_demo_detector.py) as champion,
runs it over every photo through the same pipeline real projects use, creates a demo admin
and serves the review UI. Nothing is downloaded and torch is not needed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.demo_audio import build_audio_demo
from wildloop.cli.job_cmds import run_with_progress
from wildloop.cli.output import console, progress_bar
from wildloop.cli.serve_cmds import serve as serve_command
from wildloop.config import CONFIG_FILE
from wildloop.errors import Conflict
from wildloop.evaluation.promotion import make_first_champion
from wildloop.media.ingest import ingest_paths
from wildloop.media.summary import media_summary
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance
from wildloop.synthetic.scenes import SceneGenerator
from wildloop.users.accounts import create_user

DEMO_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
DEMO_DETECTOR = Path(__file__).resolve().parents[1] / "synthetic" / "demo_detector.onnx"
DEMO_USER, DEMO_PASSWORD = "admin", "wildloop-demo"
# The demo runs on laptops: a retraining (button or the after-100-reviews trigger) should take
# minutes on a CPU, not the hours the production defaults (50 epochs at 640 px) would.
DEMO_TRAINING = {"epochs": 10, "imgsz": 320, "patience": 5}


def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path(
        "demo-project"
    ),
    bursts: Annotated[int, typer.Option(help="Generated camera bursts (3-6 frames each).")] = 80,
    seed: Annotated[int, typer.Option(help="Seed of the scene generator.")] = 7,
    serve: Annotated[bool, typer.Option(help="Serve the review UI when ready.")] = True,
    port: Annotated[int, typer.Option(help="TCP port for the UI.")] = 8000,
    audio: Annotated[
        bool, typer.Option(help="An audio project from generated sounds instead of photos.")
    ] = False,
    recordings: Annotated[int, typer.Option(help="Generated recordings (--audio).")] = 24,
) -> None:
    """Build a demo project from generated scenes (or sounds) with model predictions, then
    serve it."""
    root = directory.expanduser().resolve()
    if audio:
        with build_audio_demo(root, recordings, seed, DEMO_USER) as project:
            _ensure_demo_admin(project)
    else:
        _build_image_demo(root, bursts, seed)
    if serve:
        console.print(
            f"Log in as [bold]{DEMO_USER}[/] / [bold]{DEMO_PASSWORD}[/] (demo account; "
            "create real ones with `wildloop user add`)."
        )
        serve_command(project=root, port=port)


def _build_image_demo(root: Path, bursts: int, seed: int) -> None:
    if (root / CONFIG_FILE).exists():
        project = Project.open(root)
        console.print(f"Using existing demo project in {root}")
    else:
        project = Project.init(root, "demo", DEMO_CLASSES)
        _use_demo_training_settings(project)
        console.print(f"Created demo project in {root}")
    with project:
        _ingest_scenes(project, root / "photos", bursts, seed)
        _predict_with_demo_detector(project)
        _ensure_demo_admin(project)


def _use_demo_training_settings(project: Project) -> None:
    project.config.training = project.config.training.model_copy(update=DEMO_TRAINING)
    project.save_config()


def _ingest_scenes(project: Project, photos: Path, bursts: int, seed: int) -> None:
    if not photos.exists():
        frames = SceneGenerator(DEMO_CLASSES, seed=seed).write(photos, bursts)
        console.print(f"Generated {len(frames)} camera-trap scenes in {photos} (synthetic)")
    with progress_bar("ingest") as update:
        report = ingest_paths(project, [photos], progress=update)
    summary = media_summary(project)
    console.print(
        f"Ingested {report.added} new photos ({report.skipped} already there); "
        f"{summary['media']} media in {summary['sequences']} sequences, "
        f"splits {summary['by_split']}."
    )


def _predict_with_demo_detector(project: Project) -> None:
    with project.db.session() as session:
        has_champion = aliases.resolve(session, "champion") is not None
    actor = project.author(DEMO_USER)
    if not has_champion:
        version = register_model(
            project,
            DEMO_DETECTOR,
            "demo-detector",
            provenance=Provenance(
                source="registered",
                notes="tiny YOLOv8 trained on generated scenes (scripts/build_demo_detector.py); "
                "demo only, not a wildlife model",
            ),
            actor_id=actor,
        )
        with project.db.session() as session:
            make_first_champion(
                session, version.id, actor, "demo: first champion", classes=project.classes
            )
        console.print(
            "Registered the demo detector (ONNX, trained on generated scenes) as champion"
        )
    submitted = submit_process(project, created_by=actor)
    if submitted.items:
        run_with_progress(project, submitted.job_id, f"predict ({submitted.version_name})")


def _ensure_demo_admin(project: Project) -> None:
    # The session outside: a Conflict (made by an earlier run) is raised before any write.
    with project.db.session() as session, contextlib.suppress(Conflict):
        create_user(session, DEMO_USER, "admin", DEMO_PASSWORD)
