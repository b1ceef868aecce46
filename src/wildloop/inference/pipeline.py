"""The batched inference pipeline every caller uses.

Decoding runs in a thread pool ahead of the model (JPEG decoding releases the GIL), images
of one input shape are grouped into large batches, the runtime runs them, NMS runs on the
result, and boxes come back normalised to the original image. A file that cannot be read
yields a failed result with its reason; the rest of its batch goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from wildloop.inference import letterbox
from wildloop.inference.crops import CropStage, cut_crops
from wildloop.inference.decode import Decoder, Encoded, ImageUnreadable, Prepared
from wildloop.inference.detector_features import (
    DetectorFeatureEmbedder,
    FeatureMaps,
    input_pixels,
)
from wildloop.inference.runtime import DetectorRuntime


@dataclass(frozen=True)
class PipelineItem:
    key: int  # the caller's id for the item (a media id)
    path: Path
    conf: float | None = None  # this item's score threshold, if not the pipeline's


@dataclass(frozen=True)
class Detection:
    """One box: model class index, score, and x, y (top-left), w, h as image fractions."""

    class_index: int
    score: float
    x: float
    y: float
    w: float
    h: float
    # The box's crop embedding (float16) when the pipeline embeds crops; travels with the
    # box through sorting and capping, and takes no part in equality.
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    # A two-stage pipeline's box: the detector's score, ``score`` being the classifier's.
    det_score: float | None = None
    # The box's class probabilities when the crop stage runs a crop classifier end to end
    # (a YOLO-cls export); like ``embedding``, no part of equality.
    class_scores: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ItemResult:
    key: int
    detections: tuple[Detection, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class PipelineOptions:
    imgsz: int = 640
    batch_size: int = 16
    conf: float = 0.05
    iou: float = 0.7
    max_det: int = 300
    rect: bool = True
    reduced_decode: bool = True
    decode_workers: int = 0
    # Batches run concurrently (ORT sessions are thread-safe): on CPU, several single-thread
    # runs use the cores better than one multi-thread run (measured ~10% less CPU/image).
    model_workers: int = 1

    @property
    def workers(self) -> int:
        return self.decode_workers or os.cpu_count() or 1


@dataclass
class StageTimes:
    """Seconds spent per stage; decode is summed over decode threads (it overlaps)."""

    decode: float = 0.0
    wait: float = 0.0
    model: float = 0.0
    model_wait: float = 0.0
    nms: float = 0.0
    crops: float = 0.0
    write: float = 0.0
    items: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **seconds: float) -> None:
        """Add to named stages (thread-safe: decode and model threads report here)."""
        with self._lock:
            for name, value in seconds.items():
                setattr(self, name, getattr(self, name) + value)

    def count_failed(self) -> None:
        with self._lock:
            self.failed += 1

    def reset(self) -> None:
        with self._lock:
            self.decode = self.wait = self.model = self.model_wait = 0.0
            self.nms = self.crops = self.write = 0.0
            self.items = self.failed = 0

    def merge(self, other: StageTimes) -> None:
        with self._lock:
            self.decode += other.decode
            self.wait += other.wait
            self.model += other.model
            self.model_wait += other.model_wait
            self.nms += other.nms
            self.crops += other.crops
            self.write += other.write
            self.items += other.items
            self.failed += other.failed

    def as_dict(self) -> dict[str, float]:
        return {
            "decode_thread_s": round(self.decode, 3),
            "wait_for_decode_s": round(self.wait, 3),
            "model_thread_s": round(self.model, 3),
            "wait_for_model_s": round(self.model_wait, 3),
            "nms_s": round(self.nms, 3),
            "crops_s": round(self.crops, 3),
            "write_s": round(self.write, 3),
            "items": self.items,
            "failed": self.failed,
        }


class Pipeline:
    """Runs ``runtime`` over items; iterate :meth:`run` to get results batch by batch."""

    def __init__(
        self,
        runtime: DetectorRuntime,
        options: PipelineOptions | None = None,
        crops: CropStage | None = None,
    ) -> None:
        self.runtime = runtime
        self.crops = crops
        self.options = options or PipelineOptions()
        self.decoder = Decoder(
            self.options.imgsz,
            stride=runtime.stride,
            rect=self.options.rect,
            reduced=self.options.reduced_decode,
        )
        self.times = StageTimes()
        self.gpu_decode = bool(getattr(runtime, "gpu_decode", False))

    def run(self, items: Iterable[PipelineItem]) -> Iterator[list[ItemResult]]:
        """Yield results in groups (one per model batch, failures included); every item
        given comes back exactly once, in no particular order."""
        opts = self.options
        buckets: dict[tuple[bool, int, int], list[tuple[PipelineItem, Prepared | Encoded]]] = {}
        failed: list[ItemResult] = []
        held = 0
        running: deque[Future[list[ItemResult]]] = deque()
        with (
            ThreadPoolExecutor(opts.workers, thread_name_prefix="wildloop-decode") as pool,
            ThreadPoolExecutor(opts.model_workers, thread_name_prefix="wildloop-model") as models,
        ):
            for item, outcome in self._decoded(pool, iter(items)):
                if isinstance(outcome, ImageUnreadable):
                    failed.append(ItemResult(item.key, error=outcome.reason))
                    self.times.count_failed()
                    continue
                key = (isinstance(outcome, Encoded), *outcome.box.shape)
                bucket = buckets.setdefault(key, [])
                bucket.append((item, outcome))
                held += 1
                if len(bucket) >= opts.batch_size or held >= 4 * opts.batch_size:
                    full = len(bucket) >= opts.batch_size
                    shape = key if full else max(buckets, key=lambda k: len(buckets[k]))
                    batch = buckets.pop(shape)
                    held -= len(batch)
                    running.append(models.submit(self._infer, batch))
                    if len(running) >= opts.model_workers:
                        yield failed + self._wait(running.popleft())
                        failed = []
            for shape in list(buckets):
                running.append(models.submit(self._infer, buckets.pop(shape)))
            while running:
                yield failed + self._wait(running.popleft())
                failed = []
            if failed:
                yield failed

    def _wait(self, future: Future[list[ItemResult]]) -> list[ItemResult]:
        started = time.perf_counter()
        results = future.result()
        self.times.add(model_wait=time.perf_counter() - started)
        return results

    def _decoded(
        self, pool: ThreadPoolExecutor, items: Iterator[PipelineItem]
    ) -> Iterator[tuple[PipelineItem, Prepared | Encoded | ImageUnreadable]]:
        """Items with their decoded input, in order, keeping the pool ``ahead`` items ahead."""
        opts = self.options
        ahead = max((opts.model_workers + 1) * opts.batch_size, 4 * opts.workers)
        window: deque[tuple[PipelineItem, Future[Prepared | Encoded | ImageUnreadable]]] = deque()
        exhausted = False
        while True:
            while not exhausted and len(window) < ahead:
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                window.append((item, pool.submit(self._prepare, item.path)))
            if not window:
                return
            item, future = window.popleft()
            started = time.perf_counter()
            outcome = future.result()
            self.times.add(wait=time.perf_counter() - started)
            yield item, outcome

    def _prepare(self, path: Path) -> Prepared | Encoded | ImageUnreadable:
        started = time.perf_counter()
        try:
            if self.gpu_decode:
                return self.decoder.prepare_encoded(path)
            return self.decoder.prepare(path)
        except ImageUnreadable as exc:
            return exc
        except (OSError, ValueError, MemoryError) as exc:
            return ImageUnreadable(f"cannot decode: {type(exc).__name__}: {exc}")
        finally:
            self.times.add(decode=time.perf_counter() - started)

    def _infer(self, batch: list[tuple[PipelineItem, Prepared | Encoded]]) -> list[ItemResult]:
        opts = self.options
        inputs, kept, failures = self._inputs(batch)
        if not kept:
            return failures
        started = time.perf_counter()
        features: FeatureMaps | None = None
        if self._pooled_features():
            raw, features = self.runtime.forward_with_features(inputs)  # type: ignore[attr-defined]
        else:
            raw = self.runtime.forward(inputs)
        after_model = time.perf_counter()
        confs = [opts.conf if item.conf is None else item.conf for item, _ in kept]
        found = self.runtime.postprocess(raw, confs, opts.iou, opts.max_det)
        results = [
            ItemResult(item.key, _to_detections(det, box))
            for (item, box), det in zip(kept, found, strict=True)
        ]
        after_nms = time.perf_counter()
        if self.crops is not None:
            frames = {item.key: p.array for item, p in batch if isinstance(p, Prepared)}
            boxes = {item.key: box for item, box in kept}
            results = self._crop_outputs(results, frames, boxes, features)
        self.times.add(
            model=after_model - started,
            nms=after_nms - after_model,
            crops=time.perf_counter() - after_nms,
            items=len(kept),
        )
        return failures + results

    def _pooled_features(self) -> bool:
        """Whether crop vectors are the detector's own features (one forward gives both)."""
        stage = self.crops
        return stage is not None and isinstance(stage.embedder, DetectorFeatureEmbedder)

    def _crop_outputs(
        self,
        results: list[ItemResult],
        frames: dict[int, np.ndarray],
        boxes: dict[int, letterbox.Letterbox],
        features: FeatureMaps | None = None,
    ) -> list[ItemResult]:
        """Attach crop embeddings and crop-classifier scores to the chosen boxes of a whole
        batch, cut from the letterboxed frames the model saw (their image area), so no file
        is decoded twice, and run through each crop model in one call. Frames decoded on
        the GPU have no host copy and keep their boxes bare. Detector features are pooled
        from the batch's feature maps instead (GPU-decoded frames included)."""
        stage = self.crops
        assert stage is not None
        chosen: dict[int, list[int]] = {}
        for r in results:
            has_pixels = r.key in frames or (features is not None and stage.classifier is None)
            picked = stage.chosen([d.score for d in r.detections]) if has_pixels else []
            if picked:
                chosen[r.key] = picked
        if not chosen:
            return results
        by_key = {r.key: r for r in results}
        position = {key: i for i, key in enumerate(boxes)}
        outputs: list[np.ndarray | None] = []
        for model, padding in (
            (stage.embedder, stage.padding),
            (stage.classifier, stage.classifier_padding),
        ):
            if model is None:
                outputs.append(None)
                continue
            if isinstance(model, DetectorFeatureEmbedder):
                assert features is not None
                pooled = []
                for key, picked in chosen.items():
                    ds = [by_key[key].detections[i] for i in picked]
                    xyxy = input_pixels([(d.x, d.y, d.w, d.h) for d in ds], boxes[key])
                    pooled.append(features.pool(position[key], xyxy))
                outputs.append(np.concatenate(pooled))
                continue
            crops = []
            for key, picked in chosen.items():
                box = boxes[key]
                image = frames[key][box.top : box.top + box.new_h, box.left : box.left + box.new_w]
                ds = [by_key[key].detections[i] for i in picked]
                crops.append(
                    cut_crops(image, [(d.x, d.y, d.w, d.h) for d in ds], model.size, padding)
                )
            outputs.append(model.embed(np.concatenate(crops)))
        vectors, scores = outputs
        out = []
        row = 0
        for r in results:
            detections = list(r.detections)
            for i in chosen.get(r.key, []):
                detections[i] = replace(
                    detections[i],
                    embedding=None if vectors is None else vectors[row].astype(np.float16),
                    class_scores=None if scores is None else scores[row],
                )
                row += 1
            out.append(replace(r, detections=tuple(detections)) if r.key in chosen else r)
        return out

    def _inputs(
        self, batch: list[tuple[PipelineItem, Prepared | Encoded]]
    ) -> tuple[Any, list[tuple[PipelineItem, letterbox.Letterbox]], list[ItemResult]]:
        """The model input for a bucket: stacked arrays, or a batch decoded on the device."""
        arrays = [p.array for _, p in batch if isinstance(p, Prepared)]
        if len(arrays) == len(batch):
            return np.stack(arrays), [(item, p.box) for item, p in batch], []
        encoded = [(item, p) for item, p in batch if isinstance(p, Encoded)]
        started = time.perf_counter()
        inputs, good, failures = self._gpu_decode(encoded)
        self.times.add(decode=time.perf_counter() - started)
        return inputs, [(item, e.box) for item, e in good], failures

    def _gpu_decode(
        self, batch: list[tuple[PipelineItem, Encoded]]
    ) -> tuple[Any, list[tuple[PipelineItem, Encoded]], list[ItemResult]]:
        """Decode a batch on the device; if that fails, find the bad images one by one."""
        decode = self.runtime.decode_batch  # type: ignore[attr-defined]
        try:
            return decode([e.data for _, e in batch], [e.box for _, e in batch]), batch, []
        except (RuntimeError, ValueError) as exc:
            first_error = exc
        good: list[tuple[PipelineItem, Encoded]] = []
        failures: list[ItemResult] = []
        for item, encoded in batch:
            try:
                decode([encoded.data], [encoded.box])
                good.append((item, encoded))
            except (RuntimeError, ValueError) as exc:
                failures.append(ItemResult(item.key, error=f"corrupt JPEG data: {exc}"))
                self.times.count_failed()
        if not failures:
            raise first_error
        if not good:
            return None, [], failures
        return decode([e.data for _, e in good], [e.box for _, e in good]), good, failures


def _to_detections(det: np.ndarray, box: letterbox.Letterbox) -> tuple[Detection, ...]:
    if not len(det):
        return ()
    xywh = letterbox.to_normalised(det[:, :4], box)
    return tuple(
        Detection(int(c), float(s), float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        for b, s, c in zip(xywh, det[:, 4], det[:, 5], strict=True)
        if b[2] > 0 and b[3] > 0
    )
