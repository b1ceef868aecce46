"""Location priors on an item's boxes, after the detector (and a pipeline's classifier) named
them: the same step for single detectors and pipelines, so both are judged alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from wildloop.domain.location_priors import LocationPrior, PriorMode, apply_prior
from wildloop.inference.pipeline import Detection, ItemResult


def apply_priors(
    result: ItemResult,
    priors: Mapping[int, LocationPrior],
    classes: Sequence[str],
    mode: PriorMode,
    factor: float,
) -> ItemResult:
    """The item's boxes with its camera's prior applied; a roll-up the model has no class
    for drops the box (as a hard filter without a roll-up does)."""
    prior = priors.get(result.key)
    if prior is None or mode == "off" or not result.ok or not result.detections:
        return result
    index = {name: i for i, name in enumerate(classes)}
    out: list[Detection] = []
    for d in result.detections:
        named = apply_prior({classes[d.class_index]: d.score}, prior, mode, factor)
        if named is None or named[0] not in index:
            continue
        out.append(replace(d, class_index=index[named[0]], score=named[1]))
    out.sort(key=lambda d: d.score, reverse=True)
    return replace(result, detections=tuple(out))
