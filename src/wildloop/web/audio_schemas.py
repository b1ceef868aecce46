"""Request and response bodies of the audio review API (windows, their spectrograms and
clips, labels as time spans and time-frequency boxes)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, with_config

from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.domain.spans import BadSpan, TimeSpan
from wildloop.errors import BadInput
from wildloop.review.detail import MediaDetail
from wildloop.review.filters import class_id
from wildloop.review.grid import GridItem
from wildloop.review.windows import WindowInfo
from wildloop.web.schemas import (
    JSON_NAMES,
    MAX_BOXES,
    MediaDetailOut,
    Reason,
    _In,
)


@with_config(JSON_NAMES)
@dataclass(frozen=True)
class WindowDetailOut(MediaDetailOut):
    """One window for review: the item's detail (labels and predictions carry their time
    spans) plus where it lies in its recording, the span its spectrogram shows
    (``view_start``..``view_end``, 0..``f_max`` Hz) and its clip."""

    recording_id: int = 0
    recording_duration_s: float = 0.0
    sample_rate: int = 0
    t_start: float = 0.0
    t_end: float = 0.0
    f_max: float = 0.0
    view_start: float = 0.0
    view_end: float = 0.0
    spectrogram: str = ""
    clip: str = ""
    clip_start: float = 0.0
    clip_end: float = 0.0

    @classmethod
    def placed(cls, detail: MediaDetail, info: WindowInfo) -> WindowDetailOut:
        """The window's detail with its place, spectrogram and clip URLs filled in."""
        view_start, view_end = info.view()
        clip_start, clip_end = info.clip_span(info.context_s)
        return replace(
            cls.of(detail),
            recording_id=info.recording_id,
            recording_duration_s=info.recording_duration_s,
            sample_rate=info.sample_rate,
            t_start=info.t_start,
            t_end=info.t_end,
            f_max=info.f_max,
            view_start=view_start,
            view_end=view_end,
            spectrogram=spectrogram_url(info, "context"),
            clip=f"/api/v1/windows/{info.id}/clip?context={info.context_s:g}",
            clip_start=clip_start,
            clip_end=clip_end,
        )

    def as_json(self) -> dict[str, Any]:
        """What the API answers for this window (the review page embeds the same)."""
        return _WINDOW_JSON.dump_python(self, mode="json", by_alias=True)  # type: ignore[no-any-return]


_WINDOW_JSON = TypeAdapter(WindowDetailOut)


class WindowItemOut(BaseModel):
    """A window in a list: its spectrogram tile and what the model or the reviewer said."""

    id: int
    spectrogram: str
    recording_id: int
    t_start: float
    t_end: float
    site: str | None
    captured_at: datetime | None
    split: str | None
    reviewed: bool
    marked: str | None
    label_revision: int
    class_name: str | None = Field(serialization_alias="class")
    class_source: Literal["human", "model"] | None
    score: float | None
    similarity: float | None = Field(default=None, description="search by example: cosine")

    @classmethod
    def of(
        cls, item: GridItem, info: WindowInfo, classes: ClassMap, sites: dict[int, str]
    ) -> WindowItemOut:
        effective = item.effective_class_id
        source: Literal["human", "model"] | None = None
        if item.reviewed:
            source = "human"
        elif item.top_class_id is not None:
            source = "model"
        return cls(
            id=item.id,
            spectrogram=spectrogram_url(info, "window"),
            recording_id=info.recording_id,
            t_start=info.t_start,
            t_end=info.t_end,
            site=sites.get(item.camera_id) if item.camera_id is not None else None,
            captured_at=item.captured_at,
            split=item.split,
            reviewed=item.reviewed,
            marked=item.marked,
            label_revision=item.label_revision,
            class_name=classes.display_name(effective),
            class_source=source,
            score=round(item.top_score, 4) if item.top_score is not None else None,
        )


class WindowPageOut(BaseModel):
    items: list[WindowItemOut]
    next_cursor: str | None
    model_version_id: int | None


class SimilarOut(BaseModel):
    query_id: int | None  # None: the query was an uploaded clip
    embedder: str
    items: list[WindowItemOut]


class SpanIn(_In):
    """A label on a window: its whole span (no band) or a box drawn on the spectrogram."""

    t_start: float
    t_end: float
    f_low: float | None = None
    f_high: float | None = None
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    invalid_reason: Reason | None = None
    prediction_id: int | None = None


class WindowLabelsIn(_In):
    """The window's full set of labels after editing; replaces its labels."""

    expected_revision: int = Field(ge=0, description="label revision you edited")
    boxes: list[SpanIn] = Field(default_factory=list, max_length=MAX_BOXES)
    empty: bool = False
    note: str | None = Field(default=None, max_length=2000)
    model_version_id: int | None = None

    def to_labels(self, classes: ClassMap, info: WindowInfo) -> LabelSet:
        """Spans clipped to the window (a box drawn on its neighbours' part of the
        spectrogram keeps only what lies in the window) and bands to 0..Nyquist."""
        values = []
        for i, b in enumerate(self.boxes):
            if b.class_name is None:
                raise BadInput(f"boxes.{i}: every label needs a class")
            start, end = max(b.t_start, info.t_start), min(b.t_end, info.t_end)
            if end <= start:
                raise BadInput(
                    f"boxes.{i}: {b.t_start:.3f}..{b.t_end:.3f} s lies outside the window "
                    f"({info.t_start:.3f}..{info.t_end:.3f} s)"
                )
            low = max(b.f_low, 0.0) if b.f_low is not None else None
            high = min(b.f_high, info.f_max) if b.f_high is not None else None
            try:
                span = TimeSpan(start, end, low, high)
            except BadSpan as exc:
                raise BadInput(f"boxes.{i}: {exc}") from None
            values.append(
                LabelBoxValue(
                    box=None,
                    span=span,
                    class_id=class_id(classes, b.class_name, f"boxes.{i}"),
                    corrects_prediction_id=b.prediction_id,
                    invalid_reason=InvalidReason(b.invalid_reason) if b.invalid_reason else None,
                )
            )
        try:
            return LabelSet(boxes=tuple(values), empty=self.empty, note=self.note)
        except ValueError as exc:
            raise BadInput(str(exc)) from None


def spectrogram_url(info: WindowInfo, view: Literal["context", "window"]) -> str:
    """A URL that changes when the recording does, so browsers cache it for ever."""
    return f"/api/v1/windows/{info.id}/spectrogram?view={view}&v={info.recording_sha256[:12]}"
