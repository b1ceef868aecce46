"""Audio ingest: recordings and windows as media, every bad file failing alone, idempotent
re-ingest, recording start times, long files streamed, real insect recordings."""

from __future__ import annotations

import csv
import os
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select

from tests.conftest import SHARED_DATA
from wildloop.audio import decode
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.ingest import ingest_audio_paths, recording_time, scan_recording
from wildloop.audio.windows import window_spans
from wildloop.domain.capture_time import TimeSource
from wildloop.domain.paths import path_from_text, readable_text
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import Embedding, Media, MediaSequence
from wildloop.synthetic.sounds import generate_recordings

INSECTS = SHARED_DATA / "insect-sounds"


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(["tone", "chirp", "trill", "buzz"], name="sounds")


def _bad_files(folder: Path) -> dict[str, str]:
    """One file per way of being bad, and a word its failure reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    good = (0.1 * rng.standard_normal(16_000 * 4)).astype(np.float32)
    sf.write(folder / "whole.wav", good, 16_000, subtype="PCM_16")
    whole = (folder / "whole.wav").read_bytes()
    (folder / "whole.wav").unlink()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "truncated.wav").write_bytes(whole[: len(whole) // 2])
    (folder / "header.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + whole[44:])
    (folder / "notes.wav").write_text("these are field notes, not audio\n" * 50)
    (folder / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    sf.write(folder / "silent.wav", np.zeros(16_000 * 3, dtype=np.float32), 16_000)
    sf.write(folder / "noframes.wav", np.zeros(0, dtype=np.float32), 16_000)
    sf.write(folder / "flac-cut.flac", good, 16_000)
    flac = (folder / "flac-cut.flac").read_bytes()
    (folder / "flac-cut.flac").write_bytes(flac[: len(flac) // 2])
    return {
        "empty.wav": "empty",
        "truncated.wav": "truncated",
        "header.wav": "corrupt header",
        "notes.wav": "not an audio file",
        "phone.m4a": "unsupported",
        "silent.wav": "silent",
        "noframes.wav": "0 frames",
        "flac-cut.flac": "truncated",
    }


def test_recordings_become_recording_and_window_rows(
    audio_project: Project, tmp_path: Path
) -> None:
    made = generate_recordings(tmp_path / "in", 4, seed=3, duration_s=10.0)
    report = ingest_audio_paths(audio_project, [tmp_path / "in"])
    assert (report.added, report.failed) == (4, 0)
    spans = window_spans(10.0, 3.0, 1.5)
    assert report.windows == 4 * len(spans)
    with audio_project.db.session() as session:
        recordings = session.scalars(select(Media).where(Media.kind == "audio")).all()
        assert len(recordings) == 4
        for recording, generated in zip(
            sorted(recordings, key=lambda m: m.path),
            sorted(made, key=lambda g: str(g.path)),
            strict=True,
        ):
            assert recording.sample_rate == 32_000 and recording.channels == 1
            assert recording.duration_s == pytest.approx(10.0)
            assert recording.captured_at == generated.started_at
            assert recording.captured_at_source == "filename"
            sequence = session.get(MediaSequence, recording.sequence_id)
            assert sequence is not None and sequence.key == f"rec:{recording.sha256}"
            windows = session.scalars(
                select(Media).where(Media.parent_id == recording.id).order_by(Media.t_start)
            ).all()
            assert [(w.t_start, w.t_end) for w in windows] == spans
            assert {w.split for w in windows} == {recording.split}
            assert {w.sequence_id for w in windows} == {recording.sequence_id}
            assert windows[1].path == f"{recording.path}#t=1.500,4.500"
            assert windows[2].captured_at == datetime(
                *generated.started_at.timetuple()[:5], generated.started_at.second + 3
            )


def test_each_bad_file_fails_alone_with_its_reason(audio_project: Project, tmp_path: Path) -> None:
    expected = _bad_files(tmp_path / "in")
    generate_recordings(tmp_path / "in", 2, seed=5, sites=("in",), duration_s=4.0)
    report = ingest_audio_paths(audio_project, [tmp_path / "in"])
    assert report.added == 2
    reasons = {Path(path).name: reason for path, reason in report.failures}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    with audio_project.db.session() as session:
        failed = session.scalars(select(Media).where(Media.status == "failed")).all()
        assert {Path(m.path).name for m in failed} == set(expected)
        assert all(m.error for m in failed)
        windows = session.scalar(select(func.count()).where(Media.kind == "window"))
        assert windows == 2 * len(window_spans(4.0, 3.0, 1.5))


def test_reingest_is_idempotent_and_retries_fixed_files(
    audio_project: Project, tmp_path: Path
) -> None:
    generate_recordings(tmp_path / "in", 3, seed=2, duration_s=5.0)
    (tmp_path / "in" / "site-a" / "later.wav").write_bytes(b"")
    first = ingest_audio_paths(audio_project, [tmp_path / "in"])
    assert (first.added, first.failed) == (3, 1)
    copy = tmp_path / "copy"
    copy.mkdir()
    source = next((tmp_path / "in" / "site-a").glob("*.WAV"))
    (copy / source.name).write_bytes(source.read_bytes())
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "in" / "site-a" / "later.wav", 0.1 * rng.standard_normal(16_000), 16_000)
    again = ingest_audio_paths(audio_project, [tmp_path / "in", copy])
    assert (again.added, again.skipped, again.retried, again.duplicates) == (1, 3, 1, 1)
    with audio_project.db.session() as session:
        assert session.scalar(select(func.count()).where(Media.kind == "audio")) == 5
        assert (
            session.scalar(select(func.count()).where(Media.kind == "audio", Media.status == "ok"))
            == 4
        )
        per_recording = session.execute(
            select(Media.parent_id, func.count())
            .where(Media.kind == "window")
            .group_by(Media.parent_id)
        ).all()
        assert sorted(n for _, n in per_recording) == [1, 3, 3, 3]


def test_recording_start_time_sources(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = 0.1 * rng.standard_normal(8_000)
    moth = tmp_path / "20240607_051500.WAV"
    sf.write(moth, data, 8_000)
    assert recording_time(moth, {}) == (datetime(2024, 6, 7, 5, 15, 0), TimeSource.FILENAME)
    tagged = tmp_path / "tagged.wav"
    with sf.SoundFile(tagged, "w", 8_000, 1) as handle:
        handle.comment = "Recorded at 19:00:05 08/07/2019 (UTC) by AudioMoth 0FE081F80FE081F0"
        handle.write(data)
    scanned = scan_recording(tagged, 1e-5)
    assert (scanned.captured_at, scanned.time_source) == (
        datetime(2019, 7, 8, 19, 0, 5),
        TimeSource.METADATA,
    )
    plain = tmp_path / "plain.flac"
    sf.write(plain, data, 8_000)
    assert recording_time(plain, {})[1] == TimeSource.MTIME


def test_long_recording_is_streamed_in_blocks(tmp_path: Path) -> None:
    """A 20-minute 48 kHz file (230 MB as float32) is scanned and windowed within a few MB."""
    path = tmp_path / "20240601_000000.flac"
    rate, minutes = 48_000, 20
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as handle:
        for _ in range(minutes * 6):
            handle.write((0.05 * rng.standard_normal(rate * 10)).astype(np.float32))
    tracemalloc.start()
    scanned = scan_recording(path, 1e-5)
    spans = window_spans(scanned.duration_s, 3.0, 1.5)
    count = 0
    for _, window in decode.cut_windows(decode.iter_blocks(path, 32_000), 32_000, spans, 3.0):
        assert len(window) == 96_000
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert scanned.duration_s == pytest.approx(minutes * 60)
    assert count == len(spans) == 799
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB: the file was not streamed"


def test_cut_windows_matches_slicing_the_whole_signal() -> None:
    rate = 1_000
    signal = np.arange(10_500, dtype=np.float32)
    blocks = iter(np.array_split(signal, 7))
    spans = window_spans(10.5, 3.0, 1.5)
    windows = dict(decode.cut_windows(blocks, rate, spans, 3.0))
    for index, (t0, _) in enumerate(spans):
        start = round(t0 * rate)
        expected = np.zeros(3_000, dtype=np.float32)
        piece = signal[start : start + 3_000]
        expected[: len(piece)] = piece
        np.testing.assert_array_equal(windows[index], expected)


def test_window_spans_cover_the_recording() -> None:
    assert window_spans(1.0, 3.0, 1.5) == [(0.0, 1.0)]
    assert window_spans(10.0, 3.0, 1.5)[-1] == (7.5, 10.0)
    assert window_spans(0.0, 3.0, 1.5) == []
    spans = window_spans(3600.0, 3.0, 1.5)
    assert len(spans) == 2399 and spans[-1] == (3597.0, 3600.0)


def test_grouped_by_camera_each_site_is_in_one_split(
    audio_project: Project, tmp_path: Path
) -> None:
    """The project's one ``splits.group_by`` holds for recordings too (a site is a camera)."""
    audio_project.config.splits.group_by = "camera"
    sites = tuple(f"site-{i}" for i in range(6))
    generate_recordings(tmp_path / "in", 18, seed=4, sites=sites, duration_s=2.0)
    ingest_audio_paths(audio_project, [tmp_path / "in"])
    with audio_project.db.session() as session:
        rows = session.execute(
            select(Media.camera_id, Media.split).where(Media.kind == "audio")
        ).all()
    by_site: dict[int | None, set[str | None]] = {}
    for camera_id, split in rows:
        by_site.setdefault(camera_id, set()).add(split)
    assert len(by_site) == 6 and all(len(s) == 1 for s in by_site.values())


