"""File names that are not plain ASCII, or not even UTF-8: ingested losslessly, or failed alone.

A Latin-1 name (old cards, Samba copies) once stopped the whole ingest with a
UnicodeEncodeError from the database driver; every name here must come through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import wildloop
from tests.media.conftest import _jpeg
from wildloop.domain.paths import MARKER, path_from_text, path_to_text, readable_text
from wildloop.media.ingest import IngestItem, camera_name, ingest_items, ingest_paths
from wildloop.media.probe import MediaRejected, _capture_time
from wildloop.project import Project
from wildloop.store.tables import Camera, Media

ODD_NAMES = [
    b"caf\xe9.jpg",  # Latin-1, not UTF-8
    b"\xff\xfe raw.jpg",
    b"with space.jpg",
    b'quote\'s "double".jpg',
    b"hash#1.jpg",
    b"100%.jpg",
    b"what?.jpg",
    "\u00e9t\u00e9.jpg".encode(),  # NFC
    unicodedata.normalize("NFD", "\u00e9t\u00e9.jpg").encode(),  # NFD: another file
    b"-leading-dash.jpg",
    b"new\nline.jpg",
    b"[red]markup.jpg",
    b"bytes:prefix.jpg",
    b"L" * 251 + b".jpg",  # 255 bytes, the longest name Linux allows
]


def _write_odd_folder(root: Path) -> Path:
    folder = root / os.fsdecode(b"r\xe9serve")  # a camera folder named in Latin-1
    folder.mkdir()
    for seed, name in enumerate(ODD_NAMES):
        (folder / os.fsdecode(name)).write_bytes(_jpeg((64, 48), seed=seed))
    return folder


def test_odd_file_names_are_ingested_and_reopen_byte_exactly(
    project: Project, tmp_path: Path
) -> None:
    folder = _write_odd_folder(tmp_path)
    report = ingest_paths(project, [folder])
    assert report.failures == [] and report.added == len(ODD_NAMES)
    with project.db.session() as session:
        stored = list(session.scalars(select(Media.path)))
        cameras = list(session.scalars(select(Camera.name)))
    assert cameras == ["r\\xe9serve"]
    reopened = {os.fsencode(path_from_text(text)) for text in stored}
    assert reopened == {os.fsencode(folder / os.fsdecode(name)) for name in ODD_NAMES}
    assert all(text.encode("utf-8") for text in stored)  # plain text any driver accepts
    latin = next(t for t in stored if t.endswith("caf%E9.jpg"))
    assert latin.startswith(MARKER) and readable_text(latin).endswith("r\\xe9serve/caf\\xe9.jpg")
    again = ingest_paths(project, [folder])
    assert again.skipped == len(ODD_NAMES) and again.added == 0


def test_cli_ingest_prints_odd_names_readably(project: Project, tmp_path: Path) -> None:
    folder = _write_odd_folder(tmp_path)
    (folder / "a[").mkdir()  # printed as ".../a[/x]y.jpg": a closing tag to Rich markup
    (folder / "a[" / "x]y.jpg").write_bytes(b"not a photo")
    (folder / os.fsdecode(b"gone\xe9.jpg")).symlink_to("missing")
    env = {**os.environ, "PYTHONPATH": str(Path(wildloop.__file__).parents[1]), "COLUMNS": "300"}
    if project.db.url.startswith("postgresql"):
        env["WILDLOOP_DATABASE_URL"] = project.db.url
    base = [sys.executable, "-m", "wildloop", "ingest", str(folder), "-p", str(project.root)]
    text = subprocess.run(base, capture_output=True, text=True, env=env, check=False)
    assert text.returncode == 0, text.stderr
    assert "failed 2" in text.stdout and "Traceback" not in text.stderr
    assert "gone\\xe9.jpg" in text.stderr and "a[/x]y.jpg" in text.stderr
    (folder / "more.jpg").write_bytes(b"")
    as_json = subprocess.run([*base, "--json"], capture_output=True, env=env, check=True)
    report = json.loads(as_json.stdout.decode("utf-8"))
    assert report["skipped"] == len(ODD_NAMES) and report["failed"] == 3


def test_per_file_problems_fail_alone(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(_jpeg(seed=1))
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "folder.jpg").mkdir()  # a directory named like an image: walked into
    (folder / "folder.jpg" / "inside.jpg").write_bytes(_jpeg(seed=2))
    deep = folder
    while len(str(deep)) < 1000:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    (deep / "far.jpg").write_bytes(_jpeg(seed=3))
    wide = folder  # fewer characters, but more bytes than PostgreSQL's index takes
    while len(str(wide).encode()) < 2100:
        wide = wide / ("\u9e7f" * 80)  # 240 bytes a folder name
    wide.mkdir(parents=True)
    (wide / "wide.jpg").write_bytes(_jpeg(seed=5))
    assert len(str(wide)) < 1000
    report = ingest_paths(project, [folder], camera="c1")
    reasons = {Path(p).name: r for p, r in report.failures}
    assert report.added == 2 and report.failed == 4, report.failures
    assert "symbolic links" in reasons["loop.jpg"]
    assert "cannot read file" in reasons["dangling.jpg"]
    assert "stores paths of up to 1000 characters" in reasons["far.jpg"]
    assert "2000 bytes" in reasons["wide.jpg"]


def test_a_file_gone_between_scan_and_read_fails_alone(project: Project, tmp_path: Path) -> None:
    (tmp_path / "here.jpg").write_bytes(_jpeg(seed=4))
    camera = os.fsdecode(b"cam\xe9")  # e.g. from an imported file's folder
    items = [IngestItem(tmp_path / name, camera) for name in ("gone.jpg", "here.jpg")]
    report = ingest_items(project, items)
    assert report.added == 1 and report.failures[0][0].endswith("gone.jpg")
    with project.db.session() as session:
        assert list(session.scalars(select(Camera.name))) == ["cam\\xe9"]
    with pytest.raises(MediaRejected, match="changed while it was read"):
        _capture_time(tmp_path / "gone-after-read.jpg", None)


def test_long_folder_names_make_distinct_storable_camera_names() -> None:
    first, second = camera_name("a" * 300), camera_name("a" * 299 + "b")
    assert len(first) == len(second) == 200 and first != second
    assert camera_name(os.fsdecode(b"caf\xe9")) == "caf\\xe9"


@given(st.binary(min_size=1, max_size=60).filter(lambda b: b"\x00" not in b))
def test_stored_text_round_trips_any_name(raw: bytes) -> None:
    path = os.fsdecode(b"/media/" + raw)
    text = path_to_text(path)
    text.encode("utf-8")  # never a lone surrogate
    assert os.fsencode(path_from_text(text)) == os.fsencode(Path(path))
    if raw.isascii() and not (b"/media/" + raw).startswith(MARKER.encode()):
        assert text == str(Path(path)) or text == path  # plain names are stored as they are
