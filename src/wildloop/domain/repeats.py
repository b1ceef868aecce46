"""Repeat detections: boxes one camera's model fires on at the same place frame after frame.

A branch, a rock or a fence post that the detector takes for an animal shows up in the same
spot across many frames, bursts and days; an animal rarely does. Per camera, boxes are grouped
greedily with the first group whose anchor box they overlap at ``iou`` or more (class-agnostic:
the model may call the rock a different animal each time); a group is a repeat when it covers
``min_items`` frames from ``min_bursts`` bursts. The rule is MegaDetector's "repeat detection
elimination" in spirit; the decision (false positive or real) stays a person's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median

from wildloop.domain.boxes import Box

CELL = 0.05  # grid cell (image fractions) for the candidate search; see _cells


@dataclass(frozen=True)
class Sighting:
    """One predicted box on one frame."""

    prediction_id: int
    media_id: int
    camera: str
    burst: str
    box: Box


@dataclass(frozen=True)
class RepeatGroup:
    camera: str
    anchor: Box
    prediction_ids: tuple[int, ...]
    media_ids: tuple[int, ...]  # distinct frames, in id order
    bursts: int
    median: Box  # the members' median box: the region a false-positive decision stores

    @property
    def key(self) -> int:
        """The group's handle for a decision: its first prediction id."""
        return self.prediction_ids[0]


@dataclass(frozen=True)
class Region:
    """A place on one camera decided to be a static false positive."""

    camera: str
    box: Box
    iou: float

    def covers(self, camera: str, box: Box) -> bool:
        return camera == self.camera and self.box.iou(box) >= self.iou


def median_box(boxes: list[Box]) -> Box:
    """The coordinate-wise median: one stray member cannot move the stored region."""
    return Box.clipped(
        median(b.x for b in boxes),
        median(b.y for b in boxes),
        median(b.w for b in boxes),
        median(b.h for b in boxes),
    )


def find_repeats(
    sightings: list[Sighting], iou: float = 0.85, min_items: int = 10, min_bursts: int = 3
) -> list[RepeatGroup]:
    """Repeat groups, most frames first. Each box belongs to at most one group, and every
    box of a group overlaps its anchor at ``iou`` or more."""
    by_camera: dict[str, list[Sighting]] = defaultdict(list)
    for s in sightings:
        by_camera[s.camera].append(s)
    found: list[RepeatGroup] = []
    for camera, boxes in sorted(by_camera.items()):
        found.extend(_camera_repeats(camera, boxes, iou, min_items, min_bursts))
    return sorted(found, key=lambda g: (-len(g.media_ids), g.camera, g.prediction_ids[0]))


def _camera_repeats(
    camera: str, boxes: list[Sighting], iou: float, min_items: int, min_bursts: int
) -> list[RepeatGroup]:
    anchors: list[Box] = []
    members: list[list[Sighting]] = []
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    for s in sorted(boxes, key=lambda s: s.prediction_id):
        home = _cell(s.box)
        match = None
        for cell in _around(home):
            for g in grid.get(cell, ()):
                if anchors[g].iou(s.box) >= iou:
                    match = g
                    break
            if match is not None:
                break
        if match is None:
            anchors.append(s.box)
            members.append([s])
            grid[home].append(len(anchors) - 1)
        else:
            members[match].append(s)
    out = []
    for anchor, group in zip(anchors, members, strict=True):
        media = sorted({s.media_id for s in group})
        bursts = len({s.burst for s in group})
        if len(media) >= min_items and bursts >= min_bursts:
            out.append(
                RepeatGroup(
                    camera,
                    anchor,
                    tuple(sorted(s.prediction_id for s in group)),
                    tuple(media),
                    bursts,
                    median_box([s.box for s in group]),
                )
            )
    return out


def _cell(box: Box) -> tuple[int, int]:
    return int((box.x + box.w / 2) / CELL), int((box.y + box.h / 2) / CELL)


def _around(cell: tuple[int, int]) -> list[tuple[int, int]]:
    """The cell and its neighbours: two boxes overlapping at IoU >= 0.85 have centres closer
    than a cell apart unless the boxes are larger than about 0.3 of the frame; larger static
    boxes may then form two groups (reported twice, never missed)."""
    x, y = cell
    return [(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
