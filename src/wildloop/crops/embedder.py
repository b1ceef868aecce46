"""The crop embedder a project is configured with, loaded once per process."""

from __future__ import annotations

import threading

from wildloop.config import CropSettings
from wildloop.errors import BadInput
from wildloop.inference.crops import (
    DEFAULT_KEY,
    CropEmbedder,
    CropModelUnavailable,
    CropStage,
    load_crop_embedder,
)
from wildloop.project import Project

_loaded: dict[tuple[str, int], CropEmbedder] = {}
_lock = threading.Lock()


def crop_embedder_key(project: Project) -> str:
    """The key the configured embedder stores vectors under, without loading the model."""
    model = project.config.crops.model
    if model == "default":
        return DEFAULT_KEY
    return project_crop_embedder(project).key


def project_crop_embedder(project: Project) -> CropEmbedder:
    """The configured embedder (a relative model path is read from the project folder)."""
    settings = project.config.crops
    model = settings.model
    if model != "default" and not model.startswith("/"):
        model = str(project.root / model)
    with _lock:
        key = (model, settings.threads)
        if key not in _loaded:
            try:
                _loaded[key] = load_crop_embedder(model, settings.threads)
            except CropModelUnavailable as exc:
                raise BadInput(f"crops.model: {exc}") from None
        return _loaded[key]


def crop_stage(project: Project) -> CropStage | None:
    """What the predict job embeds boxes with, or None when the project keeps it off."""
    settings: CropSettings = project.config.crops
    if not settings.embed:
        return None
    return CropStage(
        project_crop_embedder(project),
        padding=settings.padding,
        min_score=settings.min_score,
        max_per_item=settings.max_per_image,
    )
