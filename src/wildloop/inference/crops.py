"""Crop embeddings: cut each box (with some context) out of a decoded frame and embed it.

The default embedder is the int8 ImageNet MobileNet v1 shipped in ``inference/embedders``
(Apache-2.0, see the NOTICE there): 1024-d, uint8 224x224 RGB input, run with
``ai-edge-litert``. A user may point a project at their own ``.tflite`` or ``.onnx`` model
instead (a DINOv2 or BioCLIP export copied in by hand: nothing is downloaded). Every embedder
has a ``key`` stored with its vectors, so vectors of different models never mix.

Crops are cut from the frame the detector already decoded (the pipeline passes its
letterboxed input), so embedding costs no second decode.
"""

from __future__ import annotations

import hashlib
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from wildloop.inference.onnx_runtime import OnnxRuntime
from wildloop.inference.tflite import TFLiteModel, litert_available

DEFAULT_MODEL = "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
DEFAULT_KEY = "mobilenet-v1-224"
V2_MODEL = "mobilenet_v2_1.0_224_quant.tflite"
V2_KEY = "mobilenet-v2-224"
V2_TENSOR = "MobilenetV2/Logits/AvgPool"
# The bundled embedders by their config name: (file, key, tensor read or None for the output).
BUNDLED = {
    "mobilenet_v1": (DEFAULT_MODEL, DEFAULT_KEY, None),
    "mobilenet_v2": (V2_MODEL, V2_KEY, V2_TENSOR),
}
DEFAULT_PADDING = 0.10
MIN_CROP_PIXELS = 2  # a box thinner than this in the decoded frame has nothing to embed


class CropModelUnavailable(Exception):
    """The crop embedder cannot run here (missing runtime or model file), with the reason."""


class CropEmbedder(Protocol):
    """What every crop backend offers: uint8 RGB crops (n, size, size, 3) -> (n, dim)."""

    key: str
    size: int
    dim: int

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]: ...


def cut_crops(
    image: NDArray[np.uint8],
    boxes: NDArray[np.float64] | list[tuple[float, float, float, float]],
    size: int = 224,
    padding: float = DEFAULT_PADDING,
) -> NDArray[np.uint8]:
    """Square-resized crops of ``boxes`` (x, y, w, h as fractions of ``image``), each grown
    by ``padding`` of its size on every side (clipped to the frame) so the animal keeps some
    context. A degenerate box gives a grey crop rather than an error."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = image.shape[:2]
    out = np.full((len(boxes), size, size, 3), 114, np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        # The epsilon keeps float noise (0.55 * 200 = 110.00000000000001) from adding a pixel.
        x1 = int(np.floor(max(0.0, x - padding * w) * width + 1e-6))
        y1 = int(np.floor(max(0.0, y - padding * h) * height + 1e-6))
        x2 = int(np.ceil(min(1.0, x + w * (1 + padding)) * width - 1e-6))
        y2 = int(np.ceil(min(1.0, y + h * (1 + padding)) * height - 1e-6))
        if x2 - x1 < MIN_CROP_PIXELS or y2 - y1 < MIN_CROP_PIXELS:
            continue
        patch = Image.fromarray(np.ascontiguousarray(image[y1:y2, x1:x2]))
        out[i] = np.asarray(patch.resize((size, size), Image.Resampling.BILINEAR))
    return out


class TFLiteCropEmbedder:
    """A TFLite image model with NHWC input; a lock makes one instance safe to share."""

    def __init__(self, key: str, model: bytes, threads: int = 1, tensor: str | None = None) -> None:
        if not litert_available():
            raise CropModelUnavailable(
                "TFLite crop embedders need ai-edge-litert (pip install ai-edge-litert)"
            )
        self.key = key
        self._model = TFLiteModel(model, threads, tensor)
        self.size = int(self._model.input_shape[1])
        self.dim = self._model.output_dim
        self._lock = threading.Lock()

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        if not len(crops):
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return self._model.run(crops)


class OnnxCropEmbedder:
    """A user's ONNX image model: uint8 input is fed as is; float input gets [0, 1] pixels,
    ImageNet-normalised, in NCHW when the model's second axis is 3 (the usual export)."""

    _MEAN = np.array([0.485, 0.456, 0.406], np.float32)
    _STD = np.array([0.229, 0.224, 0.225], np.float32)

    def __init__(self, key: str, path: Path, threads: int = 1) -> None:
        # onnxruntime is heavy to import: loaded only when a user's ONNX model is configured.
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model_input = self._session.get_inputs()[0]
        shape = list(model_input.shape)
        self._name = model_input.name
        self._nchw = shape[1] == 3
        self._float = "float" in str(model_input.type)
        side = shape[2] if self._nchw else shape[1]
        self.size = side if isinstance(side, int) else 224
        self.key = key
        self.dim = int(self.embed(np.zeros((1, self.size, self.size, 3), np.uint8)).shape[1])

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        batch: NDArray[Any] = crops
        if self._float:
            batch = (crops.astype(np.float32) / 255.0 - self._MEAN) / self._STD
        if self._nchw:
            batch = batch.transpose(0, 3, 1, 2)
        out: Any = self._session.run(None, {self._name: np.ascontiguousarray(batch)})[0]
        return np.asarray(out, np.float32).reshape(len(crops), -1)


