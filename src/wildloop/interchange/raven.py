"""Raven Pro selection tables: tab-separated text, one selection (a time-frequency box) a row.

Raven writes ``Selection, View, Channel, Begin Time (s), End Time (s), Low Freq (Hz),
High Freq (Hz)`` and one or more annotation columns (``Species``, ``Annotation``...), plus
``Begin File``/``Begin Path``/``File Offset (s)`` when a table spans several files. Raven
shows a selection once per view (waveform and spectrogram rows with the same number); they
are one selection here. A malformed row fails alone, with its line number and the reason.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from wildloop.errors import BadInput

SELECTION = "Selection"
VIEW = "View"
CHANNEL = "Channel"
BEGIN = "Begin Time (s)"
END = "End Time (s)"
LOW = "Low Freq (Hz)"
HIGH = "High Freq (Hz)"
BEGIN_FILE = "Begin File"
BEGIN_PATH = "Begin Path"
FILE_OFFSET = "File Offset (s)"
REQUIRED = (BEGIN, END)
ANNOTATION_COLUMNS = ("Species", "Annotation", "Class", "Label", "Sound Type", "Call Type")


@dataclass(frozen=True)
class Selection:
    """One selection: seconds within its recording and, when given, its frequency band."""

    line: int
    number: str
    begin_s: float
    end_s: float
    low_hz: float | None
    high_hz: float | None
    label: str
    begin_file: str | None = None
    begin_path: str | None = None


@dataclass
class RavenTable:
    annotation_column: str
    selections: list[Selection] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


def read_selection_table(text: str, annotation_column: str | None = None) -> RavenTable:
    """Parse a selection table; rows that cannot be read are listed in ``problems``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter="\t")
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise BadInput(
            f"not a Raven selection table: no {', '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(columns) or 'none'})"
        )
    column = annotation_column or next((c for c in ANNOTATION_COLUMNS if c in columns), None)
    if column is None or column not in columns:
        wanted = annotation_column or ", ".join(ANNOTATION_COLUMNS)
        raise BadInput(
            f"the table has no annotation column ({wanted}); name the column that holds the "
            "class with --column"
        )
    table = RavenTable(column)
    seen: set[tuple[str, str | None]] = set()
    for line, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            selection = _selection(line, row, column)
        except ValueError as exc:
            table.problems.append((line, str(exc)))
            continue
        key = (selection.number, selection.begin_path or selection.begin_file)
        if selection.number and key in seen:  # the same selection in another view
            continue
        seen.add(key)
        table.selections.append(selection)
    return table


def _selection(line: int, row: dict[str, str], column: str) -> Selection:
    def number(name: str, required: bool) -> float | None:
        raw = (row.get(name) or "").strip()
        if not raw:
            if required:
                raise ValueError(f"{name} is empty")
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name} {raw!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} {raw!r} must be a finite number >= 0")
        return value

    begin, end = number(BEGIN, True), number(END, True)
    assert begin is not None and end is not None
    offset = number(FILE_OFFSET, False)
    if end <= begin:
        raise ValueError(f"the selection ends ({end:g} s) before it begins ({begin:g} s)")
    if offset is not None:  # a multi-file table: times run across files, the offset is local
        begin, end = offset, offset + (end - begin)
    low, high = number(LOW, False), number(HIGH, False)
    if low is not None and high is not None and high <= low:
        raise ValueError(f"High Freq {high:g} Hz is not above Low Freq {low:g} Hz")
    label = (row.get(column) or "").strip()
    if not label:
        raise ValueError(f"no class in the {column!r} column")
    return Selection(
        line,
        (row.get(SELECTION) or "").strip(),
        begin,
        end,
        low,
        high,
        label,
        (row.get(BEGIN_FILE) or "").strip() or None,
        (row.get(BEGIN_PATH) or "").strip() or None,
    )


@dataclass(frozen=True)
class OutSelection:
    begin_s: float
    end_s: float
    low_hz: float
    high_hz: float
    label: str
    begin_path: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


def write_selection_table(
    selections: Sequence[OutSelection], annotation_column: str = "Species"
) -> str:
    """A table Raven Pro opens: spectrogram view, channel 1, numbered from 1."""
    extra = list(dict.fromkeys(k for s in selections for k, _ in s.extra))
    with_path = any(s.begin_path for s in selections)
    header = [SELECTION, VIEW, CHANNEL, BEGIN, END, LOW, HIGH]
    header += [BEGIN_PATH, BEGIN_FILE, FILE_OFFSET] if with_path else []
    header += [annotation_column, *extra]
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(header)
    for n, s in enumerate(selections, start=1):
        row = [
            str(n),
            "Spectrogram 1",
            "1",
            f"{s.begin_s:.6f}",
            f"{s.end_s:.6f}",
            f"{s.low_hz:.3f}",
            f"{s.high_hz:.3f}",
        ]
        if with_path:
            path = s.begin_path or ""
            row += [path, path.replace("\\", "/").rsplit("/", 1)[-1], f"{s.begin_s:.6f}"]
        values = dict(s.extra)
        row += [s.label, *(values.get(k, "") for k in extra)]
        writer.writerow(row)
    return out.getvalue()
