"""Build the small ONNX detector that `wildloop demo` ships with (developer tool).

The demo must show real model predictions offline, with no torch installed and no weights to
download. This script trains a very narrow YOLOv8 (width 0.125) on generated scenes of the
six demo classes and exports it to ONNX. It is only good on generated scenes: it is a demo
of the pipeline, not a wildlife model.

    python scripts/build_demo_detector.py --epochs 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from wildloop.cli.demo_cmds import DEMO_CLASSES  # noqa: E402
from wildloop.synthetic.scenes import SceneGenerator  # noqa: E402

TARGET = Path(__file__).resolve().parents[1] / "src" / "wildloop" / "synthetic" / "demo_detector.onnx"
ARCH = """nc: 6
scales:
  t: [0.33, 0.125, 256]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 3, C2f, [128, True]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 6, C2f, [256, True]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [-1, 6, C2f, [512, True]]
  - [-1, 1, Conv, [1024, 3, 2]]
  - [-1, 3, C2f, [1024, True]]
  - [-1, 1, SPPF, [1024, 5]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 6], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 3, C2f, [256]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [[-1, 12], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [[-1, 9], 1, Concat, [1]]
  - [-1, 3, C2f, [1024]]
  - [[15, 18, 21], 1, Detect, [nc]]
"""


def write_dataset(root: Path, bursts: int, seed: int) -> Path:
    frames = SceneGenerator(DEMO_CLASSES, seed=seed).write(root / "raw", bursts)
    for i, frame in enumerate(frames):
        split = "val" if i % 7 == 0 else "train"
        image = root / "images" / split / f"{i:05d}.jpg"
        label = root / "labels" / split / f"{i:05d}.txt"
        image.parent.mkdir(parents=True, exist_ok=True)
        label.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(root / "raw" / frame.file_name, image)
        label.write_text(
            "".join(
                f"{DEMO_CLASSES.index(a.class_name)} "
                + " ".join(f"{v:.6f}" for v in a.box.to_yolo())
                + "\n"
                for a in frame.animals
            )
        )
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(DEMO_CLASSES))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args()

    from ultralytics import YOLO, settings

    settings.update({"sync": False})
    work = Path(tempfile.mkdtemp(prefix="wl-demo-detector-"))
    data = write_dataset(work / "data", args.bursts, args.seed)
    arch = work / "demo-yolov8t.yaml"
    arch.write_text(ARCH)
    model = YOLO(str(arch))
    model.train(
        data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=16, workers=2,
        device="cpu", project=str(work / "runs"), name="train", plots=False, verbose=False,
        seed=args.seed, amp=False,
    )
    best = work / "runs" / "train" / "weights" / "best.pt"
    metrics = YOLO(str(best)).val(data=str(data), imgsz=args.imgsz, plots=False, verbose=False)
    onnx = Path(YOLO(str(best)).export(format="onnx", imgsz=args.imgsz, simplify=True))
    shutil.copy(onnx, TARGET)
    print(f"val mAP50 {metrics.box.map50:.3f} mAP50-95 {metrics.box.map:.3f} (generated scenes)")
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
