"""Exports of a snapshot in the formats users exchange, chosen from one lookup table.

Every export writes into a temporary folder next to its destination and is renamed into
place only when complete; each gets a README with the class distribution and warnings.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wildloop.datasets.exporters.camtrap_dp import export_camtrap_dp
from wildloop.datasets.exporters.coco import export_coco, export_coco_ct
from wildloop.datasets.exporters.context import ExportContext, ImageMode
from wildloop.datasets.exporters.corrections import export_corrections
from wildloop.datasets.exporters.events_csv import export_event_counts
from wildloop.datasets.exporters.readme import dataset_warnings, write_readme
from wildloop.datasets.exporters.yolo import export_yolo
from wildloop.datasets.snapshots import load_snapshot
from wildloop.errors import BadInput, Conflict
from wildloop.project import Project

Exporter = Callable[[ExportContext], list[Path]]

FORMATS: dict[str, tuple[Exporter, ImageMode]] = {
    "yolo": (export_yolo, "link"),
    "coco": (export_coco, "none"),
    "coco-ct": (export_coco_ct, "none"),
    "camtrap-dp": (export_camtrap_dp, "none"),
    "csv": (export_corrections, "none"),
}
# What one CSV row stands for: a label box (corrections.csv) or an event (events.csv).
CSV_PER: dict[str, Exporter] = {"box": export_corrections, "event": export_event_counts}


@dataclass(frozen=True)
class ExportResult:
    format: str
    snapshot: str
    folder: Path
    files: int
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "snapshot": self.snapshot,
            "folder": str(self.folder),
            "files": self.files,
            "warnings": list(self.warnings),
        }


def export_snapshot(
    project: Project,
    snapshot: int | str,
    fmt: str,
    *,
    out: Path | None = None,
    images: ImageMode | None = None,
    overwrite: bool = False,
    coordinates: tuple[float, float] | None = None,
    per: str = "box",
    collapse: str | None = None,
) -> ExportResult:
    """Write ``snapshot`` in format ``fmt`` to ``out`` (default: exports/<snapshot>-<fmt>);
    ``per`` chooses the CSV's rows: one per label box or one per event and class;
    ``collapse`` (YOLO only) writes every box as that one class, for a class-agnostic
    detector whose boxes a finer crop classifier names."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if per not in CSV_PER:
        raise BadInput(f"--per must be one of {', '.join(CSV_PER)}, not {per!r}")
    if per != "box" and fmt != "csv":
        raise BadInput("--per event is for the csv format")
    if collapse is not None and fmt != "yolo":
        raise BadInput("collapsing classes is for the yolo format (detector training)")
    exporter, default_images = FORMATS[fmt]
    if fmt == "csv":
        exporter = CSV_PER[per]
    data = load_snapshot(project, snapshot)
    final = (out or project.path("exports") / f"{data.info.name}-{fmt}").expanduser().resolve()
    if final.exists() and not overwrite:
        raise Conflict(f"{final} already exists; pass --overwrite or choose another folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    ctx = ExportContext(project, data, work, final, images or default_images, collapse=collapse)
    try:
        files = export_camtrap_dp(ctx, coordinates) if fmt == "camtrap-dp" else exporter(ctx)
        files.append(write_readme(ctx, fmt, files))
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(
        fmt, data.info.name, final, len(files), tuple(dataset_warnings(ctx) + ctx.warnings)
    )
