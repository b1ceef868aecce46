"""Image ingest on real samples, generated scenes and every kind of bad file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

import wildloop
from tests.media.conftest import BAD_FILES
from wildloop.media.ingest import ingest_paths
from wildloop.media.summary import media_summary
from wildloop.project import Project
from wildloop.store.tables import Camera, Media, MediaSequence


def _media(project: Project) -> dict[str, Media]:
    with project.db.session() as session:
        return {Path(m.path).name: m for m in session.scalars(select(Media))}


def test_real_camera_trap_samples_are_ingested_with_their_metadata(
    project: Project, shared_data: Path
) -> None:
    report = ingest_paths(project, [shared_data / "camtrap-samples"], camera="samples")
    assert report.failed == 0
    assert report.added == 36
    media = _media(project)
    islands = media["channel-islands-thumb.jpg"]
    assert islands.captured_at_source == "exif"
    assert islands.exif_model and "HYPERFIRE" in islands.exif_model.upper()
    # Most samples carry no EXIF time: ingest falls back and says which source it used.
    sources = {m.captured_at_source for m in media.values()}
    assert sources <= {"exif", "filename", "mtime"} and "mtime" in sources
    assert all(m.width and m.height and len(m.sha256 or "") == 64 for m in media.values())
    assert all(m.split in ("train", "val", "test") for m in media.values())


def test_every_bad_file_fails_alone_with_its_reason(project: Project, bad_folder: Path) -> None:
    report = ingest_paths(project, [bad_folder], camera="c1")
    assert report.added == 3
    assert report.failed == len(BAD_FILES)
    media = _media(project)
    for name, (_, reason) in BAD_FILES.items():
        assert media[name].status == "failed"
        assert reason in (media[name].error or ""), (name, media[name].error)
    assert all(media[f"good_{i}.jpg"].status == "ok" for i in range(3))


def test_bad_exif_can_fall_back_to_file_times_when_configured(
    project: Project, bad_folder: Path
) -> None:
    project.config.ingest.on_bad_exif = "fallback"
    ingest_paths(project, [bad_folder / "badexif.jpeg"], camera="c1")
    row = _media(project)["badexif.jpeg"]
    assert row.status == "ok"
    assert row.captured_at_source == "mtime"


def test_unreadable_permissions_fail_with_a_clear_reason(
    project: Project, bad_folder: Path
) -> None:
    (bad_folder / "good_0.jpg").chmod(0)
    _run_ingest_without_read_override(project, bad_folder)
    media = _media(project)
    assert media["good_0.jpg"].status == "failed"
    assert "permission denied" in (media["good_0.jpg"].error or "")
    assert media["good_1.jpg"].status == "ok"


def _run_ingest_without_read_override(project: Project, folder: Path) -> None:
    """Ingest in a subprocess; as root, drop the capabilities that bypass file permissions."""
    src = Path(wildloop.__file__).parents[1]
    script = (
        "import sys; from pathlib import Path; from wildloop.project import Project;"
        "from wildloop.media.ingest import ingest_paths;"
        "ingest_paths(Project.open(Path(sys.argv[1])), [Path(sys.argv[2])], camera='c1')"
    )
    command = [sys.executable, "-c", script, str(project.root), str(folder)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        command = [
            "setpriv",
            f"--inh-caps={caps}",
            f"--ambient-caps={caps}",
            f"--bounding-set={caps}",
            *command,
        ]
    env = {**os.environ, "PYTHONPATH": str(src)}
    if project.db.url.startswith("postgresql"):
        env["WILDLOOP_DATABASE_URL"] = project.db.url
    subprocess.run(command, check=True, env=env)


def test_reingest_is_idempotent_and_retries_failed_files(
    project: Project, bad_folder: Path
) -> None:
    first = ingest_paths(project, [bad_folder], camera="c1")
    (bad_folder / "zero.jpg").write_bytes((bad_folder / "good_0.jpg").read_bytes()[:-1] + b"\xd9")
    second = ingest_paths(project, [bad_folder], camera="c1")
    assert first.added == 3
    assert second.skipped == 3
    assert second.retried == len(BAD_FILES)
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Media)) == 3 + len(BAD_FILES)
    # the repaired zero.jpg now has the same content as good_0.jpg: a duplicate, not a copy
    assert second.duplicates == 1
    assert _media(project)["zero.jpg"].status == "duplicate"
    third = ingest_paths(project, [bad_folder], camera="c1")
    assert third.added == 0 and third.duplicates == 0


def test_duplicates_are_reported_and_not_stored_twice(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=2)
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "scenes" / frames[0].file_name, copy / "again.jpg")
    report = ingest_paths(project, [tmp_path / "scenes", copy])
    assert report.duplicates == 1
    assert report.duplicate_examples[0][0].endswith("again.jpg")
    assert report.added == len(frames)


def test_bursts_become_sequences_that_share_one_split(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=12)
    ingest_paths(project, [tmp_path / "scenes"])
    truth = {Path(f.file_name).name: f.sequence_key for f in frames}
    media = _media(project)
    by_truth: dict[str, set[int]] = {}
    for name, row in media.items():
        by_truth.setdefault(truth[name], set()).add(row.sequence_id or -1)
    # every generated burst maps to exactly one stored sequence, and no two bursts share one
    assert all(len(ids) == 1 for ids in by_truth.values())
    assert len({next(iter(ids)) for ids in by_truth.values()}) == len(by_truth)
    with project.db.session() as session:
        for seq in session.scalars(select(MediaSequence)):
            splits = {m.split for m in media.values() if m.sequence_id == seq.id}
            assert splits == {seq.split}
        cameras = set(session.scalars(select(Camera.name)))
    assert cameras == {"cam01", "cam02", "cam03"}


def test_same_input_gives_the_same_splits_in_a_new_project(
    make_project, scenes, tmp_path: Path
) -> None:
    scenes(bursts=10)
    first, second = make_project(sub="a"), make_project(sub="b")
    ingest_paths(first, [tmp_path / "scenes"])
    ingest_paths(second, [tmp_path / "scenes"])
    assert {n: m.split for n, m in _media(first).items()} == {
        n: m.split for n, m in _media(second).items()
    }


def test_frames_ingested_later_join_their_burst_and_keep_its_split(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=4)
    root = tmp_path / "scenes"
    later = [f for f in frames if f.frame_num == 1]
    held = tmp_path / "held"
    for f in later:
        (held / f.file_name).parent.mkdir(parents=True, exist_ok=True)
        (root / f.file_name).rename(held / f.file_name)
    ingest_paths(project, [root])
    before = {m.sequence_id: m.split for m in _media(project).values()}
    report = ingest_paths(project, [held])
    assert report.sequences_created == 0
    media = _media(project)
    for f in later:
        row = media[Path(f.file_name).name]
        assert row.sequence_id in before and row.split == before[row.sequence_id]


def test_status_counts_media_by_status_split_and_camera(project: Project, bad_folder: Path) -> None:
    ingest_paths(project, [bad_folder], camera="north")
    summary = media_summary(project)
    assert summary["by_status"] == {"ok": 3, "failed": len(BAD_FILES), "duplicate": 0}
    assert sum(summary["by_split"].values()) == 3
    assert summary["by_camera"] == {"north": 3}


def test_missing_source_is_a_clear_error(project: Project, tmp_path: Path) -> None:
    from wildloop.errors import BadInput

    with pytest.raises(BadInput, match="no such file or folder"):
        ingest_paths(project, [tmp_path / "nope"])
