"""The one place wildloop imports Ultralytics, lazily and offline.

Ultralytics reads global settings, may sync them and downloads weights or fonts when a name it
knows is missing. Everything here first pins it offline and checks that files exist, so a
missing weights file becomes a clear message instead of a download attempt. Nothing in this
module runs at import time; torch and ultralytics are imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wildloop.errors import BadInput, Unavailable

WEIGHTS_HELP = (
    "wildloop never downloads model weights. Copy the file onto this machine (for example "
    "download {name} from the Ultralytics releases page on a machine with internet access) "
    "and pass its path, or register it once with `wildloop model register PATH --name NAME` "
    "and refer to the model by name."
)


@dataclass(frozen=True)
class PtInfo:
    """What a .pt checkpoint says about itself."""

    classes: list[str]
    imgsz: int
    task: str


def require_weights(path: Path | str) -> Path:
    """Return ``path`` if the weights file exists; otherwise explain how to provide it.

    Ultralytics would try to download a known name such as ``yolov8n.pt``; wildloop refuses.
    """
    candidate = Path(path).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    raise Unavailable(
        f"weights file {candidate} not found. " + WEIGHTS_HELP.format(name=candidate.name)
    )


def import_ultralytics() -> Any:
    """Import Ultralytics pinned offline, with its process-wide side effects undone.

    Settings sync and logger integrations are switched off. Importing Ultralytics also replaces
    ``PIL.Image.open`` for the whole process with a version that pip-installs a HEIF plugin
    on any unidentified file; wildloop's own decoding must neither change nor reach the network,
    so the original is put back (whichever module imported Ultralytics first).
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        import ultralytics
        import ultralytics.utils.patches as patches
        from ultralytics.utils import SETTINGS
    except ImportError as exc:
        raise Unavailable(
            "this needs the training extra (torch + ultralytics): pip install 'wildloop[train]'"
        ) from exc
    from PIL import Image

    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is not original:
        Image.open = original
    quiet = dict.fromkeys(
        ("sync", "tensorboard", "wandb", "mlflow", "comet", "clearml", "dvc", "raytune"), False
    )
    changes = {k: v for k, v in quiet.items() if k in SETTINGS and SETTINGS.get(k) != v}
    if changes:
        SETTINGS.update(changes)  # type: ignore[no-untyped-call]
    return ultralytics


def _load(path: Path) -> Any:
    ultralytics = import_ultralytics()
    try:
        return ultralytics.YOLO(str(require_weights(path)))
    except (RuntimeError, ValueError, KeyError, AttributeError, EOFError) as exc:
        raise BadInput(f"{path} is not an Ultralytics detector checkpoint: {exc}") from exc


def read_pt(path: Path) -> PtInfo:
    """Class names (in model index order), training image size and task of a checkpoint."""
    model = _load(path)
    names = model.names
    classes = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    args = getattr(model.model, "args", {}) or {}
    imgsz = args.get("imgsz", 640) if isinstance(args, dict) else 640
    if isinstance(imgsz, (list, tuple)):
        imgsz = max(imgsz)
    return PtInfo(classes=[str(c) for c in classes], imgsz=int(imgsz), task=str(model.task))


def export_onnx(pt_path: Path, out_path: Path, imgsz: int) -> Path:
    """Export a checkpoint to ONNX with a dynamic batch axis (CPU workers need no torch).

    Ultralytics writes the export beside its input, so the checkpoint is copied to a
    temporary folder first; the registry's own files are never written to.
    """
    model_src = require_weights(pt_path)
    with tempfile.TemporaryDirectory(prefix="wildloop-export-") as tmp:
        work = Path(tmp) / "model.pt"
        shutil.copyfile(model_src, work)
        model = _load(work)
        exported = model.export(
            format="onnx", imgsz=imgsz, dynamic=True, simplify=False, verbose=False
        )
        shutil.copyfile(exported, out_path)
    return out_path


def load_torch_detector(path: Path, device: str, half: bool) -> Any:
    """The fused detection ``nn.Module`` of a checkpoint, on ``device``, in eval mode."""
    model = _load(path)
    module = model.model.fuse() if hasattr(model.model, "fuse") else model.model
    module = module.to(device).eval()
    return module.half() if half else module.float()


def build_untrained(
    out_path: Path,
    classes: Sequence[str],
    cfg: str = "yolov8n.yaml",
    imgsz: int = 640,
    class_bias: float | None = None,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised detector checkpoint (tests and speed benchmarks).

    ``class_bias`` overrides the class-score bias of the head: random weights otherwise
    score every anchor near 0, so nothing passes a threshold and a comparison of boxes
    would compare nothing.
    """
    import torch

    torch.manual_seed(seed)
    ultralytics = import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    model = ultralytics.YOLO(cfg)
    module: Any = DetectionModel(cfg, nc=len(classes), verbose=False)  # type: ignore[no-untyped-call]
    module.names = dict(enumerate(classes))
    module.args = {"task": "detect", "imgsz": imgsz}
    if class_bias is not None:
        for branch in module.model[-1].cv3:
            branch[-1].bias.data.fill_(class_bias)
    model.model = module
    model.save(str(out_path))
    return out_path


def predict_reference(
    weights: Path, files: Sequence[Path], *, imgsz: int, conf: float, iou: float
) -> Iterator[tuple[Path, list[tuple[int, float, float, float, float, float]]]]:
    """Ultralytics' own ``YOLO(weights).predict(files, stream=True)``: the baseline that
    tests and benchmarks compare the pipeline against. Yields (file, [(class, conf, x, y,
    w, h) normalised]) per file."""
    model = _load(weights)
    results = model.predict(
        [str(f) for f in files], stream=True, imgsz=imgsz, conf=conf, iou=iou, verbose=False
    )
    for file, result in zip(files, results, strict=True):
        boxes = result.boxes
        xywhn = boxes.xywhn.cpu().numpy()
        out = [
            (
                int(c),
                float(s),
                float(b[0] - b[2] / 2),
                float(b[1] - b[3] / 2),
                float(b[2]),
                float(b[3]),
            )
            for c, s, b in zip(
                boxes.cls.cpu().numpy(), boxes.conf.cpu().numpy(), xywhn, strict=True
            )
        ]
        yield file, out
