"""Request and response bodies of the JSON API (they also make the OpenAPI docs).

Requests forbid unknown fields, so a typo is an error, not an ignored setting. Turning a
request into service values (class names to ids, boxes checked against the image) happens
here, and every refusal is a BadInput that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, TypeAdapter, with_config

from wildloop.domain.boxes import Box, BoxOutsideImage
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.errors import BadInput
from wildloop.review.actions import Action, ActionResult
from wildloop.review.batch import BatchResult, Skipped
from wildloop.review.detail import MediaDetail
from wildloop.review.filters import class_id
from wildloop.review.grid import GridItem
from wildloop.users.tokens import TokenInfo
from wildloop.web.params import Finite, Id, RevisionNumber

MAX_BOXES = 500
MAX_IDS = 2000
Reason = Literal["wrong_species", "rear_end", "poor_quality", "other"]
MarkKind = Literal["missed", "false_positive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _json_name(field_name: str) -> str:
    """``class_name`` is ``class`` in JSON (a Python keyword cannot name a field)."""
    return "class" if field_name == "class_name" else field_name


# The review dataclasses are the response schemas; this config, applied at the top, reaches
# the dataclasses nested inside them too.
JSON_NAMES = ConfigDict(alias_generator=AliasGenerator(serialization_alias=_json_name))


# --- requests -----------------------------------------------------------------------------------


class _ActionFields(_In):
    """What a single action and a batch share: the class, reason and mark they apply."""

    class_name: str | None = Field(default=None, alias="class", max_length=120)
    reason: Reason | None = None
    kind: MarkKind | None = None
    model_version_id: Id | None = None

    def _action(self, classes: ClassMap, name: str, **more: Any) -> Action:
        return Action(
            name=name,
            class_id=class_id(classes, self.class_name),
            reason=InvalidReason(self.reason) if self.reason else None,
            mark=self.kind,
            **more,
        )


class ActionIn(_ActionFields):
    """One review action on one item (or, with scope=sequence, on every frame of its burst)."""

    action: Literal["accept", "set_class", "invalid", "empty", "note", "undo", "mark", "unmark"]
    expected_revision: RevisionNumber | None = Field(
        default=None, description="label revision you saw; a newer one gives 409"
    )
    note: str | None = Field(default=None, max_length=2000)
    box: int | None = Field(
        default=None,
        ge=0,
        lt=MAX_BOXES,
        description="set_class, invalid: index of one box (default: every box)",
    )
    revision: RevisionNumber | None = Field(
        default=None, ge=1, description="undo: the revision to undo (default: the latest)"
    )
    scope: Literal["item", "sequence"] = "item"

    def to_action(self, classes: ClassMap) -> Action:
        return self._action(
            classes, self.action, note=self.note, box=self.box, revision=self.revision
        )


class BoxIn(_In):
    x: Finite
    y: Finite
    w: Finite
    h: Finite
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    invalid_reason: Reason | None = None
    missed: bool = False
    prediction_id: Id | None = None


class LabelsIn(_In):
    """The full set of boxes after editing by hand; replaces the item's labels."""

    expected_revision: RevisionNumber = Field(description="label revision you edited")
    boxes: list[BoxIn] = Field(default_factory=list, max_length=MAX_BOXES)
    empty: bool = False
    note: str | None = Field(default=None, max_length=2000)
    model_version_id: Id | None = None

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


class BatchIn(_ActionFields):
    """One action for many items: listed ids, or everything matching a grid filter."""

    ids: list[Id] | None = Field(default=None, max_length=MAX_IDS)
    filter: dict[str, str] | None = Field(
        default=None, description="grid filter parameters, as in GET /api/v1/media"
    )
    action: Literal["accept", "set_class", "invalid", "empty", "mark", "unmark"]

    def to_action(self, classes: ClassMap) -> Action:
        return self._action(classes, self.action)


class UserIn(_In):
    username: str = Field(max_length=80)
    role: Literal["admin", "reviewer", "viewer", "uploader"] = "reviewer"
    password: str = Field(min_length=1, max_length=1024)


class UserPatch(_In):
    role: Literal["admin", "reviewer", "viewer", "uploader"] | None = None
    password: str | None = Field(default=None, max_length=1024)
    disabled: bool | None = None


class TokenIn(_In):
    name: str = Field(max_length=80)


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
            class_name=classes.display_name(class_id_),
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


@with_config(JSON_NAMES)
@dataclass(frozen=True)
class MediaDetailOut(MediaDetail):
    """The review screen's item: the service's MediaDetail (its nested views included, so
    the schema has one home) plus the URLs of the item's image files."""

    image: str = ""
    preview: str = ""
    original: str = ""

    @classmethod
    def of(cls, detail: MediaDetail) -> Self:
        preview = thumb_url(detail.id, detail.sha256, "preview")
        return cls(
            **_fields_of(detail),
            image=preview,
            preview=preview,
            original=thumb_url(detail.id, detail.sha256, "original"),
        )

    def as_json(self) -> dict[str, Any]:
        """What the API answers for this item (the review page embeds the same)."""
        return _DETAIL_JSON.dump_python(self, mode="json", by_alias=True)  # type: ignore[no-any-return]


_DETAIL_JSON = TypeAdapter(MediaDetailOut)


@dataclass(frozen=True)
class ActionOut(ActionResult):
    """The item's state after the action; with scope=sequence, the burst's frames too."""

    applied: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def of(cls, result: ActionResult, burst: BatchResult | None = None) -> ActionOut:
        if burst is None:
            return cls(**_fields_of(result))
        return cls(**_fields_of(result), applied=burst.applied, skipped=burst.skipped)


@dataclass
class BatchOut(BatchResult):
    applied_count: int = 0

    @classmethod
    def of(cls, result: BatchResult) -> BatchOut:
        return cls(**_fields_of(result), applied_count=len(result.applied))


class MarkedItemOut(GridItemOut):
    marked_at: datetime | None
    marked_by: str | None


class MarkedPageOut(BaseModel):
    items: list[MarkedItemOut]
    next_cursor: str | None
    counts: dict[str, int]
    total: int


class QueueItemOut(BaseModel):
    media_id: int
    value: float
    reasons: list[str]
    camera: str | None
    sequence_id: int | None
    top_class: str | None
    top_score: float | None


class QueueOut(BaseModel):
    items: list[QueueItemOut]
    refreshing: int | None = Field(
        None, description="the job computing a fresh order; items come from the last one"
    )
    computed_at: str | None = Field(None, description="when the served order was computed")


@dataclass(frozen=True)
class NewTokenOut(TokenInfo):
    token: str = field(metadata={"description": "shown only now; store it safely"})


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    can_write: bool


def thumb_url(media_id: int, sha256: str | None, size: str = "thumb") -> str:
    """A URL that changes when the content does, so it can be cached for ever."""
    return f"/files/{media_id}/{size}?v={(sha256 or '')[:12]}"


def _fields_of(value: Any) -> dict[str, Any]:
    """A dataclass's fields, unconverted (``asdict`` would turn nested dataclasses into
    dicts), to build the web's extension of a service result."""
    return {f.name: getattr(value, f.name) for f in fields(value)}
