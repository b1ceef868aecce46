"""Writing generated scenes out as YOLO and COCO Camera Traps datasets for import tests."""

from __future__ import annotations

import json
from pathlib import Path

from wildloop.synthetic.scenes import Frame


def write_yolo(root: Path, frames: list[Frame], classes: list[str], scenes_dir: Path) -> Path:
    """images/train/*.jpg + labels/train/*.txt + data.yaml, from the frames' truth."""
    for frame in frames:
        name = Path(frame.file_name).name
        image = root / "images" / "train" / name
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes((scenes_dir / frame.file_name).read_bytes())
        label = root / "labels" / "train" / f"{Path(name).stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for animal in frame.animals:
            cx, cy, w, h = animal.box.to_yolo()
            lines.append(f"{classes.index(animal.class_name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        label.write_text("\n".join(lines) + ("\n" if lines else ""))
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(classes))
    data = root / "data.yaml"
    data.write_text(f"path: .\ntrain: images/train\nval: images/train\nnames:\n{names}\n")
    return data


def write_coco_ct(path: Path, frames: list[Frame], classes: list[str]) -> Path:
    """A COCO Camera Traps file whose file names are relative to the scenes folder."""
    images, annotations = [], []
    for i, frame in enumerate(frames, 1):
        images.append(
            {
                "id": i,
                "file_name": frame.file_name,
                "width": frame.width,
                "height": frame.height,
                "seq_id": frame.sequence_key,
                "frame_num": frame.frame_num,
                "location": frame.camera,
                "datetime": frame.captured_at.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        for animal in frame.animals:
            x, y, w, h = animal.box.to_pixels(frame.width, frame.height)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": classes.index(animal.class_name),
                    "bbox": [x, y, w, h],
                }
            )
    categories = [{"id": i, "name": n} for i, n in enumerate(classes)]
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path
