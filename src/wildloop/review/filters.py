"""What the grid shows: one filter value shared by the JSON API, the pages and the CLI.

A filter arrives as query-string text (``?class=doe&reviewed=no&sort=-score``); parsing it here,
once, means every caller rejects the same bad input with the same message and round-trips the
same URL parameters (previous/next links keep the filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput
from wildloop.store.tables import Camera, ModelVersion

SORTS = ("id", "captured_at", "score")
MARKS = ("any", "none", "missed", "false_positive")
SPLITS = ("train", "val", "test")
KINDS = ("image", "audio", "window")
# Shadow-run verdicts the grid can show: every disagreement, or one kind of it.
SHADOW = ("disagree", "champion_only", "challenger_only", "different_class", "different_boxes")
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
KNOWN_PARAMS = frozenset(
    {
        "camera",
        "class",
        "min_score",
        "max_score",
        "reviewed",
        "marked",
        "split",
        "from",
        "to",
        "model",
        "sort",
        "kind",
        "time_from",
        "time_to",
        "shadow",
    }
)


@dataclass(frozen=True)
class GridFilter:
    """A grid query. ``class_id`` is the effective class: the human label's main class when
    the item is reviewed, else the top class of the chosen model (default: the champion)."""

    camera_id: int | None = None
    class_id: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    reviewed: bool | None = None
    marked: str | None = None
    split: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    model_version_id: int | None = None
    sort: str = "id"
    descending: bool = False
    # Media kind (an audio project reviews its windows), and the clock time of capture:
    # from..to, wrapping midnight when from is later (20:00..05:00 is the night).
    kind: str | None = None
    time_from: time | None = None
    time_to: time | None = None
    # Items the champion's current challenger disagreed on in a shadow run (docs/engine.md).
    shadow: str | None = None

    @property
    def needs_predictions(self) -> bool:
        """Whether only items with a prediction set of the chosen model can match."""
        return (
            self.min_score is not None
            or self.max_score is not None
            or self.sort == "score"
            or self.model_version_id is not None
        )

    def with_(self, **changes: object) -> GridFilter:
        return replace(self, **changes)  # type: ignore[arg-type]

    def reversed(self) -> GridFilter:
        return replace(self, descending=not self.descending)

    def to_params(self, classes: ClassMap, names: FilterNames) -> dict[str, str]:
        """Query parameters that parse back to this filter (for links and cursors)."""
        out: dict[str, str] = {}
        if self.camera_id is not None:
            out["camera"] = names.cameras.get(self.camera_id, str(self.camera_id))
        if self.class_id is not None:
            out["class"] = classes.name_of(self.class_id)
        if self.min_score is not None:
            out["min_score"] = f"{self.min_score:g}"
        if self.max_score is not None:
            out["max_score"] = f"{self.max_score:g}"
        if self.reviewed is not None:
            out["reviewed"] = "yes" if self.reviewed else "no"
        if self.marked:
            out["marked"] = self.marked
        if self.split:
            out["split"] = self.split
        if self.date_from:
            out["from"] = self.date_from.isoformat(sep=" ")
        if self.date_to:
            out["to"] = self.date_to.isoformat(sep=" ")
        if self.model_version_id is not None:
            out["model"] = names.models.get(self.model_version_id, str(self.model_version_id))
        if self.sort != "id" or self.descending:
            out["sort"] = ("-" if self.descending else "") + self.sort
        if self.kind:
            out["kind"] = self.kind
        if self.time_from is not None:
            out["time_from"] = self.time_from.strftime("%H:%M")
        if self.time_to is not None:
            out["time_to"] = self.time_to.strftime("%H:%M")
        if self.shadow:
            out["shadow"] = self.shadow
        return out

    def is_default(self) -> bool:
        return all(getattr(self, f.name) == f.default for f in fields(self))


@dataclass(frozen=True)
class FilterNames:
    """Names of cameras and model versions by id, for rendering filters back as text."""

    cameras: dict[int, str]
    models: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> FilterNames:
        cameras = dict(session.execute(select(Camera.id, Camera.name).order_by(Camera.name)).all())
        models = dict(
            session.execute(
                select(ModelVersion.id, ModelVersion.name).order_by(ModelVersion.id)
            ).all()
        )
        return cls(cameras=cameras, models=models)


def parse_filter(params: Mapping[str, str], classes: ClassMap, names: FilterNames) -> GridFilter:
    """Turn query-string values into a filter; anything unusable is a BadInput that says why."""
    unknown = sorted(k for k in params if k not in KNOWN_PARAMS and k not in ("cursor", "limit"))
    if unknown:
        raise BadInput(
            f"unknown filter parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(KNOWN_PARAMS))}"
        )
    values = {k: v.strip() for k, v in params.items() if v is not None and v.strip() != ""}
    sort = values.get("sort", "id")
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in SORTS:
        raise BadInput(f"unknown sort {sort!r}; use one of {', '.join(SORTS)} (prefix - for desc)")
    result = GridFilter(
        camera_id=_lookup("camera", values.get("camera"), names.cameras),
        class_id=class_id(classes, values.get("class")),
        min_score=_score("min_score", values.get("min_score")),
        max_score=_score("max_score", values.get("max_score")),
        reviewed=_bool("reviewed", values.get("reviewed")),
        marked=_choice("marked", values.get("marked"), MARKS),
        split=_choice("split", values.get("split"), SPLITS),
        date_from=_date("from", values.get("from"), end=False),
        date_to=_date("to", values.get("to"), end=True),
        model_version_id=_lookup("model", values.get("model"), names.models),
        sort=sort,
        descending=descending,
        kind=_choice("kind", values.get("kind"), KINDS),
        time_from=_clock("time_from", values.get("time_from")),
        time_to=_clock("time_to", values.get("time_to")),
        shadow=_choice("shadow", values.get("shadow"), SHADOW),
    )
    if (
        result.min_score is not None
        and result.max_score is not None
        and result.min_score > result.max_score
    ):
        raise BadInput(f"min_score {result.min_score} is above max_score {result.max_score}")
    if result.date_from and result.date_to and result.date_from > result.date_to:
        raise BadInput("the 'from' date is after the 'to' date")
    return result


def _lookup(what: str, raw: str | None, known: dict[int, str]) -> int | None:
    if raw is None:
        return None
    if raw.isdigit() and int(raw) in known:
        return int(raw)
    for key, name in known.items():
        if name == raw:
            return key
    listed = ", ".join(list(known.values())[:20]) or "none yet"
    raise BadInput(f"unknown {what} {raw!r}; known: {listed}")


def class_id(classes: ClassMap, name: str | None, where: str = "class") -> int | None:
    """The id of a class named in a request (None for none); BadInput naming ``where``."""
    if name is None:
        return None
    if name not in classes:
        raise BadInput(
            f"{where}: unknown class {name!r}; project classes: {', '.join(classes.names)}"
        )
    return classes.id_of(name)


def _score(what: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{what} must be a number between 0 and 1, not {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"{what} must lie between 0 and 1, not {value}")
    return value


def _bool(what: str, raw: str | None) -> bool | None:
    if raw is None or raw.lower() in ("any", "all"):
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadInput(f"{what} must be yes, no or any, not {raw!r}")


def _choice(what: str, raw: str | None, allowed: tuple[str, ...]) -> str | None:
    if raw is None or raw == "all":
        return None
    if raw not in allowed:
        raise BadInput(f"{what} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def _clock(what: str, raw: str | None) -> time | None:
    """A time of day such as 05:30."""
    if raw is None:
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{what} must be a time of day like 05:30, not {raw!r}") from None


def _date(what: str, raw: str | None, *, end: bool) -> datetime | None:
    """A date or datetime; a bare date as 'to' means the end of that day."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(
            f"{what} must be a date like 2024-05-01 or 2024-05-01 06:30, not {raw!r}"
        ) from None
    if value.tzinfo is not None:
        raise BadInput(f"{what} must be camera-local time without a time zone, not {raw!r}")
    if end and len(raw) <= 10:
        value = datetime.combine(value.date(), time.max)
    return value
