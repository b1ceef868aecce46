"""`wildloop demo`: a ready project built from generated camera-trap scenes, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wildloop.cli.output import console, progress_bar
from wildloop.config import CONFIG_FILE
from wildloop.media.ingest import ingest_paths
from wildloop.media.summary import media_summary
from wildloop.project import Project
from wildloop.synthetic.scenes import SceneGenerator

DEMO_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]


def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path(
        "demo-project"
    ),
    bursts: Annotated[int, typer.Option(help="Generated camera bursts (3-6 frames each).")] = 80,
    seed: Annotated[int, typer.Option(help="Seed of the scene generator.")] = 7,
) -> None:
    """Generate trail-camera scenes, create a project and ingest them (no internet needed)."""
    root = directory.expanduser().resolve()
    if (root / CONFIG_FILE).exists():
        project = Project.open(root)
        console.print(f"Using existing demo project in {root}")
    else:
        project = Project.init(root, "demo", DEMO_CLASSES)
        console.print(f"Created demo project in {root}")
    photos = root / "photos"
    if not photos.exists():
        frames = SceneGenerator(DEMO_CLASSES, seed=seed).write(photos, bursts)
        console.print(f"Generated {len(frames)} camera-trap scenes in {photos} (synthetic)")
    with project, progress_bar("ingest") as update:
        report = ingest_paths(project, [photos], progress=update)
        summary = media_summary(project)
    console.print(
        f"Ingested {report.added} new photos ({report.skipped} already there); "
        f"{summary['media']} media in {summary['sequences']} sequences, "
        f"splits {summary['by_split']}."
    )
