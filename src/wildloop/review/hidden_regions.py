"""The false-positive regions in force, as one SQL predicate on a prediction's box.

``Region.covers`` (same camera, IoU with the region's box at or above its threshold) decides
in Python which of the model's boxes a person hid; the grid's filters and counts and every
export that writes predictions need the same answer inside a query, over millions of rows.
This module states it once in SQL: the box clipped to the image as ``Box.clipped`` does, the
intersection and union with ``least``/``greatest`` (``store.extremes``: min/max on SQLite),
and ``iou`` compared without a division (``inter >= iou * union``). With no region in force the
callers get ``None`` and add no predicate at all, so the grid's index paths stay as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, literal, not_, or_, select
from sqlalchemy.orm import Session, aliased

from wildloop.domain.boxes import Box
from wildloop.domain.repeats import Region
from wildloop.review.repeat_decisions import active_regions
from wildloop.store.extremes import greatest, least
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet

_MIN_SIDE = 1e-6  # Box.clipped's floor for a side, so a sliver still has an area


@dataclass(frozen=True)
class HiddenRegions:
    """The regions in force, each with the id of its camera (the media table's key). The
    expressions it builds are kept: one grid request builds the same ones again and again,
    and ``hidden_regions`` hands out one object per set of regions."""

    regions: tuple[tuple[int, Region], ...]
    _built: dict[tuple[Any, ...], ColumnElement[bool]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def camera_ids(self) -> list[int]:
        return sorted({camera_id for camera_id, _ in self.regions})

    def as_params(self) -> list[dict[str, Any]]:
        """The regions as plain values, for a snapshot to keep what it was built with."""
        return [
            {
                "camera_id": cid,
                "camera": r.camera,
                "box": [r.box.x, r.box.y, r.box.w, r.box.h],
                "iou": r.iou,
            }
            for cid, r in self.regions
        ]

    @classmethod
    def from_params(cls, values: Sequence[dict[str, Any]]) -> HiddenRegions | None:
        regions = tuple(
            (int(v["camera_id"]), Region(str(v["camera"]), Box(*v["box"]), float(v["iou"])))
            for v in values
        )
        return cls(regions) if regions else None

    def hides(self, box: Any, camera_id: Any) -> ColumnElement[bool]:
        """SQL: the prediction ``box`` (a Prediction table or alias) on a frame of
        ``camera_id`` (a column) lies in a region of that camera. False for a box without
        coordinates (an audio span), never NULL."""
        cases = [
            and_(camera_id == cid, _iou_at_least(box, region.box, region.iou))
            for cid, region in self.regions
        ]
        return and_(box.w.is_not(None), or_(*cases))

    def shows(self, box: Any, camera_id: Any) -> ColumnElement[bool]:
        """SQL: the prediction is outside every region of its frame's camera."""
        return not_(self.hides(box, camera_id))

    def frame_shows(
        self,
        prediction_set_id: Any,
        camera_id: Any,
        *,
        class_id: int | None = None,
        min_score: float | None = None,
    ) -> ColumnElement[bool]:
        """SQL for a frame's prediction set: at least one of its boxes (of ``class_id``,
        scoring ``min_score`` or more) lies outside every region. Frames on cameras without
        a region pass on the first term, without looking at their boxes."""
        if min_score is not None:  # any number a slider sends: not worth keeping
            return self._frame_shows(prediction_set_id, camera_id, class_id, min_score)
        key = (prediction_set_id, camera_id, class_id, min_score)
        if key not in self._built:
            self._built[key] = self._frame_shows(prediction_set_id, camera_id, class_id, min_score)
        return self._built[key]

    def _frame_shows(
        self, prediction_set_id: Any, camera_id: Any, class_id: int | None, min_score: float | None
    ) -> ColumnElement[bool]:
        p = aliased(Prediction, name="hidden_p")
        inner = select(literal(1)).where(p.prediction_set_id == prediction_set_id)
        if class_id is not None:
            inner = inner.where(p.class_id == class_id)
        if min_score is not None:
            inner = inner.where(p.score >= min_score)
        inner = inner.where(self.shows(p, camera_id))
        return or_(camera_id.is_(None), camera_id.not_in(self.camera_ids), exists(inner))


def hidden_media(session: Session, model_id: int, min_score: float) -> set[int]:
    """Media whose every box of ``model_id`` scoring ``min_score`` or more is hidden (and at
    least one is): for the counts, these frames show no animal on the model's word."""
    hidden = hidden_regions(session)
    if hidden is None:
        return set()
    p = aliased(Prediction, name="hidden_any")
    some_hidden = exists(
        select(literal(1)).where(
            p.prediction_set_id == PredictionSet.id,
            p.score >= min_score,
            hidden.hides(p, Media.camera_id),
        )
    )
    rows = session.scalars(
        select(PredictionSet.media_id)
        .join(Media, Media.id == PredictionSet.media_id)
        .where(
            PredictionSet.model_version_id == model_id,
            Media.camera_id.in_(hidden.camera_ids),
            some_hidden,
            not_(hidden.frame_shows(PredictionSet.id, Media.camera_id, min_score=min_score)),
        )
    )
    return set(rows)


def hidden_regions(
    session: Session, regions: Sequence[Region] | None = None
) -> HiddenRegions | None:
    """The false-positive regions in force with their camera ids, or None when there is none
    (callers then add no predicate). A region of a camera no longer known hides nothing."""
    regions = active_regions(session) if regions is None else list(regions)
    if not regions:
        return None
    ids = dict(
        session.execute(
            select(Camera.name, Camera.id).where(Camera.name.in_({r.camera for r in regions}))
        ).all()
    )
    known = tuple((int(ids[r.camera]), r) for r in regions if r.camera in ids)
    if not known:
        return None
    with _lock:
        if known not in _seen:
            if len(_seen) >= _SEEN_MAX:
                _seen.clear()
            _seen[known] = HiddenRegions(known)
        return _seen[known]


# One HiddenRegions per set of regions in force, so its built expressions are reused.
_seen: dict[tuple[tuple[int, Region], ...], HiddenRegions] = {}
_lock = threading.Lock()
_SEEN_MAX = 16


def _clip(value: Any) -> Any:
    return greatest(0.0, least(1.0, value))


def _iou_at_least(box: Any, region: Box, iou: float) -> ColumnElement[bool]:
    """IoU(clipped box, region) >= iou, as ``inter * (1 + iou) >= iou * (area_a + area_b)``.

    ``Box.clipped`` keeps x0 = clip(x) and a width of max(clip(x + w) - x0, 1e-6), so the
    clipped box ends at max(clip(x + w), x0 + 1e-6)."""
    x0, y0 = _clip(box.x), _clip(box.y)
    x1 = greatest(_clip(box.x + box.w), x0 + _MIN_SIDE)
    y1 = greatest(_clip(box.y + box.h), y0 + _MIN_SIDE)
    ix = least(x1, region.x + region.w) - greatest(x0, region.x)
    iy = least(y1, region.y + region.h) - greatest(y0, region.y)
    return and_(
        ix > 0.0,
        iy > 0.0,
        ix * iy * (1.0 + iou) >= iou * ((x1 - x0) * (y1 - y0) + region.area),
    )