@pytest.mark.skipif(not INSECTS.is_dir(), reason="shared insect-sounds data is not present")
def test_real_insect_recordings_ingest(audio_project: Project) -> None:
    with (INSECTS / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    sample = [INSECTS / r["path"] for r in rows[:12]]
    report = ingest_audio_paths(audio_project, sample)
    # The set holds one real all-zero file (792 bytes of FLAC): it must fail as silent.
    assert (report.added, report.failed) == (11, 1)
    assert report.failures[0][0].endswith("Nemobiussylvestris_MixPre-304.M.flac")
    assert report.failures[0][1].startswith("silent")
    seconds = {
        str(INSECTS / r["path"]): float(r["seconds"])
        for r in rows[:12]
        if "MixPre-304" not in r["path"]
    }
    with audio_project.db.session() as session:
        ok = select(Media).where(Media.kind == "audio", Media.status == "ok")
        recordings = session.scalars(ok).all()
        for recording in recordings:
            assert recording.sample_rate == 44_100
            assert recording.duration_s == pytest.approx(seconds[recording.path], abs=0.01)
        windows = session.scalar(select(func.count()).where(Media.kind == "window"))
    assert windows == sum(len(window_spans(s, 3.0, 1.5)) for s in seconds.values())


def test_a_recording_whose_name_is_not_utf8_is_ingested_and_embedded(
    audio_project: Project, tmp_path: Path
) -> None:
    """Old cards and Samba copies hold Latin-1 names: such a file goes through ingest and the
    embedding job beside the others, stored losslessly and shown readably (issue 13, item 1)."""
    made = generate_recordings(tmp_path / "in", 2, seed=9, duration_s=4.0)
    odd = os.fsdecode(os.fsencode(tmp_path / "in") + b"/chant-\xe9t\xe9.WAV")
    Path(made[0].path).rename(odd)
    not_audio = os.fsdecode(os.fsencode(tmp_path / "in") + b"/bruit-\xe9.wav")
    Path(not_audio).write_bytes(b"this is not a sound")
    report = ingest_audio_paths(audio_project, [tmp_path / "in"])
    assert (report.added, report.failed) == (2, 1), report.failures
    assert report.failures[0][0].endswith("bruit-\\xe9.wav"), report.failures
    assert "bruit-\\xe9.wav" in report.failures[0][1]
    with audio_project.db.session() as session:
        stored = session.scalars(select(Media.path).where(Media.kind == "audio")).all()
    odd_text = next(p for p in stored if "chant" in p)
    assert path_from_text(odd_text) == Path(odd)
    assert readable_text(odd_text).endswith("chant-\\xe9t\\xe9.WAV")
    status = run_job(audio_project, submit_embed(audio_project).job_id)
    assert status["state"] == "succeeded", status
    with audio_project.db.session() as session:
        missing = session.scalar(
            select(func.count())
            .select_from(Media)
            .where(Media.kind == "window", Media.id.not_in(select(Embedding.media_id)))
        )
    assert missing == 0
