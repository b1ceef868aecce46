"""Crop embeddings with the bundled MobileNet: shapes, padding, determinism, similarity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildloop.inference.crops import (
    DEFAULT_KEY,
    CropModelUnavailable,
    cut_crops,
    embed_crops,
    load_crop_embedder,
)


def _photo(shared_data: Path) -> np.ndarray:
    first = sorted((shared_data / "mct-real" / "images").iterdir())[0]
    return np.asarray(Image.open(first).convert("RGB"))


def test_cut_crops_pads_and_clips_to_the_frame() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = 255  # a white square in the middle
    crops = cut_crops(image, [(0.45, 0.4, 0.1, 0.2)], size=32, padding=0.0)
    assert crops.shape == (1, 32, 32, 3) and crops.min() > 200
    padded = cut_crops(image, [(0.45, 0.4, 0.1, 0.2)], size=32, padding=0.5)
    assert padded[0, 0, 0].max() == 0 and padded[0, 16, 16].min() == 255  # context around it
    edge = cut_crops(image, [(0.95, 0.9, 0.2, 0.3), (0.5, 0.5, 0.0, 0.0)], size=16)
    assert edge.shape == (2, 16, 16, 3)
    assert (edge[1] == 114).all()  # an empty box is a grey crop, not an error


def test_embed_crops_is_float16_1024d_and_batch_independent(shared_data: Path) -> None:
    image = _photo(shared_data)
    embedder = load_crop_embedder()
    assert embedder.key == DEFAULT_KEY and embedder.dim == 1024 and embedder.size == 224
    boxes = [(0.1, 0.1, 0.3, 0.3), (0.5, 0.4, 0.3, 0.4), (0.0, 0.0, 1.0, 1.0)]
    vectors = embed_crops(image, boxes, embedder)
    assert vectors.shape == (3, 1024) and vectors.dtype == np.float16
    alone = embed_crops(image, boxes[1:2], embedder)
    assert np.array_equal(alone[0], vectors[1])
    # A slightly shifted box looks like the same thing; another region does less.
    shifted = embed_crops(image, [(0.11, 0.1, 0.3, 0.3)], embedder)[0].astype(np.float32)
    base, other = vectors[0].astype(np.float32), vectors[2].astype(np.float32)

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(base, shifted) > cosine(base, other)


def test_a_user_model_path_must_exist_and_be_tflite_or_onnx(tmp_path: Path) -> None:
    with pytest.raises(CropModelUnavailable, match="does not exist"):
        load_crop_embedder(str(tmp_path / "missing.onnx"))
    with pytest.raises(CropModelUnavailable, match=r"\.tflite/\.onnx"):
        load_crop_embedder(str(tmp_path / "model.pt"))


def test_a_user_tflite_model_gets_a_content_key(tmp_path: Path, shared_data: Path) -> None:
    copy = tmp_path / "mine.tflite"
    copy.write_bytes((shared_data / "embedders" / "mobilenet_v2_1.0_224_quant.tflite").read_bytes())
    embedder = load_crop_embedder(str(copy))
    assert embedder.key.startswith("tflite:") and embedder.dim == 1001  # its class scores
    assert embed_crops(_photo(shared_data), [(0.2, 0.2, 0.5, 0.5)], embedder).shape == (1, 1001)


def test_a_user_onnx_model_gets_normalised_nchw_input(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    # Global average pooling of the normalised input: the embedding is the mean of each
    # channel, so what the embedder fed the model can be read back from its output.
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["vector"]),
        ],
        "mean-colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 64, 64])],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "mean.onnx"
    onnx.save(model, str(path))
    embedder = load_crop_embedder(str(path))
    assert embedder.key.startswith("onnx:") and embedder.size == 64 and embedder.dim == 3
    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 0] = 255  # pure red
    vector = embed_crops(image, [(0.1, 0.1, 0.5, 0.5)], embedder)[0].astype(np.float32)
    expected = (np.array([1.0, 0.0, 0.0]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    assert np.allclose(vector, expected, atol=1e-2)
