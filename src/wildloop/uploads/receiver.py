"""Receiving one file from a field device, in chunks, under the sha256 of its bytes.

A device sends a file's bytes to its hash, in one request or in chunks that each say where
they start; the bytes gather in ``uploads/.partial/<sha256>.part`` under the project, so a
connection lost half-way costs only the chunk in flight: the device asks for the offset and
goes on from there. When the last byte is in, the whole file is hashed: bytes that do not hash
to the name are discarded with a clear error; bytes that do are moved to
``uploads/<camera>/<name>`` and ingested by the one ingest code path (``media.ingest``: probe,
EXIF time, duplicates, sequences and splits), then the champion's ``predict`` job is submitted
for the new item (a job: the request never runs a model). Idempotent by content: bytes already
ingested answer with the existing media id, whatever name they come under.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sqlalchemy import select

from wildloop.errors import BadInput, Conflict
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.processing.predict_job import submit_arrivals
from wildloop.project import Project
from wildloop.registry.artifacts import sha256_file
from wildloop.store.tables import Media
from wildloop.users.roles import Actor, require_uploader

UPLOADS = "uploads"
PARTIAL = ".partial"
_SHA256 = re.compile("[0-9a-f]{64}")
_NAME_BYTES = 200  # a stored name stays under NAME_MAX (255 bytes) with a hash added
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
_REOPENS = 5

State = Literal["partial", "created", "exists"]


@dataclass(frozen=True)
class UploadFields:
    """What the device says about the file; what it leaves out comes from the file (EXIF
    time, else the time in its name) or the device's account (the camera)."""

    camera: str | None = None
    captured_at: datetime | None = None
    name: str | None = None


@dataclass(frozen=True)
class UploadOutcome:
    state: State
    sha256: str
    offset: int  # bytes the server holds: where the next chunk starts
    media_id: int | None = None
    job_id: int | None = None
    processing: str | None = None  # why no job was submitted, when none was

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def upload_state(project: Project, actor: Actor, sha256: str) -> UploadOutcome:
    """Where an upload stands: ``exists`` (with the media id) or ``partial`` at an offset
    (0 for an upload never started)."""
    require_uploader(actor)
    sha = check_sha256(sha256)
    existing = _ingested(project, sha)
    if existing is not None:
        return UploadOutcome("exists", sha, existing[1], existing[0])
    part = _partial_path(project, sha)
    return UploadOutcome("partial", sha, part.stat().st_size if part.exists() else 0)


def receive_chunk(
    project: Project,
    actor: Actor,
    sha256: str,
    data: bytes,
    start: int,
    total: int,
    fields: UploadFields,
) -> UploadOutcome:
    """Append ``data`` at ``start`` of a ``total``-byte file; on the last byte, verify,
    store, ingest and submit processing. A chunk that does not start where the upload
    stands is refused (Conflict, with the offset to go on from), never written twice."""
    require_uploader(actor)
    sha = check_sha256(sha256)
    if total < 1:
        raise BadInput("an empty file cannot be uploaded: send the file's bytes")
    if start < 0 or start + len(data) > total:
        raise BadInput(
            f"a chunk of {len(data)} bytes at {start} does not fit a file of {total} bytes"
        )
    if fields.captured_at is not None and fields.captured_at.tzinfo is not None:
        raise BadInput("send captured_at as the camera's local time, without a time zone")
    existing = _ingested(project, sha)
    if existing is not None:
        return UploadOutcome("exists", sha, existing[1], existing[0])
    part = _partial_path(project, sha)
    with _locked_part(part) as fh:
        offset = os.fstat(fh.fileno()).st_size
        existing = _ingested(project, sha)  # completed by another request while we waited
        if existing is not None:
            if offset == 0:
                part.unlink()
            return UploadOutcome("exists", sha, existing[1], existing[0])
        if offset != start:
            raise Conflict(
                f"the upload of {sha[:12]}… holds {offset} bytes but this chunk starts at "
                f"{start}; send the bytes from {offset} on (HEAD /api/v1/uploads/{sha} "
                "tells the offset)"
            )
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        offset += len(data)
        if offset < total:
            return UploadOutcome("partial", sha, offset)
        digest = sha256_file(part)
        if digest != sha:
            part.unlink()
            raise BadInput(
                f"the {total} bytes received hash to {digest}, not to the sha256 in the URL "
                f"({sha}): the file changed while it was sent or a chunk was damaged. The "
                "partial upload was discarded: upload the file again"
            )
        camera = fields.camera or actor.username
        target = _place(project, part, sha, camera, fields.name)
    return _ingest(project, actor, target, sha, camera, fields.captured_at, total)


