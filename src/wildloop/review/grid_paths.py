"""Which index a grid query walks, chosen by measuring instead of guessing.

A page query is fast when it either walks an index in the page's order and stops after N
rows, or starts from an index that matches only a few thousand rows and sorts those. SQLite
cannot tell the two apart (it has no value histograms: the rare class and the common one look
alike), so for each filter with an index we count its matches up to ``PROBE_CAP`` (an
index-only count, well under a millisecond) and walk the smallest one that fits under the cap;
otherwise the one that yields the page's order. PostgreSQL plans from its own statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from wildloop.review.filters import GridFilter
from wildloop.store import hints
from wildloop.store.tables import Media, PredictionSet

# The prediction set of the chosen model version, joined once per query.
PS = aliased(PredictionSet, name="ps")
PROBE_CAP = 5_000
PS_BY_MEDIA = "ix_prediction_sets_version_media"


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


def choose_path(session: Session, flt: GridFilter, branch: Branch, model_id: int | None) -> Path:
    """The path for one branch of a grid query (SQLite); the natural one elsewhere."""
    if not hints.needs_hints(session):
        return NATURAL
    candidates = _candidates(flt, branch, model_id)
    best: tuple[int, bool, Path] | None = None
    for path, probe in candidates:
        if probe is None:
            continue
        found = hints.capped_count(session, probe, PROBE_CAP)
        if found <= PROBE_CAP and (best is None or (found, not path.ordered) < best[:2]):
            best = (found, not path.ordered, path)
    if best is not None:
        return best[2]
    return next(path for path, _ in candidates if path.ordered)


def _candidates(
    flt: GridFilter, branch: Branch, model_id: int | None
) -> list[tuple[Path, Select[Any] | None]]:
    """Paths in order of preference, each with the query that measures its matches."""
    by_id, by_time = flt.sort == "id", flt.sort == "captured_at"
    media: list[tuple[Path, Select[Any] | None]] = []

    def on_media(index: str, ordered: bool, *conditions: Any) -> None:
        probe = hints.use_index(select(Media.id).where(*conditions), Media, index)
        media.append((Path(media_index=index, ordered=ordered), probe))

    if branch is Branch.HUMAN:
        on_media("ix_media_label_class_id", by_id, Media.label_class_id == flt.class_id)
    if flt.camera_id is not None:
        on_media("ix_media_camera_time", by_time, Media.camera_id == flt.camera_id)
    if flt.marked in ("missed", "false_positive"):
        on_media("ix_media_marked_id", by_id, Media.marked == flt.marked)
    elif flt.marked == "any":
        on_media("ix_media_marked_id", False, Media.marked.is_not(None))
    if flt.split:
        on_media("ix_media_split_id", by_id, Media.split == flt.split)
    if flt.reviewed is not None and branch is Branch.ALL:
        on_media("ix_media_reviewed_id", by_id, Media.reviewed.is_(flt.reviewed))
    if flt.date_from or flt.date_to:
        on_media("ix_media_captured_id", by_time, *_date_range(flt))
    predictions = _prediction_candidates(flt, branch, model_id)
    natural: list[tuple[Path, Select[Any] | None]] = []
    if by_id:
        natural.append((Path(media_index=None, ordered=True), None))
    elif by_time:
        natural.append((Path(media_index="ix_media_captured_id", ordered=True), None))
    elif model_id is not None:
        score = Path(None, "ix_prediction_sets_version_score", True, True)
        natural.append((score, None))
    return predictions + media + natural


def _prediction_candidates(
    flt: GridFilter, branch: Branch, model_id: int | None
) -> list[tuple[Path, Select[Any] | None]]:
    if model_id is None or not (flt.needs_predictions or branch is Branch.MACHINE):
        return []
    out: list[tuple[Path, Select[Any] | None]] = []
    if branch is Branch.MACHINE:
        index = (
            "ix_prediction_sets_version_class_score"
            if flt.sort == "score"
            else ("ix_prediction_sets_version_class")
        )
        probe = hints.use_index(
            select(PS.id).where(PS.model_version_id == model_id, PS.top_class_id == flt.class_id),
            PS,
            index,
        )
        ordered = flt.sort in ("id", "score")
        out.append((Path(None, index, True, ordered), probe))
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
