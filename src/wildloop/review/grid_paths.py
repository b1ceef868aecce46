"""Which index a grid query walks, chosen by measuring instead of guessing.

A page query is fast when it either walks an index in the page's order and stops after N
rows, or starts from an index that matches only a few thousand rows and sorts those. SQLite
cannot tell the two apart (it has no value histograms: the rare class and the common one look
alike), so for each filter with an index we count its matches up to ``PROBE_CAP`` (an
index-only count, about a millisecond) and walk the smallest one under the cap. Otherwise we
walk an index in the page's order; when several filters offer one, the one with the fewest
matches (counted up to ``ORDERED_PROBE_CAP``) wins, so "camera + class" walks the camera.
PostgreSQL plans from its own statistics and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from sqlalchemy import Select, false, select, true
from sqlalchemy.orm import Session, aliased

from wildloop.review.filters import GridFilter
from wildloop.store import hints
from wildloop.store.tables import Media, PredictionSet

# The prediction set of the chosen model version, joined once per query.
PS = aliased(PredictionSet, name="ps")
PROBE_CAP = 5_000
ORDERED_PROBE_CAP = 25_000
PS_BY_MEDIA = "ix_prediction_sets_version_media"
_CACHE = "wildloop.grid_paths"


class Branch(Enum):
    ALL = "all"  # no class filter
    HUMAN = "human"  # reviewed items whose label's main class matches
    MACHINE = "machine"  # unreviewed items whose model top class matches


@dataclass(frozen=True)
class Path:
    """An access path: the media index (None: rowid order) and the prediction-set index."""

    media_index: str | None
    ps_index: str | None = PS_BY_MEDIA
    drives_from_predictions: bool = False
    ordered: bool = False


NATURAL = Path(media_index=None)
Candidate = tuple[Path, Select[Any] | None]


def choose_path(session: Session, flt: GridFilter, branch: Branch, model_id: int | None) -> Path:
    """The path for one branch of a grid query (SQLite); the natural one elsewhere.

    Remembered for the session: a detail view asks for previous, next and next unreviewed
    with the same filter, and the counts do not change within one request."""
    if not hints.needs_hints(session):
        return NATURAL
    key = (replace(flt, descending=False), branch, model_id)
    cache: dict[Any, Path] = session.info.setdefault(_CACHE, {})
    if key not in cache:
        cache[key] = _measure(session, _candidates(flt, branch, model_id))
    return cache[key]


def _measure(session: Session, candidates: list[Candidate]) -> Path:
    counted: list[tuple[int, Path, Select[Any]]] = []
    for path, probe in candidates:
        if probe is not None:
            counted.append((hints.capped_count(session, probe, PROBE_CAP), path, probe))
    few = [(n, not path.ordered, i) for i, (n, path, _) in enumerate(counted) if n <= PROBE_CAP]
    if few:
        return counted[min(few)[2]][1]
    ordered = [(path, probe) for _, path, probe in counted if path.ordered]
    if len(ordered) > 1:
        sizes = [
            (hints.capped_count(session, probe, ORDERED_PROBE_CAP), i)
            for i, (_, probe) in enumerate(ordered)
        ]
        return ordered[min(sizes)[1]][0]
    return next(path for path, _ in candidates if path.ordered)


def _candidates(flt: GridFilter, branch: Branch, model_id: int | None) -> list[Candidate]:
    """Paths in order of preference, each with the query that measures its matches."""
    by_id, by_time = flt.sort == "id", flt.sort == "captured_at"
    media: list[Candidate] = []

    def on_media(indexes: dict[str, bool], *conditions: Any) -> None:
        """Indexes (name: walks in page order) that serve one filter, sharing one probe."""
        for index, ordered in indexes.items():
            probe = hints.use_index(select(Media.id).where(*conditions), Media, index)
            media.append((Path(media_index=index, ordered=ordered), probe))

    if flt.camera_id is not None:
        on_media(
            {"ix_media_camera_id": by_id, "ix_media_camera_time": by_time},
            Media.camera_id == flt.camera_id,
        )
    if flt.marked in ("missed", "false_positive"):
        on_media({"ix_media_marked_id": by_id}, Media.marked == flt.marked)
    elif flt.marked == "any":
        on_media({"ix_media_marked_id": False}, Media.marked.is_not(None))
    if branch is Branch.HUMAN:
        on_media({"ix_media_label_class_id": by_id}, Media.label_class_id == flt.class_id)
    if flt.split:
        on_media({"ix_media_split_id": by_id}, Media.split == flt.split)
    if flt.reviewed is not None and branch is Branch.ALL:
        on_media(
            {"ix_media_reviewed_id": by_id}, Media.reviewed == (true() if flt.reviewed else false())
        )
    if flt.date_from or flt.date_to:
        on_media({"ix_media_captured_id": by_time}, *_date_range(flt))
    natural: list[Candidate] = []
    if by_id:
        natural.append((Path(media_index=None, ordered=True), None))
    elif by_time:
        natural.append((Path(media_index="ix_media_captured_id", ordered=True), None))
    elif model_id is not None:
        natural.append((Path(None, "ix_prediction_sets_version_score", True, True), None))
    return media + _prediction_candidates(flt, branch, model_id) + natural


def _prediction_candidates(
    flt: GridFilter, branch: Branch, model_id: int | None
) -> list[Candidate]:
    if model_id is None or not (flt.needs_predictions or branch is Branch.MACHINE):
        return []
    out: list[Candidate] = []
    if branch is Branch.MACHINE:
        by_score = flt.sort == "score"
        index = (
            "ix_prediction_sets_version_class_score"
            if by_score
            else ("ix_prediction_sets_version_class")
        )
        probe = hints.use_index(
            select(PS.id).where(PS.model_version_id == model_id, PS.top_class_id == flt.class_id),
            PS,
            index,
        )
        out.append((Path(None, index, True, flt.sort in ("id", "score")), probe))
    if flt.min_score is not None or flt.max_score is not None:
        conditions = [PS.model_version_id == model_id]
        if flt.min_score is not None:
            conditions.append(PS.top_score >= flt.min_score)
        if flt.max_score is not None:
            conditions.append(PS.top_score <= flt.max_score)
        index = "ix_prediction_sets_version_score"
        probe = hints.use_index(select(PS.id).where(*conditions), PS, index)
        out.append((Path(None, index, True, flt.sort == "score"), probe))
    return out


def _date_range(flt: GridFilter) -> list[Any]:
    conditions = []
    if flt.date_from:
        conditions.append(Media.captured_at >= flt.date_from)
    if flt.date_to:
        conditions.append(Media.captured_at <= flt.date_to)
    return conditions
