"""PyTorch on CUDA in fp16 (also runs on CPU in fp32, which is how it is tested here).

The checkpoint is loaded through the Ultralytics adapter (a .pt pickles Ultralytics
classes); inference itself is plain torch, with torchvision's batched NMS on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wildloop.inference.letterbox import PAD_VALUE, Letterbox
from wildloop.inference.ultralytics_adapter import load_torch_detector

MAX_WH = 7680.0


class TorchRuntime:
    name = "torch"
    stride = 32

    def __init__(self, path: Path, device: str = "cuda", gpu_decode: bool | None = None) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.half = device.startswith("cuda")
        self.module = load_torch_detector(path, device, self.half)
        # nvJPEG through torchvision: CPU threads only read files; pixels never cross PCIe.
        self.gpu_decode = device.startswith("cuda") if gpu_decode is None else gpu_decode
        self.stride = (
            int(max(getattr(self.module, "stride", [32]))) if hasattr(self.module, "stride") else 32
        )

    def to_device(self, batch: np.ndarray) -> Any:
        """(N, H, W, 3) uint8 -> (N, 3, H, W) float on the device, scaled to 0..1."""
        torch = self.torch
        tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
        return self.prepare_tensor(tensor.permute(0, 3, 1, 2))

    def prepare_tensor(self, nchw_uint8: Any) -> Any:
        dtype = self.torch.float16 if self.half else self.torch.float32
        return nchw_uint8.to(dtype).div_(255.0)

    def forward(self, batch: Any) -> Any:
        tensor = batch if isinstance(batch, self.torch.Tensor) else self.to_device(batch)
        if tensor.dtype == self.torch.uint8:
            tensor = self.prepare_tensor(tensor)
        with self.torch.inference_mode():
            out = self.module(tensor)
        return out[0] if isinstance(out, (list, tuple)) else out

    def decode_batch(self, encoded: list[bytes], boxes: list[Letterbox]) -> Any:
        """Decode JPEGs on the device and letterbox them into one (N, 3, H, W) uint8 batch.

        All boxes share one input shape (the pipeline buckets by shape). Raises if any
        image fails to decode; the pipeline then retries one by one to isolate it.
        """
        torch = self.torch
        from torch.nn import functional
        from torchvision.io import ImageReadMode, decode_jpeg

        tensors = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in encoded]
        images = decode_jpeg(tensors, mode=ImageReadMode.RGB, device=self.device)
        height, width = boxes[0].shape
        batch = torch.full(
            (len(images), 3, height, width), PAD_VALUE, dtype=torch.uint8, device=self.device
        )
        for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
            resized = functional.interpolate(
                image[None].float(),
                size=(box.new_h, box.new_w),
                mode="bilinear",
                align_corners=False,
            )
            batch[i, :, box.top : box.top + box.new_h, box.left : box.left + box.new_w] = (
                resized[0].round_().clamp_(0, 255).to(torch.uint8)
            )
        return batch

    def postprocess(
        self, raw: Any, conf: Sequence[float], iou: float, max_det: int
    ) -> list[np.ndarray]:
        from torchvision.ops import batched_nms

        torch = self.torch
        results = []
        with torch.inference_mode():
            raw = raw.float()
            for pred, threshold in zip(raw, conf, strict=True):
                scores, cls = pred[4:].max(dim=0)
                keep = scores > threshold
                if not bool(keep.any()):
                    results.append(np.zeros((0, 6), dtype=np.float32))
                    continue
                cxcywh = pred[:4, keep].T
                scores, cls = scores[keep], cls[keep]
                xyxy = torch.cat(
                    [cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1
                )
                kept = batched_nms(xyxy, scores, cls, iou)[:max_det]
                det = torch.cat([xyxy[kept], scores[kept, None], cls[kept, None].float()], 1)
                results.append(det.cpu().numpy().astype(np.float32))
        return results
