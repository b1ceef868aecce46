"""Two ingests of the same files at the same instant: the second finds them "already
there", as a sequential re-ingest does, instead of failing on a unique constraint (a 500 a
stranger could cause by uploading one photo twice at once). Real threads with a barrier,
real processes (``wildloop ingest`` twice on one folder), a real SQLite or PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

import wildloop
from tests.media.conftest import _jpeg
from wildloop.media.ingest import IngestReport, ingest_paths
from wildloop.project import Project
from wildloop.store.tables import Camera, Media

ROUNDS = 6
PHOTOS = 4


def _at_once(calls: list[Callable[[], IngestReport]]) -> list[IngestReport]:
    """Run the calls in threads released together; re-raise the first error."""
    barrier = threading.Barrier(len(calls))
    results: list[IngestReport | BaseException] = [RuntimeError("did not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, IngestReport)]


def _photos(folder: Path, seed: int) -> list[bytes]:
    folder.mkdir(parents=True)
    data = [_jpeg((96, 64), seed=seed * 100 + i) for i in range(PHOTOS)]
    for i, d in enumerate(data):
        (folder / f"IMG_{i:04d}.JPG").write_bytes(d)
    return data


def _rows(project: Project) -> dict[str, int]:
    with project.db.session() as s:
        return dict(
            s.execute(select(Media.status, func.count()).group_by(Media.status)).tuples().all()
        )


def test_one_folder_ingested_twice_at_once(project: Project, tmp_path: Path) -> None:
    """Same paths, same new camera, same content: one row each, no error, and the two
    reports together add each photo once."""
    for r in range(ROUNDS):
        folder = tmp_path / f"round{r}" / f"cam-{r}"
        _photos(folder, r)
        reports = _at_once([partial(ingest_paths, project, [folder])] * 2)
        assert sum(rep.added for rep in reports) == PHOTOS
        assert all(rep.failed == 0 and rep.added + rep.skipped == PHOTOS for rep in reports)
    assert _rows(project) == {"ok": ROUNDS * PHOTOS}
    with project.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Camera)) == ROUNDS
        assert (s.scalar(select(func.count(Media.sequence_id.distinct()))) or 0) >= ROUNDS


def test_the_same_bytes_under_two_paths_at_once(project: Project, tmp_path: Path) -> None:
    """Copies under two folders (two new cameras) ingested at once: one is the good row,
    the other a duplicate pointing at it, as when they are ingested one after the other."""
    for r in range(ROUNDS):
        first, second = tmp_path / f"r{r}" / "a", tmp_path / f"r{r}" / "b"
        _photos(first, r)
        shutil.copytree(first, second)
        reports = _at_once(
            [partial(ingest_paths, project, [f], camera=f"cam-{r}") for f in (first, second)]
        )
        assert sum(rep.added for rep in reports) == PHOTOS
        assert sum(rep.duplicates for rep in reports) == PHOTOS
        assert all(rep.failed == 0 for rep in reports)
    assert _rows(project) == {"ok": ROUNDS * PHOTOS, "duplicate": ROUNDS * PHOTOS}
    with project.db.session() as s:
        shas = s.execute(
            select(Media.sha256, func.count()).where(Media.status == "ok").group_by(Media.sha256)
        ).all()
        assert all(n == 1 for _, n in shas) and len(shas) == ROUNDS * PHOTOS
        duplicates = s.scalars(select(Media.error).where(Media.status == "duplicate")).all()
        assert all(d and d.startswith("same content as ") for d in duplicates)


def test_wildloop_ingest_twice_at_once_on_one_folder(project: Project, tmp_path: Path) -> None:
    """Two processes of the CLI on one folder: both succeed, each photo is stored once."""
    folder = tmp_path / "card" / "cam-cli"
    _photos(folder, 7)
    env = os.environ | {"PYTHONPATH": str(Path(wildloop.__file__).parents[1])}
    if project.db.url.startswith("postgresql"):
        env["WILDLOOP_DATABASE_URL"] = project.db.url
    command = [sys.executable, "-m", "wildloop", "ingest", "-p", str(project.root), str(folder)]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert _rows(project) == {"ok": PHOTOS}
