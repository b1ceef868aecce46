"""Burst tracks: the boxes of one animal followed across the frames of a burst.

Within one burst (a sequence of frames a second or so apart) an animal moves little, so a
box in one frame and the box of the same class that overlaps it most in the next frame are
the same animal. Pairs are taken greedily by descending IoU (ties by key), each box joining
at most one track; a box with no partner at or above ``min_iou`` starts a new track. A
frame with no box of the class breaks nothing: the next frame is compared with the last
frame that had one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from wildloop.domain.boxes import Box

MIN_IOU = 0.1


@dataclass(frozen=True)
class FrameBox:
    """One box of one frame: ``key`` names it for the caller (a label box id)."""

    key: int
    frame: int
    class_id: int
    box: Box


def link_tracks(boxes: list[FrameBox], min_iou: float = MIN_IOU) -> list[list[int]]:
    """The tracks of a burst: lists of keys in frame order, one per animal, ordered by their
    first key. Boxes of different classes never share a track."""
    by_class: dict[int, dict[int, list[FrameBox]]] = defaultdict(lambda: defaultdict(list))
    for b in boxes:
        by_class[b.class_id][b.frame].append(b)
    tracks: list[list[int]] = []
    for frames in by_class.values():
        open_tracks: list[tuple[FrameBox, list[int]]] = []
        for frame in sorted(frames):
            here = sorted(frames[frame], key=lambda b: b.key)
            pairs = sorted(
                (
                    (-last.box.iou(b.box), last.key, b.key, t, j)
                    for t, (last, _) in enumerate(open_tracks)
                    for j, b in enumerate(here)
                ),
            )
            taken_tracks: set[int] = set()
            taken_boxes: set[int] = set()
            joined: list[tuple[FrameBox, list[int]]] = []
            for negative_iou, _, _, t, j in pairs:
                if -negative_iou < min_iou:
                    break
                if t in taken_tracks or j in taken_boxes:
                    continue
                taken_tracks.add(t)
                taken_boxes.add(j)
                keys = open_tracks[t][1]
                keys.append(here[j].key)
                joined.append((here[j], keys))
            for j, b in enumerate(here):
                if j not in taken_boxes:
                    keys = [b.key]
                    tracks.append(keys)
                    joined.append((b, keys))
            # Tracks not continued here stay open from their last box (a frame may miss it).
            kept = [o for t, o in enumerate(open_tracks) if t not in taken_tracks]
            open_tracks = joined + kept
    return sorted(tracks, key=lambda keys: keys[0])


def track_of(tracks: list[list[int]], key: int) -> list[int]:
    """The track holding ``key`` (the key alone when it is in none)."""
    return next((t for t in tracks if key in t), [key])
