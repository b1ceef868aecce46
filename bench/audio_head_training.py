"""How long a head retrain takes on 5,000 labelled windows, against scikit-learn baselines.

Two measurements on generated embeddings (1024-d, like BirdNET's; class clusters plus noise,
with a tenth of the windows "nothing"; the figures come from generated vectors, not sound).
Wall and CPU seconds are both printed: on a shared machine CPU time is the honest figure.

1. the fit alone, on arrays: wildloop's head (logistic regression, early stopping on the
   validation windows, refit on train+val) and a one-hidden-layer MLP, against scikit-learn's
   LogisticRegression with its defaults and with class_weight="balanced";
2. the whole retrain as users trigger it: a project with 5,000 reviewed windows and stored
   embeddings, `start_head_training` (snapshot) + the train job (read vectors, fit,
   register the version as challenger), timed end to end.

    python bench/audio_head_training.py [--windows 5000] [--dim 1024] [--classes 9]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sqlalchemy import insert, select

from wildloop.audio.head import HeadParams, train_head
from wildloop.audio.head_job import start_head_training
from wildloop.composition import register_job_kinds
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Camera, Embedding, Media, MediaSequence, User
from wildloop.users.accounts import create_user

EMBEDDER = "bench-v1"


def generate(windows: int, dim: int, classes: int, seed: int = 0):
    """Labels (-1 = nothing) and embeddings; recordings of 20 windows share a class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (classes + 1, dim))
    recordings = windows // 20
    label_of_recording = rng.integers(-1, classes, recordings)
    labels = np.repeat(label_of_recording, 20)
    x = centres[labels] * 0.12 + rng.normal(0, 1, (len(labels), dim))
    split = np.repeat(rng.choice(["train", "val", "test"], recordings, p=[0.7, 0.15, 0.15]), 20)
    return labels, x.astype(np.float32), split


def targets(labels: np.ndarray, classes: int) -> np.ndarray:
    y = np.zeros((len(labels), classes), np.float32)
    y[labels >= 0, labels[labels >= 0]] = 1
    return y


def fit_on_arrays(labels, x, split, classes: int) -> None:
    train, val, test = (split == s for s in ("train", "val", "test"))
    print(f"fit on arrays: {int(train.sum())} train, {int(val.sum())} val, {int(test.sum())} test")
    print(f"{'':44}{'wall s':>8}{'CPU s':>8}{'accuracy':>10}{'macro-F1':>10}")

    def show(name: str, seconds: float, cpu: float, predicted: np.ndarray) -> None:
        truth = labels[test]
        acc = float((predicted == truth).mean())
        f1 = f1_score(truth, predicted, average="macro")
        print(f"{name:44}{seconds:>8.2f}{cpu:>8.2f}{acc:>10.3f}{f1:>10.3f}")

    names = [f"c{i}" for i in range(classes)]
    for label, params in (
        ("wildloop head (logistic, defaults)", HeadParams()),
        ("wildloop head (MLP, 128 hidden)", HeadParams(hidden=128)),
    ):
        started, cpu = time.perf_counter(), time.process_time()
        head, report = train_head(
            names,
            x[train],
            targets(labels[train], classes),
            x[val],
            targets(labels[val], classes),
            params,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        scores = head.scores(x[test])
        called = scores.argmax(axis=1)
        predicted = np.where(np.array(head.classes)[called] == "background", -1, called)
        show(f"{label} [{report.epochs_run} ep]", seconds, cpu, predicted)
    for label, kwargs in (
        ("sklearn LogisticRegression() defaults", {}),
        ('sklearn LogisticRegression("balanced")', {"class_weight": "balanced"}),
    ):
        started, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(**kwargs).fit(x[train | val], labels[train | val])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        show(label, seconds, cpu, model.predict(x[test]))


def retrain_job(labels, x, split, classes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="wildloop-headbench-") as tmp:
        project = Project.init(Path(tmp) / "p", "bench", [f"c{i}" for i in range(classes)], "audio")
        started = time.perf_counter()
        _populate(project, labels, x, split)
        setup = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        job = start_head_training(project)
        submitted = time.perf_counter() - started
        status = run_job(project, job.job_id)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert status["state"] == "succeeded", status
        result = status["result"]
        print(
            f"retrain job on {int((split != 'test').sum())} reviewed train/val windows: "
            f"{total:.2f} s end to end ({cpu:.2f} s CPU; snapshot + submit {submitted:.2f} s, fit "
            f"{result['seconds']:.2f} s, {result['epochs_run']} epochs); setup {setup:.0f} s"
        )
        project.close()


def _populate(project: Project, labels, x, split) -> None:
    """Recordings of 20 windows each, labels through the label service, stored vectors."""
    classes = project.classes
    with project.db.session() as session:
        create_user(session, "bench", "reviewer", None)
        author = session.scalars(select(User.id).where(User.username == "bench")).one()
        camera = Camera(name="site")
        session.add(camera)
        session.flush()
        start = datetime(2024, 6, 1)
        window_ids: list[int] = []
        for r in range(len(labels) // 20):
            seq = MediaSequence(camera_id=camera.id, key=f"rec:{r}", split=str(split[r * 20]))
            session.add(seq)
            session.flush()
            rec = Media(
                path=f"/bench/rec{r}.wav",
                sha256=f"{r:064d}",
                kind="audio",
                duration_s=31.5,
                sample_rate=48000,
                camera_id=camera.id,
                sequence_id=seq.id,
                split=seq.split,
                captured_at=start + timedelta(hours=r),
            )
            session.add(rec)
            session.flush()
            rows = [
                {
                    "path": f"/bench/rec{r}.wav#t={i * 1.5:.3f},{i * 1.5 + 3:.3f}",
                    "kind": "window",
                    "parent_id": rec.id,
                    "t_start": i * 1.5,
                    "t_end": i * 1.5 + 3,
                    "camera_id": camera.id,
                    "sequence_id": seq.id,
                    "split": seq.split,
                    "frame_num": i,
                    "status": "ok",
                    "captured_at": start + timedelta(hours=r, seconds=i * 1.5),
                }
                for i in range(20)
            ]
            window_ids += list(session.scalars(insert(Media).returning(Media.id), rows))
    with project.db.session() as session:
        for media_id, label in zip(window_ids, labels, strict=True):
            span = TimeSpan(0.0, 3.0)
            boxes = (
                ()
                if label < 0
                else (LabelBoxValue(box=None, class_id=classes.id_of(f"c{label}"), span=span),)
            )
            save_labels(
                session,
                media_id,
                LabelSet(boxes=boxes, empty=bool(label < 0)),
                author_id=author,
                classes=classes,
                expected_revision=None,
                source="import",
            )
        session.execute(
            insert(Embedding),
            [
                {
                    "media_id": m,
                    "embedder": EMBEDDER,
                    "dim": len(v),
                    "vector": v.astype("<f2").tobytes(),
                }
                for m, v in zip(window_ids, x, strict=True)
            ],
        )


def main() -> None:
    register_job_kinds()  # this process runs the jobs it submits
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=5900, help="~5,000 of them train/val")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=9)
    parser.add_argument("--skip-job", action="store_true", help="Arrays only (no project).")
    args = parser.parse_args()
    labels, x, split = generate(args.windows, args.dim, args.classes)
    print(f"generated embeddings: {len(labels)} windows, {args.dim}-d, {args.classes} classes")
    fit_on_arrays(labels, x, split, args.classes)
    if not args.skip_job:
        # The retrain reads train/val windows only; the job sees them all as reviewed.
        retrain_job(labels, x, split, args.classes)


if __name__ == "__main__":
    main()
