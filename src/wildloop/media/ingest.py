"""Image ingest: files in, media rows out, every bad file recorded with its reason.

Streams in batches (memory stays flat for 100k files), probes files in a thread pool (hashing
and Pillow decoding release the GIL), writes each batch in one short transaction, then groups
the new frames into sequences with frozen splits. Re-ingest is idempotent: known good paths
are skipped, failed ones are tried again, duplicate content is reported, never stored twice.
Two ingests of the same files at once (two uploads of one photo, ``wildloop ingest`` run
twice) end as one after the other would: rows and cameras are inserted "or skipped"
(``store.bulk``), and a row the other stored first is a skip or a duplicate, never an error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wildloop.domain.capture_time import TimeSource
from wildloop.domain.paths import path_to_text, readable_path, readable_text
from wildloop.errors import BadInput
from wildloop.media.probe import IMAGE_SUFFIXES, MediaRejected, ProbedImage, ProbeRules, probe_image
from wildloop.media.scan import count_files, iter_files
from wildloop.media.sequencing import SequenceCache, assign_sequences
from wildloop.project import Project
from wildloop.store.bulk import insert_or_skip
from wildloop.store.tables import Camera, Media
from wildloop.store.types import utcnow

BATCH_SIZE = 256
# Every media row written by ingest sets exactly these columns (executemany needs one shape).
_ROW_COLUMNS = (
    "path",
    "kind",
    "camera_id",
    "ingested_at",
    "status",
    "error",
    "sha256",
    "bytes",
    "width",
    "height",
    "captured_at",
    "captured_at_source",
    "exif_make",
    "exif_model",
    "sequence_id",
    "split",
)
EXAMPLES_KEPT = 1000
_PATH_LIMIT = 1000  # media.path is String(1000)
_PATH_BYTES = 2000  # PostgreSQL's unique index on media.path holds at most ~2700 bytes a row
_CAMERA_LIMIT = 200  # cameras.name is String(200)

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class IngestItem:
    """One file to ingest, with what the caller already knows about it."""

    path: Path
    camera: str
    sequence_key: str | None = None
    captured_at: datetime | None = None


@dataclass
class IngestReport:
    scanned: int = 0
    added: int = 0
    skipped: int = 0
    retried: int = 0
    duplicates: int = 0
    failed: int = 0
    sequences_created: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    duplicate_examples: list[tuple[str, str]] = field(default_factory=list)

    def record_failure(self, path: str, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < EXAMPLES_KEPT:
            self.failures.append((path, reason))

    def record_failure_path(self, path: Path, reason: str) -> None:
        self.record_failure(readable_path(path), reason)

    def as_dict(self) -> dict[str, object]:
        return {
            "scanned": self.scanned,
            "added": self.added,
            "skipped": self.skipped,
            "retried": self.retried,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "sequences_created": self.sequences_created,
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "duplicate_examples": [{"path": p, "same_as": o} for p, o in self.duplicate_examples],
        }


def ingest_paths(
    project: Project,
    sources: list[Path],
    camera: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest every image under ``sources``; the camera is ``camera`` or each file's folder."""
    missing = [readable_path(s) for s in sources if not s.exists()]
    if missing:
        raise BadInput(f"no such file or folder: {', '.join(missing)}")
    report = IngestReport()
    total = count_files(sources, IMAGE_SUFFIXES)
    files = iter_files(sources, IMAGE_SUFFIXES, on_error=report.record_failure_path)
    items = (IngestItem(path=p, camera=camera or p.parent.name) for p in files)
    return ingest_items(project, items, total=total, progress=progress, report=report)


