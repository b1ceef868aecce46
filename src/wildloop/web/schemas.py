"""Request and response bodies of the JSON API (they also make the OpenAPI docs).

Requests forbid unknown fields, so a typo is an error, not an ignored setting. Turning a
request into service values (class names to ids, boxes checked against the image) happens
here, and every refusal is a BadInput that names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wildloop.domain.boxes import Box, BoxOutsideImage
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.errors import BadInput
from wildloop.review.actions import Action
from wildloop.review.grid import GridItem

MAX_BOXES = 500
MAX_IDS = 2000
Reason = Literal["wrong_species", "rear_end", "poor_quality", "other"]
MarkKind = Literal["missed", "false_positive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- requests -----------------------------------------------------------------------------------


class ActionIn(_In):
    """One review action on one item (or, with scope=sequence, on every frame of its burst)."""

    action: Literal["accept", "set_class", "invalid", "empty", "note", "undo", "mark", "unmark"]
    expected_revision: int | None = Field(
        default=None, ge=0, description="label revision you saw; a newer one gives 409"
    )
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    reason: Reason | None = None
    note: str | None = Field(default=None, max_length=2000)
    box: int | None = Field(default=None, ge=0, description="index of one box; default all")
    kind: MarkKind | None = None
    revision: int | None = Field(
        default=None, ge=1, description="undo: the revision to undo (default: the latest)"
    )
    scope: Literal["item", "sequence"] = "item"
    model_version_id: int | None = None

    def to_action(self, classes: ClassMap) -> Action:
        return Action(
            name=self.action,
            class_id=class_id(classes, self.class_name),
            reason=InvalidReason(self.reason) if self.reason else None,
            note=self.note,
            box=self.box,
            mark=self.kind,
            revision=self.revision,
        )


class BoxIn(_In):
    x: float
    y: float
    w: float
    h: float
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    invalid_reason: Reason | None = None
    missed: bool = False
    prediction_id: int | None = None


class LabelsIn(_In):
    """The full set of boxes after editing by hand; replaces the item's labels."""

    expected_revision: int = Field(ge=0, description="label revision you edited")
    boxes: list[BoxIn] = Field(default_factory=list, max_length=MAX_BOXES)
    empty: bool = False
    note: str | None = Field(default=None, max_length=2000)
    model_version_id: int | None = None

    def to_labels(self, classes: ClassMap) -> LabelSet:
        values = []
        for i, b in enumerate(self.boxes):
            if b.class_name is None:
                raise BadInput(f"boxes.{i}: every box needs a class")
            try:
                box = Box(b.x, b.y, b.w, b.h)
            except BoxOutsideImage as exc:
                raise BadInput(f"boxes.{i}: {exc}") from None
            values.append(
                LabelBoxValue(
                    box=box,
                    class_id=class_id(classes, b.class_name, f"boxes.{i}"),
                    corrects_prediction_id=b.prediction_id,
                    invalid_reason=InvalidReason(b.invalid_reason) if b.invalid_reason else None,
                    missed=b.missed,
                )
            )
        try:
            return LabelSet(boxes=tuple(values), empty=self.empty, note=self.note)
        except ValueError as exc:
            raise BadInput(str(exc)) from None


class BatchIn(_In):
    """One action for many items: listed ids, or everything matching a grid filter."""

    ids: list[int] | None = Field(default=None, max_length=MAX_IDS)
    filter: dict[str, str] | None = Field(
        default=None, description="grid filter parameters, as in GET /api/v1/media"
    )
    action: Literal["accept", "set_class", "invalid", "empty", "mark", "unmark"]
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    reason: Reason | None = None
    kind: MarkKind | None = None
    model_version_id: int | None = None

    def to_action(self, classes: ClassMap) -> Action:
        return Action(
            name=self.action,
            class_id=class_id(classes, self.class_name),
            reason=InvalidReason(self.reason) if self.reason else None,
            mark=self.kind,
        )


class UserIn(_In):
    username: str = Field(max_length=80)
    role: Literal["admin", "reviewer", "viewer"] = "reviewer"
    password: str = Field(min_length=1, max_length=1024)


class UserPatch(_In):
    role: Literal["admin", "reviewer", "viewer"] | None = None
    password: str | None = Field(default=None, max_length=1024)
    disabled: bool | None = None


class TokenIn(_In):
    name: str = Field(max_length=80)


def class_id(classes: ClassMap, name: str | None, where: str = "class") -> int | None:
    if name is None:
        return None
    if name not in classes:
        raise BadInput(
            f"{where}: unknown class {name!r}; project classes: {', '.join(classes.names)}"
        )
    return classes.id_of(name)


