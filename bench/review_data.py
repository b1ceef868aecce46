"""A large review archive written straight into a project database, for the latency benchmark.

1,000,000 media (50 cameras, bursts of 1-8 frames, frozen splits by sequence), one champion
model with a prediction set per item and about 2,000,000 predictions, 10% of the items
reviewed (with label revisions and boxes) and 0.5% marked for retraining. Class frequencies
are skewed like a deer project: 'fawn' is rare (0.5%) so the rare-class filter is measured.
Rows go in with executemany on SQLite and COPY on PostgreSQL: one transaction per table chunk.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text

from wildloop.store.database import normalise_url

CLASS_WEIGHTS = {
    "buck": 0.25,
    "doe": 0.40,
    "fawn": 0.005,
    "cattle": 0.10,
    "pig": 0.095,
    "raccoon": 0.15,
}
CLASSES = list(CLASS_WEIGHTS)
CAMERAS = 50
CHUNK = 50_000
NOW = "2026-01-01 00:00:00"


def fresh_pg_database(server_url: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``server_url``; returns its URL."""
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return normalise_url(server_url).rsplit("/", 1)[0] + f"/{name}"


def build(
    engine: Engine, media: int, seed: int = 7, crop_dim: int = 0, crop_key: str = ""
) -> dict[str, int]:
    """Fill an empty, migrated project database; return row counts per table. With
    ``crop_dim``, every prediction also gets a float16 crop vector under ``crop_key``
    (vectors clustered by class and camera, so novelty has structure to find)."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    writer = _writer(engine)
    writer(
        "users",
        ["id", "username", "password_hash", "role", "disabled", "created_at"],
        [(1, "bench", None, "reviewer", False, NOW)],
    )
    writer(
        "cameras",
        ["id", "name", "clock_offset_seconds", "created_at"],
        [(i + 1, f"cam{i + 1:02d}", 0, NOW) for i in range(CAMERAS)],
    )
    writer(
        "model_versions",
        ["id", "name", "task", "source", "classes", "params", "metrics", "retired", "created_at"],
        [
            (
                1,
                "bench-v1",
                "detect",
                "registered",
                '["buck","doe","fawn","cattle","pig","raccoon"]',
                "{}",
                "{}",
                False,
                NOW,
            )
        ],
    )
    writer("model_aliases", ["alias", "model_version_id", "updated_at"], [("champion", 1, NOW)])

    media_rows, sequence_rows, plan = _media_plan(rng, media)
    counts["sequences"] = _chunked(
        writer,
        "sequences",
        ["id", "camera_id", "key", "started_at", "ended_at", "split"],
        sequence_rows,
    )
    counts["media"] = _chunked(writer, "media", MEDIA_COLUMNS, media_rows)
    counts["prediction_sets"] = _chunked(
        writer, "prediction_sets", PSET_COLUMNS, _prediction_sets(plan)
    )
    counts["predictions"] = _chunked(writer, "predictions", PRED_COLUMNS, _predictions(plan, rng))
    counts["label_revisions"] = _chunked(writer, "label_revisions", REV_COLUMNS, _revisions(plan))
    counts["label_boxes"] = _chunked(writer, "label_boxes", BOX_COLUMNS, _boxes(plan))
    if crop_dim:
        counts["crop_embeddings"] = _chunked(
            writer, "crop_embeddings", CROP_COLUMNS, _crop_vectors(plan, crop_dim, crop_key, seed)
        )
    _finish(engine)
    return counts


MEDIA_COLUMNS = [
    "id",
    "path",
    "sha256",
    "kind",
    "status",
    "bytes",
    "width",
    "height",
    "captured_at",
    "captured_at_source",
    "camera_id",
    "sequence_id",
    "frame_num",
    "split",
    "ingested_at",
    "label_revision",
    "reviewed",
    "label_class_id",
    "marked",
    "marked_at",
    "marked_by",
]
PSET_COLUMNS = [
    "id",
    "media_id",
    "model_version_id",
    "status",
    "top_class_id",
    "top_score",
    "count",
    "created_at",
]
PRED_COLUMNS = ["id", "prediction_set_id", "class_id", "class_name", "score", "x", "y", "w", "h"]
REV_COLUMNS = [
    "id",
    "media_id",
    "revision",
    "author_id",
    "created_at",
    "empty",
    "note",
    "source",
    "content_hash",
]
CROP_COLUMNS = ["id", "prediction_id", "media_id", "embedder", "dim", "vector", "created_at"]
BOX_COLUMNS = ["id", "revision_id", "class_id", "x", "y", "w", "h", "missed", "false_positive"]


def _media_plan(
    rng: random.Random, total: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[list[Any]]]:
    """Media and sequence rows, plus per item (id, reviewed, label class, boxes, top class,
    top score) for the prediction and label tables."""
    per_camera = total // CAMERAS
    media: list[tuple[Any, ...]] = []
    sequences: list[tuple[Any, ...]] = []
    plan: list[list[Any]] = []
    weights = list(CLASS_WEIGHTS.values())
    media_id = 0
    for cam in range(1, CAMERAS + 1):
        clock = datetime(2023, 1, 1) + timedelta(hours=cam)
        made = 0
        while made < per_camera or (cam == CAMERAS and media_id < total):
            if media_id >= total:
                break
            length = min(rng.randint(1, 8), total - media_id)
            clock += timedelta(minutes=rng.randint(5, 600))
            seq_id = len(sequences) + 1
            r = rng.random()
            split = "train" if r < 0.7 else ("val" if r < 0.85 else "test")
            cls = rng.choices(range(len(CLASSES)), weights)[0]
            sequences.append(
                (
                    seq_id,
                    cam,
                    f"cam{cam:02d}/{seq_id}",
                    clock,
                    clock + timedelta(seconds=2 * (length - 1)),
                    split,
                )
            )
            reviewed_burst = rng.random() < 0.10
            for frame in range(length):
                media_id += 1
                made += 1
                when = clock + timedelta(seconds=2 * frame)
                boxes = 0 if rng.random() < 0.3 else rng.choice((1, 2, 3, 4, 4, 5))
                top_class = cls if boxes else None
                top_score = round(rng.uniform(0.05, 0.99), 4) if boxes else None
                reviewed = reviewed_burst
                label_class = cls if reviewed and boxes else None
                marked = None
                r2 = rng.random()
                if r2 < 0.003:
                    marked = "missed"
                elif r2 < 0.005:
                    marked = "false_positive"
                sha = hashlib.sha256(f"{seed_text(media_id)}".encode()).hexdigest()
                media.append(
                    (
                        media_id,
                        f"/archive/cam{cam:02d}/IMG_{media_id:07d}.JPG",
                        sha,
                        "image",
                        "ok",
                        1_500_000,
                        2048,
                        1440,
                        when,
                        "exif",
                        cam,
                        seq_id,
                        frame + 1,
                        split,
                        NOW,
                        1 if reviewed else 0,
                        reviewed,
                        label_class,
                        marked,
                        NOW if marked else None,
                        1 if marked else None,
                    )
                )
                plan.append([media_id, reviewed, label_class, boxes, top_class, top_score])
    return media, sequences, plan


def seed_text(media_id: int) -> str:
    return f"wildloop-bench-{media_id}"


def _prediction_sets(plan: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    for media_id, _rev, _lc, boxes, top_class, top_score in plan:
        yield (media_id, media_id, 1, "ok", top_class, top_score, boxes, NOW)


def _predictions(plan: list[list[Any]], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    pred_id = 0
    for media_id, _rev, _lc, boxes, top_class, top_score in plan:
        for b in range(boxes):
            pred_id += 1
            score = top_score if b == 0 else round(top_score * rng.uniform(0.3, 1.0), 4)
            x, y = rng.uniform(0, 0.7), rng.uniform(0, 0.7)
            yield (pred_id, media_id, top_class, CLASSES[top_class], score, x, y, 0.2, 0.2)


def _revisions(plan: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    for media_id, reviewed, _lc, boxes, _tc, _ts in plan:
        if reviewed:
            yield (media_id, media_id, 1, 1, NOW, boxes == 0, None, "review", "0" * 64)


def _boxes(plan: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    box_id = 0
    for media_id, reviewed, label_class, boxes, _tc, _ts in plan:
        if reviewed and label_class is not None:
            for _ in range(min(boxes, 2)):
                box_id += 1
                yield (box_id, media_id, label_class, 0.1, 0.1, 0.3, 0.3, False, False)


def _crop_vectors(
    plan: list[list[Any]], dim: int, key: str, seed: int
) -> Iterator[tuple[Any, ...]]:
    """One float16 vector per prediction (ids as ``_predictions`` numbers them): a centre
    per (class, one of 10 id groups) plus noise, made a chunk at a time with numpy."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), CAMERAS // 5, dim)).astype(np.float32)
    pred_id = 0
    owners: list[tuple[int, int]] = []  # (media id, class index) per prediction
    for media_id, _rev, _lc, boxes, top_class, _ts in plan:
        owners.extend((media_id, top_class) for _ in range(boxes))
    for start in range(0, len(owners), CHUNK):
        part = owners[start : start + CHUNK]
        groups = np.array([(m % CAMERAS) // 5 for m, _ in part])
        classes = np.array([c for _, c in part])
        noise = rng.normal(scale=0.8, size=(len(part), dim)).astype(np.float32)
        vectors = (centres[classes, groups] + noise).astype("<f2")
        for (media_id, _c), vector in zip(part, vectors, strict=True):
            pred_id += 1
            yield (pred_id, pred_id, media_id, key, dim, vector.tobytes(), NOW)


def _chunked(writer: Any, table: str, columns: list[str], rows: Any) -> int:
    chunk: list[tuple[Any, ...]] = []
    total = 0
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            writer(table, columns, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        writer(table, columns, chunk)
        total += len(chunk)
    return total


def _writer(engine: Engine) -> Any:
    if engine.dialect.name == "sqlite":
        return _sqlite_writer(engine)
    return _postgres_writer(engine)


def _sqlite_writer(engine: Engine) -> Any:
    def write(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.executemany(sql, [_sqlite_row(r) for r in rows])
            raw.commit()
        finally:
            raw.close()

    return write


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        v.strftime("%Y-%m-%d %H:%M:%S.000000") if isinstance(v, datetime) else v for v in row
    )


def _postgres_writer(engine: Engine) -> Any:
    def write(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    return write


def _finish(engine: Engine) -> None:
    """Refresh planner statistics, as a maintained database has them."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))
        else:
            for table in (
                "users",
                "cameras",
                "model_versions",
                "sequences",
                "media",
                "prediction_sets",
                "predictions",
                "label_revisions",
                "crop_embeddings",
                "label_boxes",
            ):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE"))
