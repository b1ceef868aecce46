"""Reading an Ultralytics/YOLO dataset: data.yaml plus labels/*.txt beside images/*."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wildloop.datasets.importers.dataset import ImportedBox, ImportedDataset, ImportedImage
from wildloop.domain.boxes import Box, BoxOutsideImage
from wildloop.errors import BadInput
from wildloop.media.probe import IMAGE_SUFFIXES
from wildloop.media.scan import iter_files


def read_yolo(data_yaml: Path) -> ImportedDataset:
    """Parse ``data.yaml`` and every label file of its train/val/test images."""
    config = _load_yaml(data_yaml)
    names = _class_names(config, data_yaml)
    root = (data_yaml.parent / str(config.get("path") or ".")).resolve()
    images: list[ImportedImage] = []
    seen: set[Path] = set()
    for image_path in _image_paths(config, root, data_yaml):
        if image_path in seen:
            continue
        seen.add(image_path)
        images.append(_read_image(image_path, names))
    if not images:
        raise BadInput(f"{data_yaml}: no images found under its train/val/test entries")
    return ImportedDataset(source=f"yolo:{data_yaml}", class_names=names, images=images)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise BadInput(f"{path} must be a YAML mapping with 'names' and 'train'/'val'/'test'")
    return config


def _class_names(config: dict[str, Any], path: Path) -> list[str]:
    names = config.get("names")
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except ValueError:
            raise BadInput(f"{path}: 'names' keys must be class indices 0..n-1") from None
        if [i for i, _ in ordered] != list(range(len(ordered))):
            raise BadInput(f"{path}: 'names' indices must run 0..n-1 without gaps")
        return [n for _, n in ordered]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise BadInput(f"{path}: 'names' must list the class names (a list or an index mapping)")


def _image_paths(config: dict[str, Any], root: Path, path: Path) -> list[Path]:
    entries: list[str] = []
    for split in ("train", "val", "test"):
        value = config.get(split)
        if isinstance(value, str):
            entries.append(value)
        elif isinstance(value, list):
            entries.extend(str(v) for v in value)
    if not entries:
        raise BadInput(f"{path}: needs at least one of 'train', 'val', 'test'")
    found: list[Path] = []
    for entry in entries:
        target = (root / entry).resolve()
        if target.is_file() and target.suffix == ".txt":
            lines = target.read_text(encoding="utf-8").splitlines()
            found.extend((root / line.strip()).resolve() for line in lines if line.strip())
        elif target.is_dir():
            found.extend(iter_files([target], IMAGE_SUFFIXES))
        else:
            raise BadInput(f"{path}: '{entry}' is neither an image folder nor a list file")
    return found


def label_path_for(image: Path) -> Path:
    """YOLO convention: replace the last 'images' folder with 'labels', suffix with .txt."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _read_image(image: Path, names: list[str]) -> ImportedImage:
    label_file = label_path_for(image)
    if not label_file.exists():
        return ImportedImage(path=image)
    boxes: list[ImportedBox] = []
    problems: list[str] = []
    for number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label_file.name} line {number}"
        try:
            values = [float(v) for v in fields]
        except ValueError:
            problems.append(f"{where}: not numbers: {line.strip()!r}")
            continue
        if len(values) < 5 or (len(values) > 5 and len(values) % 2 == 0):
            problems.append(f"{where}: expected 'class cx cy w h' (or a polygon), got {line!r}")
            continue
        index = int(values[0])
        if index != values[0] or not 0 <= index < len(names):
            problems.append(f"{where}: class index {fields[0]} is not in names 0..{len(names) - 1}")
            continue
        try:
            box = _box(values[1:])
        except BoxOutsideImage as exc:
            problems.append(f"{where}: {exc}")
            continue
        boxes.append(ImportedBox(names[index], box))
    return ImportedImage(path=image, boxes=tuple(boxes), problems=tuple(problems))


def _box(coords: list[float]) -> Box:
    if len(coords) == 4:
        return Box.from_yolo(*coords)
    xs, ys = coords[0::2], coords[1::2]  # polygon (segmentation label): its bounding box
    return Box(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