# --- responses ----------------------------------------------------------------------------------


class GridItemOut(BaseModel):
    id: int
    thumb: str
    width: int | None
    height: int | None
    camera: str | None
    sequence_id: int | None
    captured_at: datetime | None
    split: str | None
    reviewed: bool
    marked: str | None
    label_revision: int
    class_name: str | None = Field(serialization_alias="class")
    class_source: Literal["human", "model"] | None
    score: float | None

    @classmethod
    def of(cls, item: GridItem, classes: ClassMap, cameras: dict[int, str]) -> GridItemOut:
        class_id_ = item.effective_class_id
        source: Literal["human", "model"] | None = "human" if item.reviewed else None
        if not item.reviewed and item.top_class_id is not None:
            source = "model"
        return cls(
            id=item.id,
            thumb=thumb_url(item.id, item.sha256),
            width=item.width,
            height=item.height,
            camera=cameras.get(item.camera_id) if item.camera_id is not None else None,
            sequence_id=item.sequence_id,
            captured_at=item.captured_at,
            split=item.split,
            reviewed=item.reviewed,
            marked=item.marked,
            label_revision=item.label_revision,
            class_name=_class_name(classes, class_id_),
            class_source=source,
            score=round(item.top_score, 4) if item.top_score is not None else None,
        )


class GridPageOut(BaseModel):
    items: list[GridItemOut]
    next_cursor: str | None
    model_version_id: int | None


class CountOut(BaseModel):
    count: int
    capped: bool


class BoxOut(_Out):
    x: float
    y: float
    w: float
    h: float


class LabelBoxOut(_Out):
    index: int
    box: BoxOut | None  # None for a label on an audio window (a time span)
    class_name: str | None = Field(serialization_alias="class")
    invalid_reason: str | None
    missed: bool
    false_positive: bool
    prediction_id: int | None


class PredictionOut(_Out):
    id: int
    class_name: str = Field(serialization_alias="class")
    known_class: bool
    score: float
    box: BoxOut | None
    shown: bool


class FrameOut(_Out):
    id: int
    frame_num: int | None
    sha256: str | None
    reviewed: bool
    class_name: str | None = Field(serialization_alias="class")


class RevisionOut(_Out):
    revision: int
    author: str
    created_at: datetime
    source: str
    empty: bool
    note: str | None


class MediaDetailOut(_Out):
    id: int
    path: str
    width: int | None
    height: int | None
    camera: str | None
    sequence_id: int | None
    frame_num: int | None
    captured_at: datetime | None
    split: str | None
    reviewed: bool
    label_revision: int
    label_class: str | None
    marked: str | None
    marked_at: datetime | None
    model_version_id: int | None
    model_name: str | None
    has_prediction_set: bool
    labels: list[LabelBoxOut] | None
    empty: bool
    note: str | None
    predictions: list[PredictionOut]
    prev_id: int | None
    next_id: int | None
    next_unreviewed_id: int | None
    sequence: list[FrameOut]
    history: list[RevisionOut]
    image: str = ""
    preview: str = ""
    original: str = ""


class ActionOut(BaseModel):
    media_id: int
    revision: int
    reviewed: bool
    marked: str | None
    label_class_id: int | None
    applied: list[int] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)


class BatchOut(BaseModel):
    applied: list[int]
    applied_count: int
    skipped: list[dict[str, Any]]


class MarkedItemOut(GridItemOut):
    marked_at: datetime | None
    marked_by: str | None


class MarkedPageOut(BaseModel):
    items: list[MarkedItemOut]
    next_cursor: str | None
    counts: dict[str, int]
    total: int


class AccountOut(_Out):
    id: int
    username: str
    role: str
    disabled: bool
    can_log_in: bool
    created_at: datetime


class TokenOut(_Out):
    id: int
    name: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class NewTokenOut(TokenOut):
    token: str = Field(description="shown only now; store it safely")


class JobOut(_Out):
    id: int
    kind: str
    state: str
    done: int
    total: int | None
    percent: float | None
    rate: float | None
    eta_seconds: float | None
    message: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    can_write: bool


def thumb_url(media_id: int, sha256: str | None, size: str = "thumb") -> str:
    """A URL that changes when the content does, so it can be cached for ever."""
    return f"/files/{media_id}/{size}?v={(sha256 or '')[:12]}"


def _class_name(classes: ClassMap, class_id_: int | None) -> str | None:
    if class_id_ is None:
        return None
    try:
        return classes.name_of(class_id_)
    except KeyError:
        return f"class {class_id_}"