class OnnxCropClassifier:
    """A crop classifier exported to ONNX (Ultralytics YOLO-cls): square uint8 RGB crops in,
    class probabilities out. It runs on the detectors' ONNX runtime (NCHW, pixels / 255,
    which is YOLO-cls's own preprocessing) and has the ``CropEmbedder`` shape, its
    "vectors" being the class probabilities, so ground-truth crops are scored by the same
    code as a head's embeddings."""

    def __init__(self, key: str, path: Path, size: int, threads: int = 1) -> None:
        self._runtime = OnnxRuntime(path, threads=threads)
        self.key = key
        self.size = size
        self.dim = int(self.embed(np.zeros((1, size, size, 3), np.uint8)).shape[1])

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        if not len(crops):
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._runtime.forward(crops), np.float32).reshape(len(crops), -1)


def default_model_bytes(name: str = DEFAULT_MODEL) -> bytes:
    """A bundled MobileNet (package data; v1 unless named)."""
    return resources.files("wildloop.inference").joinpath("embedders", name).read_bytes()


def load_crop_embedder(model: str = "default", threads: int = 1) -> CropEmbedder:
    """``default`` or ``mobilenet_v1`` (the bundled MobileNet v1), ``mobilenet_v2``, or a
    path to a ``.tflite``/``.onnx`` model."""
    if model in ("default", DEFAULT_KEY):
        model = "mobilenet_v1"
    if model == V2_KEY:
        model = "mobilenet_v2"
    if model in BUNDLED:
        name, key, tensor = BUNDLED[model]
        return TFLiteCropEmbedder(key, default_model_bytes(name), threads, tensor)
    path = Path(model).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".tflite", ".onnx"):
        raise CropModelUnavailable(
            f"crop model {model!r}: use mobilenet_v1, mobilenet_v2, detector or a "
            ".tflite/.onnx path"
        )
    if not path.is_file():
        raise CropModelUnavailable(f"crop model {path} does not exist")
    data = path.read_bytes()
    key = f"{suffix.lstrip('.')}:{hashlib.sha256(data).hexdigest()[:12]}"
    if suffix == ".tflite":
        return TFLiteCropEmbedder(key, data, threads)
    return OnnxCropEmbedder(key, path, threads)


_default: list[CropEmbedder] = []
_default_lock = threading.Lock()


def embed_crops(
    image: NDArray[np.uint8],
    boxes: NDArray[np.float64] | list[tuple[float, float, float, float]],
    embedder: CropEmbedder | None = None,
    padding: float = DEFAULT_PADDING,
) -> NDArray[np.float16]:
    """One float16 vector per box (x, y, w, h as fractions of ``image``, an HxWx3 uint8 RGB
    frame), from ``embedder`` or the bundled MobileNet: what re-identification, the crop
    classifier and the review queue call."""
    if embedder is None:
        with _default_lock:
            if not _default:
                _default.append(load_crop_embedder())
            embedder = _default[0]
    crops = cut_crops(image, boxes, embedder.size, padding)
    return embedder.embed(crops).astype(np.float16)


class CropStage:
    """What the pipeline runs on the crops of the boxes it found, and which boxes.

    ``embedder`` (None: no vectors) gives each box its crop vector; ``classifier`` (a crop
    model run end to end, such as a YOLO-cls export) gives each box its class scores, from
    crops cut with its own ``classifier_padding``. Only boxes scoring ``min_score`` or more
    get either, the best ``max_per_item`` of an image: low-scoring boxes kept for
    evaluation would multiply the cost for nothing.
    """

    def __init__(
        self,
        embedder: CropEmbedder | None,
        padding: float = DEFAULT_PADDING,
        min_score: float = 0.0,
        max_per_item: int = 20,
        classifier: CropEmbedder | None = None,
        classifier_padding: float = DEFAULT_PADDING,
    ) -> None:
        self.embedder = embedder
        self.padding = padding
        self.min_score = min_score
        self.max_per_item = max_per_item
        self.classifier = classifier
        self.classifier_padding = classifier_padding

    def chosen(self, scores: list[float]) -> list[int]:
        """Indexes of the boxes to embed, best first."""
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        return [i for i in ranked if scores[i] >= self.min_score][: self.max_per_item]