@contextmanager
def _locked_part(part: Path) -> Iterator[BinaryIO]:
    """The partial file opened for appending and locked: one writer per upload, across
    processes. A request that waited for the lock while another placed the complete file
    (two devices sending one photo at once) finds its handle on the moved file: it opens
    the partial path afresh and sends its bytes on, to end as "exists" at ingest."""
    for _ in range(_REOPENS):
        fh = part.open("ab")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            if _same_file(fh, part):
                yield fh
                return
        finally:
            fh.close()
    raise Conflict(f"the upload {part.stem[:12]}… is being completed by another request; retry")


def _same_file(fh: BinaryIO, path: Path) -> bool:
    try:
        return os.fstat(fh.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def check_sha256(text: str) -> str:
    """The hash as 64 lowercase hex digits; BadInput otherwise."""
    sha = text.strip().lower()
    if not _SHA256.fullmatch(sha):
        raise BadInput(f"{text[:80]!r} is not a sha256: give the file's hash as 64 hex digits")
    return sha


def _ingested(project: Project, sha: str) -> tuple[int, int] | None:
    """The good media item with this content, as (id, bytes), if there is one."""
    with project.db.session() as session:
        row = session.execute(
            select(Media.id, Media.bytes).where(Media.sha256 == sha, Media.status == "ok")
        ).first()
    return None if row is None else (row.id, row.bytes or 0)


def _partial_path(project: Project, sha: str) -> Path:
    folder = project.path(UPLOADS) / PARTIAL
    folder.mkdir(exist_ok=True)
    return folder / f"{sha}.part"


def _place(project: Project, part: Path, sha: str, camera: str, name: str | None) -> Path:
    """Move the verified bytes to ``uploads/<camera>/<name>``; a different file already
    there under that name (a camera's counter reset) keeps its place, this one gets the hash
    in its name."""
    folder = project.path(UPLOADS) / _file_name(camera, "camera")
    folder.mkdir(exist_ok=True)
    target = folder / _file_name(name or "", f"{sha}.jpg")
    if target.exists() and sha256_file(target) != sha:
        target = target.with_name(f"{target.stem}-{sha[:12]}{target.suffix}")
    part.replace(target)
    return target


def _file_name(given: str, fallback: str) -> str:
    """One safe path component from a device's text: no separators or control characters,
    no leading dot (so never ``..`` or a hidden ``.partial``), short enough for any disk."""
    text = _UNSAFE.sub("_", given.strip())
    if not text:
        return fallback
    if text.startswith("."):
        text = "_" + text
    if len(text.encode()) > _NAME_BYTES:
        suffix = Path(text).suffix if len(Path(text).suffix) <= 8 else ""
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        stem = text.encode()[: _NAME_BYTES - 9 - len(suffix.encode())].decode(errors="ignore")
        text = f"{stem}~{digest}{suffix}"
    return text


def _ingest(
    project: Project,
    actor: Actor,
    target: Path,
    sha: str,
    camera: str,
    captured_at: datetime | None,
    size: int,
) -> UploadOutcome:
    report = ingest_items(
        project, [IngestItem(path=target, camera=camera, captured_at=captured_at)]
    )
    if report.failures:
        raise BadInput(f"the file arrived intact but cannot be ingested: {report.failures[0][1]}")
    existing = _ingested(project, sha)
    if existing is None:
        raise Conflict(f"the upload of {sha[:12]}… was stored but is not a media item; retry")
    if report.added == 0:  # another request ingested the same bytes first
        return UploadOutcome("exists", sha, size, existing[0])
    try:
        submitted = submit_arrivals(project, [existing[0]], created_by=actor.id)
    except BadInput as exc:  # the champion cannot run (imported predictions only)
        return UploadOutcome("created", sha, size, existing[0], processing=str(exc))
    if submitted is None:
        return UploadOutcome(
            "created", sha, size, existing[0], processing="no champion runs on images yet"
        )
    return UploadOutcome("created", sha, size, existing[0], job_id=submitted.job_id)
