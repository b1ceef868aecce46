"""Sequence smoothing over a chunk's results: the items of one burst (sequence) are smoothed
together. A predict job's chunks hold whole bursts (:func:`whole_bursts`), so no burst is
smoothed in parts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
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


def whole_bursts(rows: Iterable[tuple[int, int | None]], size: int) -> list[list[int]]:
    """Media ids (from ``(media id, sequence id)`` rows in media-id order) cut into chunks
    of about ``size`` that never split a sequence: a burst is appended whole to the chunk
    its first frame falls in, so a chunk may run over ``size`` by one burst's length.
    Items without a sequence are single frames."""
    bursts: dict[int, list[int]] = defaultdict(list)
    order: list[tuple[int, int | None]] = []
    for media_id, sequence_id in rows:
        if sequence_id is None:
            order.append((media_id, None))
        else:
            if sequence_id not in bursts:
                order.append((media_id, sequence_id))
            bursts[sequence_id].append(media_id)
    chunks: list[list[int]] = []
    current: list[int] = []
    for media_id, sequence_id in order:
        current.extend([media_id] if sequence_id is None else bursts[sequence_id])
        if len(current) >= size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks
