"""Training with Ultralytics (detectors, and YOLO-cls crop classifiers): the one place
training imports it, lazily, offline.

Ultralytics reaches for the network in three places during training: it syncs settings and
telemetry, it fetches Arial.ttf to draw plots, and on a GPU its AMP self-check downloads a
small model. Here settings sync is off, plots are off, and the AMP check is replaced by the
plain decision "AMP on CUDA unless the project turned it off". Per-epoch losses and
validation mAP reach the caller through Ultralytics callbacks; the caller's ``should_stop``
is polled after every batch so a cancel takes effect within one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildloop.errors import BadInput, Unavailable
from wildloop.inference.ultralytics_adapter import import_ultralytics

METRIC_KEYS = {
    "metrics/precision(B)": "val_precision",
    "metrics/recall(B)": "val_recall",
    "metrics/mAP50(B)": "val_map50",
    "metrics/mAP50-95(B)": "val_map50_95",
}
CLASSIFY_METRIC_KEYS = {
    "metrics/accuracy_top1": "val_top1",
    "metrics/accuracy_top5": "val_top5",
}


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    batch: int
    imgsz: int
    patience: int
    device: str
    workers: int
    seed: int
    amp: bool = True
    warmup_epochs: float = 3.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based
    epochs: int
    losses: dict[str, float]
    metrics: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, **self.losses, **self.metrics}

    def line(self) -> str:
        loss = " ".join(f"{k.split('/')[-1]} {v:.3f}" for k, v in self.losses.items())
        m = self.metrics
        if "val_top1" in m:
            return f"epoch {self.epoch}/{self.epochs}: {loss}; val top-1 {m['val_top1']:.3f}"
        return (
            f"epoch {self.epoch}/{self.epochs}: {loss}; val mAP50 {m.get('val_map50', 0):.3f} "
            f"mAP50-95 {m.get('val_map50_95', 0):.3f}"
        )


@dataclass
class TrainOutcome:
    best: Path
    epochs_run: int
    best_epoch: int | None
    curves: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, float] = field(default_factory=dict)  # val figures of ``best``


class TrainingStopped(Exception):
    """Raised from a callback when the caller asks to stop (a cancelled job)."""


def resolve_device(device: str) -> str:
    """'' means the first GPU when there is one, else the CPU."""
    if device:
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def train(
    start: str,
    data: Path,
    run_dir: Path,
    params: TrainParams,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    metric_keys: dict[str, str] | None = None,
) -> TrainOutcome:
    """Train from ``start`` (a .pt file, or a model .yaml for random initial weights) on
    ``data`` (a detection dataset's data.yaml, or a classification dataset's folder, as
    Ultralytics reads them); ``metric_keys`` renames the validation figures reported
    (default: the detection ones)."""
    metric_keys = metric_keys or METRIC_KEYS
    ultralytics = import_ultralytics()
    if start.endswith(".pt") and not Path(start).is_file():
        raise Unavailable(f"start weights {start} not found; wildloop never downloads weights")
    try:
        model = ultralytics.YOLO(start)
    except (FileNotFoundError, RuntimeError, KeyError, ValueError) as exc:
        raise BadInput(f"cannot build a model from {start}: {exc}") from exc
    curves: list[dict[str, Any]] = []
    final: dict[str, float] = {}

    def epoch_end(trainer: Any) -> None:
        if (curves and trainer.epoch + 1 <= curves[-1]["epoch"]) or trainer.epoch >= trainer.epochs:
            # Called once more after training, for the validation of the best weights.
            final.update(
                {
                    new: float((trainer.metrics or {}).get(old, 0.0))
                    for old, new in metric_keys.items()
                }
            )
            return
        losses = (
            trainer.label_loss_items(trainer.tloss, prefix="train")
            if trainer.tloss is not None
            else {}
        )
        metrics = {
            new: float((trainer.metrics or {}).get(old, 0.0)) for old, new in metric_keys.items()
        }
        report = EpochReport(
            trainer.epoch + 1,
            trainer.epochs,
            {k: float(v) for k, v in losses.items()},
            metrics,
        )
        curves.append(report.as_dict())
        if on_epoch:
            on_epoch(report)

    def batch_end(_trainer: Any) -> None:
        if should_stop and should_stop():
            raise TrainingStopped("training was cancelled")

    model.add_callback("on_fit_epoch_end", epoch_end)
    model.add_callback("on_train_batch_end", batch_end)
    device = resolve_device(params.device)
    with _offline_guards(params.amp):
        model.train(
            data=str(data),
            epochs=params.epochs,
            batch=params.batch,
            imgsz=params.imgsz,
            patience=params.patience or params.epochs,
            device=device,
            workers=params.workers,
            seed=params.seed,
            project=str(run_dir.parent),
            name=run_dir.name,
            exist_ok=True,
            plots=False,
            verbose=False,
            amp=params.amp,
            warmup_epochs=params.warmup_epochs,
            pretrained=start.endswith(".pt"),
        )
    trainer = model.trainer
    best = Path(trainer.best)
    if not best.is_file():
        best = Path(trainer.last)
    best_epoch = getattr(getattr(trainer, "stopper", None), "best_epoch", None)
    return TrainOutcome(
        best, len(curves), None if best_epoch is None else int(best_epoch), curves, final
    )


@contextmanager
def _offline_guards(amp: bool) -> Iterator[None]:
    """For one training, replace the two checks that go online: the AMP self-check (downloads
    yolo26n.pt on a GPU) and the dataset check's font fetch (Arial.ttf, asked for even with
    plots off). The font check gets matplotlib's bundled DejaVu Sans instead."""
    import ultralytics.data.utils as data_utils
    import ultralytics.engine.trainer as trainer_module

    originals = (getattr(trainer_module, "check_amp"), getattr(data_utils, "check_font"))  # noqa: B009

    def decide_amp(model: Any) -> bool:
        return bool(amp and next(model.parameters()).device.type == "cuda")

    def local_font(_font: str = "Arial.ttf") -> Path | None:
        from matplotlib import font_manager

        return Path(font_manager.findfont("DejaVu Sans", fallback_to_default=True))

    setattr(trainer_module, "check_amp", decide_amp)  # noqa: B010
    setattr(data_utils, "check_font", local_font)  # noqa: B010
    try:
        yield
    finally:
        setattr(trainer_module, "check_amp", originals[0])  # noqa: B010
        setattr(data_utils, "check_font", originals[1])  # noqa: B010
