"""`wildloop demo --audio`: a ready audio project built from generated sounds, offline.

Generates recordings with calls of four known kinds (tone, chirp, trill, buzz) at two sites,
ingests them into windows, embeds every window with the licence-free log-mel embedder
(and indexes the vectors for search by example),
labels part of the train and val windows from the generator's truth (as an import would),
trains a head on them, makes it the champion and scores every window, so the audio review
screen opens on predictions to confirm or correct. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import aliased

from wildloop.audio.embed_job import submit_embed
from wildloop.audio.head_job import start_head_training
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.audio.search import submit_index
from wildloop.cli.job_cmds import run_with_progress
from wildloop.cli.output import console, progress_bar
from wildloop.config import CONFIG_FILE
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.evaluation.promotion import make_first_champion
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.review.labels import save_labels
from wildloop.store.tables import Media
from wildloop.synthetic.sounds import SOUND_CLASSES, GeneratedRecording, generate_recordings

# Every other train window and every val window start labelled; the rest wait for review.
SEED_EVERY = 2


def build_audio_demo(root: Path, recordings: int, seed: int, admin: str) -> Project:
    """The audio demo project in ``root`` (created, or reused and brought up to date)."""
    if (root / CONFIG_FILE).exists():
        project = Project.open(root)
        console.print(f"Using existing audio demo project in {root}")
    else:
        project = Project.init(root, "audio-demo", list(SOUND_CLASSES), modality="audio")
        console.print(f"Created audio demo project in {root}")
    folder = root / "recordings"
    made = []
    if not folder.exists():
        made = generate_recordings(folder, recordings, seed)
        console.print(f"Generated {len(made)} recordings in {folder} (synthetic)")
    with progress_bar("ingest") as update:
        report = ingest_audio_paths(project, [folder], progress=update)
    console.print(f"Ingested {report.added} recordings into {report.windows} windows")
    actor = project.author(admin)
    embedded = submit_embed(project, created_by=actor)
    run_with_progress(project, embedded.job_id, f"embed ({embedded.embedder})")
    run_with_progress(project, submit_index(project, created_by=actor), "search index")
    with project.db.session() as session:
        has_champion = aliases.resolve(session, "champion") is not None
    if made and not has_champion:
        seeded = _seed_labels(project, made, actor)
        console.print(f"Labelled {seeded} train/val windows from the generator's truth")
        started = start_head_training(project, created_by=actor, trigger="demo")
        status = run_with_progress(project, started.job_id, "train audio head")
        version_id = (status.get("result") or {}).get("model_version_id")
        if version_id is not None:
            with project.db.session() as session:
                make_first_champion(
                    session, version_id, actor, "demo: first champion", classes=project.classes
                )
            console.print("Trained a head on the labelled windows and made it champion")
    submitted = submit_process(project, created_by=actor)
    if submitted.items:
        run_with_progress(project, submitted.job_id, f"predict ({submitted.version_name})")
    return project


def _seed_labels(project: Project, made: list[GeneratedRecording], author: int) -> int:
    """Whole-window labels (or "nothing") from the truth for part of the train/val windows."""
    truth = {str(r.path.resolve()): r for r in made}
    recording = aliased(Media, name="recording")
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, Media.t_start, Media.t_end, Media.split, recording.path)
            .join(recording, recording.id == Media.parent_id)
            .where(
                Media.kind == "window", Media.split.in_(("train", "val")), Media.reviewed.is_(False)
            )
            .order_by(Media.id)
        ).all()
        seeded = 0
        for n, row in enumerate(rows):
            generated = truth.get(str(Path(row.path).resolve()))
            if generated is None or (row.split == "train" and n % SEED_EVERY):
                continue
            kind = generated.label_for(row.t_start, row.t_end)
            boxes: tuple[LabelBoxValue, ...] = ()
            if kind is not None:
                span = TimeSpan(row.t_start, row.t_end)
                boxes = (LabelBoxValue(None, project.classes.id_of(kind), span=span),)
            save_labels(
                session,
                row.id,
                LabelSet(boxes=boxes, empty=kind is None),
                author_id=author,
                classes=project.classes,
                expected_revision=None,
                source="import",
                action="labels.import",
            )
            seeded += 1
    return seeded
