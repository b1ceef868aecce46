"""Raven selection tables: parsed as Raven writes them, bad rows failing alone, imported as
time-frequency labels on the overlapping windows, exported and read back unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.audio.window_support import AUDIO_CLASSES, add_recording, write_recording
from wildloop.audio.raven_io import export_raven, import_raven
from wildloop.errors import BadInput
from wildloop.interchange.raven import OutSelection, read_selection_table, write_selection_table
from wildloop.project import Project
from wildloop.store.tables import LabelBox, LabelRevision, Media

HEADER = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)"
    "\tSpecies\n"
)
ROWS = [
    "1\tSpectrogram 1\t1\t0.5\t2.0\t2500\t3500\twren",
    "1\tWaveform 1\t1\t0.5\t2.0\t2500\t3500\twren",  # the same selection in another view
    "2\tSpectrogram 1\t1\t4.0\t5.5\t400\t900\tOwl",
    "3\tSpectrogram 1\t1\tabc\t2.0\t100\t200\twren",
    "4\tSpectrogram 1\t1\t3.0\t2.0\t100\t200\twren",
    "5\tSpectrogram 1\t1\t50\t52\t100\t200\tfrog",
    "6\tSpectrogram 1\t1\t1.0\t2.0\t100\t200\t",
    "7\tSpectrogram 1\t1\t1.0\t2.0\t900\t300\tfrog",
]


def test_tables_parse_and_bad_rows_fail_alone() -> None:
    table = read_selection_table(HEADER + "\n".join(ROWS) + "\n")
    assert table.annotation_column == "Species"
    assert [
        (s.number, s.begin_s, s.end_s, s.low_hz, s.high_hz, s.label) for s in table.selections
    ] == [
        ("1", 0.5, 2.0, 2500.0, 3500.0, "wren"),
        ("2", 4.0, 5.5, 400.0, 900.0, "Owl"),
        ("5", 50.0, 52.0, 100.0, 200.0, "frog"),
    ]
    reasons = dict(table.problems)
    assert "'abc' is not a number" in reasons[5]
    assert "ends (2 s) before it begins (3 s)" in reasons[6]
    assert "no class" in reasons[8]
    assert "not above Low Freq" in reasons[9]
    with pytest.raises(BadInput, match="not a Raven selection table"):
        read_selection_table("a\tb\n1\t2\n")


def test_multi_file_tables_use_the_file_offset() -> None:
    text = (
        "Selection\tView\tChannel\tBegin File\tFile Offset (s)\tBegin Time (s)\tEnd Time (s)"
        "\tAnnotation\n1\tSpectrogram 1\t1\tb.wav\t1.25\t61.25\t62.0\towl\n"
    )
    (selection,) = read_selection_table(text).selections
    assert (selection.begin_file, selection.begin_s, selection.end_s) == ("b.wav", 1.25, 2.0)
    assert selection.low_hz is None and selection.label == "owl"


def test_written_tables_read_back() -> None:
    out = [OutSelection(0.5, 2.0, 100.0, 8000.0, "owl", "/data/a.wav")]
    (back,) = read_selection_table(write_selection_table(out)).selections
    assert (back.begin_s, back.end_s, back.low_hz, back.high_hz, back.label) == (
        0.5,
        2.0,
        100.0,
        8000.0,
        "owl",
    )
    assert back.begin_path == "/data/a.wav" and back.begin_file == "a.wav"


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(AUDIO_CLASSES, name="sounds")


def test_round_trip_through_windows(audio_project: Project, tmp_path: Path) -> None:
    wav = write_recording(tmp_path / "pond.wav", 9.0, [(0.5, 2.0, 3000.0), (4.0, 5.5, 600.0)])
    add_recording(audio_project, wav, "pond", datetime(2024, 5, 1, 5, 30))
    table = tmp_path / "pond.Table.1.selections.txt"
    table.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")

    with pytest.raises(BadInput, match=r"Owl.*--map"):
        import_raven(audio_project, table)
    with audio_project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LabelRevision)) == 0

    report = import_raven(audio_project, table, class_map={"Owl": "owl"})
    assert report.selections == 3 and report.windows_labelled == 4 and report.boxes == 5
    failed = dict(report.failed)
    assert set(failed) == {5, 6, 7, 8, 9}
    assert "overlaps no window" in failed[7]
    with audio_project.db.session() as session:
        boxes = session.execute(
            select(
                Media.t_start, LabelBox.class_id, LabelBox.t_start, LabelBox.t_end, LabelBox.f_low
            )
            .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
            .join(Media, Media.id == LabelRevision.media_id)
            .order_by(Media.t_start, LabelBox.t_start)
        ).all()
    wren, owl = audio_project.classes.id_of("wren"), audio_project.classes.id_of("owl")
    assert [tuple(b) for b in boxes] == [
        (0.0, wren, 0.5, 2.0, 2500.0),
        (1.5, wren, 1.5, 2.0, 2500.0),
        (1.5, owl, 4.0, 4.5, 400.0),
        (3.0, owl, 4.0, 5.5, 400.0),
        (4.5, owl, 4.5, 5.5, 400.0),
    ]

    again = import_raven(audio_project, table, class_map={"Owl": "owl"})
    assert again.windows_labelled == 0 and again.kept_existing == 4

    exported = export_raven(audio_project, tmp_path / "out")
    assert exported.selections == 2 and len(exported.files) == 1
    back = read_selection_table(Path(exported.files[0]).read_text(encoding="utf-8"))
    assert [
        (s.begin_s, s.end_s, s.low_hz, s.high_hz, s.label, s.begin_path) for s in back.selections
    ] == [
        (0.5, 2.0, 2500.0, 3500.0, "wren", str(wav)),
        (4.0, 5.5, 400.0, 900.0, "owl", str(wav)),
    ]
