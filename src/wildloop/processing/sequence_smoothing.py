"""Sequence smoothing over a chunk's results: the items of one burst (sequence) are smoothed
together. A burst cut by a chunk boundary is smoothed in parts (chunks follow media ids,
which follow ingest order, so that is rare)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from wildloop.domain.sequence_smoothing import smooth_burst
from wildloop.inference.pipeline import ItemResult


def smooth_results(
    results: Sequence[ItemResult],
    sequence_of: Mapping[int, int],
    classes: Sequence[str],
    weak: float,
) -> list[ItemResult]:
    """The results with each burst's weak minority boxes renamed (order kept)."""
    bursts: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        if r.ok and r.detections and r.key in sequence_of:
            bursts[sequence_of[r.key]].append(i)
    index = {name: k for k, name in enumerate(classes)}
    out = list(results)
    for members in bursts.values():
        if len(members) < 2:
            continue
        frames = [[(classes[d.class_index], d.score) for d in out[i].detections] for i in members]
        for i, frame in zip(members, smooth_burst(frames, weak), strict=True):
            boxes = out[i].detections
            out[i] = replace(
                out[i],
                detections=tuple(
                    replace(d, class_index=index[name])
                    for d, (name, _) in zip(boxes, frame, strict=True)
                ),
            )
    return out
