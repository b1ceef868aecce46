"""Raven selection tables in and out of an audio project.

In: each selection becomes human labels on the windows it overlaps (a time-frequency box,
clipped to the window, with the selection's class), written by a named author through the
same ``save_labels`` every reviewer uses. Unknown classes stop the import before anything is
written unless mapped (``--map theirs=ours``) or added (``--add-classes``); a row that cannot
be read, names no ingested recording or overlaps no window fails alone with its line.
Windows that already carry labels are kept unless ``overwrite``.

Out: the reviewed labels of each recording as one selection table, boxes of one class and
band that touch across windows merged back into one selection.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wildloop.atomic import atomic_open
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.paths import path_from_text, readable_text
from wildloop.domain.spans import TimeSpan
from wildloop.errors import BadInput
from wildloop.interchange.raven import (
    OutSelection,
    Selection,
    read_selection_table,
    write_selection_table,
)
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, LabelRevision, Media

TABLE_SUFFIX = ".Table.1.selections.txt"


@dataclass
class RavenImportReport:
    selections: int = 0
    windows_labelled: int = 0
    boxes: int = 0
    kept_existing: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "selections": self.selections,
            "windows_labelled": self.windows_labelled,
            "boxes": self.boxes,
            "kept_existing": self.kept_existing,
            "failed": [{"line": line, "reason": reason} for line, reason in self.failed],
        }


def import_raven(
    project: Project,
    table_path: Path,
    *,
    recording: Path | None = None,
    column: str | None = None,
    class_map: dict[str, str] | None = None,
    add_classes: bool = False,
    overwrite: bool = False,
    author: str = "raven",
) -> RavenImportReport:
    """Labels from one selection table; see the module docstring for the rules."""
    if not table_path.is_file():
        raise BadInput(f"no such file: {table_path}")
    table = read_selection_table(table_path.read_text(encoding="utf-8-sig"), column)
    rename = class_map or {}
    _check_classes(project, {rename.get(s.label, s.label) for s in table.selections}, add_classes)
    report = RavenImportReport(selections=len(table.selections), failed=list(table.problems))
    classes = project.classes
    author_id = project.author(author)
    boxes: dict[int, list[LabelBoxValue]] = defaultdict(list)
    with project.db.session() as session:
        recordings = _recordings(session)
        for selection in table.selections:
            rec = _recording_of(selection, recordings, recording, table_path)
            if rec is None:
                report.failed.append((selection.line, _no_recording(selection, recording)))
                continue
            windows = session.execute(
                select(Media.id, Media.t_start, Media.t_end).where(
                    Media.parent_id == rec,
                    Media.kind == "window",
                    Media.t_start < selection.end_s,
                    Media.t_end > selection.begin_s,
                )
            ).all()
            if not windows:
                report.failed.append(
                    (
                        selection.line,
                        f"{selection.begin_s:g}-{selection.end_s:g} s overlaps no window of "
                        "the recording (is it past the recording's end?)",
                    )
                )
                continue
            band = selection.low_hz is not None and selection.high_hz is not None
            for w in windows:
                span = TimeSpan(
                    max(selection.begin_s, float(w.t_start)),
                    min(selection.end_s, float(w.t_end)),
                    selection.low_hz if band else None,
                    selection.high_hz if band else None,
                )
                name = rename.get(selection.label, selection.label)
                boxes[int(w.id)].append(
                    LabelBoxValue(box=None, class_id=classes.id_of(name), span=span)
                )
        labelled = dict(
            session.execute(
                select(Media.id, Media.label_revision).where(Media.id.in_(list(boxes)))
            ).all()
        )
        for media_id, values in boxes.items():
            if labelled.get(media_id) and not overwrite:
                report.kept_existing += 1
                continue
            save_labels(
                session,
                media_id,
                LabelSet(boxes=tuple(values)),
                author_id=author_id,
                classes=classes,
                expected_revision=None,
                source="import",
                action="labels.import",
            )
            report.windows_labelled += 1
            report.boxes += len(values)
    return report


def _check_classes(project: Project, names: set[str], add_classes: bool) -> None:
    unknown = sorted(names - set(project.classes.names))
    if not unknown:
        return
    if add_classes:
        for name in unknown:
            project.add_class(name)
        return
    raise BadInput(
        f"the table uses classes the project does not have: {', '.join(unknown)}. "
        f"Project classes: {', '.join(project.classes.names)}. Map them with "
        "--map 'theirs=ours' or add them with --add-classes. Nothing was imported."
    )


def _recordings(session: Any) -> dict[str, int]:
    """Recording id by full path and by file name (names shared by two files are left out)."""
    rows = session.execute(
        select(Media.id, Media.path).where(Media.kind == "audio", Media.status == "ok")
    ).all()
    out: dict[str, int] = {}
    names: dict[str, list[int]] = defaultdict(list)
    for rec_id, stored in rows:
        path = path_from_text(stored)
        out[str(path.resolve())] = int(rec_id)
        names[path.name].append(int(rec_id))
    for name, ids in names.items():
        if len(ids) == 1:
            out[f"name:{name}"] = ids[0]
    return out


def _recording_of(
    selection: Selection, recordings: dict[str, int], given: Path | None, table: Path
) -> int | None:
    if selection.begin_path:
        found = recordings.get(str(Path(selection.begin_path).resolve()))
        if found is not None:
            return found
        return recordings.get(f"name:{Path(selection.begin_path.replace(chr(92), '/')).name}")
    if selection.begin_file:
        return recordings.get(f"name:{selection.begin_file}")
    if given is not None:
        return recordings.get(str(given.resolve())) or recordings.get(f"name:{given.name}")
    stem = table.name.split(".Table.")[0]  # Raven names tables <sound file stem>.Table.N...
    matches = [
        v for k, v in recordings.items() if k.startswith("name:") and Path(k[5:]).stem == stem
    ]
    return matches[0] if len(matches) == 1 else None


def _no_recording(selection: Selection, given: Path | None) -> str:
    named = selection.begin_path or selection.begin_file or (str(given) if given else None)
    if named:
        return f"no ingested recording {named}; ingest it first"
    return (
        "the table does not say which recording it belongs to (no Begin Path/Begin File "
        "column): pass --recording PATH"
    )


@dataclass
class RavenExportReport:
    files: list[str] = field(default_factory=list)
    selections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "selections": self.selections}


def export_raven(project: Project, out: Path, *, column: str = "Species") -> RavenExportReport:
    """One selection table per recording with reviewed labels, written under ``out``."""
    report = RavenExportReport()
    names = {c.id: c.name for c in project.classes}
    per_recording: dict[int, list[tuple[str, float, float, float | None, float | None]]] = (
        defaultdict(list)
    )
    with project.db.session() as session:
        rows = session.execute(
            select(
                Media.parent_id,
                LabelBox.class_id,
                LabelBox.t_start,
                LabelBox.t_end,
                LabelBox.f_low,
                LabelBox.f_high,
            )
            .join(
                LabelRevision,
                (LabelRevision.media_id == Media.id)
                & (LabelRevision.revision == Media.label_revision),
            )
            .join(LabelBox, LabelBox.revision_id == LabelRevision.id)
            .where(
                Media.kind == "window",
                Media.reviewed.is_(True),
                LabelBox.class_id.is_not(None),
                LabelBox.false_positive.is_(False),
                LabelBox.invalid_reason.is_(None),
                LabelBox.t_start.is_not(None),
            )
        ).all()
        for r in rows:
            per_recording[int(r.parent_id)].append(
                (names.get(r.class_id, str(r.class_id)), r.t_start, r.t_end, r.f_low, r.f_high)
            )
        recordings = {
            int(m.id): m
            for m in session.execute(
                select(Media.id, Media.path, Media.sample_rate).where(
                    Media.id.in_(list(per_recording))
                )
            ).all()
        }
    used: set[str] = set()
    for rec_id in sorted(per_recording):
        rec = recordings[rec_id]
        nyquist = (rec.sample_rate or 48_000) / 2
        selections = [
            OutSelection(
                b,
                e,
                low if low is not None else 0.0,
                high if high is not None else nyquist,
                name,
                readable_text(rec.path),
            )
            for name, b, e, low, high in merged(per_recording[rec_id])
        ]
        stem = Path(readable_text(rec.path)).stem
        name = f"{stem}{TABLE_SUFFIX}" if stem not in used else f"{stem}-{rec_id}{TABLE_SUFFIX}"
        used.add(stem)
        with atomic_open(out / name) as fh:
            fh.write(write_selection_table(selections, column).encode("utf-8"))
        report.files.append(str(out / name))
        report.selections += len(selections)
    return report


def merged(
    boxes: list[tuple[str, float, float, float | None, float | None]],
) -> list[tuple[str, float, float, float | None, float | None]]:
    """Boxes of one class and band that overlap or touch become one (windows overlap, so a
    call labelled in three windows is one selection)."""
    groups: dict[tuple[str, float | None, float | None], list[tuple[float, float]]] = defaultdict(
        list
    )
    for name, begin, end, low, high in boxes:
        groups[(name, low, high)].append((begin, end))
    out = []
    for (name, low, high), spans in groups.items():
        spans.sort()
        start, stop = spans[0]
        for begin, end in spans[1:]:
            if begin <= stop + 1e-6:
                stop = max(stop, end)
                continue
            out.append((name, start, stop, low, high))
            start, stop = begin, end
        out.append((name, start, stop, low, high))
    return sorted(out, key=lambda b: (b[1], b[0]))
