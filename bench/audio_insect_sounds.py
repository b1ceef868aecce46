"""Real recordings through wildloop, against a plain scikit-learn reference, in one run.

InsectSet32's Orthoptera (/work/shared/data/insect-sounds: 140 recordings, 9 species, the
dataset's own train/validation/test split by file) goes through the product: ingest (windows
of 3 s every 1.5 s) -> embed (BirdNET 2.4 when its extra is installed, else log-mel) -> every
window labelled with its file's species -> training snapshot -> head training job ->
evaluation on the frozen test windows. The reference reads the very same stored embeddings
of the train windows and fits scikit-learn's LogisticRegression(class_weight="balanced") with
its defaults; both are scored on the same test windows by argmax.

    python bench/audio_insect_sounds.py [--embedder birdnet|logmel] [--hidden 0]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sqlalchemy import select, update

from wildloop.audio.embed_job import submit_embed
from wildloop.audio.embedders import birdnet_unavailable
from wildloop.audio.evaluation import evaluate_head
from wildloop.audio.head_job import start_head_training
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.audio.vectors import read_matrix
from wildloop.composition import register_job_kinds
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Media, MediaSequence, User
from wildloop.users.accounts import create_user

DATA = Path(os.environ.get("WILDLOOP_SHARED_DATA", "/work/shared/data")) / "insect-sounds"
SPLITS = {"train": "train", "validation": "val", "test": "test"}


def build_project(root: Path, embedder: str) -> tuple[Project, dict[str, tuple[str, str]]]:
    rows = list(csv.DictReader((DATA / "labels.csv").open()))
    species = sorted({r["species"] for r in rows})
    project = Project.init(root, "insects", species, modality="audio")
    project.close()
    config = root / "wildloop.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('embedder = "logmel"', f'embedder = "{embedder}"', 1))
    project = Project.open(root)
    truth = {str((DATA / r["path"]).resolve()): (r["species"], SPLITS[r["split"]]) for r in rows}
    return project, truth


def ingest_and_label(project: Project, truth: dict[str, tuple[str, str]]) -> int:
    """Ingest, put each recording in its published split, label its windows."""
    report = ingest_audio_paths(project, [DATA / "audio"])
    for path, reason in report.failures:  # a few published files are digital silence
        print(f"ingest refused {Path(path).name}: {reason}")
    with project.db.session() as session:
        create_user(session, "bench", "reviewer", None)
        author = session.scalars(select(User.id).where(User.username == "bench")).one()
        recordings = session.execute(
            select(Media.id, Media.path, Media.sequence_id).where(Media.kind == "audio")
        ).all()
        for rec in recordings:
            split = truth[str(Path(rec.path).resolve())][1]
            session.execute(
                update(Media)
                .where((Media.id == rec.id) | (Media.parent_id == rec.id))
                .values(split=split)
            )
            session.execute(
                update(MediaSequence).where(MediaSequence.id == rec.sequence_id).values(split=split)
            )
    classes = project.classes
    labelled = 0
    with project.db.session() as session:
        windows = session.execute(
            select(Media.id, Media.t_start, Media.t_end, Media.parent_id).where(
                Media.kind == "window"
            )
        ).all()
        paths = dict(
            session.execute(select(Media.id, Media.path).where(Media.kind == "audio")).all()
        )
        for w in windows:
            name = truth[str(Path(paths[w.parent_id]).resolve())][0]
            box = LabelBoxValue(
                box=None,
                class_id=classes.id_of(name),
                span=TimeSpan(float(w.t_start), float(w.t_end)),
            )
            save_labels(
                session,
                w.id,
                LabelSet(boxes=(box,)),
                author_id=author,
                classes=classes,
                expected_revision=None,
                source="import",
            )
            labelled += 1
    return labelled


def reference(project: Project, embedder: str, species: list[str]) -> dict[str, float]:
    """scikit-learn LogisticRegression(class_weight="balanced") on the same stored vectors."""
    snapshot, _ = create_snapshot(project, "training")
    test, _ = create_snapshot(project, "test")
    data, test_data = load_snapshot(project, snapshot.id), load_snapshot(project, test.id)
    with project.db.session() as session:
        train_ids = [e.media_id for e in data.entries if e.split == "train"]
        test_ids = [e.media_id for e in test_data.entries]
        x_train, _ = read_matrix(session, embedder, train_ids)
        x_test, _ = read_matrix(session, embedder, test_ids)
        label_of = dict(
            session.execute(
                select(Media.id, Media.label_class_id).where(Media.id.in_(train_ids + test_ids))
            ).all()
        )
    names = {c.id: c.name for c in project.classes}
    y_train = [names[label_of[m]] for m in train_ids]
    y_test = [names[label_of[m]] for m in test_ids]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(class_weight="balanced").fit(x_train, y_train)
    seconds = time.perf_counter() - started
    predicted = model.predict(x_test)
    return {
        "accuracy": float(np.mean(predicted == np.array(y_test))),
        "macro_f1": float(f1_score(y_test, predicted, average="macro")),
        "seconds": seconds,
        "train_windows": len(train_ids),
        "test_windows": len(test_ids),
    }


def main() -> None:
    register_job_kinds()  # this process runs the jobs it submits
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=["birdnet", "logmel"], default=None)
    parser.add_argument("--hidden", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="project folder to keep")
    args = parser.parse_args()
    embedder = args.embedder or ("birdnet" if birdnet_unavailable() is None else "logmel")
    if args.embedder is None and embedder == "logmel":
        print(f"BirdNET unavailable ({birdnet_unavailable()}); using the log-mel embedder")
    with tempfile.TemporaryDirectory(prefix="wildloop-insects-") as tmp:
        root = args.keep or Path(tmp) / "insects"
        project, truth = build_project(root, embedder)
        t0 = time.perf_counter()
        labelled = ingest_and_label(project, truth)
        t1 = time.perf_counter()
        embed = submit_embed(project)
        status = run_job(project, embed.job_id)
        assert status["state"] == "succeeded", status
        t2 = time.perf_counter()
        started = start_head_training(project, overrides={"hidden": args.hidden})
        status = run_job(project, started.job_id)
        assert status["state"] == "succeeded", status
        t3 = time.perf_counter()
        version_id = int(status["result"]["model_version_id"])
        record, _ = evaluate_head(project, version_id)
        t4 = time.perf_counter()
        ref = reference(project, embed.embedder, project.classes.names)
        m = record.metrics
        print(f"insect-sounds: {labelled} windows labelled, embedder {embed.embedder}")
        print(
            f"timings: ingest+label {t1 - t0:.1f} s, embed {t2 - t1:.1f} s, "
            f"head job {t3 - t2:.1f} s (fit {status['result']['seconds']:.2f} s, "
            f"{status['result']['epochs_run']} epochs), evaluate {t4 - t3:.1f} s"
        )
        print(f"{'':34}{'accuracy':>10}{'macro-F1':>10}")
        print(
            f"{'reference LogisticRegression':34}{ref['accuracy']:>10.3f}{ref['macro_f1']:>10.3f}"
            f"   (fit {ref['seconds']:.2f} s on {ref['train_windows']} train windows)"
        )
        print(
            f"{'wildloop head (job, test split)':34}{m['accuracy']:>10.3f}{m['macro_f1']:>10.3f}"
            f"   ({m['windows']} test windows; mAP {m['map']:.3f}, "
            f"ROC-AUC {m['macro_roc_auc']:.3f}, ECE {m['calibration']['ece']:.3f})"
        )
        project.close()


if __name__ == "__main__":
    main()
