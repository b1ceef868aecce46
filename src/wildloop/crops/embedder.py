"""The crop embedder a project is configured with, loaded once per process."""

from __future__ import annotations

import threading

from wildloop.config import CropSettings
from wildloop.errors import BadInput
from wildloop.inference.crops import (
    BUNDLED,
    DEFAULT_KEY,
    V2_KEY,
    CropEmbedder,
    CropModelUnavailable,
    CropStage,
    load_crop_embedder,
)
from wildloop.project import Project
from wildloop.registry.aliases import resolve

_loaded: dict[tuple[str, int], CropEmbedder] = {}
_lock = threading.Lock()


DETECTOR = "detector"


def uses_detector_features(project: Project) -> bool:
    """Whether crop vectors are the predicting detector's pooled features."""
    return project.config.crops.model == DETECTOR


def crop_embedder_key(project: Project) -> str:
    """The key the configured embedder stores vectors under, without loading the model.
    Detector features are keyed by the detector: the current champion's (``detector:<id>``;
    a project without a champion has none yet, and its key matches no vectors)."""
    model = project.config.crops.model
    if model in ("default", "mobilenet_v1"):
        return DEFAULT_KEY
    if model == "mobilenet_v2":
        return V2_KEY
    if model == DETECTOR:
        with project.db.session() as session:
            champion = resolve(session, "champion")
        return f"detector:{champion if champion is not None else 'none'}"
    return project_crop_embedder(project).key


def project_crop_embedder(project: Project) -> CropEmbedder:
    """The configured image embedder (a relative model path is read from the project
    folder). Detector features are no image embedder: they exist only in the detector's
    pass, so what cuts crops from files (heads, label boxes) asks for one in vain."""
    settings = project.config.crops
    model = settings.model
    if model == DETECTOR:
        raise BadInput(
            "crops.model = detector pools the detector's features while predicting; crop "
            "heads and label-box vectors need an image embedder (mobilenet_v1, mobilenet_v2 "
            "or a model file)"
        )
    if model not in ("default", *BUNDLED) and not model.startswith("/"):
        model = str(project.root / model)
    with _lock:
        key = (model, settings.threads)
        if key not in _loaded:
            try:
                _loaded[key] = load_crop_embedder(model, settings.threads)
            except CropModelUnavailable as exc:
                raise BadInput(f"crops.model: {exc}") from None
        return _loaded[key]


def crop_stage(project: Project, detector: CropEmbedder | None = None) -> CropStage | None:
    """What the predict job embeds boxes with, or None when the project keeps it off;
    ``detector`` is the running detector's feature handle, used when the project embeds
    with detector features."""
    settings: CropSettings = project.config.crops
    if not settings.embed:
        return None
    if uses_detector_features(project) and detector is None:
        raise BadInput("crops.model = detector needs the detector's feature model")
    return CropStage(
        detector if uses_detector_features(project) else project_crop_embedder(project),
        padding=settings.padding,
        min_score=settings.min_score,
        max_per_item=settings.max_per_image,
    )