def ingest_items(
    project: Project,
    items: Iterable[IngestItem],
    total: int | None = None,
    progress: Progress | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Ingest the given items in batches, then group new frames into sequences."""
    report = report or IngestReport()
    rules = ProbeRules(
        max_pixels=project.config.ingest.max_image_pixels,
        exif_errors_fail=project.config.ingest.on_bad_exif == "fail",
    )
    workers = project.config.ingest.workers or os.cpu_count() or 1
    cameras = _CameraCache()
    splits = project.config.splits
    sequences = SequenceCache(splits.ratios(), splits.salt, splits.group_by)
    touched_cameras: set[int] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        for batch in _batches(iter(items), BATCH_SIZE):
            with project.db.session() as session:
                touched_cameras |= _ingest_batch(
                    session, batch, rules, pool, cameras, sequences, report
                )
            if progress:
                progress(report.scanned, total)
    report.sequences_created = assign_sequences(project, touched_cameras)
    return report


def _batches(items: Iterator[IngestItem], size: int) -> Iterator[list[IngestItem]]:
    while batch := list(islice(items, size)):
        yield batch


def _ingest_batch(
    session: Session,
    batch: list[IngestItem],
    rules: ProbeRules,
    pool: ThreadPoolExecutor,
    cameras: _CameraCache,
    sequences: SequenceCache,
    report: IngestReport,
) -> set[int]:
    report.scanned += len(batch)
    stored = [(item, text) for item in batch if (text := _stored_path(item.path, report))]
    known = dict(
        session.execute(
            select(Media.path, Media.status).where(Media.path.in_([t for _, t in stored]))
        ).all()
    )
    todo = [(item, text) for item, text in stored if known.get(text) not in ("ok", "duplicate")]
    report.skipped += len(stored) - len(todo)
    results = list(pool.map(lambda pair: _probe(pair[0].path, rules), todo))

    new_hashes = [r.sha256 for r in results if isinstance(r, ProbedImage)]
    owners = {
        sha: readable_text(path)
        for sha, path in session.execute(
            select(Media.sha256, Media.path).where(
                Media.sha256.in_(new_hashes), Media.status == "ok"
            )
        )
        if sha is not None
    }
    rows: list[dict[str, object]] = []
    touched: set[int] = set()
    now = utcnow()
    for (item, text), result in zip(todo, results, strict=True):
        camera = cameras.get(session, item.camera)
        row = _row(item, text, result, camera, owners, report, now)
        if row["status"] == "ok":
            owners[str(row["sha256"])] = readable_path(item.path)
            if item.sequence_key is None:
                touched.add(camera.id)
            else:
                sequence = sequences.get(session, item.sequence_key, camera.id)
                row["sequence_id"], row["split"] = sequence.id, sequence.split
        if text in known:
            report.retried += 1
            session.execute(update(Media).where(Media.path == text).values(**row))
        else:
            rows.append(row)
    if rows:
        _insert_rows(session, rows, report)
    return touched


def _insert_rows(session: Session, rows: list[dict[str, object]], report: IngestReport) -> None:
    """Insert the batch's new rows; a row another ingest stored at the same instant (its
    path, or its content as a good item) is taken as it would be one ingest later: the path
    as already there (skipped), the content as a duplicate of the row that won."""
    inserted = _insert_or_skip(session, rows)
    report.added += sum(1 for r in rows if r["status"] == "ok" and r["path"] in inserted)
    lost = [r for r in rows if r["path"] not in inserted]
    if not lost:
        return
    taken = set(
        session.scalars(select(Media.path).where(Media.path.in_([r["path"] for r in lost])))
    )
    report.skipped += sum(1 for r in lost if r["path"] in taken)
    copies = [r for r in lost if r["path"] not in taken and r["status"] == "ok"]
    if not copies:
        return
    owners = {
        row.sha256: row.path
        for row in session.execute(
            select(Media.sha256, Media.path).where(
                Media.sha256.in_([r["sha256"] for r in copies]), Media.status == "ok"
            )
        )
    }
    duplicates = []
    for row in copies:
        original = readable_text(owners.get(str(row["sha256"])) or "another item")
        report.duplicates += 1
        if len(report.duplicate_examples) < EXAMPLES_KEPT:
            report.duplicate_examples.append((readable_text(str(row["path"])), original))
        duplicates.append(
            dict.fromkeys(_ROW_COLUMNS)
            | {k: row[k] for k in ("path", "kind", "camera_id", "ingested_at", "sha256", "bytes")}
            | {"status": "duplicate", "error": f"same content as {original}; not ingested twice"}
        )
    stored = _insert_or_skip(session, duplicates)
    report.skipped += sum(1 for r in duplicates if r["path"] not in stored)


def _insert_or_skip(session: Session, rows: list[dict[str, object]]) -> set[str]:
    """Insert ``rows``, skipping any that clash with a row already stored (by path, or by
    content among good items); returns the paths inserted."""
    statement = insert_or_skip(session, Media, None).returning(Media.path)
    return set(session.execute(statement, rows).scalars())


def _stored_path(path: Path, report: IngestReport) -> str | None:
    """The path as database text, or None (and a failure) when it cannot be stored."""
    try:
        text = path_to_text(path)
    except UnicodeError:
        report.record_failure(
            readable_path(path), "the file name is not valid on this system's filesystem encoding"
        )
        return None
    size = len(text.encode("utf-8"))
    if len(text) > _PATH_LIMIT or size > _PATH_BYTES:
        report.record_failure(
            readable_path(path),
            f"the path is {len(text)} characters ({size} bytes) long; wildloop stores paths "
            f"of up to {_PATH_LIMIT} characters and {_PATH_BYTES} bytes: move the file to a "
            "shorter path and ingest again",
        )
        return None
    return text


def _probe(path: Path, rules: ProbeRules) -> ProbedImage | MediaRejected:
    try:
        return probe_image(path, rules)
    except MediaRejected as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one odd file must fail alone, not end the batch
        return MediaRejected(
            f"unexpected error while reading the file: {type(exc).__name__}: {exc}"
        )


def _row(
    item: IngestItem,
    text: str,
    result: ProbedImage | MediaRejected,
    camera: Camera,
    owners: dict[str, str],
    report: IngestReport,
    now: datetime,
) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(_ROW_COLUMNS)
    base |= {"path": text, "kind": "image", "camera_id": camera.id, "ingested_at": now}
    if isinstance(result, MediaRejected):
        report.record_failure(readable_path(item.path), result.reason)
        return {
            **base,
            "status": "failed",
            "error": result.reason,
            "sha256": result.sha256,
            "bytes": result.size,
        }
    if result.sha256 in owners:
        original = owners[result.sha256]
        report.duplicates += 1
        if len(report.duplicate_examples) < EXAMPLES_KEPT:
            report.duplicate_examples.append((readable_path(item.path), original))
        return {
            **base,
            "status": "duplicate",
            "sha256": result.sha256,
            "bytes": result.size,
            "error": f"same content as {original}; not ingested twice",
        }
    captured, source = result.captured_at, result.time_source
    if item.captured_at is not None:
        captured, source = item.captured_at, TimeSource.IMPORT
    return {
        **base,
        "status": "ok",
        "error": None,
        "sha256": result.sha256,
        "bytes": result.size,
        "width": result.width,
        "height": result.height,
        "captured_at": captured + timedelta(seconds=camera.clock_offset_seconds),
        "captured_at_source": str(source),
        "exif_make": result.exif_make,
        "exif_model": result.exif_model,
    }


class _CameraCache:
    """Cameras by name, created on first sight, fetched once per ingest."""

    def __init__(self) -> None:
        self._by_name: dict[str, Camera] = {}

    def get(self, session: Session, given: str) -> Camera:
        name = camera_name(given)
        camera = self._by_name.get(name)
        if camera is None:
            camera = session.scalar(select(Camera).where(Camera.name == name))
            if camera is None:
                # Another ingest may create the same camera at this instant: take theirs.
                session.execute(
                    insert_or_skip(session, Camera, ["name"]).values(
                        name=name, clock_offset_seconds=0
                    )
                )
                camera = session.scalars(select(Camera).where(Camera.name == name)).one()
            session.expunge(camera)
            self._by_name[name] = camera
        return camera


def camera_name(given: str) -> str:
    """A camera name as stored: printable and short enough for the column.

    Names come from folder names, ``--camera`` and imported files, any of which may hold
    bytes that are not UTF-8: those are written ``\\xNN`` (the name is a label, never
    opened). A name over the column's length is cut and given a hash of the whole, so two
    long names stay apart.
    """
    name = readable_path(given)
    if len(name) <= _CAMERA_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _CAMERA_LIMIT - 9]}~{digest}"
